/** The 'bson' value encoding (`ts/encodings.ts`). */
import test from 'ava';
import { Binary, BSON, Decimal128, Long, ObjectId } from 'bson';

import { encoding, encodingNames } from '../ts/encodings';
import { normalizeOptions } from '../ts/options';
import { expectCode, fresh } from './helpers';

type Doc = Record<string, unknown>;

function sample(i: number): Doc {
  return {
    _id: ObjectId.createFromHexString(i.toString(16).padStart(24, '0')),
    at: new Date(1_700_000_000_000 + i),
    big: Long.fromString('9007199254740993'),
    small: Long.fromNumber(i),
    bin: new Binary(Buffer.from([0, 1, 2, 255, i & 0xff])),
    price: Decimal128.fromString('12.50'),
    name: `item ${i}`,
    n: i,
    x: 0.25,
    ok: i % 2 === 0,
    none: null,
    tags: ['a', ['nested', ['deeper', i]], { k: 'v' }],
    sub: { list: [1, 2, { z: new Date(0) }] },
  };
}

test("'bson' is a known encoding and an accepted option", (t) => {
  t.true(encodingNames.includes('bson'));
  t.is(encoding('bson').name, 'bson');
  t.is(normalizeOptions({ valueEncoding: 'bson', env: {}, envFile: false }).valueEncoding, 'bson');
  t.is(normalizeOptions({ keyEncoding: 'bson', env: {}, envFile: false }).keyEncoding, 'bson');
});

test('encode accepts plain objects only, naming the value', (t) => {
  const bson = encoding('bson');
  t.deepEqual(Buffer.from(bson.encode({ a: 1 }, 'value')), Buffer.from(BSON.serialize({ a: 1 })));
  t.deepEqual(bson.decode(Buffer.from(bson.encode(Object.assign(Object.create(null), { a: 'x' }), 'value'))), { a: 'x' });
  for (const bad of [[1, 2], 'text', 5, true, new Date(0), new ObjectId(), Buffer.from('x'), new Map([['a', 1]]), null]) {
    const e = t.throws(() => bson.encode(bad, 'operations[3].value'));
    t.is((e as { code?: string }).code, 'STRATA_INVALID_ARGUMENT');
    t.regex(e?.message ?? '', /^operations\[3\]\.value must be a plain object with the 'bson' encoding/);
  }
  const cyclic: Doc = {};
  cyclic.self = cyclic;
  const e = t.throws(() => bson.encode(cyclic, 'value'));
  t.is((e as { code?: string }).code, 'STRATA_INVALID_ARGUMENT');
  t.regex(e?.message ?? '', /^value cannot be encoded as BSON/);
});

test('documents round-trip through put/get/getMany/iterator/batch', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'bson' });
  await db.put('k0', sample(0));
  await db.batch([
    { type: 'put', key: 'k1', value: sample(1) },
    { type: 'put', key: 'k2', value: sample(2) },
  ]);
  const got = await db.get('k1');
  t.deepEqual(got, sample(1));
  const g = got as Doc;
  t.true(g._id instanceof ObjectId);
  t.true(g.at instanceof Date);
  t.true(Long.isLong(g.big));
  t.is((g.big as Long).toString(), '9007199254740993');
  t.true(Long.isLong(g.small), '64-bit integers stay Long (promoteLongs: false)');
  t.true(g.bin instanceof Binary);
  t.deepEqual(Buffer.from((g.bin as Binary).value()), Buffer.from([0, 1, 2, 255, 1]));
  t.true(g.price instanceof Decimal128);
  t.deepEqual(db.getSync('k2'), sample(2));
  t.deepEqual(await db.getMany(['k2', 'nope', 'k0']), [sample(2), undefined, sample(0)]);
  const entries = await db.iterator().all();
  t.deepEqual(entries, [0, 1, 2].map((i) => [`k${i}`, sample(i)]));
  t.deepEqual(await db.values({ gte: 'k1' }).all(), [sample(1), sample(2)]);
  // The stored bytes are plain BSON.
  t.deepEqual(await db.get<Buffer>('k0', { valueEncoding: 'buffer' }), Buffer.from(BSON.serialize(sample(0))));
  await db.close();
});

test('a value that is not BSON rejects with STRATA_INVALID_ARGUMENT (no crash)', async (t) => {
  const db = await fresh<string, Doc>();
  await db.put('text', 'hello world, not bson');
  await db.put('short', 'ab');
  // Right length prefix, garbage inside.
  const junk = Buffer.alloc(16, 0xff);
  junk.writeInt32LE(16, 0);
  await db.put('junk', junk);
  // A valid document followed by trailing bytes.
  await db.put('trailing', Buffer.concat([Buffer.from(BSON.serialize({ a: 1 })), Buffer.from([0])]));
  for (const key of ['text', 'short', 'junk', 'trailing']) {
    const e = await expectCode(() => db.get(key, { valueEncoding: 'bson' }), 'STRATA_INVALID_ARGUMENT');
    t.regex(e.message, /'bson'/, key);
    t.truthy(e.cause, `${key}: the BSON error is the cause`);
    await expectCode(() => db.getSync(key, { valueEncoding: 'bson' }), 'STRATA_INVALID_ARGUMENT');
  }
  await expectCode(() => db.iterator({ valueEncoding: 'bson' }).all(), 'STRATA_INVALID_ARGUMENT');
  // Still usable afterwards.
  await db.put('doc', Buffer.from(BSON.serialize({ a: 1 })));
  t.deepEqual(await db.get('doc', { valueEncoding: 'bson' }), { a: 1 });
  await db.close();
});

test('putting a non-object with the bson encoding rejects naming the value', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'bson' });
  const e = await expectCode(() => db.put('k', [1, 2] as unknown as Doc), 'STRATA_INVALID_ARGUMENT');
  t.regex(e.message, /^value must be a plain object/);
  const e2 = await expectCode(() => db.batch([{ type: 'put', key: 'k', value: 'str' }]), 'STRATA_INVALID_ARGUMENT');
  t.regex(e2.message, /^operations\[0\]\.value must be a plain object/);
  t.is(await db.get('k'), undefined);
  await db.close();
});
