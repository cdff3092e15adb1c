/**
 * Collections: the API (ids, keys, encoding, declarations, paging, projection, concurrency)
 * and every kind of bad input — each a typed error with nothing written.
 */
import test from 'ava';
import { ObjectId } from 'bson';

import { Collection, Db, StrataError, open } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

/** Every user key and value, every index definition: what "nothing written" compares. */
async function state(db: Db): Promise<string> {
  const rows = await db.iterator<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).all();
  const indexes = (await db.listIndexes()).map((i) => `${i.name}:${JSON.stringify(i.definition)}:${i.state}`);
  return JSON.stringify({ rows: rows.map(([k, v]) => [k.toString('hex'), v.toString('hex')]), indexes });
}

async function people(db: Db): Promise<Collection> {
  const c = await db.collection('people', {
    indexes: [
      { field: 'name' },
      { field: 'age', type: 'range' },
      { field: 'address.city' },
      { field: 'tags' },
      { field: 'email', unique: true, sparse: true },
      { field: 'born', type: 'range' },
      { field: 'bio', type: 'text' },
    ],
  });
  await c.insertMany([
    { _id: 'ann', name: 'Ann', age: 34, address: { city: 'Porto' }, tags: ['admin', 'dev'], email: 'ann@x', born: new Date('1990-01-02'), bio: 'Mora em São Paulo' },
    { _id: 'bob', name: 'Bob', age: 20, address: { city: 'Lima' }, tags: 'dev', born: new Date('2004-05-06'), bio: 'likes rivers' },
    { _id: 'cid', name: 'Cid', age: 51, address: { city: 'Porto' }, tags: [], bio: ['old sailor', 'paulo'] },
    { _id: 'dee', name: 'Dee', age: 'n/a' },
  ]);
  return c;
}

const ids = (items: { _id?: unknown }[]): string[] => items.map((d) => String(d._id));

test('documents: generated ObjectIds, keys {collection}:{id}, BSON values keep ObjectId and Date', async (t) => {
  const db = await fresh();
  const c = await db.collection('users');
  const when = new Date('2020-02-03T04:05:06.007Z');
  const { insertedId } = await c.insertOne({ name: 'ann', when, ref: new ObjectId('65a1b2c3d4e5f60718293a4b') });
  t.true(insertedId instanceof ObjectId);
  const hex = (insertedId as ObjectId).toHexString();
  const raw = await db.get<Record<string, unknown>>(`users:${hex}`, { valueEncoding: 'bson' });
  t.truthy(raw);
  t.true(raw?._id instanceof ObjectId);
  t.deepEqual(raw?.when, when);
  t.true(raw?.ref instanceof ObjectId);
  t.deepEqual(Object.keys(raw ?? {}), ['_id', 'name', 'when', 'ref']);
  // The same document by ObjectId, by its hex string and by Extended JSON.
  for (const id of [insertedId, hex, { $oid: hex }]) t.is((await c.findById(id))?.name, 'ann');
  t.is(await c.findById('nope'), null);
  // A string id of 24 hex digits names the same key: a second insert is a duplicate.
  await expectCode(() => c.insertOne({ _id: hex, name: 'dup' }), 'STRATA_CONSTRAINT');
  const s = await c.insertOne({ _id: 'plain', n: 1 });
  t.is(s.insertedId, 'plain');
  t.truthy(await db.get('users:plain', { valueEncoding: 'bson' }));
  await db.close();
});

test('a database of any encoding: collections use their own per call', async (t) => {
  const db = await fresh({ keyEncoding: 'buffer', valueEncoding: 'json' });
  const c = await db.collection('things', { indexes: [{ field: 'n', type: 'range' }] });
  await c.insertMany([
    { _id: 'a', n: 1 },
    { _id: 'b', n: 2 },
  ]);
  const r = await c.find({ n: { $gte: 2 } });
  t.deepEqual(r.items, [{ _id: 'b', n: 2 }]);
  t.is(await c.count({}), 2);
  // The per-call encodings of db.query that collections rely on.
  const raw = await db.query<Record<string, unknown>>({ index: 'things.n', gte: 2 }, { keyEncoding: 'utf8', valueEncoding: 'bson' });
  t.deepEqual(
    raw.items.map((i) => [i.key, i.value]),
    [['things:b', { _id: 'b', n: 2 }]],
  );
  await expectCode(() => db.query({ index: 'things.n', gte: 2 }, { valueEncoding: 'nope' as never }), 'STRATA_INVALID_ARGUMENT');
  await db.close();
});

test('filters: equality, arrays, dotted paths, ranges with type bracketing, $in, $and/$or/$not/$ne/$nin, $text, Dates', async (t) => {
  const db = await fresh();
  const c = await people(db);
  const q = async (f: Parameters<Collection['find']>[0]): Promise<string[]> => ids((await c.find(f)).items);
  t.deepEqual(await q({ name: 'Ann' }), ['ann']);
  t.deepEqual(await q({ 'address.city': 'Porto' }), ['ann', 'cid']);
  t.deepEqual(await q({ tags: 'dev' }), ['ann', 'bob']);
  t.deepEqual(await q({ tags: { $in: ['admin', 'nobody'] } }), ['ann']);
  t.deepEqual(await q({ age: { $gte: 30 } }), ['ann', 'cid']);
  t.deepEqual(await q({ age: { $gt: 20, $lt: 50 } }), ['ann']);
  t.deepEqual(await q({ age: { $gte: 'a' } }), ['dee']);
  t.deepEqual(await q({ email: null }), []);
  t.deepEqual(await q({ 'address.city': null }), ['dee']);
  t.deepEqual(await q({ $or: [{ name: 'Bob' }, { age: { $gt: 50 } }] }), ['bob', 'cid']);
  t.deepEqual(await q({ $and: [{ 'address.city': 'Porto' }, { age: { $lt: 40 } }] }), ['ann']);
  t.deepEqual(await q({ 'address.city': 'Porto', age: { $not: { $lt: 40 } } }), ['cid']);
  t.deepEqual(await q({ tags: 'dev', name: { $ne: 'Ann' } }), ['bob']);
  t.deepEqual(await q({ 'address.city': { $in: ['Porto', 'Lima'] }, name: { $nin: ['Bob', 'Cid'] } }), ['ann']);
  t.deepEqual(await q({ $text: { $search: 'sao' } }), ['ann']);
  t.deepEqual(await q({ $text: { $search: 'paulo rivers' } }), ['ann', 'bob', 'cid']);
  t.deepEqual(await q({ born: { $lt: new Date('2000-01-01') } }), ['ann']);
  t.deepEqual(await q({ born: { $gte: { $date: '2000-01-01T00:00:00Z' } } }), ['bob']);
  t.deepEqual(await q({}), ['ann', 'bob', 'cid', 'dee']);
  t.deepEqual(await q({ name: { $in: [] } }), []);
  t.is(await c.count({ tags: 'dev' }), 2);
  t.is(await c.count({}), 4);
  t.is((await c.findOne({ 'address.city': 'Porto' }))?._id, 'ann');
  await db.close();
});

test('projection: inclusion, exclusion, _id', async (t) => {
  const db = await fresh();
  const c = await people(db);
  const one = async (projection: Record<string, 0 | 1>): Promise<unknown> => (await c.find({ name: 'Ann' }, { projection })).items[0];
  t.deepEqual(await one({ name: 1, 'address.city': 1 }), { _id: 'ann', name: 'Ann', address: { city: 'Porto' } });
  t.deepEqual(await one({ _id: 0, age: 1 }), { age: 34 });
  const ex = (await one({ bio: 0, born: 0, tags: 0, email: 0 })) as Record<string, unknown>;
  t.deepEqual(ex, { _id: 'ann', name: 'Ann', age: 34, address: { city: 'Porto' } });
  await db.close();
});

test('paging: cursors continue, are stable under concurrent writes, and are checked', async (t) => {
  const db = await fresh();
  const c = await db.collection('p', { indexes: [{ field: 'g' }] });
  await c.insertMany(Array.from({ length: 60 }, (_, i) => ({ _id: `k${String(i).padStart(3, '0')}`, g: i % 2 })));
  for (const filter of [{ g: 0 }, {}]) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: { items: { _id: unknown }[]; cursor: string | null } = await c.find(filter, { limit: 7, cursor });
      seen.push(...ids(page.items));
      cursor = page.cursor;
      // Between pages: new matching documents at both ends, and some deleted ahead.
      await c.insertOne({ _id: `a${round}`, g: 0 });
      await c.insertOne({ _id: `z${round}`, g: 0 });
      round++;
    } while (cursor !== null);
    t.is(new Set(seen).size, seen.length, 'no document twice');
    const throughout = Array.from({ length: 60 }, (_, i) => i)
      .filter((i) => Object.keys(filter).length === 0 || i % 2 === 0)
      .map((i) => `k${String(i).padStart(3, '0')}`);
    for (const id of throughout) t.true(seen.includes(id), id);
    t.true(seen.some((id) => id.startsWith('z')), 'later keys inserted meanwhile are reached');
    await c.deleteMany({ g: 0, _x: undefined });
    await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: `k${String(i * 2).padStart(3, '0')}`, g: 0 })));
  }
  const first = await c.find({ g: 1 }, { limit: 5 });
  t.truthy(first.cursor);
  await expectCode(() => c.find({ g: 0 }, { cursor: first.cursor }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => c.find({}, { cursor: first.cursor }), 'STRATA_INVALID_ARGUMENT');
  const all = await c.find({}, { limit: 5 });
  await expectCode(() => c.find({ g: 1 }, { cursor: all.cursor }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => c.find({}, { cursor: `${String(all.cursor).slice(0, -1)}0` }), 'STRATA_INVALID_ARGUMENT');
  const other = await db.collection('q');
  await expectCode(() => other.find({}, { cursor: all.cursor }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => c.find({}, { cursor: 'garbage' }), 'STRATA_INVALID_ARGUMENT');
  await db.close();
});

test('updates: $set/$unset/$inc/$push/$pull, replaceOne, deleteOne/deleteMany, by id or filter; indexes follow', async (t) => {
  const db = await fresh();
  const c = await people(db);
  t.deepEqual(await c.updateOne('ann', { $set: { 'address.city': 'Lima', 'x.y': 1 }, $inc: { age: 1 }, $push: { tags: { $each: ['ops', 'dev'] } } }), {
    matchedCount: 1,
    modifiedCount: 1,
  });
  const ann = await c.findById('ann');
  t.like(ann, { age: 35, address: { city: 'Lima' }, x: { y: 1 }, tags: ['admin', 'dev', 'ops', 'dev'] });
  t.deepEqual(ids((await c.find({ 'address.city': 'Lima' })).items), ['ann', 'bob']);
  await c.updateOne('ann', { $pull: { tags: 'dev' }, $unset: { x: '' } });
  t.deepEqual((await c.findById('ann'))?.tags, ['admin', 'ops']);
  t.false('x' in ((await c.findById('ann')) ?? {}));
  await c.updateOne('ann', { $pull: { tags: { $in: ['admin'] } } });
  t.deepEqual((await c.findById('ann'))?.tags, ['ops']);
  t.deepEqual(ids((await c.find({ tags: 'dev' })).items), ['bob']);
  t.deepEqual(await c.updateOne('ann', { $set: { age: 35 } }), { matchedCount: 1, modifiedCount: 0 });
  t.deepEqual(await c.updateOne('zed', { $set: { age: 1 } }), { matchedCount: 0, modifiedCount: 0 });
  // By filter: the first match in id order.
  t.deepEqual(await c.updateOne({ 'address.city': 'Porto' }, { $inc: { age: 100 } }), { matchedCount: 1, modifiedCount: 1 });
  t.is((await c.findById('cid'))?.age, 151);
  t.deepEqual(await c.replaceOne('bob', { name: 'Robert', age: 21 }), { matchedCount: 1, modifiedCount: 1 });
  t.deepEqual(await c.findById('bob'), { _id: 'bob', name: 'Robert', age: 21 });
  t.deepEqual(ids((await c.find({ name: 'Bob' })).items), []);
  t.deepEqual(await c.replaceOne({ name: 'Robert' }, { _id: 'bob', name: 'Rob' }), { matchedCount: 1, modifiedCount: 1 });
  t.deepEqual(await c.deleteOne({ name: 'Rob' }), { deletedCount: 1 });
  t.deepEqual(await c.deleteOne('bob'), { deletedCount: 0 });
  t.deepEqual(await c.deleteMany({ age: { $gt: 100 } }), { deletedCount: 1 });
  t.deepEqual(await c.deleteMany({}), { deletedCount: 2 });
  t.is(await c.count({}), 0);
  t.true((await db.verify()).ok);
  await db.close();
});

test('concurrency: unawaited updates of one document lose nothing; writes apply in call order', async (t) => {
  const db = await fresh();
  const c = await db.collection('ctr', { indexes: [{ field: 'n', type: 'range' }] });
  await c.insertOne({ _id: 'x', n: 0, list: [] });
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    ps.push(c.updateOne('x', { $inc: { n: 1 } }));
    ps.push(c.updateOne('x', { $push: { list: i } }));
  }
  // Filter writes in the middle see the writes made before them.
  ps.push(c.updateOne({ n: { $gte: 0 } }, { $set: { mark: true } }));
  ps.push(c.updateOne('x', { $inc: { n: 1000 } }));
  const seen = c.findById('x');
  await Promise.all(ps);
  const d = await c.findById('x');
  t.is(d?.n, 1300);
  t.deepEqual(d?.list, Array.from({ length: 300 }, (_, i) => i));
  t.is(d?.mark, true);
  t.is((await seen)?.n, 1300, 'findById waits for the earlier writes of its document');
  t.deepEqual(ids((await c.find({ n: 1300 })).items), ['x']);
  // Inserts and deletes of one id in one burst, in call order.
  const burst = await Promise.allSettled([c.deleteOne('x'), c.insertOne({ _id: 'x', n: 1 }), c.insertOne({ _id: 'x', n: 2 }), c.updateOne('x', { $inc: { n: 10 } })]);
  t.deepEqual(
    burst.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  t.is((await c.findById('x'))?.n, 11);
  t.true((await db.verify()).ok);
  await db.close();
});

test('declarations: the same again is a no-op, reopen knows them, a new one is built from existing documents', async (t) => {
  const location = tmpPath();
  let db = await open(location, { env: {}, envFile: false });
  let c = await db.collection('u', { indexes: [{ field: 'a' }] });
  await c.insertMany([
    { _id: '1', a: 1, b: 'x' },
    { _id: '2', a: 2, b: 'y' },
  ]);
  const before = await db.listIndexes();
  t.deepEqual(
    before.map((i) => i.name),
    ['u.a', 'u.a.-each'],
  );
  t.is(before[0]?.definition.scope, 'u:');
  t.deepEqual(before[0]?.definition.extractor, { kind: 'bson_path', path: '$.a' });
  t.deepEqual(before[1]?.definition.extractor, { kind: 'bson_path', path: '$.a[*]' });
  c = await db.collection('u', { indexes: [{ field: 'a' }] });
  t.deepEqual(
    (await db.listIndexes()).map((i) => [i.name, i.createdAt]),
    before.map((i) => [i.name, i.createdAt]),
  );
  await expectCode(() => c.find({ b: 'x' }), 'STRATA_NO_INDEX');
  c = await db.collection('u', { indexes: [{ field: 'b' }] });
  t.deepEqual(ids((await c.find({ b: 'y' })).items), ['2']);
  await db.close();
  db = await open(location, { env: {}, envFile: false });
  c = await db.collection('u');
  t.deepEqual(
    c.indexes().map((i) => i.field),
    ['a', 'b'],
  );
  t.deepEqual(ids((await c.find({ a: 1, b: 'x' })).items), ['1']);
  // Field names that are not plain words are named by a hash.
  const odd = await db.collection('odd', { indexes: [{ field: 'größe.ü' }] });
  await odd.insertOne({ _id: 'o', größe: { ü: 3 } });
  t.deepEqual(ids((await odd.find({ 'größe.ü': 3 })).items), ['o']);
  t.true((await db.listIndexes()).some((i) => /^odd\.-[0-9a-f]{16}$/.test(i.name)));
  await db.close();
});

test('unique and sparse fields', async (t) => {
  const db = await fresh();
  const c = await db.collection('acc', { indexes: [{ field: 'email', unique: true, sparse: true }, { field: 'nick', unique: true }] });
  await c.insertOne({ _id: 'a', email: 'a@x', nick: 'a' });
  await c.insertOne({ _id: 'b' });
  const before = await state(db);
  await expectCode(() => c.insertOne({ _id: 'c', email: 'a@x', nick: 'c' }), 'STRATA_CONSTRAINT');
  await expectCode(() => c.insertOne({ _id: 'c', email: 'c@x' }), 'STRATA_CONSTRAINT'); // a second document without nick
  await expectCode(() => c.updateOne('b', { $set: { email: 'a@x' } }), 'STRATA_CONSTRAINT');
  await expectCode(
    () =>
      c.insertMany([
        { _id: 'd', nick: 'd' },
        { _id: 'e', nick: 'd' },
      ]),
    'STRATA_CONSTRAINT',
  );
  t.is(await state(db), before);
  t.deepEqual(ids((await c.find({ email: null })).items), [], 'sparse: missing fields are not indexed');
  t.deepEqual(ids((await c.find({ nick: { $in: ['a', null] } })).items), ['a', 'b']);
  await db.close();
});

test('bad input: a typed error and nothing written', async (t) => {
  const db = await fresh();
  const c = await people(db);
  const cases: [string, () => unknown, string][] = [
    // collection names and declarations
    ['empty name', () => db.collection(''), 'STRATA_INVALID_ARGUMENT'],
    ['name with a colon', () => db.collection('a:b'), 'STRATA_INVALID_ARGUMENT'],
    ['name with a dot', () => db.collection('a.b'), 'STRATA_INVALID_ARGUMENT'],
    ['name too long', () => db.collection('x'.repeat(65)), 'STRATA_INVALID_ARGUMENT'],
    ['name not a string', () => db.collection(42 as unknown as string), 'STRATA_INVALID_ARGUMENT'],
    ['unknown option', () => db.collection('n', { index: [] } as never), 'STRATA_INVALID_ARGUMENT'],
    ['indexes not an array', () => db.collection('n', { indexes: {} as never }), 'STRATA_INVALID_ARGUMENT'],
    ['empty field', () => db.collection('n', { indexes: [{ field: '' }] }), 'STRATA_INVALID_ARGUMENT'],
    ['$ field', () => db.collection('n', { indexes: [{ field: '$a' }] }), 'STRATA_INVALID_ARGUMENT'],
    ['bad type', () => db.collection('n', { indexes: [{ field: 'a', type: 'hash' as never }] }), 'STRATA_INVALID_ARGUMENT'],
    ['unknown key', () => db.collection('n', { indexes: [{ field: 'a', order: 1 } as never] }), 'STRATA_INVALID_ARGUMENT'],
    ['unique text', () => db.collection('n', { indexes: [{ field: 'a', type: 'text', unique: true }] }), 'STRATA_INVALID_ARGUMENT'],
    ['field twice', () => db.collection('n', { indexes: [{ field: 'a' }, { field: 'a', type: 'range' }] }), 'STRATA_INVALID_ARGUMENT'],
    ['redeclared otherwise', () => db.collection('people', { indexes: [{ field: 'zz' }, { field: 'name', type: 'range' }] }), 'STRATA_INVALID_ARGUMENT'],
    // inserts
    ['doc not an object', () => c.insertOne('x' as never), 'STRATA_INVALID_ARGUMENT'],
    ['doc an array', () => c.insertOne([] as never), 'STRATA_INVALID_ARGUMENT'],
    ['$ key', () => c.insertOne({ $set: 1 }), 'STRATA_INVALID_ARGUMENT'],
    ['dotted key', () => c.insertOne({ 'a.b': 1 }), 'STRATA_INVALID_ARGUMENT'],
    ['nested $ key', () => c.insertOne({ a: { $b: 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['undefined in array', () => c.insertOne({ a: [1, undefined] }), 'STRATA_INVALID_ARGUMENT'],
    ['function value', () => c.insertOne({ a: () => 1 }), 'STRATA_INVALID_ARGUMENT'],
    ['class instance', () => c.insertOne({ a: new Map() }), 'STRATA_INVALID_ARGUMENT'],
    ['numeric id', () => c.insertOne({ _id: 5 as never }), 'STRATA_INVALID_ARGUMENT'],
    ['empty id', () => c.insertOne({ _id: '' }), 'STRATA_INVALID_ARGUMENT'],
    ['bad $oid', () => c.insertOne({ _id: { $oid: 'xyz' } }), 'STRATA_INVALID_ARGUMENT'],
    ['duplicate id', () => c.insertOne({ _id: 'ann' }), 'STRATA_CONSTRAINT'],
    ['duplicate in many', () => c.insertMany([{ _id: 'new1' }, { _id: 'new1' }]), 'STRATA_CONSTRAINT'],
    ['existing in many', () => c.insertMany([{ _id: 'new2' }, { _id: 'bob' }]), 'STRATA_CONSTRAINT'],
    ['bad doc in many', () => c.insertMany([{ _id: 'new3' }, 7 as never]), 'STRATA_INVALID_ARGUMENT'],
    ['NaN in an indexed field', () => c.insertOne({ _id: 'nan', age: NaN }), 'STRATA_INVALID_ARGUMENT'],
    ['unique violated', () => c.insertOne({ _id: 'u', email: 'ann@x' }), 'STRATA_CONSTRAINT'],
    ['bad write option', () => c.insertOne({ _id: 'o' }, { durable: true } as never), 'STRATA_INVALID_ARGUMENT'],
    // filters
    ['unknown operator', () => c.find({ age: { $foo: 1 } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['unknown top-level operator', () => c.find({ $nor: [] }), 'STRATA_INVALID_ARGUMENT'],
    ['$regex', () => c.find({ name: { $regex: 'A' } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['$exists', () => c.count({ name: { $exists: true } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['unindexed field', () => c.find({ nope: 1 }), 'STRATA_NO_INDEX'],
    ['unindexed field in $or', () => c.count({ $or: [{ name: 'Ann' }, { 'a.b': 1 }] }), 'STRATA_NO_INDEX'],
    ['range on an equality field', () => c.find({ name: { $gt: 'A' } }), 'STRATA_NO_INDEX'],
    ['equality on a text field', () => c.find({ bio: 'x' }), 'STRATA_NO_INDEX'],
    ['sub-document equality', () => c.find({ address: { city: 'Porto' } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['array equality', () => c.find({ tags: ['a'] } as never), 'STRATA_INVALID_ARGUMENT'],
    ['$in not an array', () => c.find({ tags: { $in: 'a' } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['only negative', () => c.find({ name: { $ne: 'Ann' } }), 'STRATA_INVALID_ARGUMENT'],
    ['negative $or branch', () => c.find({ $or: [{ name: 'Ann' }, { age: { $not: { $gt: 3 } } }] }), 'STRATA_INVALID_ARGUMENT'],
    ['$and not an array', () => c.find({ $and: {} } as never), 'STRATA_INVALID_ARGUMENT'],
    ['$text phrase', () => c.find({ $text: { $search: '"a b"' } }), 'STRATA_INVALID_ARGUMENT'],
    ['$text option', () => c.find({ $text: { $search: 'a', $language: 'en' } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['$text without words', () => c.find({ $text: { $search: '  ' } }), 'STRATA_INVALID_ARGUMENT'],
    ['infinite value', () => c.find({ age: Infinity }), 'STRATA_INVALID_ARGUMENT'],
    ['filter not an object', () => c.find('x' as never), 'STRATA_INVALID_ARGUMENT'],
    ['limit 0', () => c.find({}, { limit: 0 }), 'STRATA_INVALID_ARGUMENT'],
    ['unknown find option', () => c.find({}, { sort: 1 } as never), 'STRATA_INVALID_ARGUMENT'],
    ['mixed projection', () => c.find({}, { projection: { a: 1, b: 0 } }), 'STRATA_INVALID_ARGUMENT'],
    ['bad projection value', () => c.find({}, { projection: { a: 'yes' } as never }), 'STRATA_INVALID_ARGUMENT'],
    ['bad id to findById', () => c.findById(12 as never), 'STRATA_INVALID_ARGUMENT'],
    // updates
    ['unknown update operator', () => c.updateOne('ann', { $rename: { a: 'b' } } as never), 'STRATA_INVALID_ARGUMENT'],
    ['update without operators', () => c.updateOne('ann', { name: 'x' } as never), 'STRATA_INVALID_ARGUMENT'],
    ['empty update', () => c.updateOne('ann', {}), 'STRATA_INVALID_ARGUMENT'],
    ['$inc by a string', () => c.updateOne('ann', { $inc: { age: '1' as never } }), 'STRATA_INVALID_ARGUMENT'],
    ['$inc on a string', () => c.updateOne('ann', { $inc: { name: 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['$inc on a non-number by filter', () => c.updateOne({ name: 'Dee' }, { $inc: { age: 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['$push on a non-array', () => c.updateOne('ann', { $push: { name: 'x' } }), 'STRATA_INVALID_ARGUMENT'],
    ['$pull on a non-array', () => c.updateOne('ann', { $pull: { name: 'x' } }), 'STRATA_INVALID_ARGUMENT'],
    ['$push modifier', () => c.updateOne('ann', { $push: { tags: { $each: ['x'], $slice: 1 } } }), 'STRATA_INVALID_ARGUMENT'],
    ['$set _id', () => c.updateOne('ann', { $set: { _id: 'x' } }), 'STRATA_INVALID_ARGUMENT'],
    ['conflicting paths', () => c.updateOne('ann', { $set: { address: {} }, $unset: { 'address.city': 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['set through a scalar', () => c.updateOne('ann', { $set: { 'age.x': 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['$set a $ key', () => c.updateOne('ann', { $set: { a: { $x: 1 } } }), 'STRATA_INVALID_ARGUMENT'],
    ['update a unique value away', () => c.updateOne('bob', { $set: { email: 'ann@x' } }), 'STRATA_CONSTRAINT'],
    ['update sets NaN on an index', () => c.updateOne('bob', { $set: { age: NaN } }), 'STRATA_INVALID_ARGUMENT'],
    ['update target not an id or filter', () => c.updateOne(5 as never, { $set: { a: 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['update filter unindexed', () => c.updateOne({ nope: 1 }, { $set: { a: 1 } }), 'STRATA_NO_INDEX'],
    ['replace with another _id', () => c.replaceOne('ann', { _id: 'bob' }), 'STRATA_INVALID_ARGUMENT'],
    ['replace by filter with another _id', () => c.replaceOne({ name: 'Ann' }, { _id: 'zzz' }), 'STRATA_INVALID_ARGUMENT'],
    ['replace with operators', () => c.replaceOne('ann', { $set: { a: 1 } }), 'STRATA_INVALID_ARGUMENT'],
    ['delete bad id', () => c.deleteOne(''), 'STRATA_INVALID_ARGUMENT'],
    ['deleteMany without a filter', () => c.deleteMany(undefined as never), 'STRATA_INVALID_ARGUMENT'],
    ['deleteMany unindexed', () => c.deleteMany({ nope: 1 }), 'STRATA_NO_INDEX'],
    ['deleteMany negative only', () => c.deleteMany({ name: { $nin: ['Ann'] } }), 'STRATA_INVALID_ARGUMENT'],
  ];
  const before = await state(db);
  for (const [name, fn, code] of cases) {
    const e = await expectCode(fn, code).catch((err: unknown) => {
      t.fail(`${name}: ${String(err)}`);
      return undefined;
    });
    if (e !== undefined) t.true(e instanceof StrataError, name);
    t.is(await state(db), before, `${name}: nothing written`);
  }
  const e = await expectCode(() => c.find({ 'a.b': 1 }), 'STRATA_NO_INDEX');
  t.regex(e.message, /field 'a\.b'/);
  await db.close();
});

test('JSON-friendly: filters, updates and ids as plain JSON (Extended JSON for ObjectId and Date); collections are scoped by key prefix', async (t) => {
  const db = await fresh();
  const a = await db.collection('user', { indexes: [{ field: 'ref' }, { field: 'at', type: 'range' }] });
  const b = await db.collection('users', { indexes: [{ field: 'ref' }] });
  const ref = new ObjectId();
  const { insertedId } = await a.insertOne({ ref, at: new Date(1000) });
  await b.insertOne({ _id: 'x', ref });
  const wire = JSON.parse(JSON.stringify({ filter: { ref: { $oid: ref.toHexString() }, at: { $lte: { $date: 1000 } } }, id: { $oid: String(insertedId) } })) as {
    filter: Record<string, never>;
    id: { $oid: string };
  };
  t.deepEqual(
    (await a.find(wire.filter)).items.map((d) => String(d._id)),
    [String(insertedId)],
  );
  t.is(await b.count({ ref: { $oid: ref.toHexString() } }), 1, "'users:' keys are not in 'user'");
  t.is(await a.count({}), 1);
  t.deepEqual(await a.updateOne(wire.id, JSON.parse('{"$set":{"n":1}}') as never), { matchedCount: 1, modifiedCount: 1 });
  t.is((await a.findById(wire.id))?.n, 1);
  // A value that is not BSON at a collection key with indexes is refused by the index layer.
  await expectCode(() => db.put('user:junk', 'not bson'), 'STRATA_INVALID_ARGUMENT');
  await db.close();
});
