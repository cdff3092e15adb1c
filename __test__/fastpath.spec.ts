/**
 * The calling-thread fast paths and their thread-pool fallbacks: writes (fallback when the
 * memtable must rotate), reads (fallback when a block is not in the block cache), iterator
 * batches (same), and the event-loop budget that keeps long loops of settled promises from
 * starving timers.
 */
import test from 'ava';

import native = require('../ts/native');
import { fresh } from './helpers';

const key = (i: number): string => `k${String(i).padStart(6, '0')}`;
const value = (i: number): string => `value-${i}-${'x'.repeat(80)}`;

test('writes stay in order across fast path and fallback (tiny memtable)', async (t) => {
  const db = await fresh({ memtableSize: 4096 });
  // Not awaited: the later writes must win even when earlier ones fell back to the pool.
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 3000; i++) {
    pending.push(db.put(key(i % 100), value(i)));
    if (i % 7 === 0) pending.push(db.del(key((i + 50) % 100)));
    if (i % 11 === 0) pending.push(db.batch([{ type: 'put', key: key(i % 100), value: value(i) }]));
  }
  await Promise.all(pending);
  const model = new Map<string, string>();
  for (let i = 0; i < 3000; i++) {
    model.set(key(i % 100), value(i));
    if (i % 7 === 0) model.delete(key((i + 50) % 100));
    if (i % 11 === 0) model.set(key(i % 100), value(i));
  }
  for (let i = 0; i < 100; i++) t.is(await db.get(key(i)), model.get(key(i)), key(i));
  // The writes above may all have been coalesced into a few large batches; the memtable
  // rotates at the first write after it is full, so one more write makes the rotation certain.
  await db.put('after', 'x');
  const stats = await db.stats();
  t.true(stats.flushes + stats.immutableMemtables > 0, 'the memtable rotated');
  t.is(await db.get('after'), 'x');
  await db.close();
});

test('sync writes and fast writes interleave correctly', async (t) => {
  const db = await fresh();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) pending.push(db.put('k', String(i), { sync: i % 3 === 0 }));
  await Promise.all(pending);
  t.is(await db.get('k'), '199');
  await db.close();
});

test('reads fall back to the pool when blocks are not cached (tiny block cache)', async (t) => {
  // Positioned reads: with a memory map, blocks whose pages are in memory are decoded on the
  // calling thread and the pool would rarely be needed.
  const db = await fresh({ blockCacheSize: 4096, memtableSize: 64 * 1024, useMmap: false });
  const n = 3000;
  await db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: key(i), value: value(i) })));
  await db.flush();
  for (let i = 0; i < n; i += 3) {
    t.is(await db.get(key(i)), value(i));
    t.is(db.getSync(key(i)), value(i));
  }
  t.is(await db.get('absent'), undefined);
  t.false(await db.has('absent'));
  t.true(await db.has(key(5)));
  const stats = await db.stats();
  t.true(stats.blockCacheMisses > 0);
  await db.close();
});

test('has() answers without copying the value: big values, deletes, snapshots, memtable and SSTs', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer' });
  const big = Buffer.alloc(200 * 1024, 7); // larger than the shared read buffer
  await db.put('big', big);
  await db.put('small', Buffer.from('v'));
  await db.put('empty', Buffer.alloc(0));
  const snap = db.snapshot();
  await db.del('small');
  for (const phase of ['memtable', 'sst']) {
    t.true(await db.has('big'), phase);
    t.true(await db.has('empty'), phase);
    t.false(await db.has('small'), phase);
    t.false(await db.has('never'), phase);
    t.true(await db.has('small', { snapshot: snap }), phase);
    t.true(await db.has('big', { snapshot: snap }), phase);
    t.deepEqual(await db.get('big'), big, phase); // the shared buffer was not disturbed
    await db.flush();
  }
  snap.close();
  await db.close();
});

for (const useMmap of [false, true]) test(`iteration is exact across calling-thread and pool batches (tiny block cache, useMmap ${String(useMmap)})`, async (t) => {
  const db = await fresh({ blockCacheSize: 4096, memtableSize: 64 * 1024, useMmap });
  const n = 3000;
  await db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: key(i), value: value(i) })));
  await db.flush();
  // Newer versions and deletions in the memtable over the table.
  for (let i = 0; i < n; i += 10) await db.put(key(i), `new${i}`);
  for (let i = 5; i < n; i += 10) await db.del(key(i));
  const expected: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 5) continue;
    expected.push([key(i), i % 10 === 0 ? `new${i}` : value(i)]);
  }
  const seen: [string, string][] = [];
  for await (const e of db.iterator()) seen.push(e);
  t.deepEqual(seen, expected);
  t.deepEqual(await db.iterator({ reverse: true }).all(), [...expected].reverse());
  const it = db.iterator();
  for (const i of [1234, 17, 2999, 0, 1500]) {
    it.seek(key(i));
    const from = expected.findIndex(([k]) => k >= key(i));
    t.deepEqual(await it.nextv(10), expected.slice(from, from + 10));
    t.deepEqual(await it.next(), expected[from + 10]);
  }
  await it.close();
  t.deepEqual(await db.keys({ gte: key(100), limit: 25 }).all(), expected.filter(([k]) => k >= key(100)).slice(0, 25).map(([k]) => k));
  await db.close();
});

/** Counts event-loop turns (a self-renewing `setImmediate`) until `stop()`. */
function countTurns(): { readonly count: number; stop(): void } {
  let count = 0;
  let running = true;
  const tick = (): void => {
    count++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get count() {
      return count;
    },
    stop() {
      running = false;
    },
  };
}

test('long loops of fast operations still let the event loop turn', async (t) => {
  const db = await fresh();
  const turns = countTurns();
  const pairs = 20_000;
  for (let i = 0; i < pairs; i++) {
    await db.put(key(i % 1000), 'v');
    await db.get(key(i % 1000));
  }
  turns.stop();
  // At most FAST_STREAK (512) calling-thread operations per turn: 40 000 operations need 78.
  t.true(turns.count >= 40, `${turns.count} event-loop turns during ${pairs} put+get pairs`);
  await db.close();
});

test('a long loop of awaited in-memory gets lets the event loop turn without thread-pool reads', async (t) => {
  const db = await fresh();
  for (let i = 0; i < 1000; i++) await db.put(key(i), value(i));
  // Count the pool reads: the budget is renewed by a setImmediate, not by a pool job.
  const proto = native.NativeDatabase.prototype;
  const poolGet = proto.get;
  let poolReads = 0;
  proto.get = function (this: InstanceType<typeof native.NativeDatabase>, ...args: Parameters<typeof poolGet>) {
    poolReads++;
    return poolGet.apply(this, args);
  };
  const turns = countTurns();
  try {
    const reads = 20_000;
    for (let i = 0; i < reads; i++) t.is(await db.get(key(i % 1000)), value(i % 1000));
    turns.stop();
    // At most FAST_STREAK (512) calling-thread reads per turn: 20 000 reads need 39 turns.
    t.true(turns.count >= 30, `${turns.count} event-loop turns during ${reads} gets`);
    t.is(poolReads, 0, 'no get went to the thread pool');
  } finally {
    proto.get = poolGet;
    turns.stop();
  }
  await db.close();
});

test('loops of range reads on new iterators and of seeks let the event loop turn, and stay correct', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `v${i}` })));
  const turns = countTurns();
  const reads = 10_000;
  for (let i = 0; i < reads; i++) {
    const it = db.iterator({ gte: key(i % 1000), limit: 10 });
    const got = await it.nextv(10);
    await it.close();
    t.is(got.length, Math.min(10, 1000 - (i % 1000)));
    if (got[0]?.[0] !== key(i % 1000)) t.fail(`range read ${i} started at ${String(got[0]?.[0])}`);
  }
  const it = db.iterator();
  for (let i = 0; i < reads; i++) {
    it.seek(key(i % 1000));
    const got = await it.nextv(11);
    if (got[0]?.[1] !== `v${i % 1000}`) t.fail(`seek ${i} found ${String(got[0]?.[1])}`);
  }
  await it.close();
  turns.stop();
  // A 10-entry batch counts one point read: 20 000 batches need at least 39 turns.
  t.true(turns.count >= 30, `${turns.count} event-loop turns during ${reads} range reads and ${reads} seeks`);
  await db.close();
});
