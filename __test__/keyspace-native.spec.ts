// The engine's system keyspace and approximate counts, driven through the native binding
// directly (the layer the index code builds on): packed system ops (kinds 2 and 3) commit
// atomically with user ops, stay out of user reads, iterators and `clear`, come back with the
// prefix stripped from `{ system: true }` iterators, and survive close + reopen.
import test from 'ava';

import native = require('../ts/native');
import { tmpPath } from './helpers';

type Db = InstanceType<typeof native.NativeDatabase>;
type Range = Parameters<Db['iterator']>[0];

const PREFIX = Buffer.alloc(8, 0xff);
const B = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

function varint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/** Packs ops in the engine's packed layout: kind · varint len · key · [varint len · value]. */
function pack(ops: Array<[0 | 1 | 2 | 3, Buffer, Buffer?]>): Buffer {
  const out: number[] = [];
  for (const [kind, key, value] of ops) {
    out.push(kind);
    varint(out, key.length);
    out.push(...key);
    if (kind === 1 || kind === 3) {
      const v = value ?? Buffer.alloc(0);
      varint(out, v.length);
      out.push(...v);
    }
  }
  return Buffer.from(out);
}

/** Unpacks one iterator batch: data, then u32 LE lengths (key, value)*, then the count. */
function unpack(buf: Buffer): Array<[Buffer, Buffer]> {
  const n = buf.readUInt32LE(buf.length - 4);
  const table = buf.length - 4 - n * 8;
  const out: Array<[Buffer, Buffer]> = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const kl = buf.readUInt32LE(table + i * 8);
    const vl = buf.readUInt32LE(table + i * 8 + 4);
    out.push([buf.subarray(at, at + kl), buf.subarray(at + kl, at + kl + vl)]);
    at += kl + vl;
  }
  return out;
}

async function all(db: Db, range: Range, seek?: Buffer): Promise<Array<[string, string]>> {
  const it = db.iterator(range);
  const out: Array<[string, string]> = [];
  let first = true;
  for (;;) {
    const entries = unpack(await it.nextBatch(3, 1 << 20, first ? seek : undefined));
    first = false;
    if (entries.length === 0) break;
    for (const [k, v] of entries) out.push([k.toString('latin1'), v.toString('latin1')]);
  }
  it.close();
  return out;
}

const keys = (entries: Array<[string, string]>): string[] => entries.map((e) => e[0]);
const latin = (b: Buffer): string => b.toString('latin1');

function code(t: { throws: (fn: () => unknown) => unknown }, fn: () => unknown): string | undefined {
  return (t.throws(fn) as (Error & { code?: string }) | undefined)?.code;
}

/** The code of the error `fn` throws or rejects with (argument checks throw synchronously). */
async function codeAsync(
  t: { throwsAsync: (fn: () => Promise<unknown>) => Promise<unknown> },
  fn: () => Promise<unknown>,
): Promise<string | undefined> {
  return ((await t.throwsAsync(async () => fn())) as (Error & { code?: string }) | undefined)?.code;
}

test('a packed system put commits with the user put and is visible only to system iterators', async (t) => {
  const location = tmpPath();
  let db = await native.NativeDatabase.open(location, {});
  const top = latin(B([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // 7 x 0xff: a user key
  await db.write(
    pack([
      [1, B('rec1'), B('{"a":1}')],
      [3, B('\x01ix\x00a\x00rec1')],
      [3, B('\x02registry'), B('{}')],
      [1, B([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), B('top')],
    ]),
    false,
  );
  // On the calling thread when that cannot block, else on the pool.
  const second = pack([[1, B('rec2'), B('{"a":2}')], [3, B('\x01ix\x00a\x00rec2')]]);
  if (!db.tryWrite(second)) await db.write(second, false);
  db.writeSync(pack([[2, B('\x01ix\x00a\x00rec2')], [3, B('\x01ix\x00b\x00rec2')]]), true);

  const check = async (d: Db): Promise<void> => {
    const user = ['rec1', 'rec2', top];
    t.deepEqual(keys(await all(d, {})), user);
    t.deepEqual(keys(await all(d, { reverse: true })), [...user].reverse());
    t.deepEqual(keys(await all(d, { gte: B('rec2'), lte: B(Array(12).fill(0xff)) })), ['rec2', top]);
    t.deepEqual(keys(await all(d, { reverse: true }, B(Array(9).fill(0xff)))), [...user].reverse());
    t.deepEqual(await all(d, { gte: PREFIX }), []);
    const system = ['\x01ix\x00a\x00rec1', '\x01ix\x00b\x00rec2', '\x02registry'];
    t.deepEqual(keys(await all(d, { system: true })), system);
    t.deepEqual(keys(await all(d, { system: true, reverse: true })), [...system].reverse());
    t.deepEqual(await all(d, { system: true, gte: B('\x02'), lt: B('\x03') }), [['\x02registry', '{}']]);
    t.deepEqual(keys(await all(d, { system: true, limit: 1 }, B('\x01ix\x00b'))), ['\x01ix\x00b\x00rec2']);
    // The calling-thread form reads the same.
    const it = d.iterator({ system: true, reverse: true, limit: 2 });
    const batch = it.nextBatchSync(10, 1 << 20) ?? (await it.nextBatch(10, 1 << 20));
    t.deepEqual(
      unpack(batch).map(([k]) => latin(k)),
      ['\x02registry', '\x01ix\x00b\x00rec2'],
    );
    it.close();
    t.is(d.getSync(B('rec1'))?.toString(), '{"a":1}');
  };
  await check(db);
  await db.flush();
  await check(db);
  await db.close();
  db = await native.NativeDatabase.open(location, {});
  await check(db);
  await db.compactRange();
  await check(db);
  await db.close();
});

test('a batch with a bad system op writes nothing', async (t) => {
  const db = await native.NativeDatabase.open(tmpPath(), {});
  const tooLong = Buffer.alloc(65536 + 4096 + 1, 1);
  const ops = pack([[1, B('k'), B('v')], [3, tooLong]]);
  t.is(await codeAsync(t, () => db.write(ops, false)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.writeSync(ops, false)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.tryWrite(ops)), 'STRATA_INVALID_ARGUMENT');
  t.is(db.getSync(B('k')), null);
  t.deepEqual(await all(db, { system: true }), []);
  // The longest system key is fine.
  db.writeSync(pack([[3, tooLong.subarray(1), B('ok')]]), false);
  t.is((await all(db, { system: true })).length, 1);
  await db.close();
});

test('user writes and reads of keys starting with eight 0xff bytes fail with STRATA_INVALID_ARGUMENT', async (t) => {
  const db = await native.NativeDatabase.open(tmpPath(), {});
  const reserved = Buffer.concat([PREFIX, B('x')]);
  const io = Buffer.alloc(64);
  reserved.copy(io);
  t.is(await codeAsync(t, () => db.write(pack([[1, reserved, B('v')]]), false)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.writeSync(pack([[0, PREFIX]]), false)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.tryWrite(pack([[1, B('ok'), B('v')], [1, reserved, B('v')]]))), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.tryPut(reserved, B('v'))), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.tryDel(PREFIX)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.getSync(reserved)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.getCached(reserved)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.getInto(io, reserved.length, true, false)), 'STRATA_INVALID_ARGUMENT');
  t.is(code(t, () => db.getInto(io, reserved.length, false, true)), 'STRATA_INVALID_ARGUMENT');
  t.is(await codeAsync(t, () => db.get(reserved)), 'STRATA_INVALID_ARGUMENT');
  t.is(await codeAsync(t, () => db.getMany([B('a'), reserved])), 'STRATA_INVALID_ARGUMENT');
  const err = t.throws(() => db.getSync(reserved));
  t.regex(err?.message ?? '', /reserved for StrataDB's system keyspace/);
  t.is(db.getSync(B('ok')), null, 'the rejected batch wrote nothing');
  // Shorter runs of 0xff are ordinary user keys.
  if (!db.tryPut(B([0xff, 0xff, 0xff]), B('v'))) await db.write(pack([[1, B([0xff, 0xff, 0xff]), B('v')]]), false);
  t.is(db.getSync(B([0xff, 0xff, 0xff]))?.toString(), 'v');
  await db.close();
});

test('clear({}) keeps system keys; clear({ system: true, ... }) deletes system keys only', async (t) => {
  const location = tmpPath();
  let db = await native.NativeDatabase.open(location, {});
  const ops: Array<[0 | 1 | 2 | 3, Buffer, Buffer?]> = [];
  for (let i = 0; i < 30; i++) {
    const k = `k${String(i).padStart(2, '0')}`;
    ops.push([1, B(k), B('u')], [3, B(k), B('s')]);
  }
  await db.write(pack(ops), false);
  await db.flush();
  t.is(await db.clear({}, false), 30);
  t.deepEqual(await all(db, {}), []);
  t.is((await all(db, { system: true })).length, 30);
  t.is(await db.clear({ system: true, gte: B('k10'), lt: B('k20') }, true), 10);
  t.is((await all(db, { system: true })).length, 20);
  await db.close();
  db = await native.NativeDatabase.open(location, {});
  t.deepEqual(await all(db, {}), []);
  const left = keys(await all(db, { system: true }));
  t.is(left.length, 20);
  t.false(left.includes('k15'));
  t.true(left.includes('k25'));
  await db.close();
});

test('approximateCount: exact in the memtable, close over SSTables, keyspaces apart, after reopen', async (t) => {
  const location = tmpPath();
  const opts = { blockSize: 512 };
  let db = await native.NativeDatabase.open(location, opts);
  const ops: Array<[0 | 1 | 2 | 3, Buffer, Buffer?]> = [];
  const key = (i: number): Buffer => B(`key${String(i).padStart(6, '0')}`);
  for (let i = 0; i < 2000; i++) ops.push([1, key(i), B('value-of-twenty-byte')]);
  for (let i = 0; i < 500; i++) ops.push([3, key(i), B('')]);
  await db.write(pack(ops), false);

  t.deepEqual(db.approximateCount({}), { estimate: 2000, upper: 2000 });
  t.deepEqual(db.approximateCount({ gte: key(100), lt: key(300) }), { estimate: 200, upper: 200 });
  t.deepEqual(db.approximateCount({ system: true }), { estimate: 500, upper: 500 });
  t.deepEqual(db.approximateCount({ system: true, gte: key(500) }), { estimate: 0, upper: 0 });
  t.deepEqual(db.approximateCount({ gte: B('zzz') }), { estimate: 0, upper: 0 });
  t.deepEqual(db.approximateCount({ gte: PREFIX }), { estimate: 0, upper: 0 });
  t.is(code(t, () => db.approximateCount({ gt: B('a'), gte: B('b') })), 'STRATA_INVALID_ARGUMENT');

  const checkTables = (d: Db): void => {
    // Over SSTables the estimate is blocks x the table's average entries per block. The
    // system entries (empty values, prefix-compressed keys) pack about three times denser
    // than the user ones in this one table, so their estimate is low by about that much.
    const c = d.approximateCount({ gte: key(500), lt: key(1500) });
    t.true(c.upper >= 1000, JSON.stringify(c));
    t.true(Math.abs(c.estimate - 1000) <= 200, JSON.stringify(c));
    const s = d.approximateCount({ system: true, lt: key(250) });
    t.true(s.upper >= 250 && s.estimate >= 250 / 4 && s.estimate <= 500, JSON.stringify(s));
    const u = d.approximateCount({});
    t.true(u.upper >= 2000 && u.estimate >= 2000 * 0.8 && u.estimate <= u.upper, JSON.stringify(u));
    // Beside every table's key range: nothing. (A user range such as { gte: 'zzz' } lies
    // inside this table's range, which ends with the system keys: its boundary block counts.)
    t.deepEqual(d.approximateCount({ lt: B('a') }), { estimate: 0, upper: 0 });
    t.deepEqual(d.approximateCount({ system: true, gt: key(900) }), { estimate: 0, upper: 0 });
  };
  await db.compactRange();
  checkTables(db);
  await db.close();
  db = await native.NativeDatabase.open(location, opts);
  checkTables(db);
  await db.close();
});
