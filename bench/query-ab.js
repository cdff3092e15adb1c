'use strict';
// Interleaved A/B of query CPU time between two StrataDB builds on identical databases (holds
// up on a loaded machine: both builds see the same load, slice by slice).
//   STRATA_BENCH_BASE_ROOT=/path/to/base node bench/query-ab.js [phase ...]
// QUERY_N documents (default 100000) are batch-ingested once per build into a fresh directory;
// then each phase runs AB_SLICES (default 6) alternating slices of AB_SLICE (50) queries per
// build, the same queries for both. Prints CPU ms per build, base ÷ new, and each build's
// postings scanned / seeks per query (base -> new) (load-independent). CPU time is the whole process's
// (engine threads included), so each database is reopened and left to settle before timing.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { rng } = require('./lib/common');
const { documents, QUERY_PHASES } = require('./lib/query-gen');

const N = Number(process.env.QUERY_N || 100000);
const SLICES = Number(process.env.AB_SLICES || 6);
const SLICE = Number(process.env.AB_SLICE || 50);
const baseRoot = process.env.STRATA_BENCH_BASE_ROOT;
if (!baseRoot) throw new Error('set STRATA_BENCH_BASE_ROOT');

function store(root) {
  // stratadb.js reads its root at require time: load a fresh copy per build.
  process.env.STRATA_BENCH_STRATADB_ROOT = path.resolve(root);
  const id = require.resolve('./query-stores/stratadb');
  delete require.cache[id];
  return require(id);
}

async function build(root, dir) {
  const s = await store(root).open(dir);
  const docs = documents(1);
  for (let i = 0; i < N; i += 1000) {
    const entries = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const d = docs.next();
      entries.push([d.key, d.doc]);
    }
    await s.batch(entries);
  }
  // Reopen and let background flushes/compactions settle: cpuUsage counts every thread.
  await s.close();
  const again = await store(root).open(dir);
  await new Promise((res) => setTimeout(res, 3000));
  return again;
}

async function slice(s, queries, stats) {
  const t = process.cpuUsage();
  for (const q of queries) {
    const r = await s.query(q, { limit: 100, cursor: null });
    if (stats) {
      stats.postings += r.stats?.postingsScanned ?? 0;
      stats.seeks += r.stats?.seeks ?? 0;
      stats.n++;
    }
  }
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

async function main() {
  const wanted = process.argv.slice(2);
  const phases = QUERY_PHASES.filter((p) => p.kind !== 'count' && (wanted.length === 0 || wanted.includes(p.phase)));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'query-ab-'));
  try {
    const a = await build(baseRoot, path.join(tmp, 'a'));
    const b = await build(path.join(__dirname, '..'), path.join(tmp, 'b'));
    for (const p of phases) {
      const r = rng(0xab00 + p.phase.length);
      const qs = Array.from({ length: SLICE * SLICES }, () => p.make(r));
      await slice(a, qs.slice(0, 10));
      await slice(b, qs.slice(0, 10));
      let ta = 0;
      let tb = 0;
      const st = { postings: 0, seeks: 0, n: 0 };
      const sa = { postings: 0, seeks: 0, n: 0 };
      for (let i = 0; i < SLICES; i++) {
        const part = qs.slice(i * SLICE, (i + 1) * SLICE);
        if (i % 2 === 0) {
          ta += await slice(a, part, sa);
          tb += await slice(b, part, st);
        } else {
          tb += await slice(b, part, st);
          ta += await slice(a, part, sa);
        }
      }
      const per = (x, s) => (x / s.n).toFixed(1);
      console.log(`${p.phase.padEnd(24)} base ${ta.toFixed(0).padStart(6)} ms  new ${tb.toFixed(0).padStart(6)} ms  speedup ${(ta / tb).toFixed(2)}  postings/q ${per(sa.postings, sa)} -> ${per(st.postings, st)}  seeks/q ${per(sa.seeks, sa)} -> ${per(st.seeks, st)}`);
    }
    await a.close();
    await b.close();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
