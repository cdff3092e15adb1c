import test from 'ava';

import { fresh, tmpPath } from './helpers';

test('put, get, del, has', async (t) => {
  const db = await fresh();
  t.is(db.status, 'open');
  await db.put('a', '1');
  t.is(await db.get('a'), '1');
  t.true(await db.has('a'));
  t.is(await db.get('missing'), undefined);
  t.false(await db.has('missing'));
  await db.put('a', '2');
  t.is(await db.get('a'), '2');
  await db.del('a');
  t.is(await db.get('a'), undefined);
  await db.del('never-there');
  await db.close();
  t.is(db.status, 'closed');
});

test('getSync matches get', async (t) => {
  const db = await fresh();
  await db.put('k', 'v');
  t.is(db.getSync('k'), 'v');
  t.is(db.getSync('nope'), undefined);
  await db.close();
});

test('getMany returns values in key order with undefined for missing keys', async (t) => {
  const db = await fresh();
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'c', value: '3' },
  ]);
  t.deepEqual(await db.getMany(['c', 'b', 'a']), ['3', undefined, '1']);
  t.deepEqual(await db.getMany([]), []);
  await db.close();
});

test('sync writes are accepted', async (t) => {
  const db = await fresh({ sync: true });
  await db.put('a', '1', { sync: false });
  await db.put('b', '2', { sync: true });
  await db.del('a', { sync: true });
  t.deepEqual(await db.getMany(['a', 'b']), [undefined, '2']);
  await db.close();
});

test('binary keys and values round-trip with the buffer and view encodings', async (t) => {
  const db = await fresh<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const key = Buffer.from([0, 1, 2, 255]);
  const value = Buffer.from([9, 0, 9]);
  await db.put(key, value);
  const got = await db.get(key);
  t.true(Buffer.isBuffer(got));
  t.deepEqual(got, value);
  const asView = await db.get<Uint8Array>(key, { valueEncoding: 'view' });
  t.true(asView instanceof Uint8Array);
  t.false(Buffer.isBuffer(asView));
  t.deepEqual(Array.from(asView as Uint8Array), [9, 0, 9]);
  t.is(await db.get<string>(key, { valueEncoding: 'utf8' }), '\t\0\t');
  await db.close();
});

test('utf8 is the default and Uint8Array input is accepted under utf8', async (t) => {
  const db = await fresh();
  await db.put(new Uint8Array([104, 105]), 'é✓');
  t.is(await db.get('hi'), 'é✓');
  t.deepEqual(await db.get<Buffer>('hi', { valueEncoding: 'buffer' }), Buffer.from('é✓'));
  await db.close();
});

test('json encoding for keys and values', async (t) => {
  type Doc = { n: number; tags: string[] };
  const db = await fresh<[string, number], Doc>({ keyEncoding: 'json', valueEncoding: 'json' });
  await db.put(['user', 1], { n: 1, tags: ['a'] });
  t.deepEqual(await db.get(['user', 1]), { n: 1, tags: ['a'] });
  t.is(await db.get(['user', 2]), undefined);
  const entries = await db.iterator().all();
  t.deepEqual(entries, [[['user', 1], { n: 1, tags: ['a'] }]]);
  await db.close();
});

test('per-call encodings override the database default', async (t) => {
  const db = await fresh();
  await db.put('doc', { a: 1 } as unknown as string, { valueEncoding: 'json' });
  t.is(await db.get('doc'), '{"a":1}');
  t.deepEqual(await db.get('doc', { valueEncoding: 'json' }), { a: 1 });
  await db.close();
});

test('stats returns numbers', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  await db.flush();
  await db.compactRange();
  await db.compactRange('a', 'z');
  const s = await db.stats();
  t.is(typeof s.lastSequence, 'number');
  t.true(s.lastSequence >= 1);
  t.true(Array.isArray(s.levels));
  for (const [k, v] of Object.entries(s)) {
    if (k !== 'levels') t.is(typeof v, 'number', k);
  }
  await db.close();
});

test('data survives close and reopen', async (t) => {
  const location = tmpPath();
  const db = await fresh({}, location);
  await db.put('durable', 'yes');
  await db.batch([{ type: 'put', key: 'b', value: '2' }, { type: 'del', key: 'durable' }, { type: 'put', key: 'durable', value: 'again' }]);
  await db.close();
  const again = await fresh({}, location);
  t.is(await again.get('durable'), 'again');
  t.is(await again.get('b'), '2');
  await again.close();
});
