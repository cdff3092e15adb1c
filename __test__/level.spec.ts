/**
 * StrataLevel beyond abstract-level's suite: the README example with level-read-stream,
 * the manifest, engine options passed through, error codes and causes, the batched
 * crossing of iterators, and regression tests for defects the suite exposed (range
 * precedence, the empty key, clear() at a snapshot — in the binding as well).
 */
import test from 'ava';
import { EntryStream, KeyStream } from 'level-read-stream';

import native = require('../ts/native');
import { BatchPacker } from '../ts/codec';
import { StrataLevel } from '../ts/index';
import { tmpPath } from './helpers';

async function fresh(options: Record<string, unknown> = {}): Promise<StrataLevel> {
  const db = new StrataLevel(tmpPath(), { env: {}, envFile: false, ...options });
  await db.open();
  return db;
}

test('README example: level-read-stream over StrataLevel', async (t) => {
  const db = await fresh();
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'b', value: '2' },
    { type: 'put', key: 'c', value: '3' },
  ]);
  const entries: { key: string; value: string }[] = [];
  for await (const entry of new EntryStream(db, { gte: 'b' })) entries.push(entry as { key: string; value: string });
  t.deepEqual(entries, [
    { key: 'b', value: '2' },
    { key: 'c', value: '3' },
  ]);
  const keys: string[] = [];
  for await (const key of new KeyStream(db, { reverse: true, limit: 2 })) keys.push(key as string);
  t.deepEqual(keys, ['c', 'b']);
  await db.close();
});

test('the manifest says what the engine supports', (t) => {
  const db = new StrataLevel(tmpPath());
  t.like(db.supports, {
    implicitSnapshots: true,
    explicitSnapshots: true,
    snapshots: true,
    has: true,
    seek: true,
    permanence: true,
    createIfMissing: true,
    errorIfExists: true,
    deferredOpen: true,
    encodings: { utf8: true, buffer: true, view: true },
    signals: { iterators: true },
    additionalMethods: { compactRange: true, flush: true, stats: true },
  });
  t.is((db.supports as unknown as { getSync: boolean }).getSync, true);
  return db.close();
});

test('constructor rejects a missing location', (t) => {
  t.throws(() => new StrataLevel('' as string), { instanceOf: TypeError });
  t.throws(() => new StrataLevel(undefined as unknown as string), { instanceOf: TypeError });
});

test('engine options pass through the constructor', async (t) => {
  const db = await fresh({ memtableSize: '16KiB', compression: false });
  for (let b = 0; b < 20; b++) {
    await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${b * 100 + i}`, value: 'v'.repeat(40) })));
  }
  await db.flush();
  t.true(db.stats().flushes >= 2, 'a 16 KiB memtable flushed more than once');
  await db.compactRange();
  t.is(await db.get('k1999'), 'v'.repeat(40));
  await db.close();

  const bad = new StrataLevel(tmpPath(), { env: {}, envFile: false, memtableSize: 'lots' });
  const err = await t.throwsAsync(() => bad.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  t.is((err?.cause as { code?: string }).code, 'STRATA_INVALID_ARGUMENT');
});

test('errors carry LEVEL_* codes with the StrataDB error as cause', async (t) => {
  const db = await fresh();
  const other = new StrataLevel(db.location);
  const locked = await t.throwsAsync(() => other.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  const cause = locked?.cause as { code?: string; cause?: { code?: string } };
  t.is(cause.code, 'LEVEL_LOCKED');
  t.is(cause.cause?.code, 'STRATA_LOCKED');

  const huge = 'k'.repeat(70_000);
  await t.throwsAsync(() => db.put(huge, 'v'), { code: 'LEVEL_INVALID_KEY' });
  await t.throwsAsync(() => db.get(huge), { code: 'LEVEL_INVALID_KEY' });
  t.throws(() => db.getSync(huge), { code: 'LEVEL_INVALID_KEY' });

  const missing = new StrataLevel(tmpPath(), { createIfMissing: false });
  const notFound = await t.throwsAsync(() => missing.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  t.is((notFound?.cause as { code?: string }).code, 'STRATA_NOT_FOUND');

  await db.close();
  t.throws(() => db.getSync('a'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  await t.throwsAsync(() => db.get('a'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
});

test.serial('iterators cross in batches: one entry first, then up to 1000 entries or highWaterMarkBytes', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: 'v' })));
  const proto = native.NativeIterator.prototype;
  const original = proto.nextBatch;
  const calls: [number, number, boolean][] = [];
  proto.nextBatch = function (this: typeof proto, n: number, bytes: number, seek?: Uint8Array | null) {
    calls.push([n, bytes, seek != null]);
    return original.call(this, n, bytes, seek);
  };
  try {
    const it = db.iterator();
    await it.next();
    await it.next();
    await it.next();
    t.deepEqual(calls, [
      [1, 64 * 1024, false],
      [1000, 64 * 1024, false],
    ]);
    calls.length = 0;
    it.seek('k2000');
    t.deepEqual(await it.next(), ['k2000', 'v']);
    t.deepEqual(calls, [[1, 64 * 1024, true]]);
    await it.close();

    calls.length = 0;
    const all = await db.iterator({ highWaterMarkBytes: 1024 } as object).all();
    t.is(all.length, 3000);
    t.true(calls.every(([n, bytes]) => n === 1000 && bytes === 1024));

    calls.length = 0;
    t.is((await db.keys({ limit: 5 }).all()).length, 5);
    t.deepEqual(calls, [[5, 64 * 1024, false]], 'reads no further than the limit');
  } finally {
    proto.nextBatch = original;
  }
  await db.close();
});

test('limit counts entries yielded, not entries read ahead and dropped by seek()', async (t) => {
  const db = await fresh();
  await db.batch(['a', 'b', 'c', 'd', 'e'].map((key) => ({ type: 'put' as const, key, value: key })));
  const it = db.keys({ limit: 3 });
  t.is(await it.next(), 'a');
  t.is(await it.next(), 'b'); // reads 'b' and 'c' ahead
  it.seek('a');
  t.deepEqual(await it.nextv(10), ['a']);
  t.deepEqual(await it.nextv(10), []);
  await it.close();
  await db.close();
});

// Regression: abstract-level gives gte precedence over gt and lte over lt.
test('gte wins over gt and lte over lt', async (t) => {
  const db = await fresh();
  await db.batch(['1', '2', '3', '4', '5'].map((key) => ({ type: 'put' as const, key, value: key })));
  t.deepEqual(await db.keys({ gt: '3', gte: '2', lt: '4', lte: '4' }).all(), ['2', '3', '4']);
  await db.clear({ gt: '1', gte: '2', lt: '3', lte: '4' });
  t.deepEqual(await db.keys().all(), ['1', '5']);
  await db.close();
});

// Regression: the engine rejected the empty key, which abstract-level requires.
test('the empty key is a key', async (t) => {
  const db = await fresh();
  await db.put('', 'empty');
  await db.put('a', 'A');
  t.is(await db.get(''), 'empty');
  t.true(await db.has(''));
  t.deepEqual(await db.iterator({ lte: '' }).all(), [['', 'empty']]);
  t.deepEqual(await db.keys({ gt: '' }).all(), ['a']);
  await db.del('');
  t.false(await db.has(''));
  await db.close();

  const bin = await native.NativeDatabase.open(tmpPath(), {});
  const p = new BatchPacker();
  p.put(Buffer.alloc(0), Buffer.from('v'));
  bin.writeSync(p.pack(), false);
  t.deepEqual(bin.getSync(Buffer.alloc(0)), Buffer.from('v'));
  await bin.close();
});

// Regression: clear() ignored the snapshot option (the binding had no way to pass it).
test('clear({ snapshot }) deletes the keys the snapshot sees', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  const snapshot = db.snapshot();
  await db.put('b', '2');
  await db.clear({ snapshot });
  t.deepEqual(await db.keys().all(), ['b']);
  t.deepEqual(await db.keys({ snapshot }).all(), ['a']);
  await snapshot.close();
  await db.close();

  const bin = await native.NativeDatabase.open(tmpPath(), {});
  const put = (k: string) => {
    const p = new BatchPacker();
    p.put(Buffer.from(k), Buffer.from('v'));
    bin.writeSync(p.pack(), false);
  };
  put('x');
  const snap = bin.snapshot();
  put('y');
  t.is(await bin.clear({ reverse: true, limit: 5 }, false, snap), 1);
  t.is(bin.getSync(Buffer.from('x')), null);
  t.deepEqual(bin.getSync(Buffer.from('y')), Buffer.from('v'));
  snap.close();
  await bin.close();
});

test('getSync, has and hasMany read through the engine, at a snapshot too', async (t) => {
  const db = await fresh({ valueEncoding: 'json' });
  await db.put('a', { n: 1 } as never);
  const snapshot = db.snapshot();
  await db.put('a', { n: 2 } as never);
  t.deepEqual(db.getSync('a') as unknown, { n: 2 });
  t.deepEqual(db.getSync('a', { snapshot }) as unknown, { n: 1 });
  t.deepEqual(await db.hasMany(['a', 'z']), [true, false]);
  await db.del('a');
  t.true(await db.has('a', { snapshot }));
  t.false(await db.has('a'));
  await snapshot.close();
  await db.close();
});

test('data persists across close and reopen, including through a sublevel', async (t) => {
  const db = await fresh();
  const sub = db.sublevel<string, string>('s', {});
  await sub.put('k', 'v');
  await db.close();
  const again = new StrataLevel(db.location);
  t.is(await again.sublevel<string, string>('s', {}).get('k'), 'v');
  t.deepEqual(await again.keys().all(), ['!s!k']);
  await again.close();
});
