'use strict';
// One store's run of the query section, in its own process (forked by run.js): ingest phases,
// then the query phases on the batch-ingested store. Progress and results go to the parent
// over IPC, with every query's answer (key ids or counts) for the cross-store check.

const fs = require('node:fs');
const path = require('node:path');
const { rng, dirSize } = require('./lib/common');
const { documents, keyOf, idOf, QUERY_PHASES, PAGE_CITY, vocab, moves, moveCheck } = require('./lib/query-gen');

/** The city paged through in q-page-city's warm-up: another common one. */
const PAGE_WARM_CITY = vocab.common[1];
const { phaseQueries, seedOf, PAGE_LIMIT, FIRST_LIMIT, ALL_LIMIT, checkQueries } = require('./lib/query-plan');

const cfg = JSON.parse(process.env.STRATA_BENCH_WORKER_CONFIG ?? '{}').query;
const storeName = process.argv[2];
const send = (msg) => process.send?.(msg);

let store;
const want = new Set(cfg.phases);
const result = { phases: {}, skipped: {}, answers: {}, stats: {}, info: {} };

function freshDir(name) {
  const d = path.join(cfg.dir, 'query', storeName, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(d), { recursive: true });
  return d;
}

/** Returned by a step of timed() to end the phase there (the phase is complete). */
const DONE = Symbol('done');

/**
 * Runs step(i, prepared) for i in [0, total), awaited one at a time, reporting progress and
 * stopping after cfg.maxPhaseSeconds. `prepare(i)` (optional) makes the step's input (the
 * documents of a batch): its time is left out of the phase's time. `per` operations per step;
 * `unit` names them in the output. A step returning DONE ends the phase (complete).
 */
async function timed(phase, total, step, { per = 1, ops = total * per, unit = 'queries', prepare } = {}) {
  send({ type: 'start', phase, total: ops, unit });
  const cap = cfg.maxPhaseSeconds > 0 ? cfg.maxPhaseSeconds * 1000 : Infinity;
  const t0 = performance.now();
  let excluded = 0;
  let last = t0;
  let i = 0;
  let finished = false;
  while (i < total) {
    let input;
    if (prepare) {
      const p0 = performance.now();
      input = prepare(i);
      excluded += performance.now() - p0;
    }
    const stop = (await step(i, input)) === DONE;
    i++;
    if (stop) {
      finished = true;
      break;
    }
    const now = performance.now();
    if (now - last > 250) {
      last = now;
      send({ type: 'progress', phase, done: Math.min(ops, i * per), total: ops, seconds: (now - t0 - excluded) / 1000 });
    }
    if (now - t0 - excluded > cap) break;
  }
  const seconds = (performance.now() - t0 - excluded) / 1000;
  const done = Math.min(ops, i * per);
  const r = { ops: done, seconds, opsPerSec: done / seconds, unit };
  if (excluded > 0) r.preparedSeconds = excluded / 1000;
  if (i < total && !finished) r.capped = { planned: ops, maxPhaseSeconds: cfg.maxPhaseSeconds };
  result.phases[phase] = r;
  send({ type: 'phase', phase, result: r });
  return i;
}

/** StrataDB's per-query stats, summed per phase. */
function addStats(phase, s) {
  if (!s || phase === undefined) return;
  const t = (result.stats[phase] ??= { queries: 0, postingsScanned: 0, recordsRead: 0, seeks: 0, ms: 0 });
  t.queries++;
  for (const f of ['postingsScanned', 'recordsRead', 'seeks', 'ms']) if (typeof s[f] === 'number') t[f] += s[f];
}

/** Ids of keys, checking that they come in strictly increasing key order after `after`. */
function ids(keys, what, after) {
  const out = new Array(keys.length);
  let prev = after;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (typeof k !== 'string') throw new Error(`${what}: key ${JSON.stringify(k)} is not a string`);
    if (prev !== undefined && !(k > prev)) throw new Error(`${what}: keys out of primary-key order (${prev} then ${k})`);
    prev = k;
    out[i] = idOf(k);
  }
  return out;
}

/** Every match of q, paged `limit` at a time. */
async function all(db, q, phase, what) {
  const out = [];
  let cursor = null;
  let last;
  for (;;) {
    const r = await db.query(q, { limit: ALL_LIMIT, cursor });
    addStats(phase, r.stats);
    if (r.keys.length > ALL_LIMIT) throw new Error(`${what}: ${r.keys.length} items for limit ${ALL_LIMIT}`);
    for (const id of ids(r.keys, what, last)) out.push(id);
    if (r.keys.length) last = r.keys[r.keys.length - 1];
    if (r.cursor == null) return out;
    cursor = r.cursor;
  }
}

const BATCH = 1000;

/** The next `count` documents of the seeded stream, as [key, doc] entries. */
function batchOf(gen, count) {
  const entries = new Array(count);
  for (let j = 0; j < count; j++) {
    const { key, doc } = gen.next();
    entries[j] = [key, doc];
  }
  return entries;
}

async function ingest(dir) {
  const n = cfg.n;
  const db = await store.open(dir);
  const gen = documents(cfg.seed);
  const batches = Math.ceil(n / BATCH);
  let done = 0;
  if (want.has('q-ingest-batch')) {
    done = await timed('q-ingest-batch', batches, (b, entries) => db.batch(entries), {
      per: BATCH, ops: n, unit: 'docs', prepare: (b) => batchOf(gen, Math.min(BATCH, n - b * BATCH)),
    });
  }
  for (let b = done; b < batches; b++) await db.batch(batchOf(gen, Math.min(BATCH, n - b * BATCH))); // the rest, untimed
  if (db.afterIngest) {
    const t0 = performance.now();
    await db.afterIngest();
    result.info.afterIngestSeconds = (performance.now() - t0) / 1000;
  }
  await db.close();
  if (fs.existsSync(dir)) result.info.diskAfterIngest = dirSize(dir);
}

async function ingestPut() {
  if (!want.has('q-ingest-put')) return;
  const dir = freshDir('put');
  const db = await store.open(dir);
  const gen = documents(cfg.seed);
  await timed('q-ingest-put', cfg.putN, (i, { key, doc }) => db.put(key, doc), { unit: 'docs', prepare: () => gen.next() });
  db.destroy?.();
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Untimed warm-up before a read phase, the same for every store: `cfg.warmup` runs of `step`
 * (or 1 s, whichever ends first). A phase of 1,000 queries lasts tens of milliseconds, about
 * as long as V8 takes to optimise a store's JavaScript path and as its caches take to fill
 * after the reopen: without it, the first phases would time that rather than the queries.
 */
async function warmUp(step) {
  const end = performance.now() + 1000;
  for (let i = 0; i < cfg.warmup && performance.now() < end; i++) await step(i);
}

async function queryPhase(db, spec) {
  const queries = phaseQueries(spec, cfg.seed, cfg.count);
  const answers = [];
  const phase = spec.phase;
  // Other queries of the phase's kind (their own seeded stream), not the timed ones.
  const warm = phaseQueries(spec, seedOf(cfg.seed, 700), Math.min(cfg.warmup, 10_000));
  await warmUp(async (i) => {
    const q = warm[i];
    if (spec.kind === 'count') await db.count(q);
    else if (spec.kind === 'all') await all(db, q, undefined, `${phase} warm-up #${i}`);
    else await db.query(q, { limit: FIRST_LIMIT });
  });
  await timed(phase, queries.length, async (i) => {
    const q = queries[i];
    const what = `${phase} #${i}`;
    if (spec.kind === 'count') {
      const c = await db.count(q);
      if (!Number.isInteger(c) || c < 0) throw new Error(`${what}: count returned ${JSON.stringify(c)}`);
      answers.push(c);
    } else if (spec.kind === 'all') {
      answers.push(await all(db, q, phase, what));
    } else {
      const r = await db.query(q, { limit: FIRST_LIMIT });
      addStats(phase, r.stats);
      if (r.keys.length > FIRST_LIMIT) throw new Error(`${what}: ${r.keys.length} items for limit ${FIRST_LIMIT}`);
      if (r.docs.length !== r.keys.length || r.docs.some((d) => d == null || typeof d !== 'object')) throw new Error(`${what}: items without document values`);
      answers.push(ids(r.keys, what));
    }
  });
  result.answers[phase] = answers;
}

/** q-page-city: one common city, 100 at a time to the end; the union must equal count(). */
async function pagePhase(db) {
  const phase = 'q-page-city';
  const q = { index: 'city', eq: PAGE_CITY };
  const keys = [];
  let cursor = null;
  let last;
  let complete = false;
  let nonEmpty = 0;
  // Warm-up: pages of another common city (from its start again at its end).
  let warmCursor = null;
  await warmUp(async () => {
    const r = await db.query({ index: 'city', eq: PAGE_WARM_CITY }, { limit: PAGE_LIMIT, cursor: warmCursor });
    warmCursor = r.cursor;
  });
  // The number of pages is not known in advance: `bound` is an upper bound, the last page ends the phase.
  const bound = Math.ceil(cfg.n / PAGE_LIMIT) + 2;
  await timed(phase, bound, async (i) => {
    const r = await db.query(q, { limit: PAGE_LIMIT, cursor });
    addStats(phase, r.stats);
    if (r.keys.length > PAGE_LIMIT) throw new Error(`${phase} page ${i}: ${r.keys.length} items for limit ${PAGE_LIMIT}`);
    for (const id of ids(r.keys, `${phase} page ${i}`, last)) keys.push(id);
    if (r.keys.length) {
      last = r.keys[r.keys.length - 1];
      nonEmpty++;
    }
    if (r.cursor == null) {
      complete = true;
      return DONE;
    }
    cursor = r.cursor;
    return undefined;
  }, { unit: 'pages' });
  const answer = { keys, complete, pages: nonEmpty };
  if (complete) {
    answer.count = await db.count(q);
    if (answer.count !== keys.length) throw new Error(`${phase}: paging returned ${keys.length} documents of ${PAGE_CITY}, count() says ${answer.count}`);
  }
  result.answers[phase] = [answer];
}

/** q-update-move: read-modify-write that moves documents to a rare city and a new age, then a query that must see it. */
async function movePhase(db) {
  const phase = 'q-update-move';
  const list = moves(cfg.updates, cfg.n, rng(seedOf(cfg.seed, 900)));
  const answers = [];
  const apply = async (m) => {
    const key = keyOf(m.id);
    const doc = await db.get(key);
    if (doc == null) throw new Error(`${phase}: ${key} not found`);
    doc.city = m.city;
    doc.age = m.age;
    await db.put(key, doc);
  };
  const done = await timed(phase, list.length, async (i) => {
    const m = list[i];
    await apply(m);
    const key = keyOf(m.id);
    const r = await db.query(moveCheck(m), { limit: FIRST_LIMIT });
    addStats(phase, r.stats);
    if (!r.keys.includes(key)) throw new Error(`${phase} #${i}: ${key} moved to ${m.city}, age ${m.age}, but the query does not return it (got ${r.keys.length} keys)`);
    answers.push(ids(r.keys, `${phase} #${i}`));
  }, { unit: 'moves' });
  for (let i = done; i < list.length; i++) await apply(list[i]); // the rest, untimed: every store ends in the same state
  result.answers[phase] = answers;
}

/** After the moves: counts per city and per age (untimed), to check that indexes follow updates. */
async function finalCheck(db) {
  const answers = [];
  for (const q of checkQueries()) answers.push(await db.count(q));
  result.answers['q-final-counts'] = answers;
}

(async () => {
  store = require(path.join(__dirname, 'query-stores', `${storeName}.js`));
  Object.assign(result, { store: store.name, label: store.label, version: store.version(), notes: store.notes, textNote: store.textNote, reference: !!store.reference });
  const dir = freshDir('main');
  await ingest(dir);
  await ingestPut();
  const queryPhases = QUERY_PHASES.filter((s) => want.has(s.phase));
  const rest = ['q-page-city', 'q-update-move'].filter((p) => want.has(p));
  if (queryPhases.length || rest.length) {
    const t0 = performance.now();
    const db = await store.open(dir);
    result.info.reopenSeconds = (performance.now() - t0) / 1000;
    for (const spec of queryPhases) await queryPhase(db, spec);
    if (want.has('q-page-city')) await pagePhase(db);
    if (want.has('q-update-move')) await movePhase(db);
    await finalCheck(db);
    db.destroy?.();
    await db.close();
  }
  fs.rmSync(path.join(cfg.dir, 'query', storeName), { recursive: true, force: true });
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  // The result is large (every answer): disconnect only once it has been handed over.
  if (process.send) process.send({ type: 'done', result }, () => process.disconnect());
})().catch((e) => {
  try {
    fs.rmSync(path.join(cfg.dir, 'query', storeName), { recursive: true, force: true });
  } catch {}
  // Exit even if a store left handles open.
  if (process.send) process.send({ type: 'error', message: String(e?.stack ?? e), unavailable: e?.code === 'QUERY_API_MISSING' }, () => process.exit(1));
  else process.exit(1);
});
