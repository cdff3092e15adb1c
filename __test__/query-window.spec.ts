/**
 * Intersections read window by window (`WindowStream`, explain strategy `window`): the
 * planner's choice between reading a side beside the driver and probing it, and the
 * contract of every query through it — primary-key order, no duplicates from sides of many
 * terms, paging with concurrent writes, budgets (`partial`) and snapshots.
 */
import test from 'ava';

import { Db, IndexDefinition, Query, open } from '../ts/index';
import { fresh, mulberry32 } from './helpers';

interface Doc {
  city: string;
  age: number;
  tags: string[];
  active: boolean;
}

const INDEXES: IndexDefinition[] = [
  { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
  { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
  { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } },
  { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' } },
];

const key = (i: number): string => `u:${String(i).padStart(5, '0')}`;

/** 4000 documents: city A on a tenth, ages 20–59 uniform, tags x/y, active on 9 in 10. */
function makeDocs(seed: number): Map<string, Doc> {
  const rnd = mulberry32(seed);
  const docs = new Map<string, Doc>();
  for (let i = 0; i < 4000; i++) {
    docs.set(key(i), {
      city: rnd() < 0.1 ? 'A' : rnd() < 0.5 ? 'B' : 'C',
      age: 20 + Math.floor(rnd() * 40),
      // Both tags on some documents: a union of the two terms must not repeat them.
      tags: [...(rnd() < 0.3 ? ['x'] : []), ...(rnd() < 0.3 ? ['y'] : []), ...(i % 50 === 0 ? ['rare'] : [])],
      active: rnd() < 0.9,
    });
  }
  return docs;
}

async function load(docs: Map<string, Doc>): Promise<Db<string, Doc>> {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: INDEXES });
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

async function all(db: Db<string, Doc>, q: Query, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const r: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit, cursor, values: false });
    for (const it of r.items) out.push(it.key);
    cursor = r.cursor;
  } while (cursor !== null);
  return out;
}

const CITY_AND_AGE: Query = { and: [{ index: 'city', eq: 'A' }, { index: 'age', gte: 30, lte: 39 }] };
const cityAndAge = (d: Doc): boolean => d.city === 'A' && d.age >= 30 && d.age <= 39;

test('the planner reads a range side of many terms in windows beside a term, and the answer is exact', async (t) => {
  const docs = makeDocs(1);
  const db = await load(docs);
  const ex = await db.explain(CITY_AND_AGE);
  t.is(ex.plan.strategy, 'window', JSON.stringify(ex.plan));
  t.regex(ex.plan.detail ?? '', /read in windows/);
  const expected = want(docs, cityAndAge);
  t.true(expected.length > 60, `${expected.length} matches`);
  t.is(ex.actual?.count, expected.length);
  t.is(await db.count(CITY_AND_AGE), expected.length);
  for (const limit of [1, 7, 100, 10_000]) t.deepEqual(await all(db, CITY_AND_AGE, limit), expected, `limit ${limit}`);
  // The first page reads about the postings of the window it needs, not the whole lists.
  const page = await db.query(CITY_AND_AGE, { limit: 10, values: false });
  const postings = (await db.count({ index: 'city', eq: 'A' })) + (await db.count({ index: 'age', gte: 30, lte: 39 }));
  t.true(page.stats.postingsScanned < postings / 2, `a page of 10 scanned ${page.stats.postingsScanned} of ${postings} postings`);
  await db.close();
});

test('a union side whose terms share keys (tags in [x, y]) yields each key once, driver or read', async (t) => {
  const docs = makeDocs(2);
  const db = await load(docs);
  const both: Query = { index: 'tags', in: ['x', 'y'] };
  const hasXY = (d: Doc): boolean => d.tags.includes('x') || d.tags.includes('y');
  t.true([...docs.values()].some((d) => d.tags.includes('x') && d.tags.includes('y')), 'some documents have both tags');
  const cases: [Query, (d: Doc) => boolean][] = [
    // The union is the read side beside the city term.
    [{ and: [{ index: 'city', eq: 'A' }, both] }, (d) => d.city === 'A' && hasXY(d)],
    // The union drives (fewer postings than both ranges of age).
    [{ and: [{ index: 'tags', in: ['x', 'rare'] }, { index: 'age', gte: 20, lte: 50 }] }, (d) => (d.tags.includes('x') || d.tags.includes('rare')) && d.age <= 50],
    [{ and: [both, { index: 'age', gte: 25, lte: 44 }] }, (d) => hasXY(d) && d.age >= 25 && d.age <= 44],
  ];
  for (const [q, match] of cases) {
    const ex = await db.explain(q);
    t.true(ex.plan.strategy === 'window' || ex.plan.strategy === 'probe', `${JSON.stringify(q)}: ${ex.plan.strategy}`);
    t.deepEqual(await all(db, q, 33), want(docs, match), JSON.stringify(q));
  }
  t.is((await db.explain(cases[2]?.[0] as Query)).plan.strategy, 'window');
  await db.close();
});

test('a negated side with fewer postings than the driver is read in windows, a dense one probed', async (t) => {
  const docs = makeDocs(3);
  const db = await load(docs);
  const sparse: Query = { and: [{ index: 'city', eq: 'A' }, { not: { index: 'tags', eq: 'rare' } }] };
  const ex = await db.explain(sparse);
  t.is(ex.plan.strategy, 'window');
  t.regex(ex.plan.detail ?? '', /not tags read in windows/);
  t.deepEqual(await all(db, sparse, 50), want(docs, (d) => d.city === 'A' && !d.tags.includes('rare')));
  const dense: Query = { and: [{ index: 'city', eq: 'A' }, { not: { index: 'active', eq: true } }] };
  const ex2 = await db.explain(dense);
  t.is(ex2.plan.strategy, 'probe');
  t.regex(ex2.plan.detail ?? '', /not active probed/);
  t.deepEqual(await all(db, dense, 50), want(docs, (d) => d.city === 'A' && !d.active));
  // A range side, a negated read side and a probed one in one intersection.
  const mixed: Query = { and: [{ index: 'city', eq: 'A' }, { index: 'age', gte: 22, lte: 47 }, { not: { index: 'tags', eq: 'rare' } }, { not: { index: 'active', eq: true } }] };
  t.deepEqual(await all(db, mixed, 20), want(docs, (d) => d.city === 'A' && d.age >= 22 && d.age <= 47 && !d.tags.includes('rare') && !d.active));
  await db.close();
});

test('paging a window intersection with writes between pages returns every record that matched throughout exactly once', async (t) => {
  const docs = makeDocs(4);
  const db = await load(docs);
  t.is((await db.explain(CITY_AND_AGE, { analyze: false })).plan.strategy, 'window');
  const before = new Set(want(docs, cityAndAge));
  const rnd = mulberry32(44);
  const touched = new Set<string>();
  const got: string[] = [];
  let cursor: string | null = null;
  do {
    const r: Awaited<ReturnType<typeof db.query>> = await db.query(CITY_AND_AGE, { limit: 25, cursor });
    for (const it of r.items) {
      got.push(it.key);
      t.true(cityAndAge(it.value as Doc), `${it.key} matches when returned`);
    }
    cursor = r.cursor;
    // Move, delete and add documents on both sides of the cursor.
    const ops = [];
    for (let j = 0; j < 8; j++) {
      const k = key(Math.floor(rnd() * 4400));
      touched.add(k);
      if (rnd() < 0.2) {
        ops.push({ type: 'del' as const, key: k });
        docs.delete(k);
      } else {
        const d: Doc = { city: rnd() < 0.5 ? 'A' : 'B', age: 25 + Math.floor(rnd() * 20), tags: [], active: true };
        ops.push({ type: 'put' as const, key: k, value: d });
        docs.set(k, d);
      }
    }
    await db.batch(ops);
  } while (cursor !== null);
  t.is(new Set(got).size, got.length, 'no key twice');
  t.deepEqual(got, [...got].sort(), 'primary-key order');
  const after = new Set(want(docs, cityAndAge));
  for (const k of before) if (after.has(k) && !touched.has(k)) t.true(got.includes(k), `${k} matched throughout`);
  await db.close();
});

test('a window intersection stops at maxPostingsScanned with partial, and its cursor continues to the exact answer', async (t) => {
  const docs = makeDocs(5);
  const db = await load(docs);
  const expected = want(docs, cityAndAge);
  const got: string[] = [];
  let cursor: string | null = null;
  let partials = 0;
  let pages = 0;
  do {
    const r: Awaited<ReturnType<typeof db.query>> = await db.query(CITY_AND_AGE, { limit: 1000, cursor, maxPostingsScanned: 150, values: false });
    if (r.partial !== false) {
      t.is(r.partial, 'maxPostingsScanned');
      partials++;
    }
    for (const it of r.items) got.push(it.key);
    cursor = r.cursor;
    pages++;
    t.true(pages < 500, 'every page makes progress');
  } while (cursor !== null);
  t.true(partials > 1, `${partials} partial pages`);
  t.deepEqual(got, expected);
  await db.close();
});

test('pages of a window intersection read at a snapshot ignore later writes', async (t) => {
  const docs = makeDocs(6);
  const db = await load(docs);
  const expected = want(docs, cityAndAge);
  const snapshot = db.snapshot();
  try {
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      const r: Awaited<ReturnType<typeof db.query>> = await db.query(CITY_AND_AGE, { limit: 40, cursor, snapshot, values: false });
      for (const it of r.items) got.push(it.key);
      cursor = r.cursor;
      // Delete a match not yet returned and add a new one after the cursor.
      const next = expected.find((k) => !got.includes(k));
      if (next !== undefined) await db.del(next);
      await db.put(`v:${got.length}`, { city: 'A', age: 33, tags: [], active: true });
    } while (cursor !== null);
    t.deepEqual(got, expected);
  } finally {
    await snapshot.close();
  }
  await db.close();
});

test('a window intersection beside a leapfrogged side (a nested or), read from disk, agrees with a scan', async (t) => {
  const docs = makeDocs(7);
  const first = await load(docs);
  const dir = first.location;
  await first.close();
  // Reopened with a small cache and no mmap: windows wait for reads on the thread pool.
  const db = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES, blockCacheSize: 64 * 1024, useMmap: false });
  const q: Query = {
    and: [
      { index: 'city', eq: 'A' },
      { index: 'age', gte: 24, lte: 51 },
      { or: [{ and: [{ index: 'tags', eq: 'x' }, { index: 'age', lt: 40 }] }, { index: 'tags', eq: 'rare' }] },
    ],
  };
  const ex = await db.explain(q);
  t.regex(ex.plan.detail ?? '', /age read in windows/);
  t.regex(ex.plan.detail ?? '', /or leapfrogged/);
  const expected = want(docs, (d) => d.city === 'A' && d.age >= 24 && d.age <= 51 && ((d.tags.includes('x') && d.age < 40) || d.tags.includes('rare')));
  t.true(expected.length > 10, `${expected.length} matches`);
  t.is(ex.actual?.count, expected.length);
  for (const limit of [3, 50]) t.deepEqual(await all(db, q, limit), expected, `limit ${limit}`);
  await db.close();
});

test('beside a driver not made of exact terms (a nested or), a term side is probed, not read', async (t) => {
  const docs = makeDocs(8);
  const db = await load(docs);
  // The or (tags rare, ~80 postings, and a small and) drives; city B has far more postings.
  const q: Query = { and: [{ or: [{ index: 'tags', eq: 'rare' }, { and: [{ index: 'tags', eq: 'x' }, { index: 'age', gte: 58 }] }] }, { index: 'city', eq: 'B' }] };
  const ex = await db.explain(q);
  t.is(ex.plan.strategy, 'probe');
  t.is(ex.plan.detail, 'driver or; city probed');
  const expected = want(docs, (d) => d.city === 'B' && (d.tags.includes('rare') || (d.tags.includes('x') && d.age >= 58)));
  t.true(expected.length > 10, `${expected.length} matches`);
  t.deepEqual(await all(db, q, 9), expected);
  await db.close();
});

test('a range of a few terms beside a term with little fewer postings is probed by the engine, not read in windows, budget or not', async (t) => {
  // City D on ~150 of 3000 documents, each age on ~100: three ages hold 2 postings per city
  // posting (windows would read them all), probing them costs 3 per candidate in the engine,
  // where a posting or probe costs 0.6 of one read into JavaScript (150 x 4 x 0.6 < 150 + 300).
  const rnd = mulberry32(9);
  const docs = new Map<string, Doc>();
  for (let i = 0; i < 3000; i++) docs.set(key(i), { city: rnd() < 0.05 ? 'D' : 'E', age: 20 + (i % 30), tags: [], active: true });
  const db = await load(docs);
  const q: Query = { and: [{ index: 'city', eq: 'D' }, { index: 'age', gte: 20, lte: 22 }] };
  const ex = await db.explain(q);
  t.is(ex.plan.strategy, 'probe', JSON.stringify(ex.plan));
  t.is(ex.plan.detail, 'driver city; age probed');
  const expected = want(docs, (d) => d.city === 'D' && d.age >= 20 && d.age <= 22);
  t.true(expected.length > 10, `${expected.length} matches`);
  t.is(ex.actual?.count, expected.length);
  for (const limit of [4, 100]) t.deepEqual(await all(db, q, limit), expected, `limit ${limit}`);
  // Under a posting budget the streams run the same plan: partial pages continue to the answer.
  const out: string[] = [];
  let cursor: string | null = null;
  let partials = 0;
  do {
    const r: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit: 1000, cursor, maxPostingsScanned: 60, values: false });
    if (r.partial !== false) partials++;
    for (const it of r.items) out.push(it.key);
    cursor = r.cursor;
  } while (cursor !== null);
  t.true(partials > 0, 'the budget cut pages short');
  t.deepEqual(out, expected);
  await db.close();
});
