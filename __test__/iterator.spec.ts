import test from 'ava';

import { Db } from '../ts/index';
import { expectCode, fresh } from './helpers';

const KEYS = ['a', 'b', 'ba', 'bb', 'c', 'd', 'e'];

async function seeded(): Promise<Db> {
  const db = await fresh();
  await db.batch(KEYS.map((k) => ({ type: 'put' as const, key: k, value: k.toUpperCase() })));
  return db;
}

const keysOf = async (db: Db, opts: Parameters<Db['keys']>[0]) => db.keys(opts).all();

test('all bounds', async (t) => {
  const db = await seeded();
  t.deepEqual(await keysOf(db, {}), KEYS);
  t.deepEqual(await keysOf(db, { gt: 'b' }), ['ba', 'bb', 'c', 'd', 'e']);
  t.deepEqual(await keysOf(db, { gte: 'b' }), ['b', 'ba', 'bb', 'c', 'd', 'e']);
  t.deepEqual(await keysOf(db, { lt: 'c' }), ['a', 'b', 'ba', 'bb']);
  t.deepEqual(await keysOf(db, { lte: 'c' }), ['a', 'b', 'ba', 'bb', 'c']);
  t.deepEqual(await keysOf(db, { gt: 'a', lt: 'c' }), ['b', 'ba', 'bb']);
  t.deepEqual(await keysOf(db, { gte: 'bb', lte: 'd' }), ['bb', 'c', 'd']);
  t.deepEqual(await keysOf(db, { gt: 'c', lt: 'c' }), []);
  t.deepEqual(await keysOf(db, { gte: 'c', lte: 'c' }), ['c']);
  t.deepEqual(await keysOf(db, { gt: 'd', lt: 'b' }), []);
  await db.close();
});

test('prefix, reverse and limit', async (t) => {
  const db = await seeded();
  t.deepEqual(await keysOf(db, { prefix: 'b' }), ['b', 'ba', 'bb']);
  t.deepEqual(await keysOf(db, { prefix: 'b', reverse: true }), ['bb', 'ba', 'b']);
  t.deepEqual(await keysOf(db, { reverse: true }), [...KEYS].reverse());
  t.deepEqual(await keysOf(db, { limit: 2 }), ['a', 'b']);
  t.deepEqual(await keysOf(db, { reverse: true, limit: 2 }), ['e', 'd']);
  t.deepEqual(await keysOf(db, { limit: 0 }), []);
  t.deepEqual(await keysOf(db, { limit: -1 }), KEYS);
  t.deepEqual(await keysOf(db, { limit: Infinity }), KEYS);
  t.deepEqual(await keysOf(db, { gte: 'b', lt: 'd', reverse: true, limit: 3 }), ['c', 'bb', 'ba']);
  await db.close();
});

test('prefix of 0xff bytes has no upper bound', async (t) => {
  const db = await fresh<Buffer, string>({ keyEncoding: 'buffer' });
  await db.put(Buffer.from([0xff]), 'a');
  await db.put(Buffer.from([0xff, 0xff, 1]), 'b');
  await db.put(Buffer.from([0xfe]), 'c');
  t.deepEqual(await db.values({ prefix: Buffer.from([0xff]) }).all(), ['a', 'b']);
  t.deepEqual(await db.values({ prefix: Buffer.from([0xff, 0xff]) }).all(), ['b']);
  await db.close();
});

test('entries, keys-only and values-only', async (t) => {
  const db = await seeded();
  t.deepEqual(await db.iterator({ prefix: 'b' }).all(), [['b', 'B'], ['ba', 'BA'], ['bb', 'BB']]);
  t.deepEqual(await db.iterator({ prefix: 'b', values: false }).all(), [['b', undefined], ['ba', undefined], ['bb', undefined]]);
  t.deepEqual(await db.iterator({ prefix: 'b', keys: false }).all(), [[undefined, 'B'], [undefined, 'BA'], [undefined, 'BB']]);
  t.deepEqual(await db.values({ prefix: 'b' }).all(), ['B', 'BA', 'BB']);
  await db.close();
});

test('next, nextv and end', async (t) => {
  const db = await seeded();
  const it = db.iterator();
  t.deepEqual(await it.next(), ['a', 'A']);
  t.deepEqual(await it.nextv(3), [['b', 'B'], ['ba', 'BA'], ['bb', 'BB']]);
  t.deepEqual(await it.nextv(10), [['c', 'C'], ['d', 'D'], ['e', 'E']]);
  t.deepEqual(await it.nextv(10), []);
  t.is(await it.next(), undefined);
  await it.close();
  await it.close();
  await expectCode(() => it.next(), 'STRATA_ITERATOR_NOT_OPEN');
  await db.close();
});

test('for await closes the iterator, also on break', async (t) => {
  const db = await seeded();
  const seen: string[] = [];
  for await (const [k] of db.iterator()) seen.push(k);
  t.deepEqual(seen, KEYS);
  const it = db.iterator();
  for await (const [k] of it) {
    if (k === 'b') break;
  }
  t.true(it.closed);
  const keys: string[] = [];
  for await (const k of db.keys({ lt: 'b' })) keys.push(k);
  t.deepEqual(keys, ['a']);
  await db.close();
});

test('seek forward and reverse', async (t) => {
  const db = await seeded();
  const it = db.keys();
  it.seek('bb');
  t.is(await it.next(), 'bb');
  t.is(await it.next(), 'c');
  it.seek('a0');
  t.is(await it.next(), 'b');
  it.seek('zzz');
  t.is(await it.next(), undefined);
  await it.close();

  const rev = db.keys({ reverse: true });
  rev.seek('bz');
  t.is(await rev.next(), 'bb');
  t.is(await rev.next(), 'ba');
  await rev.close();

  const bounded = db.keys({ gte: 'b', lt: 'd' });
  bounded.seek('a');
  t.deepEqual(await bounded.all(), ['b', 'ba', 'bb', 'c']);
  await db.close();
});

test('entries cross in batches: many entries, small and large values', async (t) => {
  const db = await fresh();
  const n = 5000;
  const big = 'x'.repeat(20_000);
  const b = db.batch();
  for (let i = 0; i < n; i++) b.put(`k${String(i).padStart(5, '0')}`, i % 100 === 0 ? big : String(i));
  await b.write();
  const all = await db.iterator().all();
  t.is(all.length, n);
  t.is(all[0]?.[1], big);
  t.is(all[1]?.[1], '1');
  t.is(all[n - 1]?.[0], 'k04999');
  const it = db.values();
  let count = 0;
  for (;;) {
    const chunk = await it.nextv(777);
    if (chunk.length === 0) break;
    count += chunk.length;
  }
  t.is(count, n);
  await it.close();
  await db.close();
});

test('an iterator reads at the moment it was created', async (t) => {
  const db = await seeded();
  const it = db.keys();
  await db.put('aa', 'new');
  await db.del('e');
  t.deepEqual(await it.all(), KEYS);
  await db.close();
});

test('concurrent next calls are served in order', async (t) => {
  const db = await seeded();
  const it = db.keys();
  const got = await Promise.all([it.next(), it.next(), it.next(), it.nextv(2)]);
  t.deepEqual(got, ['a', 'b', 'ba', ['bb', 'c']]);
  await it.close();
  await db.close();
});
