/**
 * Group commit of POST /keys: concurrent writes go to the database as one batch, each request
 * still gets its own answer — a unique violation fails that request alone, the others are
 * written, the indexes stay consistent.
 */
import test from 'ava';

import { call, testApp } from './fixtures/server';

const UNIQUE_TOML = `
[[instance]]
name = "app"
data_dir = "./.lsm_app"
codec = "json"
indexes_file = "./indexes_app.toml"
`;
const UNIQUE_INDEXES = `
[[index]]
name = "email"
type = "equality"
unique = true
sparse = true
extractor = { kind = "json_path", path = "$.email" }
`;

test('concurrent POST /keys are written as batches; each request is answered for its own write', async (t) => {
  const ta = await testApp({}, UNIQUE_TOML, { 'indexes_app.toml': UNIQUE_INDEXES });
  try {
    const db = ta.instances.get('app').db;
    const sizes: number[] = [];
    const batch = db.batch.bind(db) as (ops: unknown[]) => Promise<void>;
    (db as unknown as { batch: (ops: unknown[]) => Promise<void> }).batch = (ops: unknown[]) => {
      sizes.push(ops.length);
      return batch(ops);
    };
    const n = 60;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => call(ta.app, 'POST', '/keys', { key: `u${i}`, value: { email: `e${i}@x`, i } })));
    t.true(answers.every((a) => a.status === 200 && a.body.ok === true));
    t.true(sizes.some((s) => s > 1), `no group formed: batch sizes ${JSON.stringify(sizes)}`);
    for (let i = 0; i < n; i++) t.deepEqual(await db.get(`u${i}`), { email: `e${i}@x`, i });

    // One write of a group breaks the unique index: it alone fails, with its own error.
    const mixed = await Promise.all([
      call(ta.app, 'POST', '/keys', { key: 'v1', value: { email: 'new1@x' } }),
      call(ta.app, 'POST', '/keys', { key: 'v2', value: { email: 'e3@x' } }),
      call(ta.app, 'POST', '/keys', { key: 'v3', value: { email: 'new3@x' } }),
      call(ta.app, 'POST', '/keys', { key: 'v4', value: { email: 'new4@x' } }),
    ]);
    t.deepEqual(mixed.map((a) => a.status), [200, 409, 200, 200]);
    t.is(mixed[1]?.body.error.code, 'STRATA_CONSTRAINT');
    t.deepEqual(await db.get('v1'), { email: 'new1@x' });
    t.is(await db.get('v2'), undefined);
    t.deepEqual(await db.get('v4'), { email: 'new4@x' });
    t.is(await db.count({ index: 'email', eq: 'e3@x' }), 1);
    t.is(await db.count({ index: 'email', eq: 'new3@x' }), 1);
    t.true((await db.verify()).ok);

    // A key written twice in one group keeps the value written last.
    const twice = await Promise.all([call(ta.app, 'POST', '/keys', { key: 'w', value: { n: 1 } }), call(ta.app, 'POST', '/keys', { key: 'w', value: { n: 2 } })]);
    t.deepEqual(twice.map((a) => a.status), [200, 200]);
    t.deepEqual(await db.get('w'), { n: 2 });
  } finally {
    await ta.close();
  }
});

test('a write to a closed database fails its request (503), grouped or not', async (t) => {
  const ta = await testApp({}, UNIQUE_TOML, { 'indexes_app.toml': UNIQUE_INDEXES });
  try {
    await ta.instances.get('app').db.close();
    const answers = await Promise.all([call(ta.app, 'POST', '/keys', { key: 'a', value: 1 }), call(ta.app, 'POST', '/keys', { key: 'b', value: 2 })]);
    t.deepEqual(answers.map((a) => [a.status, a.body.error?.code]), [
      [503, 'STRATA_CLOSED'],
      [503, 'STRATA_CLOSED'],
    ]);
  } finally {
    await ta.close();
  }
});
