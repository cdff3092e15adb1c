'use strict';
// Instructions per read for the crossing work (issue 14): run under
//   valgrind --tool=callgrind node bench/crossing.js run <dir> <op> <count>
// twice with different counts and divide the difference by the difference in counts.
// `build <dir> <n>` makes a database like bench/worker.js's random one (16-byte keys,
// 100-byte values, random order, reopened). Ops: getSync, get, missing, rangeread, and
// batchrandom (<count> keys in random order, batches of 1000, into <dir> — give it an empty one).
const path = require('node:path');
const { permutation, rng, uniform, key, values } = require('./lib/common');

const root = process.env.STRATA_BENCH_STRATADB_ROOT || path.join(__dirname, '..');
const strata = require(path.join(root, 'dist'));
const [mode, dir, a, b] = process.argv.slice(2);
const opts = { keyEncoding: 'buffer', valueEncoding: 'buffer', envFile: false };

async function build(n) {
  const db = await strata.open(dir, opts);
  const order = permutation(n, rng(1));
  const next = values(100, 1);
  for (let i = 0; i < n; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) ops.push({ type: 'put', key: key(order[j]), value: next() });
    await db.batch(ops);
  }
  await db.close();
}

async function run(op, count) {
  const n = Number(process.env.CROSS_N || 100000);
  const db = await strata.open(dir, opts);
  if (op === 'batchrandom') {
    const order = permutation(count, rng(5));
    const next = values(100, 5);
    for (let i = 0; i < count; i += 1000) {
      const ops = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) ops.push({ type: 'put', key: key(order[j]), value: next() });
      await db.batch(ops);
    }
    await db.close();
    return;
  }
  const keys = uniform(count, n, rng(3));
  const ks = Array.from(keys, (k) => key(k, op === 'missing'));
  let bad = 0;
  if (op === 'getSync') {
    for (const k of ks) if (db.getSync(k) === undefined) bad++;
  } else if (op === 'get' || op === 'missing') {
    for (const k of ks) if (((await db.get(k)) === undefined) !== (op === 'missing')) bad++;
  } else if (op === 'rangeread') {
    for (const k of ks) {
      const it = db.iterator({ gte: k, limit: 10 });
      const got = (await it.nextv(10)).length;
      await it.close();
      if (got === 0) bad++;
    }
  } else throw new Error(`unknown op ${op}`);
  await db.close();
  if (bad) throw new Error(`${op}: ${bad} wrong answers`);
}

(mode === 'build' ? build(Number(a)) : run(a, Number(b))).catch((e) => {
  console.error(e);
  process.exit(1);
});
