'use strict';
// One store's run, in its own process (forked by run.js): every selected phase on fresh
// directories, progress and results sent to the parent over IPC.

const fs = require('node:fs');
const path = require('node:path');
const { rng, permutation, uniform, key, values, ScrambledZipfian, SkewedLatest, dirSize } = require('./lib/common');

const cfg = JSON.parse(process.env.STRATA_BENCH_WORKER_CONFIG ?? '{}');
const storeName = process.argv[2];
const send = (msg) => process.send?.(msg);
const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

const store = require(path.join(__dirname, 'stores', `${storeName}.js`));
const want = new Set(cfg.phases);
const seedOf = (salt) => rng((cfg.seed ^ (salt * 0x9e3779b1)) >>> 0);
const nextValue = values(cfg.valueSize, cfg.seed);
const result = {
  store: store.name,
  label: store.label,
  version: store.version(),
  notes: store.notes,
  phases: {},
  skipped: {},
  disk: {},
  stats: {},
};

// STRATA_BENCH_SMAPS=1: sample /proc/self/smaps_rollup every 100 ms (Linux) and report the
// sample with the largest RSS, split into anonymous and file-backed pages, and the phase it
// came in (`after <phase>`: the untimed work that follows it, such as a close or a reopen).
let currentPhase = 'start';
const smapsPeak = { rssBytes: 0, anonBytes: 0, fileBytes: 0, phase: '' };
function sampleSmaps() {
  let text;
  try {
    text = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  } catch {
    return;
  }
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  const rss = kib('Rss');
  if (rss <= smapsPeak.rssBytes) return;
  const anon = kib('Anonymous');
  Object.assign(smapsPeak, { rssBytes: rss, anonBytes: anon, fileBytes: rss - anon, phase: currentPhase });
}
if (process.env.STRATA_BENCH_SMAPS === '1') {
  setInterval(sampleSmaps, 100).unref();
  result.smapsPeak = smapsPeak;
}

function freshDir(name) {
  const d = path.join(cfg.dir, store.name, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(d), { recursive: true });
  return d;
}

/**
 * Runs step(i) for i in [0, total) (awaited one at a time unless sync), reporting progress
 * and stopping early after cfg.maxPhaseSeconds. `per` is the number of operations one step counts for.
 */
async function timed(phase, total, step, { sync = false, per = 1, ops = total * per } = {}) {
  send({ type: 'start', phase, total: ops });
  currentPhase = phase;
  const cap = cfg.maxPhaseSeconds > 0 ? cfg.maxPhaseSeconds * 1000 : Infinity;
  const t0 = performance.now();
  let last = t0;
  let i = 0;
  for (; i < total; ) {
    const end = Math.min(total, i + 64);
    if (sync) {
      for (; i < end; i++) step(i);
    } else {
      for (; i < end; i++) await step(i);
    }
    const now = performance.now();
    if (now - last > 250) {
      last = now;
      send({ type: 'progress', phase, done: i * per, total: ops, seconds: (now - t0) / 1000 });
      if (sync) await yieldNow();
    }
    if (now - t0 > cap) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const r = { ops: i * per, seconds, opsPerSec: (i * per) / seconds };
  if (i < total) r.capped = { planned: ops, maxPhaseSeconds: cfg.maxPhaseSeconds };
  result.phases[phase] = r;
  currentPhase = `after ${phase}`;
  send({ type: 'phase', phase, result: r });
  return i;
}

/** Times one call that does a whole phase itself (readseq), reporting `count()` operations. */
async function timedWhole(phase, total, fn) {
  send({ type: 'start', phase, total });
  currentPhase = phase;
  const t0 = performance.now();
  const ops = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const r = { ops, seconds, opsPerSec: ops / seconds };
  result.phases[phase] = r;
  currentPhase = `after ${phase}`;
  send({ type: 'phase', phase, result: r });
}

function skip(phase, reason) {
  if (!want.has(phase)) return;
  result.skipped[phase] = reason;
  send({ type: 'skip', phase, reason });
}

/** Untimed load of keys order[from..] in batches of 1000. */
async function load(db, order, from = 0) {
  for (let i = from; i < order.length; i += 1000) {
    const entries = [];
    for (let j = i; j < Math.min(order.length, i + 1000); j++) entries.push([key(order[j]), nextValue()]);
    await db.batchPut(entries);
  }
}

async function strataStats(db, when) {
  if (typeof db.stats !== 'function') return;
  const s = await db.stats();
  result.stats[when] = {
    writeAmplification: s.writeAmplification,
    userBytesWritten: s.userBytesWritten,
    flushBytes: s.flushBytes,
    compactionBytesWritten: s.compactionBytesWritten,
    flushes: s.flushes,
    compactions: s.compactions,
    levels: s.levels,
  };
}

const n = cfg.n;
const seq = (count) => Uint32Array.from({ length: count }, (_, i) => i);

async function fillPhases() {
  if (want.has('fillseq')) {
    const dir = freshDir('fillseq');
    const db = await store.open(dir);
    await timed('fillseq', n, (i) => db.put(key(i), nextValue()));
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (want.has('fillseq-sync')) {
    const dir = freshDir('fillseq-sync');
    const db = await store.open(dir);
    if (db.putSync) await timed('fillseq-sync', n, (i) => db.putSync(key(i), nextValue()), { sync: true });
    else skip('fillseq-sync', 'no synchronous put API');
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (want.has('fillbatch')) {
    const dir = freshDir('fillbatch');
    const db = await store.open(dir);
    const batches = Math.ceil(n / 1000);
    await timed('fillbatch', batches, (b) => {
      const entries = [];
      for (let i = b * 1000; i < Math.min(n, b * 1000 + 1000); i++) entries.push([key(i), nextValue()]);
      return db.batchPut(entries);
    }, { per: 1000, ops: n });
    if (result.phases.fillbatch.ops > n) result.phases.fillbatch.ops = n;
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (want.has('fillbatch-random')) {
    // Every key once, shuffled (the fillrandom order), in batches of 1000.
    const dir = freshDir('fillbatch-random');
    const db = await store.open(dir);
    const order = permutation(n, seedOf(7));
    const batches = Math.ceil(n / 1000);
    await timed('fillbatch-random', batches, (b) => {
      const entries = [];
      for (let i = b * 1000; i < Math.min(n, b * 1000 + 1000); i++) entries.push([key(order[i]), nextValue()]);
      return db.batchPut(entries);
    }, { per: 1000, ops: n });
    if (result.phases['fillbatch-random'].ops > n) result.phases['fillbatch-random'].ops = n;
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const RANDOM_DB_PHASES = ['fillrandom', 'overwrite', 'readrandom', 'readrandom-sync', 'readmissing', 'readseq', 'seekrandom', 'rangeread', 'deleterandom'];

async function randomDbPhases() {
  if (!RANDOM_DB_PHASES.some((p) => want.has(p))) return;
  const dir = freshDir('random');
  let db = await store.open(dir);
  const order = permutation(n, seedOf(1));
  if (want.has('fillrandom')) {
    const done = await timed('fillrandom', n, (i) => db.put(key(order[i]), nextValue()));
    if (done < n) await load(db, order, done); // the rest, untimed, so later phases see every key
  } else {
    await load(db, order);
  }
  await strataStats(db, 'afterFillrandom');
  await db.close();
  result.disk.afterFillrandom = dirSize(dir);

  db = await store.open(dir);
  if (want.has('overwrite')) {
    const keys = uniform(n, n, seedOf(2));
    await timed('overwrite', n, (i) => db.put(key(keys[i]), nextValue()));
    await strataStats(db, 'afterOverwrite');
  }
  await db.close();

  db = await store.open(dir); // reads start from a reopened database
  if (want.has('readrandom')) {
    const keys = uniform(n, n, seedOf(3));
    let missing = 0;
    await timed('readrandom', n, async (i) => {
      if ((await db.get(key(keys[i]))) === undefined) missing++;
    });
    if (missing) throw new Error(`readrandom: ${missing} stored keys not found`);
  }
  if (want.has('readrandom-sync')) {
    if (db.getSync) {
      const keys = uniform(n, n, seedOf(3));
      let missing = 0;
      await timed('readrandom-sync', n, (i) => {
        if (db.getSync(key(keys[i])) === undefined) missing++;
      }, { sync: true });
      if (missing) throw new Error(`readrandom-sync: ${missing} stored keys not found`);
    } else skip('readrandom-sync', 'no synchronous get API');
  }
  if (want.has('readmissing')) {
    const keys = uniform(n, n, seedOf(4));
    let found = 0;
    await timed('readmissing', n, async (i) => {
      if ((await db.get(key(keys[i], true))) !== undefined) found++;
    });
    if (found) throw new Error(`readmissing: ${found} absent keys were found`);
  }
  if (want.has('readseq')) {
    await timedWhole('readseq', n, async () => {
      const count = await db.readseq();
      if (count !== n) throw new Error(`readseq: iterated ${count} entries, expected ${n}`);
      return count;
    });
  }
  if (want.has('seekrandom')) {
    const keys = uniform(cfg.seeks, n, seedOf(5));
    const s = db.seeker();
    let short = 0;
    await timed('seekrandom', cfg.seeks, async (i) => {
      const got = await s.seek(key(keys[i]), 11);
      if (got === 0) short++;
    });
    await s.close();
    if (short) throw new Error(`seekrandom: ${short} seeks found nothing`);
  }
  if (want.has('rangeread')) {
    // A new iterator per read, { gte: k, limit: 10 }, read to its end and closed: the way
    // most level users write a range read (seekrandom reuses one iterator).
    const keys = uniform(cfg.rangeReads, n, seedOf(8));
    let short = 0;
    await timed('rangeread', cfg.rangeReads, async (i) => {
      const got = await db.scan(key(keys[i]), 10);
      if (got !== Math.min(10, n - keys[i])) short++;
    });
    if (short) throw new Error(`rangeread: ${short} range reads returned the wrong number of entries`);
  }
  if (want.has('deleterandom')) {
    const keys = uniform(n, n, seedOf(6));
    await timed('deleterandom', n, (i) => db.del(key(keys[i])));
  }
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

// YCSB core workloads over one loaded database, run in the order A..F (D and E insert).
const WORKLOADS = {
  'ycsb-a': { read: 0.5, update: 0.5, dist: 'zipfian' },
  'ycsb-b': { read: 0.95, update: 0.05, dist: 'zipfian' },
  'ycsb-c': { read: 1, dist: 'zipfian' },
  'ycsb-d': { read: 0.95, insert: 0.05, dist: 'latest' },
  'ycsb-e': { scan: 0.95, insert: 0.05, dist: 'zipfian' },
  'ycsb-f': { read: 0.5, rmw: 0.5, dist: 'zipfian' },
};
const OP = { read: 0, update: 1, insert: 2, scan: 3, rmw: 4 };

/** The operations of one workload, drawn before timing (the same for every store). */
function ycsbOps(name, w, state) {
  const r = seedOf(100 + Object.keys(WORKLOADS).indexOf(name));
  const count = cfg.ycsbOps;
  const types = new Uint8Array(count);
  const keys = new Uint32Array(count);
  const lens = new Uint8Array(count);
  const expectedNew = Math.ceil(count * (w.insert ?? 0) * 2);
  const zipf = new ScrambledZipfian(state.records + expectedNew);
  const latest = new SkewedLatest(state.records);
  const cum = [['read', w.read ?? 0], ['update', w.update ?? 0], ['insert', w.insert ?? 0], ['scan', w.scan ?? 0], ['rmw', w.rmw ?? 0]];
  for (let i = 0; i < count; i++) {
    let u = r.float();
    let op = 'read';
    for (const [t, p] of cum) {
      if (u < p) { op = t; break; }
      u -= p;
    }
    types[i] = OP[op];
    if (op === 'insert') {
      keys[i] = state.records++;
    } else if (w.dist === 'latest') {
      keys[i] = latest.next(r, state.records - 1);
    } else {
      let k;
      do k = zipf.next(r); while (k >= state.records);
      keys[i] = k;
    }
    if (op === 'scan') lens[i] = 1 + r.below(100); // YCSB: maxscanlength 100, uniform
  }
  return { types, keys, lens };
}

async function ycsbPhases() {
  const names = Object.keys(WORKLOADS).filter((p) => want.has(p));
  if (names.length === 0) return;
  const dir = freshDir('ycsb');
  const db = await store.open(dir);
  await load(db, seq(n));
  const state = { records: n };
  for (const name of names) {
    const { types, keys, lens } = ycsbOps(name, WORKLOADS[name], state);
    await timed(name, types.length, async (i) => {
      const k = key(keys[i]);
      switch (types[i]) {
        case OP.read:
          await db.get(k);
          break;
        case OP.update:
        case OP.insert:
          await db.put(k, nextValue());
          break;
        case OP.scan:
          await db.scan(k, lens[i]);
          break;
        case OP.rmw:
          await db.get(k);
          await db.put(k, nextValue());
          break;
      }
    });
  }
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

(async () => {
  fs.mkdirSync(path.join(cfg.dir, store.name), { recursive: true });
  await fillPhases();
  await randomDbPhases();
  await ycsbPhases();
  fs.rmSync(path.join(cfg.dir, store.name), { recursive: true, force: true });
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  if (result.smapsPeak) sampleSmaps();
  send({ type: 'done', result });
  process.disconnect?.();
})().catch((e) => {
  send({ type: 'error', message: String(e?.stack ?? e) });
  process.exitCode = 1;
  process.disconnect?.();
});
