/**
 * The bson codec's JSON ↔ BSON conversions of the server (ts/instances/codec.ts): a body's
 * value becomes exactly the bytes of `BSON.serialize(EJSON.deserialize(value, { relaxed:
 * false }))` (the shorter road for documents without Extended JSON included), every BSON
 * type Extended JSON carries comes back as relaxed Extended JSON and goes in again as the
 * same type, and bad values are 400s.
 */
import test from 'ava';
import { BSON, EJSON, Long } from 'bson';

import { bsonFromJson, storedFromJson, toJson } from '../ts/instances';
import { call, testApp, TestApp } from './fixtures/server';
import { mulberry32 as rng } from './helpers';

async function withApp(t: { teardown(fn: () => Promise<void>): void }): Promise<TestApp> {
  const a = await testApp();
  t.teardown(() => a.close());
  return a;
}

/** The reference (the server's conversion before the shorter road): bson's own canonical Extended JSON reader, then its serializer. */
const reference = (v: unknown): Buffer => Buffer.from(BSON.serialize(EJSON.deserialize(v as Record<string, unknown>, { relaxed: false })));

/** Numbers around every boundary the conversion cares about (Int32, safe integers, Int64, -0, fractions). */
const NUMBERS = [
  0, -0, 1, -1, 0.5, -2.25, 1e-300, 1e300, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
  2 ** 62, 2 ** 63 - 1024, 2 ** 63, -(2 ** 63), -(2 ** 63) - 4096, 2 ** 64, 1e20, -1e20, 1733190000000, Number.MAX_VALUE, Number.MIN_VALUE,
];
const STRINGS = ['', 'a', 'Porto', 'ключ', '😀', 'a.b', 'x\u0000y', '\ud800', '$not-a-key', ' '.repeat(40)];
const KEYS = ['a', 'n', 'city', 'a.b', 'ключ', '😀', '1', '0', '10', '', 'with space', '_id'];

/** A random JSON value (as JSON.parse makes them) of at most `depth` levels, without `$` keys. */
function jsonValue(r: () => number, depth: number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const kind = Math.floor(r() * (depth > 0 ? 8 : 5));
  switch (kind) {
    case 0:
      return pick(NUMBERS);
    case 1:
      return Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 64));
    case 2:
      return pick(STRINGS);
    case 3:
      return pick([true, false, null]);
    case 4:
      return (r() - 0.5) * 10 ** Math.floor(r() * 20);
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => jsonValue(r, depth - 1));
    default:
      return jsonDoc(r, depth - 1);
  }
}

function jsonDoc(r: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) out[KEYS[Math.floor(r() * KEYS.length)] as string] = jsonValue(r, depth);
  return out;
}

test('bsonFromJson: the same bytes as EJSON.deserialize (canonical) + BSON.serialize, for random documents without Extended JSON', (t) => {
  for (let seed = 1; seed <= 2000; seed++) {
    // Through JSON text, as a request body arrives (and as EJSON.deserialize sees it).
    const doc = JSON.parse(JSON.stringify(jsonDoc(rng(seed), 4))) as Record<string, unknown>;
    const before = JSON.stringify(doc);
    const got = bsonFromJson(doc);
    if (!got.equals(reference(doc))) t.fail(`seed ${seed}: ${before}`);
    t.is(JSON.stringify(doc), before, 'the body is left as it was');
  }
  // -0 survives JSON.parse, but EJSON.deserialize's text round trip makes it 0: an Int32 both ways.
  const negZero = JSON.parse('{"z":-0,"a":[-0]}') as Record<string, unknown>;
  t.true(bsonFromJson(negZero).equals(reference(negZero)));
  t.deepEqual(typesOf(bsonFromJson(negZero)), { z: 'Int32', a: 'array' });
  // Integers beyond the Int32 range are Int64s, as canonical Extended JSON reads them; beyond Int64 Doubles.
  const wide = BSON.deserialize(bsonFromJson({ a: 2 ** 31, b: 1733190000000, c: 1e20, d: [2 ** 40] }), { promoteValues: false });
  t.is((wide.a as { _bsontype: string })._bsontype, 'Long');
  t.is((wide.b as Long).toString(), '1733190000000');
  t.is((wide.c as { _bsontype: string })._bsontype, 'Double');
  t.is(((wide.d as unknown[])[0] as { _bsontype: string })._bsontype, 'Long');
  t.true(bsonFromJson({ a: 2 ** 63 }).equals(reference({ a: 2 ** 63 })), '2^63 is clamped to Int64 max like bson does');
});

/** Every BSON type Extended JSON carries: canonical form in, the relaxed answer out. */
const OID = '5f1d7a3b9c8e4d2a1b0c9d8e';
const TYPES: [string, unknown, unknown][] = [
  ['double', { $numberDouble: '1.5' }, 1.5],
  ['double -0', { $numberDouble: '-0.0' }, 0],
  ['double NaN', { $numberDouble: 'NaN' }, { $numberDouble: 'NaN' }],
  ['double Infinity', { $numberDouble: 'Infinity' }, { $numberDouble: 'Infinity' }],
  ['double -Infinity', { $numberDouble: '-Infinity' }, { $numberDouble: '-Infinity' }],
  ['string', 'text', 'text'],
  ['document', { a: { b: 1 } }, { a: { b: 1 } }],
  ['array', [1, 'x', { $numberLong: '2' }], [1, 'x', 2]],
  ['binary', { $binary: { base64: 'AQID', subType: '00' } }, { $binary: { base64: 'AQID', subType: '00' } }],
  ['binary uuid', { $binary: { base64: 'ASNFZ4mrze8BI0VniavN7w==', subType: '04' } }, { $binary: { base64: 'ASNFZ4mrze8BI0VniavN7w==', subType: '04' } }],
  ['undefined (deprecated)', { $undefined: true }, null],
  ['objectid', { $oid: OID }, { $oid: OID }],
  ['boolean', true, true],
  ['date', { $date: { $numberLong: '1704164645000' } }, { $date: '2024-01-02T03:04:05Z' }],
  ['date with ms', { $date: '2024-01-02T03:04:05.123Z' }, { $date: '2024-01-02T03:04:05.123Z' }],
  ['date before 1970', { $date: { $numberLong: '-1000' } }, { $date: { $numberLong: '-1000' } }],
  ['null', null, null],
  ['regex', { $regularExpression: { pattern: '^a.c', options: 'i' } }, { $regularExpression: { pattern: '^a.c', options: 'i' } }],
  // bson reads a DBPointer as a DBRef (it has no DBPointer class), and stores that.
  ['dbpointer', { $dbPointer: { $ref: 'c', $id: { $oid: OID } } }, { $ref: 'c', $id: { $oid: OID } }],
  ['code', { $code: 'function () {}' }, { $code: 'function () {}' }],
  // bson reads a Symbol as a string (promoteValues), so it comes back and goes in again as one.
  ['symbol', { $symbol: 'sym' }, 'sym'],
  ['code with scope', { $code: 'x', $scope: { x: 1 } }, { $code: 'x', $scope: { x: 1 } }],
  ['int32', { $numberInt: '7' }, 7],
  ['timestamp', { $timestamp: { t: 5, i: 6 } }, { $timestamp: { t: 5, i: 6 } }],
  ['int64 safe', { $numberLong: '9007199254740991' }, 9007199254740991],
  ['int64 beyond 2^53', { $numberLong: '9007199254740993' }, { $numberLong: '9007199254740993' }],
  ['decimal128', { $numberDecimal: '1.10' }, { $numberDecimal: '1.10' }],
  ['minkey', { $minKey: 1 }, { $minKey: 1 }],
  ['maxkey', { $maxKey: 1 }, { $maxKey: 1 }],
  ['dbref', { $ref: 'users', $id: { $oid: OID } }, { $ref: 'users', $id: { $oid: OID } }],
];

/** The BSON type names of a stored document's fields (promoteValues off, so numbers keep their types). */
function typesOf(bytes: Buffer): Record<string, string> {
  const doc = BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false }) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) out[k] = v === null ? 'null' : (v as { _bsontype?: string })._bsontype ?? (Array.isArray(v) ? 'array' : typeof v);
  return out;
}

test('every BSON type Extended JSON carries: stored as bson reads it, answered in relaxed Extended JSON, and the answer goes in again as the same type', async (t) => {
  const { app, instances } = await withApp(t);
  const db = instances.get('app').db;
  for (const [name, canonical, answer] of TYPES) {
    const value = { v: canonical, n: 1 };
    t.true(bsonFromJson(value).equals(reference(value)), `${name}: stored bytes`);
    t.is((await call(app, 'POST', '/db/app/keys', { key: `t:${name}`, value })).status, 200, name);
    const stored = (await db.get(`t:${name}`, { valueEncoding: 'buffer' })) as unknown as Buffer;
    t.true(stored.equals(reference(value)), `${name}: bytes on disk`);
    const got = await call(app, 'GET', `/db/app/keys/${encodeURIComponent(`t:${name}`)}`);
    t.is(got.status, 200, name);
    t.deepEqual(got.body.value, { v: answer, n: 1 }, `${name}: answer`);
    // The relaxed answer, written back, keeps the type (numbers excepted: relaxed JSON has only "number"; and a Symbol reads as a string).
    const again = bsonFromJson(got.body.value);
    if (typeof answer === 'object') t.deepEqual(typesOf(again), typesOf(stored), `${name}: types after a round trip`);
    t.deepEqual(toJson('bson', BSON.deserialize(again, { promoteLongs: false })), got.body.value, `${name}: the round trip answers the same`);
  }
});

test('toJson answers a document of JSON types as it is, and copies only one that needs Extended JSON', (t) => {
  const plain = { a: 1, b: [1, 'x', { c: null }], d: true };
  t.is(toJson('bson', plain), plain);
  const doc = { a: 1, when: new Date(0), big: Long.fromString('9007199254740993'), small: Long.fromNumber(5), nan: NaN };
  const out = toJson('bson', doc) as Record<string, unknown>;
  t.not(out, doc as unknown);
  t.deepEqual(out, { a: 1, when: { $date: '1970-01-01T00:00:00Z' }, big: { $numberLong: '9007199254740993' }, small: 5, nan: { $numberDouble: 'NaN' } });
  t.true(doc.when instanceof Date, 'the stored value is left as it was');
  // A '__proto__' field (bson decodes it as an own property) stays a field of the answer.
  const proto = BSON.deserialize(BSON.serialize(JSON.parse('{"__proto__":{"x":1},"d":{"$date":"1970-01-01T00:00:00Z"}}'))) as Record<string, unknown>;
  const ans = toJson('bson', EJSON.deserialize(proto)) as Record<string, unknown>;
  t.deepEqual(Object.keys(ans), ['__proto__', 'd']);
  t.is(Object.getPrototypeOf(ans), Object.prototype);
});

test('storedFromJson: the bytes each codec stores', (t) => {
  t.deepEqual(storedFromJson('raw', Buffer.from('hi').toString('base64')), Buffer.from('hi'));
  t.deepEqual(storedFromJson('json', { a: [1, 'x'] }), Buffer.from('{"a":[1,"x"]}'));
  t.deepEqual(storedFromJson('json', 'ключ'), Buffer.from('"ключ"'));
  t.true(storedFromJson('bson', { a: 1 }).equals(reference({ a: 1 })));
  for (const [codec, bad] of [['raw', '!!'], ['raw', 1], ['json', null], ['bson', [1]], ['bson', 'x'], ['bson', null]] as const) {
    t.throws(() => storedFromJson(codec, bad), { code: 'STRATA_INVALID_ARGUMENT' }, `${codec} ${JSON.stringify(bad)}`);
  }
});

test('bad bson bodies are 400 with a message, and store nothing', async (t) => {
  const { app, instances } = await withApp(t);
  const bad: [string, unknown][] = [
    ['an array', [1, 2]],
    ['a string', 'str'],
    ['a number', 5],
    ['a bad date', { d: { $date: 'not a date' } }],
    ['a bad date in an array', { d: [1, { $date: '2024-13-45' }] }],
    ['a bad $numberLong', { n: { $numberLong: '12x' } }],
    ['a bad $oid', { id: { $oid: 'zz' } }],
    ['a bad $numberDecimal', { d: { $numberDecimal: 'one' } }],
    ['a NUL in a field name', { 'a\u0000b': 1 }],
    ['a NUL in a nested field name', { a: [{ 'b\u0000': 1 }] }],
    ['a NUL in an Extended JSON document field name', { a: { $numberInt: '1' }, 'c\u0000': 2 }],
  ];
  for (const [what, value] of bad) {
    for (const url of ['/keys', '/db/app/keys']) {
      const r = await call(app, 'POST', url, { key: 'bad', value });
      t.is(r.status, 400, `${what} on ${url}`);
      t.is(r.body.error.code, 'STRATA_BAD_REQUEST', what);
      t.is(typeof r.body.error.message, 'string');
    }
    const batch = await call(app, 'POST', '/db/app/keys/batch', { items: [{ key: 'ok', value: { a: 1 } }, { key: 'bad', value }] });
    t.is(batch.status, 400, `${what} in a batch`);
  }
  t.is(await instances.get('app').db.get('bad'), undefined);
  t.is(await instances.get('app').db.get('ok'), undefined, 'a batch with a bad value writes nothing');
  // Deep nesting is a 200 or a 400, never a 500.
  let deep: unknown = { leaf: 1 };
  for (let i = 0; i < 3000; i++) deep = { d: deep };
  t.true([200, 400, 413].includes((await call(app, 'POST', '/keys', { key: 'deep', value: deep })).status));
  const json = '{"key":"deeper","value":' + '{"d":'.repeat(20000) + '1' + '}'.repeat(20000) + '}';
  const res = await app.inject({ method: 'POST', url: '/keys', headers: { 'content-type': 'application/json' }, payload: json });
  t.true(res.statusCode >= 400 && res.statusCode < 500, `20,000 levels: ${res.statusCode}`);
});

test('values of the size limit are measured as stored bytes', async (t) => {
  const a = await testApp({ maxValueSize: 64 });
  t.teardown(() => a.close());
  const fits = { s: 'x'.repeat(64 - 5 - 4 - 3 - 1) };
  t.is(reference(fits).length, 64);
  t.is((await call(a.app, 'POST', '/keys', { key: 'k', value: fits })).status, 200);
  const over = { s: 'x'.repeat(64 - 5 - 4 - 3) };
  const r = await call(a.app, 'POST', '/keys', { key: 'k2', value: over });
  t.is(r.status, 413);
  t.regex(r.body.error.message, /65 bytes exceeds max_value_size/);
  // Extended JSON is measured after conversion: a Long is 8 bytes however it is written.
  t.is((await call(a.app, 'POST', '/keys', { key: 'k3', value: { n: { $numberLong: '1' }, s: 'x'.repeat(40) } })).status, 200);
});
