/**
 * Secondary indexes and queries: the contract of README "Secondary indexes and queries",
 * one behaviour per test. The randomized differential test is `query-model.spec.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { Db, IndexDefinition, open, Query, StrataLevel } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

interface User {
  name: string;
  city: string;
  age: number;
  tags?: string[];
  active?: boolean;
  bio?: string;
}

const CITY: IndexDefinition = { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } };
const AGE: IndexDefinition = { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } };
const TAGS: IndexDefinition = { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } };
const ACTIVE: IndexDefinition = { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' }, sparse: true };
const BIO: IndexDefinition = { name: 'bio', type: 'text', extractor: { kind: 'json_path', path: '$.bio' } };
const ALL = [CITY, AGE, TAGS, ACTIVE, BIO];

const PEOPLE: [string, User][] = [
  ['u:01', { name: 'Ana', city: 'Porto Alegre', age: 31, tags: ['admin', 'dev'], active: true, bio: 'Loves São Paulo and coffee' }],
  ['u:02', { name: 'Bruno', city: 'Lisboa', age: 25, tags: ['dev'], active: false, bio: 'Coffee first, then code' }],
  ['u:03', { name: 'Carla', city: 'Porto Alegre', age: 38, tags: [], active: true, bio: 'Runs marathons in Paris' }],
  ['u:04', { name: 'Davi', city: 'Porto Alegre', age: 45, active: false, bio: 'sao paulo native' }],
  ['u:05', { name: 'Eva', city: 'Recife', age: 33, tags: ['ops'], bio: 'Café au lait' }],
  ['u:06', { name: 'Fabio', city: 'Lisboa', age: 30, tags: ['dev', 'ops'], active: true, bio: 'Code and coffee' }],
];

async function people(extra: Parameters<typeof fresh>[0] = {}): Promise<Db<string, User>> {
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: ALL, ...extra });
  await db.batch(PEOPLE.map(([key, value]) => ({ type: 'put' as const, key, value })));
  return db;
}

async function keys(db: Db<string, User>, q: Query, limit = 1000): Promise<string[]> {
  const r = await db.query(q, { limit, values: false });
  return r.items.map((i) => i.key);
}

test('equality, range, in, prefix, text, and, or, not — results in primary-key order', async (t) => {
  const db = await people();
  t.deepEqual(await keys(db, { index: 'city', eq: 'Porto Alegre' }), ['u:01', 'u:03', 'u:04']);
  t.deepEqual(await keys(db, { index: 'city', term: 'Lisboa' }), ['u:02', 'u:06'], 'term is an alias of eq');
  t.deepEqual(await keys(db, { index: 'city', in: ['Recife', 'Lisboa'] }), ['u:02', 'u:05', 'u:06']);
  t.deepEqual(await keys(db, { index: 'age', gte: 30, lt: 39 }), ['u:01', 'u:03', 'u:05', 'u:06']);
  t.deepEqual(await keys(db, { index: 'age', gt: 38 }), ['u:04']);
  t.deepEqual(await keys(db, { index: 'age', lte: 25 }), ['u:02']);
  t.deepEqual(await keys(db, { index: 'tags', eq: 'dev' }), ['u:01', 'u:02', 'u:06'], 'one posting per array element');
  t.deepEqual(await keys(db, { index: 'bio', match: 'coffee code' }), ['u:02', 'u:06']);
  t.deepEqual(await keys(db, { index: 'bio', match: 'SAO Paulo' }), ['u:01', 'u:04'], 'accents and case folded');
  t.deepEqual(await keys(db, { index: 'bio', matchAny: 'paris café' }), ['u:03', 'u:05']);
  t.deepEqual(await keys(db, { and: [{ index: 'city', eq: 'Porto Alegre' }, { index: 'age', gte: 30, lte: 39 }] }), ['u:01', 'u:03']);
  t.deepEqual(await keys(db, { and: [{ index: 'city', eq: 'Lisboa' }, { index: 'tags', eq: 'ops' }] }), ['u:06']);
  t.deepEqual(await keys(db, { or: [{ index: 'city', eq: 'Recife' }, { index: 'tags', eq: 'admin' }] }), ['u:01', 'u:05']);
  t.deepEqual(await keys(db, { and: [{ index: 'city', eq: 'Porto Alegre' }, { not: { index: 'active', eq: true } }] }), ['u:04']);
  t.deepEqual(await keys(db, { index: 'city', eq: 'Nowhere' }), []);
  const page = await db.query({ index: 'city', eq: 'Porto Alegre' });
  t.deepEqual(page.items[0], { key: 'u:01', value: PEOPLE[0]?.[1] });
  t.is(page.cursor, null);
  t.is(page.partial, false);
  t.true(page.stats.postingsScanned >= 3);
  t.is(page.stats.recordsRead, 3);
  await db.close();
});

test('sparse and non-sparse: a missing field is null unless sparse', async (t) => {
  const db = await people({ indexes: [...ALL, { name: 'tagsAll', type: 'equality', extractor: { kind: 'json_path', path: '$.tags' } }] });
  // u:05 has no `active`: the sparse index leaves it out entirely.
  t.deepEqual(await keys(db, { index: 'active', in: [true, false] }), ['u:01', 'u:02', 'u:03', 'u:04', 'u:06']);
  t.deepEqual(await keys(db, { index: 'active', eq: null }), []);
  // u:04 has no `tags` and u:03 an empty array: non-sparse `tags[*]` indexes both as null.
  t.deepEqual(await keys(db, { index: 'tags', eq: null }), ['u:03', 'u:04'], 'an empty array reaches nothing: missing, so null');
  await db.close();
});

test('count, count estimate and explain', async (t) => {
  const db = await people();
  const q: Query = { and: [{ index: 'city', eq: 'Porto Alegre' }, { index: 'age', gte: 30, lte: 39 }] };
  t.is(await db.count(q), 2);
  t.is(await db.count({ index: 'bio', matchAny: 'coffee paris' }), 4);
  const est = await db.count(q, { estimate: true });
  t.true(est.high >= 2, `high ${est.high} is an upper bound`);
  t.true(est.low <= est.estimate && est.estimate <= est.high);
  const ex = await db.explain(q);
  t.is(ex.plan.op, 'and');
  t.is(ex.plan.strategy, 'window', 'the age range has two terms and as few postings as the city: read in windows beside it');
  t.is(ex.plan.detail, 'driver city; age read in windows');
  t.is(ex.actual?.count, 2);
  t.is(ex.plan.children?.length, 2);
  t.true((ex.plan.children ?? []).every((c) => typeof c.estimate === 'number' && typeof c.postingsScanned === 'number'));
  const noRun = await db.explain(q, { analyze: false });
  t.is(noRun.actual, undefined);
  await db.close();
});

test('updates move postings exactly; deletes remove them; verify agrees', async (t) => {
  const db = await people();
  await db.put('u:01', { name: 'Ana', city: 'Recife', age: 50 });
  t.deepEqual(await keys(db, { index: 'city', eq: 'Porto Alegre' }), ['u:03', 'u:04']);
  t.deepEqual(await keys(db, { index: 'city', eq: 'Recife' }), ['u:01', 'u:05']);
  t.deepEqual(await keys(db, { index: 'tags', eq: 'admin' }), [], 'postings of the old array elements removed');
  t.deepEqual(await keys(db, { index: 'age', gte: 50 }), ['u:01']);
  await db.del('u:05');
  t.deepEqual(await keys(db, { index: 'city', eq: 'Recife' }), ['u:01']);
  t.deepEqual(await keys(db, { index: 'bio', match: 'cafe' }), []);
  await db.batch([
    { type: 'put', key: 'u:07', value: { name: 'Gil', city: 'Recife', age: 20 } },
    { type: 'put', key: 'u:07', value: { name: 'Gil', city: 'Lisboa', age: 21 } },
    { type: 'del', key: 'u:02' },
  ]);
  t.deepEqual(await keys(db, { index: 'city', eq: 'Lisboa' }), ['u:06', 'u:07'], 'only the last op of a key in a batch counts');
  t.deepEqual(await keys(db, { index: 'city', eq: 'Recife' }), ['u:01']);
  const v = await db.verify();
  t.deepEqual(v.problems, []);
  await db.close();
});

test('a Buffer value changed between two writes is indexed with its new contents', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer', indexes: [CITY, BIO] });
  const b = Buffer.from(JSON.stringify({ city: 'Recife', bio: 'one' }));
  await db.put('k1', b);
  b.set(Buffer.from(JSON.stringify({ city: 'Lisboa', bio: 'two' })));
  await db.put('k2', b);
  await db.batch([{ type: 'put', key: 'k3', value: b }]);
  t.deepEqual((await db.query({ index: 'city', eq: 'Recife' })).items.map((i) => i.key), ['k1']);
  t.deepEqual((await db.query({ index: 'city', eq: 'Lisboa' })).items.map((i) => i.key), ['k2', 'k3']);
  t.deepEqual((await db.query({ index: 'bio', match: 'two' })).items.map((i) => i.key), ['k2', 'k3']);
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('a page whose stored value does not decode fails with STRATA_INVALID_ARGUMENT naming the key', async (t) => {
  const WHOLE: IndexDefinition = { name: 'whole', type: 'equality', extractor: { kind: 'raw' } };
  const db = await fresh<string, string>({ valueEncoding: 'utf8', indexes: [WHOLE] });
  await db.put('good', '{"a":1}');
  await db.put('bad:key', 'not json {');
  // As utf8 both decode; as json the page that holds 'bad:key' fails and names it.
  t.deepEqual((await db.query({ index: 'whole', eq: Buffer.from('not json {') })).items, [{ key: 'bad:key', value: 'not json {' }]);
  t.deepEqual((await db.query({ index: 'whole', eq: Buffer.from('{"a":1}') }, { valueEncoding: 'json' })).items, [{ key: 'good', value: { a: 1 } }]);
  const e = await expectCode(() => db.query({ index: 'whole', eq: Buffer.from('not json {') }, { valueEncoding: 'json' }), 'STRATA_INVALID_ARGUMENT');
  t.regex(e.message, /bad:key/);
  t.regex(e.message, /'json' encoding/);
  await db.close();
});

test('unawaited concurrent writes to the same keys leave exact postings', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: [CITY, TAGS] });
  const cities = ['A', 'B', 'C', 'D'];
  const model = new Map<string, User>();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 3000; i++) {
    const key = `k${i % 17}`;
    if (i % 11 === 0) {
      writes.push(db.del(key));
      model.delete(key);
    } else {
      const u: User = { name: key, city: cities[(i * 7) % 4] as string, age: i, tags: [`t${i % 3}`, `t${i % 5}`] };
      writes.push(db.put(key, u));
      model.set(key, u);
    }
  }
  await Promise.all(writes);
  for (const c of cities) {
    const want = [...model].filter(([, u]) => u.city === c).map(([k]) => k).sort();
    t.deepEqual(await keys(db, { index: 'city', eq: c }), want, `city ${c}`);
  }
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('index entries never appear in user iteration, counts or clear of user ranges', async (t) => {
  const db = await people();
  const all = await db.keys().all();
  t.deepEqual(all, PEOPLE.map(([k]) => k));
  t.deepEqual((await db.iterator({ reverse: true }).all()).map(([k]) => k), PEOPLE.map(([k]) => k).reverse());
  await db.clear({ lt: 'u:03' });
  t.deepEqual(await keys(db, { index: 'city', eq: 'Porto Alegre' }), ['u:03', 'u:04'], 'clear removed the postings of the cleared records');
  await db.clear();
  t.deepEqual(await db.keys().all(), []);
  t.deepEqual(await keys(db, { index: 'city', in: ['Porto Alegre', 'Lisboa', 'Recife'] }), []);
  t.is((await db.listIndexes()).length, ALL.length, 'clear() of user keys keeps the registry');
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('definitions and postings survive reopen; declaring the same indexes is a no-op; another definition is rejected', async (t) => {
  const dir = tmpPath();
  const first = await open<string, User>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: ALL });
  await first.batch(PEOPLE.map(([key, value]) => ({ type: 'put' as const, key, value })));
  const before = await first.listIndexes();
  await first.close();
  const again = await open<string, User>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: ALL });
  t.deepEqual(
    (await again.listIndexes()).map((i) => [i.name, i.state, i.createdAt]),
    before.map((i) => [i.name, i.state, i.createdAt]),
  );
  t.deepEqual(await keys(again, { index: 'city', eq: 'Lisboa' }), ['u:02', 'u:06']);
  await expectCode(() => again.createIndex({ ...CITY, unique: true }), 'STRATA_INVALID_ARGUMENT');
  await again.close();
  await expectCode(
    () => open(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: [{ ...AGE, type: 'equality' }] }),
    'STRATA_INVALID_ARGUMENT',
  );
  const plain = await open<string, User>(dir, { env: {}, envFile: false, valueEncoding: 'json' });
  t.is((await plain.listIndexes()).length, ALL.length, 'opening without declarations keeps the stored indexes');
  t.deepEqual(await keys(plain, { index: 'age', gte: 40 }), ['u:04']);
  await plain.close();
});

test('online build: createIndex on a populated database while writes go on', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json' });
  const N = 5000;
  const model = new Map<string, User>();
  const batch: { type: 'put'; key: string; value: User }[] = [];
  for (let i = 0; i < N; i++) {
    const u: User = { name: `n${i}`, city: `c${i % 13}`, age: i % 90 };
    batch.push({ type: 'put', key: `u:${String(i).padStart(5, '0')}`, value: u });
    model.set(`u:${String(i).padStart(5, '0')}`, u);
  }
  await db.batch(batch);
  const progress: number[] = [];
  const building = db.createIndex(CITY, { onProgress: (p) => progress.push(p.processed) });
  // Writes while it builds: moves, deletes, inserts.
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) {
    const key = `u:${String((i * 37) % (N + 500)).padStart(5, '0')}`;
    if (i % 9 === 0) {
      writes.push(db.del(key));
      model.delete(key);
    } else {
      const u: User = { name: key, city: `c${(i * 5) % 13}`, age: i % 90 };
      writes.push(db.put(key, u));
      model.set(key, u);
    }
  }
  await Promise.all(writes);
  const info = await building;
  t.is(info.state, 'ready');
  t.true(progress.length >= 2, 'progress reported per chunk');
  t.true(progress.every((p, i) => i === 0 || p >= (progress[i - 1] as number)));
  for (let c = 0; c < 13; c++) {
    t.is(await db.count({ index: 'city', eq: `c${c}` }), [...model.values()].filter((u) => u.city === `c${c}`).length, `c${c}`);
  }
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('a query on an index that is still building is STRATA_INDEX_BUILDING', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json' });
  await db.batch(Array.from({ length: 20000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: { name: '', city: `c${i % 3}`, age: i } })));
  const info = await db.createIndex(CITY, { background: true });
  t.is(info.state, 'building');
  await expectCode(() => db.query({ index: 'city', eq: 'c1' }), 'STRATA_INDEX_BUILDING');
  const ready = await db.createIndex(CITY);
  t.is(ready.state, 'ready');
  t.is(await db.count({ index: 'city', eq: 'c1' }), 6667);
  await db.close();
});

test('unique indexes reject a duplicate term with STRATA_CONSTRAINT and write nothing', async (t) => {
  const EMAIL: IndexDefinition = { name: 'email', type: 'equality', extractor: { kind: 'json_path', path: '$.email' }, unique: true, sparse: true };
  const db = await fresh<string, { email?: string; n?: number }>({ valueEncoding: 'json', indexes: [EMAIL] });
  await db.put('a', { email: 'x@y' });
  await expectCode(() => db.put('b', { email: 'x@y' }), 'STRATA_CONSTRAINT');
  t.is(await db.get('b'), undefined, 'the record was not written');
  await db.put('a', { email: 'x@y', n: 2 }); // same key keeps its term
  await db.batch([
    { type: 'put', key: 'a', value: { email: 'z@y' } },
    { type: 'put', key: 'b', value: { email: 'x@y' } },
  ]); // freed and taken in one batch
  t.deepEqual((await db.query({ index: 'email', eq: 'x@y' })).items.map((i) => i.key), ['b']);
  await expectCode(
    () =>
      db.batch([
        { type: 'put', key: 'c', value: { email: 'q@y' } },
        { type: 'put', key: 'd', value: { email: 'q@y' } },
      ]),
    'STRATA_CONSTRAINT',
  );
  t.is(await db.get('c'), undefined);
  // Concurrent unawaited claims: exactly one wins.
  const results = await Promise.allSettled([db.put('e', { email: 'w@y' }), db.put('f', { email: 'w@y' })]);
  t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
  await db.put('g', {}); // sparse: no term
  await db.put('h', {});
  t.deepEqual((await db.verify()).problems, []);
  // Building a unique index over duplicates fails and leaves no index.
  await db.put('i', { email: 'dup' });
  await db.put('j', { email: 'dup' }).catch(() => undefined);
  const other = await fresh<string, { email: string }>({ valueEncoding: 'json' });
  await other.put('p', { email: 'same' });
  await other.put('q', { email: 'same' });
  await expectCode(() => other.createIndex(EMAIL), 'STRATA_CONSTRAINT');
  t.deepEqual(await other.listIndexes(), []);
  await other.close();
  await db.close();
});

test('paging with a cursor under concurrent writes returns every record that matched throughout exactly once', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: [CITY] });
  await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: { name: '', city: 'X', age: i } })));
  const stable = new Set(Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, '0')}`).filter((_, i) => i % 3 !== 0));
  const seen: string[] = [];
  let cursor: string | null = null;
  let round = 0;
  do {
    const page: Awaited<ReturnType<typeof db.query>> = await db.query({ index: 'city', eq: 'X' }, { limit: 37, cursor });
    seen.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
    // Between pages: churn the keys that are not "stable" (moved out and back, deleted, new keys).
    round++;
    for (let i = 0; i < 1000; i += 3) {
      const key = `k${String(i).padStart(4, '0')}`;
      if ((i + round) % 2 === 0) await db.put(key, { name: '', city: 'Y', age: i });
      else await db.put(key, { name: '', city: 'X', age: i });
    }
    await db.put(`n${round}`, { name: '', city: 'X', age: 0 });
  } while (cursor !== null);
  t.is(new Set(seen).size, seen.length, 'no duplicates');
  for (const k of stable) t.true(seen.includes(k), `${k} returned`);
  t.deepEqual(seen, [...seen].sort(), 'primary-key order');
  await db.close();
});

test('a snapshot makes every page one consistent view', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: [CITY] });
  await db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(3, '0')}`, value: { name: '', city: 'X', age: i } })));
  const snapshot = db.snapshot();
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof db.query>> = await db.query({ index: 'city', eq: 'X' }, { limit: 50, cursor, snapshot });
    seen.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
    await db.del(`k${String(seen.length + 10).padStart(3, '0')}`);
    await db.put(`a${seen.length}`, { name: '', city: 'X', age: 0 });
  } while (cursor !== null);
  t.is(seen.length, 300);
  await expectCode(async () => {
    const p = await db.query({ index: 'city', eq: 'X' }, { limit: 5, snapshot });
    const other = db.snapshot();
    try {
      await db.query({ index: 'city', eq: 'X' }, { cursor: p.cursor, snapshot: other });
    } finally {
      await other.close();
    }
  }, 'STRATA_INVALID_ARGUMENT');
  await snapshot.close();
  await db.close();
});

test('timeouts and posting budgets return partial pages whose cursors continue to the full answer', async (t) => {
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: [CITY, AGE] });
  await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: { name: '', city: i % 50 === 0 ? 'rare' : 'common', age: i % 100 } })));
  const q: Query = { and: [{ index: 'city', eq: 'rare' }, { index: 'age', gte: 0, lt: 100 }] };
  const want = await db.count(q);
  const seen: string[] = [];
  let cursor: string | null = null;
  let partials = 0;
  let pages = 0;
  do {
    const page: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit: 1000, cursor, maxPostingsScanned: 50, values: false });
    if (page.partial !== false) partials++;
    seen.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
    t.true(++pages < 10000, 'progress');
  } while (cursor !== null);
  t.true(partials > 0, 'the budget stopped pages');
  t.is(seen.length, want);
  t.is(new Set(seen).size, want);
  await db.close();
});

test('bad input gets a typed error and writes nothing', async (t) => {
  const db = await people({ extractors: { bad: () => { throw new Error('boom'); }, junk: () => ({ not: 'a term' }) } });
  await expectCode(() => db.query({ index: 'nope', eq: 1 }), 'STRATA_NO_INDEX');
  await expectCode(() => db.query({ index: 'city', gt: 'A' }), 'STRATA_NO_INDEX');
  await expectCode(() => db.query({ index: 'city', match: 'x' }), 'STRATA_NO_INDEX');
  await expectCode(() => db.query({ index: 'bio', eq: 'x' }), 'STRATA_NO_INDEX');
  await expectCode(() => db.query({ index: 'city', near: 1 } as unknown as Query), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: { a: 1 } } as unknown as Query), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'age', gte: NaN }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'age', gte: 1, lte: 'z' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ not: { index: 'city', eq: 'x' } }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ or: [] }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query(null as unknown as Query), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: 'x' }, { limit: 1e9 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: 'x' }, { limit: 0 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: 'x' }, { timeoutMs: -1 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: 'x' }, { cursor: 'garbage' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.query({ index: 'city', eq: 'x' }, { bogus: 1 } as never), 'STRATA_INVALID_ARGUMENT');
  const page = await db.query({ index: 'city', eq: 'Porto Alegre' }, { limit: 1 });
  t.truthy(page.cursor);
  await expectCode(() => db.query({ index: 'city', eq: 'Lisboa' }, { cursor: page.cursor }), 'STRATA_INVALID_ARGUMENT');
  const tampered = (page.cursor as string).replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
  await expectCode(() => db.query({ index: 'city', eq: 'Porto Alegre' }, { cursor: tampered }), 'STRATA_INVALID_ARGUMENT');
  // Index definitions.
  await expectCode(() => db.createIndex({ name: 'x', type: 'equality', extractor: { kind: 'custom', name: 'unregistered' } }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.createIndex({ name: 'x', type: 'hash' } as unknown as IndexDefinition), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.dropIndex('never'), 'STRATA_NO_INDEX');
  // Writes whose value an extractor cannot handle: nothing is written.
  const before = await db.iterator().all();
  await db.createIndex({ name: 'b', type: 'equality', extractor: { kind: 'custom', name: 'bad' }, scope: 'bad:' });
  await db.createIndex({ name: 'j', type: 'equality', extractor: { kind: 'custom', name: 'junk' }, scope: 'junk:' });
  const e1 = await expectCode(() => db.put('bad:1', { name: '', city: '', age: 1 }), 'STRATA_INVALID_ARGUMENT');
  t.regex(e1.message, /bad:1/);
  await expectCode(() => db.put('junk:1', { name: '', city: '', age: 1 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('u:09', 'not json' as unknown as User, { valueEncoding: 'utf8' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put(Buffer.alloc(9, 0xff) as unknown as string, PEOPLE[0]?.[1] as User), 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(await db.iterator().all(), before, 'no record written');
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('indexesFile: TOML [[index]] tables and a JSON array', async (t) => {
  const dir = path.dirname(tmpPath());
  const toml = path.join(dir, 'indexes.toml');
  fs.writeFileSync(
    toml,
    [
      '[[index]]',
      'name = "city"',
      'type = "equality"',
      'extractor = { kind = "json_path", path = "$.city" }',
      '',
      '[[index]]',
      'name = "city_age"',
      'type = "range"',
      'extractor = { kind = "json_path", paths = ["$.city", "$.age"] }',
      '',
    ].join('\n'),
  );
  const db = await people({ indexes: undefined, indexesFile: toml });
  t.deepEqual((await db.listIndexes()).map((i) => i.name), ['city', 'city_age']);
  t.deepEqual(await keys(db, { index: 'city_age', eq: ['Porto Alegre'], gte: 35 }), ['u:03', 'u:04']);
  t.deepEqual(await keys(db, { index: 'city_age', eq: ['Lisboa', 30] }), ['u:06']);
  t.deepEqual(await keys(db, { index: 'city_age', eq: ['Lisboa'] }), ['u:02', 'u:06']);
  await db.close();
  const json = path.join(dir, 'indexes.json');
  fs.writeFileSync(json, JSON.stringify([AGE]));
  const db2 = await people({ indexes: undefined, indexesFile: json });
  t.deepEqual(await keys(db2, { index: 'age', lt: 30 }), ['u:02']);
  await db2.close();
  const badToml = path.join(dir, 'bad.toml');
  fs.writeFileSync(badToml, '[[index]]\nname = "x"\ntype = "equality"\nextractor = { kind = "json_path", path = "$.a" }\ncolour = "red"\n');
  await expectCode(() => fresh({ indexesFile: badToml }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ indexesFile: path.join(dir, 'missing.toml') }), 'STRATA_INVALID_ARGUMENT');
});

test('bson values with bson_path indexes', async (t) => {
  const { ObjectId } = await import('bson');
  const db = await fresh<string, Record<string, unknown>>({
    valueEncoding: 'bson',
    indexes: [
      { name: 'owner', type: 'equality', extractor: { kind: 'bson_path', path: '$.owner' } },
      { name: 'at', type: 'range', extractor: { kind: 'bson_path', path: '$.at' } },
    ],
  });
  const id = new ObjectId();
  await db.put('d1', { owner: id, at: new Date(1000) });
  await db.put('d2', { owner: new ObjectId(), at: new Date(5000) });
  t.deepEqual((await db.query({ index: 'owner', eq: id.toHexString() })).items.map((i) => i.key), ['d1']);
  t.deepEqual((await db.query({ index: 'at', gte: 2000 })).items.map((i) => i.key), ['d2']);
  const got = (await db.query({ index: 'owner', eq: id.toHexString() })).items[0]?.value as { owner: InstanceType<typeof ObjectId> };
  t.true(got.owner.equals(id));
  await db.close();
});

test('dropIndex and rebuildIndex', async (t) => {
  const db = await people();
  await db.dropIndex('city');
  await expectCode(() => db.query({ index: 'city', eq: 'Lisboa' }), 'STRATA_NO_INDEX');
  t.false((await db.listIndexes()).some((i) => i.name === 'city'));
  await db.put('u:08', { name: 'H', city: 'Lisboa', age: 60 });
  const info = await db.rebuildIndex('age');
  t.is(info.state, 'ready');
  t.deepEqual(await keys(db, { index: 'age', gte: 45 }), ['u:04', 'u:08']);
  await db.createIndex(CITY);
  t.deepEqual(await keys(db, { index: 'city', eq: 'Lisboa' }), ['u:02', 'u:06', 'u:08']);
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('approximateCount of a key range', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(3, '0')}`, value: 'v' })));
  const c = db.approximateCount({ gte: 'k100', lt: 'k200' });
  t.true(c.upper >= 100, `upper ${c.upper}`);
  t.true(c.estimate > 0);
  t.deepEqual(db.approximateCount({ gte: 'z' }), { estimate: 0, upper: 0 });
  await db.close();
});

test('StrataLevel refuses a database with indexes (its writes would not maintain them)', async (t) => {
  const dir = tmpPath();
  const db = await open(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: [CITY] });
  await db.close();
  const level = new StrataLevel(dir, { env: {}, envFile: false } as never);
  const e = await t.throwsAsync(() => level.open());
  t.regex(String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message), /secondary indexes/);
  const plain = tmpPath();
  const ok = new StrataLevel(plain, { env: {}, envFile: false } as never);
  await ok.open();
  await ok.close();
});

test('listIndexes reports approximate entries and bytes', async (t) => {
  const db = await people();
  const city = (await db.listIndexes()).find((i) => i.name === 'city');
  t.truthy(city);
  t.is(city?.state, 'ready');
  t.true((city?.entries ?? 0) >= PEOPLE.length, `entries ${city?.entries}`);
  t.true((city?.bytes ?? 0) > (city?.entries ?? 0) * 20, `bytes ${city?.bytes}`);
  await db.close();
});

test('probed intersections read from disk (cold cache) agree with a scan, page by page', async (t) => {
  const dir = tmpPath();
  const cities = ['Lisboa', 'Recife', 'Porto', 'Natal', 'Belém'];
  const tagsOf = ['dev', 'ops', 'art', 'cars'];
  const words = ['coffee', 'paris', 'code', 'runs', 'tea', 'jazz'];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const docs: [string, User][] = [];
  for (let i = 0; i < 6000; i++) {
    docs.push([
      `u:${String(i).padStart(5, '0')}`,
      {
        name: `n${i}`,
        // One rare city (a few postings), so that most candidates of a common one fail a probe.
        city: i % 997 === 0 ? 'Rara' : (cities[rnd(cities.length)] as string),
        age: 18 + rnd(60),
        // 'early' on the first 5000: whole batches of candidates fail a negated probe.
        // 'head' (the first 400) drives an AND with 'wide' (350 to 2399), probed: the first
        // batches of candidates all fail, and the matches come after them.
        tags: [tagsOf[rnd(4)] as string, tagsOf[rnd(4)] as string, ...(i < 5000 ? ['early'] : []), ...(i < 400 ? ['head'] : []), ...(i >= 350 && i < 2400 ? ['wide'] : [])],
        active: rnd(2) === 0,
        bio: `${words[rnd(6)]} ${words[rnd(6)]} ${words[rnd(6)]}`,
      },
    ]);
  }
  const first = await open<string, User>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: ALL });
  for (let i = 0; i < docs.length; i += 500) await first.batch(docs.slice(i, i + 500).map(([key, value]) => ({ type: 'put' as const, key, value })));
  await first.close();
  // Reopened with a small cache: the postings and records are on disk, not in memory.
  const db = await open<string, User>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: ALL, blockCacheSize: 64 * 1024, useMmap: false });
  const cases: [Query, (u: User) => boolean][] = [
    [{ and: [{ index: 'city', eq: 'Lisboa' }, { index: 'tags', eq: 'cars' }] }, (u) => u.city === 'Lisboa' && !!u.tags?.includes('cars')],
    [{ and: [{ index: 'city', eq: 'Recife' }, { not: { index: 'active', eq: true } }] }, (u) => u.city === 'Recife' && u.active !== true],
    [{ and: [{ index: 'city', eq: 'Lisboa' }, { not: { index: 'tags', eq: 'early' } }] }, (u) => u.city === 'Lisboa' && !u.tags?.includes('early')],
    [{ and: [{ index: 'city', eq: 'Rara' }, { index: 'tags', eq: 'dev' }] }, (u) => u.city === 'Rara' && !!u.tags?.includes('dev')],
    [{ and: [{ index: 'tags', eq: 'head' }, { index: 'tags', eq: 'wide' }] }, (u) => !!u.tags?.includes('head') && u.tags.includes('wide')],
    [{ index: 'bio', match: 'coffee jazz' }, (u) => !!u.bio?.includes('coffee') && !!u.bio.includes('jazz')],
    [{ and: [{ index: 'city', eq: 'Natal' }, { index: 'age', gte: 30, lte: 31 }, { not: { index: 'tags', eq: 'ops' } }] }, (u) => u.city === 'Natal' && u.age >= 30 && u.age <= 31 && !u.tags?.includes('ops')],
    // 400 'head' postings beside a range of 40 terms (4000 postings): the range is read in windows.
    [{ and: [{ index: 'tags', eq: 'head' }, { index: 'age', gte: 20, lte: 59 }] }, (u) => !!u.tags?.includes('head') && u.age >= 20 && u.age <= 59],
  ];
  for (const [q, match] of cases) {
    const want = docs.filter(([, u]) => match(u)).map(([k]) => k);
    t.true(want.length > 0, `${JSON.stringify(q)} matches something`);
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      const r: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit: 37, cursor });
      for (const it of r.items) got.push(it.key);
      t.true(r.items.every((it) => match(it.value as User)), 'every item matches');
      cursor = r.cursor;
    } while (cursor !== null);
    t.deepEqual(got, want, JSON.stringify(q));
    t.is(await db.count(q), want.length);
  }
  t.is((await db.explain(cases[1]?.[0] as Query)).plan.strategy, 'probe');
  t.is((await db.explain(cases[7]?.[0] as Query)).plan.strategy, 'window', 'the range beside head is read in windows from disk');
  t.is((await db.explain(cases[4]?.[0] as Query)).plan.strategy, 'probe', 'the head AND wide case probes');
  await db.close();
});

test('a probed AND sizes its candidate batches from the pass rate and the page it fills', async (t) => {
  // city A on every 4th document (the driver: 1000 postings); tag x on the others and on
  // every 80th: 1 candidate in 20 passes. A page of 10 needs 11 passes: 128 candidates give
  // 7, then about 90 more at the rate seen (doubling would probe 256).
  const docs: [string, User][] = [];
  for (let i = 0; i < 4000; i++) {
    docs.push([`u:${String(i).padStart(5, '0')}`, { name: `n${i}`, age: 20, city: i % 4 === 0 ? 'A' : 'B', tags: i % 4 !== 0 || i % 80 === 0 ? ['x'] : ['y'] }]);
  }
  const db = await fresh<string, User>({ valueEncoding: 'json', indexes: ALL });
  for (let i = 0; i < docs.length; i += 1000) await db.batch(docs.slice(i, i + 1000).map(([key, value]) => ({ type: 'put' as const, key, value })));
  const q: Query = { and: [{ index: 'city', eq: 'A' }, { index: 'tags', eq: 'x' }] };
  t.is((await db.explain(q)).plan.strategy, 'probe');
  const r = await db.query(q, { limit: 10, values: false });
  const want = docs.filter(([, u]) => u.city === 'A' && u.tags?.includes('x')).map(([k]) => k);
  t.deepEqual(
    r.items.map((i) => i.key),
    want.slice(0, 10),
  );
  t.not(r.cursor, null);
  // Each candidate is one posting read and one probed: about 2 × (128 + 90). Reading the
  // driver in growing batches (32, 128, 512) and doubling the probes scanned 1344.
  t.true(r.stats.postingsScanned < 2 * 300, `postings scanned: ${r.stats.postingsScanned}`);
  await db.close();
});
