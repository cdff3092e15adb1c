// `readAt`, the point read through a numeric handle (`src/reader.rs`), driven through the
// native binding directly: the same answers as `getSync`, typed errors for bad input, and
// handles that never outlive their registration or read another database.
import test from 'ava';

import native = require('../ts/native');
import { open } from '../ts';
import { tmpPath } from './helpers';

const B = (s: string): Buffer => Buffer.from(s);
const CACHED_ONLY = 1;
const LENGTH_ONLY = 2;

function code(t: { throws: (fn: () => unknown) => unknown }, fn: () => unknown): string | undefined {
  return (t.throws(fn) as (Error & { code?: string }) | undefined)?.code;
}

async function put(db: InstanceType<typeof native.NativeDatabase>, k: string, v: string): Promise<void> {
  if (!db.tryPut(B(k), B(v))) throw new Error('tryPut would stall');
  await Promise.resolve();
}

test('readAt answers like getSync: value in the buffer, -1 missing, lengths only, oversized values', async (t) => {
  const db = await native.NativeDatabase.open(tmpPath(), {});
  await put(db, 'apple', 'red');
  const big = 'x'.repeat(100);
  await put(db, 'big', big);
  const io = Buffer.alloc(32);
  const h = db.readerOpen(io);
  t.true(h > 0);
  const at = (k: string, flags = 0): number => {
    B(k).copy(io);
    return native.readAt(h, k.length, flags);
  };
  t.is(at('apple'), 3);
  t.is(io.subarray(0, 3).toString(), 'red');
  t.is(at('pear'), -1);
  t.is(at('apple', LENGTH_ONLY), 3);
  t.is(at('apple', CACHED_ONLY), 3, 'a memtable answer is cached');
  // A value longer than the buffer: its length, nothing written (the caller uses getSync).
  io.fill(0);
  t.is(at('big'), 100);
  t.is(io.subarray(0, 3).toString(), 'big', 'the key is left in place');
  t.is(db.getSync(B('big'))?.toString(), big);
  // Flushed to an SSTable the answers are the same.
  await db.flush();
  t.is(at('apple'), 3);
  t.is(io.subarray(0, 3).toString(), 'red');
  t.is(at('pear'), -1);
  await db.close();
});

test('readAt: bad key lengths and reserved keys are STRATA_INVALID_ARGUMENT; unknown, released and closed handles STRATA_CLOSED', async (t) => {
  const db = await native.NativeDatabase.open(tmpPath(), {});
  const io = Buffer.alloc(16);
  const h = db.readerOpen(io);
  t.is(code(t, () => native.readAt(h, 17, 0)), 'STRATA_INVALID_ARGUMENT');
  Buffer.alloc(9, 0xff).copy(io);
  t.is(code(t, () => native.readAt(h, 9, 0)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => native.readAt(0, 1, 0)), 'STRATA_CLOSED');
  t.is(code(t, () => native.readAt(h + 12345, 1, 0)), 'STRATA_CLOSED');
  t.is(code(t, () => native.readAt(-1, 1, 0)), 'STRATA_CLOSED');
  db.readerClose(h);
  db.readerClose(h); // idempotent
  t.is(code(t, () => native.readAt(h, 1, 0)), 'STRATA_CLOSED');
  // A handle of a closed database fails too (the engine's own check).
  const h2 = db.readerOpen(io);
  await db.close();
  B('a').copy(io);
  t.is(code(t, () => native.readAt(h2, 1, 0)), 'STRATA_CLOSED');
});

test('readAt: a released handle never reads the database that reuses its slot', async (t) => {
  const a = await native.NativeDatabase.open(tmpPath(), {});
  const b = await native.NativeDatabase.open(tmpPath(), {});
  await put(b, 'k', 'from b');
  const io = Buffer.alloc(16);
  const ha = a.readerOpen(io);
  a.readerClose(ha);
  const hb = b.readerOpen(io);
  t.not(ha, hb);
  B('k').copy(io);
  t.is(code(t, () => native.readAt(ha, 1, 0)), 'STRATA_CLOSED');
  t.is(native.readAt(hb, 1, 0), 6);
  await a.close();
  await b.close();
});

test('Db: getSync, get and has read through the handle; after close they fail with STRATA_CLOSED', async (t) => {
  const db = await open(tmpPath(), { keyEncoding: 'utf8', valueEncoding: 'utf8', envFile: false });
  await db.put('a', '1');
  await db.put('long', 'v'.repeat(100_000)); // longer than the shared buffer
  t.is(db.getSync('a'), '1');
  t.is(await db.get('a'), '1');
  t.is(await db.has('a'), true);
  t.is(db.getSync('zz'), undefined);
  t.is(db.getSync('long')?.length, 100_000);
  const snap = db.snapshot();
  await db.put('a', '2');
  t.is(db.getSync('a', { snapshot: snap }), '1');
  t.is(db.getSync('a'), '2');
  snap.close();
  await db.close();
  t.is(code(t, () => db.getSync('a')), 'STRATA_CLOSED');
  await t.throwsAsync(() => db.get('a'), { code: 'STRATA_CLOSED' });
});
