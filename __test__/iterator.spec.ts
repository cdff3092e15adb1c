import test from 'ava';

import * as binding from '../binding';
import { Db } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

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

// Iterators cross as handles through the database's 64 KiB io buffer; these cover the paths
// where bounds, seek targets or batches do not fit it, and entries outliving later reads.
test('bounds, seek targets and batches larger than the io buffer', async (t) => {
  const db = await fresh<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const big = (c: number, n = 40_000): Buffer => Buffer.alloc(n, c);
  const value = Buffer.alloc(30_000, 0x76);
  // Keys 0x61.. of 40 KB each: two bounds together (80 KB) exceed the io buffer.
  await db.batch([0x61, 0x62, 0x63, 0x64, 0x65].map((c) => ({ type: 'put' as const, key: big(c), value })));
  const keys = async (opts: Parameters<typeof db.keys>[0]): Promise<number[]> => (await db.keys(opts).all()).map((k) => (k as Buffer)[0]);
  t.deepEqual(await keys({ gt: big(0x61), lte: big(0x64) }), [0x62, 0x63, 0x64]);
  t.deepEqual(await keys({ gte: big(0x62), lt: big(0x64), reverse: true }), [0x63, 0x62]);
  t.deepEqual(await keys({ gt: big(0x61, 65_000), lt: big(0x65) }), [0x62, 0x63, 0x64]);
  // A seek target of the largest key size fills the io buffer exactly.
  const it = db.iterator();
  it.seek(big(0x62, 65_536));
  const [first] = await it.nextv(1);
  t.is((first[0] as Buffer)[0], 0x63);
  // Five entries of 70 KB: a batch that does not fit the io buffer comes back as a Buffer.
  const all = await db.iterator().nextv(5);
  t.deepEqual(all.map(([k]) => (k as Buffer)[0]), [0x61, 0x62, 0x63, 0x64, 0x65]);
  t.true(all.every(([k, v]) => (k as Buffer).length === 40_000 && (v as Buffer).equals(value)));
  await it.close();
  await db.close();
});

test('entries stay intact after later reads reuse the io buffer', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(2, '0')}`, value: `v${i}` })));
  const first = await db.iterator({ gte: 'k10', limit: 3 }).nextv(3);
  const it = db.iterator({ gte: 'k40' });
  t.deepEqual(await it.nextv(2), [['k40', 'v40'], ['k41', 'v41']]);
  await db.get('k05');
  t.deepEqual(first, [['k10', 'v10'], ['k11', 'v11'], ['k12', 'v12']]);
  await it.close();
  // A closed iterator's handle is gone: reads reject with STRATA_ITERATOR_NOT_OPEN.
  t.is((await expectCode(() => it.next(), 'STRATA_ITERATOR_NOT_OPEN')).code, 'STRATA_ITERATOR_NOT_OPEN');
  await db.close();
});

// An iterator with a small limit reads its first batch in the native call that opens it;
// these cover what that must not change: the view, seeks before and after the first read
// (the limit counts only entries handed out), keys/values only, reverse, and a first
// batch too large for the io buffer.
test('an iterator with a small limit reads its first batch when opened, and keeps every contract', async (t) => {
  const db = await fresh();
  const key = (i: number) => `k${String(i).padStart(2, '0')}`;
  await db.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `v${i}` })));
  // The view is the one at creation, whatever is read first.
  const it = db.iterator({ gte: 'k10', limit: 3 });
  await db.put('k10', 'changed');
  await db.del('k11');
  t.deepEqual(await it.nextv(10), [['k10', 'v10'], ['k11', 'v11'], ['k12', 'v12']]);
  t.deepEqual(await it.nextv(1), []);
  await it.close();
  // A seek before the first read: the batch read at opening is dropped and not counted.
  const sought = db.keys({ gte: 'k20', limit: 4 });
  sought.seek('k30');
  t.deepEqual(await sought.nextv(10), ['k30', 'k31', 'k32', 'k33']);
  await sought.close();
  // A seek after one entry: the entries read ahead are not counted either.
  const partly = db.keys({ gte: 'k20', limit: 4 });
  t.is(await partly.next(), 'k20');
  partly.seek('k40');
  t.deepEqual(await partly.nextv(10), ['k40', 'k41', 'k42']);
  t.is(await partly.next(), undefined);
  await partly.close();
  t.deepEqual(await db.values({ lt: 'k05', reverse: true, limit: 2 }).all(), ['v4', 'v3']);
  t.deepEqual(await db.keys({ gt: 'k47', limit: 5 }).all(), ['k48', 'k49']);
  // next() and for await serve from the first batch too.
  const one = db.iterator({ gte: 'k45', limit: 2 });
  t.deepEqual(await one.next(), ['k45', 'v45']);
  const rest: unknown[] = [];
  for await (const e of one) rest.push(e);
  t.deepEqual(rest, [['k46', 'v46']]);
  t.true(one.closed);
  await db.close();
});

test('a first batch too large for the io buffer is read by the first read instead', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer' });
  const big = Buffer.alloc(100_000, 0x62);
  await db.batch([
    { type: 'put', key: 'a', value: Buffer.from('small') },
    { type: 'put', key: 'b', value: big },
    { type: 'put', key: 'c', value: big },
  ]);
  const got = await db.iterator({ gte: 'a', limit: 3 }).all();
  t.deepEqual(
    got.map(([k]) => k),
    ['a', 'b', 'c'],
  );
  t.true(got[1][1].equals(big) && got[2][1].equals(big));
  await db.close();
});

/** The keys of a packed batch (keys and values, then `u32` lengths per entry, then the count). */
function batchKeys(b: Buffer): string[] {
  const n = b.readUInt32LE(b.length - 4);
  const keys: string[] = [];
  let d = 0;
  for (let i = 0, l = b.length - 4 - 8 * n; i < n; i++, l += 8) {
    const kl = b.readUInt32LE(l);
    keys.push(b.toString('latin1', d, d + kl));
    d += kl + b.readUInt32LE(l + 4);
  }
  return keys;
}

test('a seek given to a synchronous read while a pool read of the same iterator runs is applied, not dropped', async (t) => {
  // Regression: cursorRead / nextBatchSync answered `null` when another read held the
  // iterator, and the caller's fallback read (which carries no seek) lost the seek.
  const location = tmpPath();
  const N = 60_000;
  const key = (i: number) => `k${String(i).padStart(6, '0')}`;
  const db = await fresh({}, location);
  const value = 'v'.repeat(100);
  for (let i = 0; i < N; i += 5000) {
    await db.batch(Array.from({ length: 5000 }, (_, j) => ({ type: 'put' as const, key: key(i + j), value })));
  }
  await db.close();
  const native = await binding.NativeDatabase.open(location, { blockCacheSize: 1 << 20 });
  const io = Buffer.alloc(1 << 16);
  native.setIo(io);
  const target = key(30_000);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let contended = 0;
  for (let round = 0; round < 6; round++) {
    const viaHandle = round % 2 === 0;
    const it = viaHandle ? undefined : native.iterator({});
    const h = viaHandle ? native.cursorOpen(-1, -1, 0, -1) : 0;
    const pool = viaHandle ? native.cursorNext(h, N, 1 << 30) : it!.nextBatch(N, 1 << 30);
    // Give the pool read time to take the iterator before the synchronous read.
    Atomics.wait(pause, 0, 0, 3);
    let here: string[] | null;
    if (viaHandle) {
      io.write(target, 0, 'latin1');
      const r = native.cursorRead(h, 10, 1 << 16, target.length);
      here = r === null ? null : batchKeys(typeof r === 'number' ? io.subarray(0, r) : r);
    } else {
      const r = it!.nextBatchSync(10, 1 << 16, Buffer.from(target));
      here = r === null ? null : batchKeys(r);
    }
    const pooled = batchKeys(await pool);
    const after = batchKeys(viaHandle ? await native.cursorNext(h, 1, 1 << 16) : await it!.nextBatch(1, 1 << 16));
    if (pooled[0] === key(0)) {
      // The pool read ran first (so the synchronous read met it): the seek comes after it.
      contended++;
      t.is((here ?? after)[0], target, `round ${round}`);
    } else {
      // The synchronous read ran first: the seek was applied before the pool read.
      t.is((here ?? pooled)[0], target, `round ${round}`);
    }
    if (viaHandle) native.cursorClose(h);
    else it!.close();
  }
  t.log(`${contended} of 6 rounds met a running pool read`);
  await native.close();
});
