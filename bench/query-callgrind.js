'use strict';
// Instruction counts of one query phase, load-independent: a database built like the query
// section's (QUERY_N documents, seed 301, the five indexes, batches of 1000), then the phase's
// queries run twice under `valgrind --tool=callgrind`: WARM queries, then WARM + COUNT; the
// difference of the two totals divided by COUNT is the cost of one query (startup, open and
// JIT warm-up cancel out).
//
//   node bench/query-callgrind.js build DIR                 # once (not under valgrind)
//   node bench/query-callgrind.js run DIR PHASE WARM COUNT  # one measurement (no valgrind)
//   node bench/query-callgrind.js measure DIR PHASE [COUNT] # both valgrind runs, prints Ir/query
//
// PHASE: a query phase of bench/lib/query-gen.js (q-city-rare, q-city-common, q-text-one, ...),
// `q-page-city` (pages of the most common city, 100 a page, restarting at the end) or
// `q-update-move` (get, put, then the check query, as the worker does), or an ingest phase:
// `q-ingest-batch` (db.batch of 1000 documents; the count is in documents, a multiple of 1000)
// or `q-ingest-put` (awaited db.put per document), each on a fresh store (DIR is not read:
// pass any path), the documents of the query section's stream (seed 301) in order, so the
// measured ones go into a store that already holds the warm-up's.
// STRATA_BENCH_STRATADB_ROOT: another build to measure (as in query-stores/stratadb.js).
// QCG_STORE=sqlite: measure the SQLite peer instead (build its own DIR).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { rng } = require('./lib/common');
const { documents, QUERY_PHASES, PAGE_CITY, moves, moveCheck, keyOf } = require('./lib/query-gen');
const { phaseQueries, seedOf, FIRST_LIMIT, PAGE_LIMIT, ALL_LIMIT } = require('./lib/query-plan');

const SEED = 301;
const N = Number(process.env.QUERY_N || 100000);
const store = require(`./query-stores/${process.env.QCG_STORE === 'sqlite' ? 'sqlite' : 'stratadb'}`);

async function build(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  const db = await store.open(dir);
  const gen = documents(SEED);
  for (let i = 0; i < N; i += 1000) {
    const entries = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const d = gen.next();
      entries.push([d.key, d.doc]);
    }
    await db.batch(entries);
  }
  if (db.afterIngest) await db.afterIngest();
  await db.close();
}

/** `step(i)` runs the i-th operation of the phase. */
function stepper(db, phase) {
  if (phase === 'q-page-city') {
    let cursor = null;
    return async () => {
      const r = await db.query({ index: 'city', eq: PAGE_CITY }, { limit: PAGE_LIMIT, cursor });
      cursor = r.cursor;
    };
  }
  if (phase === 'q-update-move') {
    const list = moves(100000, N, rng(seedOf(SEED, 900)));
    return async (i) => {
      const m = list[i % list.length];
      const key = keyOf(m.id);
      const doc = await db.get(key);
      doc.city = m.city;
      doc.age = m.age;
      await db.put(key, doc);
      const r = await db.query(moveCheck(m), { limit: FIRST_LIMIT });
      if (!r.keys.includes(key)) throw new Error(`moved ${key} not found`);
    };
  }
  const spec = QUERY_PHASES.find((s) => s.phase === phase);
  if (!spec) throw new Error(`unknown phase ${phase}`);
  const queries = phaseQueries(spec, SEED, 1000);
  return async (i) => {
    const q = queries[i % queries.length];
    if (spec.kind === 'count') await db.count(q);
    else if (spec.kind === 'all') {
      let cursor = null;
      do cursor = (await db.query(q, { limit: ALL_LIMIT, cursor })).cursor;
      while (cursor !== null);
    } else await db.query(q, { limit: FIRST_LIMIT });
  };
}

/** An ingest phase: `total` documents into a fresh store, as the worker's phase writes them. */
async function ingest(phase, total) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qcg-'));
  const db = await store.open(path.join(work, 'db'));
  const gen = documents(SEED);
  if (phase === 'q-ingest-put') {
    for (let i = 0; i < total; i++) {
      const d = gen.next();
      await db.put(d.key, d.doc);
    }
  } else {
    if (total % 1000 !== 0) throw new Error('q-ingest-batch: the count must be a multiple of 1000');
    for (let i = 0; i < total; i += 1000) {
      const entries = new Array(1000);
      for (let j = 0; j < 1000; j++) {
        const d = gen.next();
        entries[j] = [d.key, d.doc];
      }
      await db.batch(entries);
    }
  }
  await db.close();
  fs.rmSync(work, { recursive: true, force: true });
}

async function run(dir, phase, total) {
  if (phase === 'q-ingest-batch' || phase === 'q-ingest-put') return ingest(phase, total);
  // A copy: q-update-move writes, and every run must start from the same state.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qcg-'));
  fs.cpSync(dir, work, { recursive: true });
  const db = await store.open(work);
  const step = stepper(db, phase);
  for (let i = 0; i < total; i++) await step(i);
  await db.close();
  fs.rmSync(work, { recursive: true, force: true });
}

function callgrind(dir, phase, total) {
  const out = path.join(os.tmpdir(), `qcg-${process.pid}-${total}.out`);
  execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, __filename, 'run', dir, phase, String(total)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: process.env,
  });
  const text = fs.readFileSync(out, 'utf8');
  fs.rmSync(out, { force: true });
  const m = /^summary: (\d+)/m.exec(text) ?? /^totals: (\d+)/m.exec(text);
  if (!m) throw new Error('no callgrind summary');
  return Number(m[1]);
}

(async () => {
  const [cmd, dir, phase, a, b] = process.argv.slice(2);
  if (cmd === 'build') await build(dir);
  else if (cmd === 'run') await run(dir, phase, Number(a));
  else if (cmd === 'measure') {
    const ingesting = phase === 'q-ingest-batch' || phase === 'q-ingest-put';
    const warm = ingesting ? Number(process.env.QCG_WARM || 10000) : 300;
    const count = Number(a || (ingesting ? 10000 : 1000));
    const base = callgrind(dir, phase, warm);
    const full = callgrind(dir, phase, warm + count);
    console.log(`${phase}: ${((full - base) / count / 1e6).toFixed(3)} M instructions per operation (${count} after ${warm} warm-up; totals ${base} / ${full})`);
  } else throw new Error('usage: build DIR | run DIR PHASE TOTAL | measure DIR PHASE [COUNT]');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
