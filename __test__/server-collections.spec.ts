/**
 * The collection routes (`ts/server/routes/collections.ts`) through `fastify.inject`: insert
 * one or many, get, find with filters and paging, count, replace, update operators, delete,
 * delete by filter, index declarations — Extended JSON in and out — and the error paths
 * (unindexed field 400, missing document 404, duplicate id 409, bad input 400, never a 500).
 */
import test from 'ava';

import { call, testApp, TestApp } from './fixtures/server';

async function withApp(t: { teardown(fn: () => Promise<void>): void }): Promise<TestApp> {
  const a = await testApp({});
  t.teardown(() => a.close());
  return a;
}

test('collections over HTTP: insert, get, find, count, replace, update, delete', async (t) => {
  const { app } = await withApp(t);
  const base = '/db/app/collections/users';
  const decl = await call(app, 'POST', `${base}/indexes`, { indexes: [{ field: 'city' }, { field: 'age', type: 'range' }] });
  t.is(decl.status, 200, JSON.stringify(decl.body));
  t.deepEqual((await call(app, 'GET', `${base}/indexes`)).body.indexes.map((i: { field: string }) => i.field).sort(), ['age', 'city']);

  const one = await call(app, 'POST', base, { _id: 'ann', city: 'Lisbon', age: 31, born: { $date: '1995-01-02T00:00:00Z' } });
  t.is(one.status, 200);
  t.deepEqual(one.body, { insertedId: 'ann' });
  const many = await call(app, 'POST', base, [
    { city: 'Porto', age: 40 },
    { city: 'Lisbon', age: 25 },
  ]);
  t.is(many.body.insertedCount, 2);
  t.truthy(many.body.insertedIds[0].$oid, 'generated ids are ObjectIds in Extended JSON');

  const ann = await call(app, 'GET', `${base}/ann`);
  t.is(ann.status, 200);
  t.deepEqual(ann.body, { _id: 'ann', city: 'Lisbon', age: 31, born: { $date: '1995-01-02T00:00:00Z' } });
  const oid = many.body.insertedIds[0].$oid as string;
  t.is((await call(app, 'GET', `${base}/${oid}`)).body.city, 'Porto');

  const lisbon = await call(app, 'POST', `${base}/find`, { filter: { city: 'Lisbon' }, limit: 1 });
  t.is(lisbon.status, 200);
  t.is(lisbon.body.items.length, 1);
  t.truthy(lisbon.body.cursor);
  const next = await call(app, 'POST', `${base}/find`, { filter: { city: 'Lisbon' }, limit: 1, cursor: lisbon.body.cursor });
  t.is(next.body.items.length, 1);
  t.not(next.body.items[0]._id, lisbon.body.items[0]._id);
  t.deepEqual((await call(app, 'POST', `${base}/count`, { filter: { age: { $gte: 30 } } })).body, { count: 2 });
  const projected = await call(app, 'POST', `${base}/find`, { filter: { $and: [{ city: 'Lisbon' }, { age: { $lt: 30 } }] }, projection: { city: 1, _id: 0 } });
  t.deepEqual(projected.body.items, [{ city: 'Lisbon' }]);

  const patch = await call(app, 'PATCH', `${base}/ann`, { $set: { city: 'Porto' }, $inc: { age: 1 } });
  t.deepEqual(patch.body, { matchedCount: 1, modifiedCount: 1 });
  t.deepEqual((await call(app, 'GET', `${base}/ann`)).body.age, 32);
  t.deepEqual((await call(app, 'POST', `${base}/count`, { filter: { city: 'Porto' } })).body, { count: 2 });
  const put = await call(app, 'PUT', `${base}/ann`, { city: 'Faro', age: 50 });
  t.deepEqual(put.body, { matchedCount: 1, modifiedCount: 1 });
  t.deepEqual((await call(app, 'GET', `${base}/ann`)).body, { _id: 'ann', city: 'Faro', age: 50 });

  t.deepEqual((await call(app, 'DELETE', `${base}/ann`)).body, { deletedCount: 1 });
  t.is((await call(app, 'GET', `${base}/ann`)).status, 404);
  t.deepEqual((await call(app, 'POST', `${base}/delete`, { filter: { city: { $in: ['Porto', 'Lisbon'] } } })).body, { deletedCount: 2 });
  t.deepEqual((await call(app, 'POST', `${base}/count`, {})).body, { count: 0 });
});

test('collection routes: every bad input is a 4xx with a code, nothing written', async (t) => {
  const { app } = await withApp(t);
  const base = '/db/app/collections/items';
  await call(app, 'POST', `${base}/indexes`, { indexes: [{ field: 'sku', unique: true }] });
  t.is((await call(app, 'POST', base, { _id: 'a', sku: 'x1' })).status, 200);
  const cases: [string, string, unknown, number, string][] = [
    ['POST', `${base}/find`, { filter: { color: 'red' } }, 400, 'STRATA_NO_INDEX'],
    ['POST', `${base}/find`, { filter: { sku: { $regex: 'x' } } }, 400, 'STRATA_INVALID_ARGUMENT'],
    ['POST', base, { _id: 'a', sku: 'x2' }, 409, 'STRATA_CONSTRAINT'],
    ['POST', base, { _id: 'b', sku: 'x1' }, 409, 'STRATA_CONSTRAINT'],
    ['POST', base, { $bad: 1 }, 400, 'STRATA_INVALID_ARGUMENT'],
    ['POST', base, { when: { $date: 'not a date' } }, 400, 'STRATA_BAD_REQUEST'],
    ['PATCH', `${base}/a`, { $inc: { sku: 1 } }, 400, 'STRATA_INVALID_ARGUMENT'],
    ['PATCH', `${base}/a`, { $rename: { sku: 'x' } }, 400, 'STRATA_INVALID_ARGUMENT'],
    ['PATCH', `${base}/zzz`, { $set: { sku: 'q' } }, 404, 'STRATA_NOT_FOUND'],
    ['PUT', `${base}/zzz`, { sku: 'q' }, 404, 'STRATA_NOT_FOUND'],
    ['DELETE', `${base}/zzz`, undefined, 404, 'STRATA_NOT_FOUND'],
    ['GET', '/db/app/collections/bad$name/a', undefined, 400, 'STRATA_BAD_REQUEST'],
    ['POST', '/db/log/collections/x', { a: 1 }, 400, ''],
    ['POST', '/db/nope/collections/x', { a: 1 }, 404, 'STRATA_NOT_FOUND'],
  ];
  for (const [method, url, body, status, code] of cases) {
    const r = await call(app, method as 'GET', url, body);
    t.is(r.status, status, `${method} ${url} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    if (code) t.is(r.body.error.code, code, `${method} ${url}`);
  }
  t.deepEqual((await call(app, 'POST', `${base}/find`, { filter: { sku: { $in: ['x1', 'x2', 'q'] } } })).body.items, [{ _id: 'a', sku: 'x1' }], 'nothing else was written');
});

test('GET /metrics: Prometheus text for every instance, changing with load, behind the token', async (t) => {
  const { app } = await withApp(t);
  const before = await app.inject({ method: 'GET', url: '/metrics' });
  t.is(before.statusCode, 200);
  t.regex(String(before.headers['content-type']), /^text\/plain/);
  const count = (text: string): number => {
    const m = /^strata_operations_total\{[^}]*instance="app"[^}]*op="put"[^}]*result="ok"[^}]*\} (\d+)$/m.exec(text) ?? /^strata_operations_total\{[^}]*op="put"[^}]*instance="app"[^}]*\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
  t.regex(before.body, /strata_level_files\{[^}]*instance="log"/);
  for (let i = 0; i < 5; i++) t.is((await call(app, 'POST', '/keys', { key: `m${i}`, value: { n: i } })).status, 200);
  const after = await app.inject({ method: 'GET', url: '/metrics' });
  t.is(count(after.body) - count(before.body), 5, 'five puts counted');

  const secured = await testApp({ authToken: 'sekret-token-value-1234567890' });
  t.teardown(() => secured.close());
  t.is((await secured.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  t.is((await secured.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer sekret-token-value-1234567890' } })).statusCode, 200);
});
