'use strict';
// What the query section runs: configuration, the query lists drawn per phase (the same for
// every store and for the checker in the parent), and the phase list.

const path = require('node:path');
const os = require('node:os');
const { rng, env } = require('./common');
const { QUERY_PHASES, vocab } = require('./query-gen');

const FIRST_LIMIT = 100;
const PAGE_LIMIT = 100;
const ALL_LIMIT = 1000;

/** Every phase of the query section, in the order the worker runs them. */
const ALL_QUERY_PHASES = ['q-ingest-batch', 'q-ingest-put', ...QUERY_PHASES.map((s) => s.phase), 'q-page-city', 'q-update-move'];
const ALL_QUERY_STORES = ['stratadb', 'sqlite', 'nedb', 'model', 'stratadb-base'];
/** Above this many documents the brute-force model is left out unless QUERY_STORES names it. */
const MODEL_MAX_N = 20_000;

const seedOf = (seed, salt) => (seed ^ Math.imul(salt, 0x9e3779b1)) >>> 0;

/** The queries of one phase: `count` of them, drawn from the phase's own seeded stream. */
function phaseQueries(spec, seed, count) {
  const r = rng(seedOf(seed, 500 + QUERY_PHASES.indexOf(spec)));
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = spec.make(r);
  return out;
}

/** The untimed counts after q-update-move: every city, every age. */
function checkQueries() {
  const out = vocab.cities.map((c) => ({ index: 'city', eq: c }));
  for (let a = 18; a <= 90; a++) out.push({ index: 'age', gte: a, lte: a });
  return out;
}

function envIntQ(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(String(raw).replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`bench: ${name} must be a non-negative number, got ${raw}`);
  return Math.floor(n);
}

function list(name, all, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined || raw === 'all') return fallback.slice();
  const want = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want) {
    if (!all.includes(w)) throw new Error(`bench: unknown ${name} entry '${w}' (known: ${all.join(', ')})`);
  }
  return all.filter((x) => want.includes(x));
}

/** The query section's configuration (`n` defaults to the KV section's N). */
function queryConfig(base) {
  const n = envIntQ('QUERY_N', base.n);
  if (n < 1) throw new Error('bench: QUERY_N must be at least 1');
  // stratadb-base (a second build, STRATA_BENCH_BASE_ROOT) only when QUERY_STORES names it.
  const defaultStores = ALL_QUERY_STORES.filter((s) => s !== 'stratadb-base' && (s !== 'model' || n <= MODEL_MAX_N));
  return {
    n,
    putN: Math.max(1, envIntQ('QUERY_PUT_N', Math.floor(n / 10))),
    count: Math.max(1, envIntQ('QUERY_COUNT', 1000)),
    // Untimed queries (or pages) before each read phase, every store alike (capped at 1 s).
    warmup: envIntQ('QUERY_WARMUP', 500),
    updates: Math.max(1, envIntQ('QUERY_UPDATES', Math.floor(n / 100))),
    seed: base.seed,
    maxPhaseSeconds: base.maxPhaseSeconds,
    stores: list('QUERY_STORES', ALL_QUERY_STORES, defaultStores),
    phases: list('QUERY_PHASES', ALL_QUERY_PHASES, ALL_QUERY_PHASES),
    dir: base.dir ?? path.join(os.tmpdir(), `stratadb-bench-${process.pid}`),
  };
}

module.exports = {
  FIRST_LIMIT, PAGE_LIMIT, ALL_LIMIT, ALL_QUERY_PHASES, ALL_QUERY_STORES, MODEL_MAX_N, seedOf, phaseQueries, checkQueries, queryConfig,
};
