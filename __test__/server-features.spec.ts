/**
 * Feature flags over HTTP: create, update with the version last read, 409 on a stale one
 * (two racing writers: exactly one wins), paging, durability across a reopen, and no trace
 * in the user keyspace.
 */
import test from 'ava';

import { openInstances } from '../ts/instances';
import { buildApp } from '../ts/server/app';
import { resolveServerSettings } from '../ts/server/settings';
import { call, testApp } from './fixtures/server';

test('create, read, update with the version, 409 when stale', async (t) => {
  const a = await testApp();
  t.teardown(() => a.close());
  const created = await call(a.app, 'POST', '/features/new-ui', { enabled: false, description: 'the new UI', data: { percent: 10 } });
  t.is(created.status, 201);
  t.like(created.body, { id: 'new-ui', enabled: false, version: 1, description: 'the new UI', data: { percent: 10 } });
  t.is((await call(a.app, 'POST', '/features/new-ui', { enabled: true })).status, 409, 'creating an existing flag is stale');
  const updated = await call(a.app, 'POST', '/features/new-ui', { enabled: true, version: 1 });
  t.is(updated.status, 200);
  t.like(updated.body, { enabled: true, version: 2 });
  const stale = await call(a.app, 'POST', '/features/new-ui', { enabled: false, version: 1 });
  t.is(stale.status, 409);
  t.is(stale.body.error.code, 'STRATA_CONFLICT');
  t.regex(stale.body.error.message, /at version 2/);
  t.like((await call(a.app, 'GET', '/features/new-ui')).body, { enabled: true, version: 2 });
  t.is((await call(a.app, 'GET', '/features/none')).status, 404);
  t.is((await call(a.app, 'POST', '/features/x', { enabled: 'yes' })).status, 400);
  t.is((await call(a.app, 'POST', '/features/x', {})).status, 400);
  t.is((await call(a.app, 'POST', '/features/x', { enabled: true, version: -1 })).status, 400);
  t.is((await call(a.app, 'POST', `/features/${encodeURIComponent('bad id!')}`, { enabled: true })).status, 400);
  t.is((await call(a.app, 'POST', '/features/x', { enabled: true, version: 7 })).status, 409, 'updating a flag that does not exist');
  t.deepEqual((await call(a.app, 'GET', '/keys')).body.items, [], 'flags are not user keys');
});

test('two writers with the same version: exactly one 409', async (t) => {
  const a = await testApp();
  t.teardown(() => a.close());
  await call(a.app, 'POST', '/features/race', { enabled: false });
  for (let round = 1; round <= 20; round++) {
    const [x, y] = await Promise.all([
      call(a.app, 'POST', '/features/race', { enabled: true, version: round }),
      call(a.app, 'POST', '/features/race', { enabled: false, version: round }),
    ]);
    t.deepEqual([x.status, y.status].sort(), [200, 409], `round ${round}`);
  }
  t.is((await call(a.app, 'GET', '/features/race')).body.version, 21);
});

test('flags page with a cursor and survive a reopen', async (t) => {
  const a = await testApp();
  const ids = Array.from({ length: 7 }, (_, i) => `f${i}`);
  for (const id of ids) await call(a.app, 'POST', `/features/${id}`, { enabled: id === 'f3' });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/features?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call(a.app, 'GET', url);
    seen.push(...r.body.items.map((f: { id: string }) => f.id));
    cursor = r.body.cursor;
  } while (cursor !== null);
  t.deepEqual(seen, ids);
  t.is((await call(a.app, 'GET', '/features?cursor=zzz')).status, 400);
  await a.close();

  const instances = await openInstances(a.file, { dbOptions: { env: {}, envFile: false } });
  const app = await buildApp(instances, resolveServerSettings({ env: {}, envFile: false, explicit: { logLevel: 'silent' } }), { logger: false });
  t.teardown(async () => {
    await app.close();
    await instances.close();
  });
  t.like((await call(app, 'GET', '/features/f3')).body, { enabled: true, version: 1 });
  t.is((await call(app, 'GET', '/features')).body.items.length, 7);
  t.true((await instances.default.db.verify()).ok, 'verify does not mind the flags in the system keyspace');
});
