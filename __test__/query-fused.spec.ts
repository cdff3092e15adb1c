/**
 * Probed intersections read in native calls (`scanProbe`, `ts/query/fused.ts`): a page of
 * an intersection driven by one exact term, with every other side probed, is scanned,
 * probed and its records read by the engine. Every answer here is checked against a
 * brute-force filter of the documents — from the memtable and from disk, with and without
 * values, paged with many limits, across calls of the engine (a driver longer than one
 * call scans), with writes between pages, at a snapshot, and under budgets (which the
 * streams keep: the same cursor must continue across both ways of reading).
 */
import test from 'ava';

import { Db, IndexDefinition, Query, open } from '../ts/index';
import { expectCode, fresh, mulberry32 } from './helpers';

interface Doc {
  city: string;
  age: number;
  tags: string[];
  active: boolean;
  bio: string;
}

const INDEXES: IndexDefinition[] = [
  { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
  { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
  { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } },
  { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' } },
  { name: 'bio', type: 'text', extractor: { kind: 'json_path', path: '$.bio' } },
];

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'rho', 'São'];
const key = (i: number): string => `u:${String(i).padStart(5, '0')}`;

function makeDocs(seed: number, n = 4000): Map<string, Doc> {
  const rnd = mulberry32(seed);
  const docs = new Map<string, Doc>();
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    for (let j = 0; j < 3; j++) words.push(WORDS[Math.floor(rnd() * rnd() * WORDS.length)] as string);
    docs.set(key(i), {
      city: rnd() < 0.1 ? 'A' : rnd() < 0.5 ? 'B' : 'C',
      age: 20 + Math.floor(rnd() * 40),
      tags: [...(rnd() < 0.3 ? ['x'] : []), ...(rnd() < 0.3 ? ['y'] : []), ...(i % 50 === 0 ? ['rare'] : [])],
      active: rnd() < 0.7,
      bio: words.join(' '),
    });
  }
  return docs;
}

/**
 * `inA` documents in city A (`u:` keys), a third of them inactive, and `activeC` active ones in
 * city C (`w:` keys): a `city A AND NOT active` whose `active` side is dense enough to be probed.
 */
function probedDocs(inA: number, activeC: number): Map<string, Doc> {
  const docs = new Map<string, Doc>();
  for (let i = 0; i < inA; i++) docs.set(key(i), { city: 'A', age: 30, tags: [], active: i % 3 !== 0, bio: 'rho' });
  for (let i = 0; i < activeC; i++) docs.set(`w:${String(i).padStart(5, '0')}`, { city: 'C', age: 30, tags: [], active: true, bio: 'rho' });
  return docs;
}

async function load(docs: Map<string, Doc>, extra: object = {}): Promise<Db<string, Doc>> {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: INDEXES, ...extra });
  const entries = [...docs];
  for (let i = 0; i < entries.length; i += 1000) {
    await db.batch(entries.slice(i, i + 1000).map(([k, value]) => ({ type: 'put' as const, key: k, value })));
  }
  return db;
}

function want(docs: Map<string, Doc>, match: (d: Doc) => boolean): string[] {
  return [...docs]
    .filter(([, d]) => match(d))
    .map(([k]) => k)
    .sort();
}

/** Counts the native page calls of `db` and those answered (not `null`: a disk read needed). */
function spy(db: Db<string, Doc>): { calls: number; answered: number } {
  const seen = { calls: 0, answered: 0 };
  const real = db._scanProbeHere.bind(db);
  db._scanProbeHere = (...args: Parameters<typeof real>) => {
    const r = real(...args);
    seen.calls++;
    if (r !== null && r !== undefined) seen.answered++;
    return r;
  };
  return seen;
}

type Page = Awaited<ReturnType<Db<string, Doc>['query']>>;

async function all(db: Db<string, Doc>, q: Query, limit: number, opts: { values?: boolean; maxPostingsScanned?: number } = {}): Promise<{ keys: string[]; values: (Doc | undefined)[]; partials: number }> {
  const keys: string[] = [];
  const values: (Doc | undefined)[] = [];
  let cursor: string | null = null;
  let partials = 0;
  let pages = 0;
  do {
    const r: Page = await db.query(q, { limit, cursor, values: opts.values ?? false, ...(opts.maxPostingsScanned ? { maxPostingsScanned: opts.maxPostingsScanned } : {}) });
    if (r.partial !== false) partials++;
    for (const it of r.items) {
      keys.push(it.key);
      values.push(it.value as Doc | undefined);
    }
    cursor = r.cursor;
    if (++pages > 10_000) throw new Error('no progress');
  } while (cursor !== null);
  return { keys, values, partials };
}

const CASES: [string, Query, (d: Doc) => boolean][] = [
  ['city AND NOT active', { and: [{ index: 'city', eq: 'A' }, { not: { index: 'active', eq: true } }] }, (d) => d.city === 'A' && !d.active],
  ['city AND tag', { and: [{ index: 'city', eq: 'A' }, { index: 'tags', eq: 'x' }] }, (d) => d.city === 'A' && d.tags.includes('x')],
  ['two words', { index: 'bio', match: 'omega sao' }, (d) => d.bio.includes('omega') && d.bio.includes('São')],
  ['tags in, probed as one side of two terms', { and: [{ index: 'tags', eq: 'rare' }, { index: 'tags', in: ['x', 'y'] }] }, (d) => d.tags.includes('rare') && (d.tags.includes('x') || d.tags.includes('y'))],
  [
    'must and not sides together',
    { and: [{ index: 'tags', eq: 'rare' }, { index: 'city', in: ['B', 'C'] }, { not: { index: 'active', eq: false } }] },
    (d) => d.tags.includes('rare') && d.city !== 'A' && d.active,
  ],
];

async function checkAll(t: import('ava').ExecutionContext, db: Db<string, Doc>, docs: Map<string, Doc>, where: string): Promise<number> {
  let answered = 0;
  for (const [name, q, match] of CASES) {
    const ex = await db.explain(q);
    t.is(ex.plan.strategy, 'probe', `${where} ${name}: ${JSON.stringify(ex.plan)}`);
    const expected = want(docs, match);
    t.true(expected.length > 5, `${name}: ${expected.length} matches`);
    t.is(ex.actual?.count, expected.length, `${where} ${name}: explain count`);
    const seen = spy(db);
    for (const limit of [1, 7, 100, 10_000]) t.deepEqual((await all(db, q, limit)).keys, expected, `${where} ${name}, limit ${limit}`);
    const withValues = await all(db, q, 13, { values: true });
    t.deepEqual(withValues.keys, expected, `${where} ${name}, values`);
    withValues.keys.forEach((k, i) => t.deepEqual(withValues.values[i], docs.get(k), `${where} ${name}: value of ${k}`));
    t.true(seen.calls > 0, `${where} ${name}: read by scanProbe`);
    answered += seen.answered;
  }
  return answered;
}

test('probed intersections read natively agree with a brute-force filter, from the memtable', async (t) => {
  const docs = makeDocs(1);
  const db = await load(docs);
  t.true((await checkAll(t, db, docs, 'memtable')) > 0);
  await db.close();
});

test('probed intersections read natively agree with a brute-force filter, from disk (cached and not)', async (t) => {
  const docs = makeDocs(2);
  const first = await load(docs);
  const dir = first.location;
  await first.close();
  // Default cache: the engine answers once blocks are in memory.
  const db = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES });
  t.true((await checkAll(t, db, docs, 'disk')) > 0, 'some pages read from SSTables natively');
  await db.close();
  // A tiny cache and no mmap: the engine finds blocks not in memory, and the streams read them.
  const cold = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES, blockCacheSize: 64 * 1024, useMmap: false });
  await checkAll(t, cold, docs, 'cold');
  await cold.close();
});

test('counts of probed intersections are counted natively and agree with a brute-force filter, from the memtable, disk and a cold cache', async (t) => {
  const docs = makeDocs(6, 9000);
  const db = await load(docs);
  const check = async (d: Db<string, Doc>, where: string): Promise<number> => {
    const seen = spy(d);
    for (const [name, q, match] of CASES) {
      const before = seen.calls;
      t.is(await d.count(q), want(docs, match).length, `${where} ${name}`);
      t.true(seen.calls > before, `${where} ${name}: counted by scanProbe`);
    }
    return seen.answered;
  };
  t.true((await check(db, 'memtable')) > 0);
  const dir = db.location;
  await db.close();
  const disk = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES });
  t.true((await check(disk, 'disk')) > 0);
  await disk.close();
  // Blocks not in memory: the streams count instead, and the counts are the same.
  const cold = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES, blockCacheSize: 64 * 1024, useMmap: false });
  await check(cold, 'cold');
  await cold.close();
});

test('a count of a probed intersection at a snapshot is of that view, across native calls', async (t) => {
  // 9000 documents in city A, a third of them inactive (a count scans more than one call's
  // 4096 postings), and 20,000 active ones in city C (so that active is probed).
  const docs = probedDocs(9000, 20_000);
  const db = await load(docs);
  const q: Query = { and: [{ index: 'city', eq: 'A' }, { not: { index: 'active', eq: true } }] };
  const snapshot = db.snapshot();
  try {
    await db.batch([...Array(600).keys()].map((i) => ({ type: 'put' as const, key: key(i * 15 + 1), value: { city: 'A', age: 30, tags: [], active: false, bio: 'rho' } })));
    await db.batch([...Array(100).keys()].map((i) => ({ type: 'del' as const, key: key(i * 3) })));
    t.is((await db.explain(q, { analyze: false })).plan.strategy, 'probe');
    const seen = spy(db);
    t.is(await db.count(q, { snapshot }), 3000);
    t.true(seen.answered >= 3, `${seen.answered} calls answered`);
    // Now: 600 more inactive (15i + 1), 100 fewer (3i, i < 100, deleted).
    t.is(await db.count(q), 3500);
  } finally {
    await snapshot.close();
  }
  await db.close();
});

test('a driver longer than one native call scans, with few matches, pages across calls', async (t) => {
  // 12,000 documents in city B, three of them inactive and tagged t near the end; 20,000 in
  // city C, active and tagged t: the other sides are denser than the driver (so probed), and
  // a page of B scans all 12,000 of its postings.
  const docs = new Map<string, Doc>();
  const few = [9100, 11_000, 11_999];
  for (let i = 0; i < 12_000; i++) docs.set(key(i), { city: 'B', age: 30, tags: few.includes(i) ? ['t'] : [], active: !few.includes(i), bio: 'rho' });
  for (let i = 0; i < 20_000; i++) docs.set(`w:${String(i).padStart(5, '0')}`, { city: 'C', age: 30, tags: ['t'], active: true, bio: 'rho' });
  const db = await load(docs);
  // On disk, where the planner's estimates come from the tables' index blocks.
  await db.flush();
  const seen = spy(db);
  const cases: Query[] = [
    { and: [{ index: 'city', eq: 'B' }, { not: { index: 'active', eq: true } }] },
    { and: [{ index: 'city', eq: 'B' }, { index: 'tags', eq: 't' }] },
  ];
  for (const q of cases) {
    const ex = await db.explain(q);
    t.is(ex.plan.strategy, 'probe', JSON.stringify(ex.plan));
    t.is(ex.plan.detail?.startsWith('driver city'), true, ex.plan.detail);
    t.is(ex.actual?.count, 3);
    // Counted natively too, in calls of at most 4096 postings.
    const before = seen.calls;
    t.is(await db.count(q), 3);
    t.true(seen.calls - before >= 3, `count: ${seen.calls - before} calls`);
    for (const limit of [1, 2, 3, 100]) {
      const before = seen.calls;
      const got = await all(db, q, limit);
      t.deepEqual(got.keys, few.map(key), `limit ${limit}`);
      // 12,000 postings scanned, at most 4096 a call.
      t.true(seen.calls - before >= 3, `${seen.calls - before} calls`);
    }
  }
  await db.close();
});

test('a probed intersection under a posting budget stops with partial, and its cursor continues natively and back', async (t) => {
  const docs = makeDocs(3);
  const db = await load(docs);
  let partials = 0;
  for (const [name, q, match] of CASES) {
    const expected = want(docs, match);
    // Budgeted pages (the streams) and plain pages (native) alternate on one cursor.
    const got: string[] = [];
    let cursor: string | null = null;
    let i = 0;
    do {
      const budget = i++ % 2 === 0;
      const r: Page = await db.query(q, { limit: 9, cursor, values: false, ...(budget ? { maxPostingsScanned: 20 } : {}) });
      if (r.partial !== false) {
        t.true(budget);
        t.is(r.partial, 'maxPostingsScanned');
        partials++;
      }
      for (const it of r.items) got.push(it.key);
      cursor = r.cursor;
      t.true(i < 5000, 'progress');
    } while (cursor !== null);
    t.deepEqual(got, expected, name);
    const budgeted = await all(db, q, 50, { maxPostingsScanned: 30 });
    t.deepEqual(budgeted.keys, expected, `${name}: budget only`);
    partials += budgeted.partials;
  }
  t.true(partials > 0, `${partials} partial pages`);
  await db.close();
});

test('paging a natively probed intersection with writes between pages returns every record that matched throughout exactly once', async (t) => {
  const docs = makeDocs(4);
  const db = await load(docs);
  const [, q, match] = CASES[0] as [string, Query, (d: Doc) => boolean];
  const before = new Set(want(docs, match));
  const rnd = mulberry32(44);
  const touched = new Set<string>();
  const got: string[] = [];
  const seen = spy(db);
  let cursor: string | null = null;
  do {
    const r: Page = await db.query(q, { limit: 11, cursor });
    for (const it of r.items) {
      got.push(it.key);
      t.true(match(it.value as Doc), `${it.key} matches when returned`);
    }
    cursor = r.cursor;
    const ops = [];
    for (let j = 0; j < 8; j++) {
      const k = key(Math.floor(rnd() * 4400));
      touched.add(k);
      if (rnd() < 0.2) {
        ops.push({ type: 'del' as const, key: k });
        docs.delete(k);
      } else {
        const d: Doc = { city: rnd() < 0.5 ? 'A' : 'B', age: 30, tags: [], active: rnd() < 0.5, bio: 'beta' };
        ops.push({ type: 'put' as const, key: k, value: d });
        docs.set(k, d);
      }
    }
    // Unawaited: the writes land while the next page is read.
    void db.batch(ops);
  } while (cursor !== null);
  t.true(seen.answered > 0);
  t.is(new Set(got).size, got.length, 'no key twice');
  t.deepEqual(got, [...got].sort(), 'primary-key order');
  const after = new Set(want(docs, match));
  for (const k of before) if (after.has(k) && !touched.has(k)) t.true(got.includes(k), `${k} matched throughout`);
  await db.close();
});

test('pages of a natively probed intersection at a snapshot ignore later writes', async (t) => {
  const docs = makeDocs(5);
  const db = await load(docs);
  const [, q, match] = CASES[0] as [string, Query, (d: Doc) => boolean];
  const expected = want(docs, match);
  const seen = spy(db);
  const snapshot = db.snapshot();
  try {
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      const r: Page = await db.query(q, { limit: 10, cursor, snapshot, values: false });
      for (const it of r.items) got.push(it.key);
      cursor = r.cursor;
      const next = expected.find((k) => !got.includes(k));
      if (next !== undefined) await db.del(next);
      await db.put(`v:${got.length}`, { city: 'A', age: 33, tags: [], active: false, bio: '' });
    } while (cursor !== null);
    t.deepEqual(got, expected);
    t.true(seen.answered > 0);
  } finally {
    await snapshot.close();
  }
  await db.close();
});

test('a count refused by several spent turns in a row still runs natively, and one whose database closes meanwhile fails STRATA_CLOSED', async (t) => {
  const docs = probedDocs(3000, 6000);
  const db = await load(docs);
  const q: Query = { and: [{ index: 'city', eq: 'A' }, { not: { index: 'active', eq: true } }] };
  t.is((await db.explain(q, { analyze: false })).plan.strategy, 'probe');
  // Other work spending every turn's budget: the first calls are refused (`undefined`).
  const real = db._scanProbeHere.bind(db);
  let refuse = 4;
  let answered = 0;
  db._scanProbeHere = (...args: Parameters<typeof real>) => {
    if (refuse > 0) {
      refuse--;
      return undefined;
    }
    const r = real(...args);
    if (r !== null && r !== undefined) answered++;
    return r;
  };
  t.is(await db.count(q), 1000);
  t.is(refuse, 0);
  t.true(answered >= 1, 'counted natively after the refusals, not the streams way');
  // Refused until the database closes: the count ends with the close's error, it does not hang.
  refuse = Infinity;
  const counting = db.count(q);
  await new Promise((r) => setImmediate(r));
  await db.close();
  await expectCode(() => counting, 'STRATA_CLOSED');
});
