/**
 * Jobs over HTTP: backups into the configured backup_dir (never a path from the request),
 * index builds, their progress as NDJSON events and by polling, and the errors (no
 * backup_dir, a backup already running, unknown jobs and instances, a failing build).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { serve } from '../ts/server/serve';
import { resolveServerSettings } from '../ts/server/settings';
import { tmpPath } from './helpers';
import { call, SEEDS_TOML, testApp, writeConfig } from './fixtures/server';

interface Event {
  type: 'progress' | 'done' | 'failed';
  job: { id: string; state: string; progress: { phase: string; done: number; total: number }; result?: Record<string, unknown>; error?: { code: string } };
}

async function events(app: Awaited<ReturnType<typeof testApp>>['app'], id: string): Promise<{ status: number; type: unknown; lines: Event[] }> {
  const r = await app.inject({ method: 'GET', url: `/jobs/${id}/events` });
  return { status: r.statusCode, type: r.headers['content-type'], lines: r.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event) };
}

test('a backup job streams its progress, lands in backup_dir/<instance> and is listed', async (t) => {
  const dir = tmpPath('backups');
  const a = await testApp({ backupDir: dir });
  t.teardown(() => a.close());
  for (let i = 0; i < 50; i++) await call(a.app, 'POST', '/db/log/keys', { key: `k${i}`, value: Buffer.from(`v${i}`).toString('base64') });
  await a.instances.find('log')?.db.flush();
  t.deepEqual((await call(a.app, 'GET', '/backups?instance=log')).body, { instance: 'log', items: [] }, 'nothing yet');

  const [first, second] = await Promise.all([call(a.app, 'POST', '/backups?instance=log'), call(a.app, 'POST', '/backups?instance=log')]);
  t.is(first.status, 202);
  t.like(first.body, { kind: 'backup', instance: 'log', state: 'running' });
  t.is(second.status, 409, 'one backup of an instance at a time');
  t.regex(second.body.error.message, new RegExp(first.body.id));

  const ev = await events(a.app, first.body.id);
  t.is(ev.status, 200);
  t.is(ev.type, 'application/x-ndjson');
  t.true(ev.lines.length >= 3, 'the state now, progress, the end');
  t.true(ev.lines.slice(0, -1).every((e) => e.type === 'progress' && e.job.state === 'running'));
  const phases = new Set(ev.lines.map((e) => e.job.progress.phase));
  t.true(phases.has('copy'), `phases ${[...phases].join(', ')}`);
  const end = ev.lines.at(-1) as Event;
  t.is(end.type, 'done');
  t.like(end.job.result, { id: 1 });
  t.false('location' in (end.job.result ?? {}), 'the server path is not in the answer');
  t.true(fs.existsSync(path.join(dir, 'log', 'meta', '1.json')));

  const listed = (await call(a.app, 'GET', '/backups?instance=log')).body;
  t.is(listed.items.length, 1);
  t.like(listed.items[0], { id: 1, sequence: end.job.result?.sequence, files: end.job.result?.files });
  t.like((await call(a.app, 'GET', `/jobs/${first.body.id}`)).body, { state: 'done', result: { id: 1 } });
  const again = await events(a.app, first.body.id);
  t.deepEqual(again.lines.map((e) => e.type), ['done'], 'a finished job: one line');
  t.is((await call(a.app, 'GET', '/jobs')).body.items[0].id, first.body.id);

  // The default instance when none is named; a second backup is the next id.
  const def = await call(a.app, 'POST', '/backups');
  t.is(def.body.instance, a.instances.default.name);
  t.is((await events(a.app, def.body.id)).lines.at(-1)?.type, 'done');
  const next = await call(a.app, 'POST', '/backups?instance=log');
  t.like((await events(a.app, next.body.id)).lines.at(-1)?.job.result, { id: 2 });
});

test('without backup_dir backups are refused; bad ids and instances are 4xx', async (t) => {
  const a = await testApp();
  t.teardown(() => a.close());
  for (const [method, url] of [['POST', '/backups'], ['GET', '/backups']] as const) {
    const r = await call(a.app, method, url);
    t.is(r.status, 409);
    t.is(r.body.error.code, 'STRATA_NOT_CONFIGURED');
    t.regex(r.body.error.message, /backup_dir/);
  }
  t.is((await call(a.app, 'POST', '/backups?instance=nope')).status, 404);
  t.is((await call(a.app, 'POST', '/backups?instance=../x')).status, 400);
  t.is((await call(a.app, 'GET', '/jobs/not-a-job')).status, 400);
  t.is((await call(a.app, 'GET', '/jobs/00000000-0000-0000-0000-000000000000')).status, 404);
  t.is((await call(a.app, 'GET', '/jobs/00000000-0000-0000-0000-000000000000/events')).status, 404);
  t.is((await call(a.app, 'POST', '/jobs/index-rebuild', { instance: 'app', name: 'none' })).status, 404);
  t.is((await call(a.app, 'POST', '/jobs/index-create', { instance: 'log', name: 'x', type: 'equality', extractor: { kind: 'raw' } })).status, 400, 'query = false');
  t.is((await call(a.app, 'POST', '/jobs/index-create', { instance: 'app', name: 'x', type: 'nope', extractor: { kind: 'raw' } })).status, 400, 'a bad definition is the answer, not a failed job');
  t.is((await call(a.app, 'POST', '/jobs/index-rebuild', { instance: 'app', name: 'city', path: '/etc' })).status, 400, 'no unknown fields');
  t.deepEqual((await call(a.app, 'GET', '/jobs')).body.items, []);
});

test('index jobs: create and rebuild report progress; a failing build is a failed job', async (t) => {
  const a = await testApp();
  t.teardown(() => a.close());
  const items = Array.from({ length: 40 }, (_, i) => ({ key: `u${i}`, value: { city: i % 2 ? 'Oslo' : 'Lisboa', age: i } }));
  await call(a.app, 'POST', '/db/app/keys/batch', { items });
  const made = await call(a.app, 'POST', '/jobs/index-create', { instance: 'app', name: 'age2', type: 'range', extractor: { kind: 'bson_path', path: '$.age' } });
  t.is(made.status, 202);
  t.like(made.body, { kind: 'index-create', target: 'age2', instance: 'app' });
  const ev = await events(a.app, made.body.id);
  t.is(ev.lines.at(-1)?.type, 'done');
  t.like(ev.lines.at(-1)?.job.result, { name: 'age2', state: 'ready', entries: 40 });
  t.true(ev.lines.some((e) => e.job.progress.phase === 'build'));
  const listed = (await call(a.app, 'GET', '/db/app/indexes/age2')).body;
  t.is(listed.state, 'ready');

  const re = await call(a.app, 'POST', '/jobs/index-rebuild', { instance: 'app', name: 'age2' });
  t.is(re.status, 202);
  t.like((await events(a.app, re.body.id)).lines.at(-1)?.job, { state: 'done', result: { state: 'ready', entries: 40 } });

  // Two records share a city: a unique index on it fails and is dropped.
  const bad = await call(a.app, 'POST', '/jobs/index-create', { instance: 'app', name: 'city_u', type: 'equality', unique: true, extractor: { kind: 'bson_path', path: '$.city' } });
  t.is(bad.status, 202);
  const end = (await events(a.app, bad.body.id)).lines.at(-1) as Event;
  t.is(end.type, 'failed');
  t.is(end.job.error?.code, 'STRATA_CONSTRAINT');
  t.false(((await call(a.app, 'GET', '/db/app/indexes')).body.items as { name: string }[]).some((i) => i.name === 'city_u'));
});

test('backup_dir: from the environment, and relative to lsm.toml', (t) => {
  t.is(resolveServerSettings({ env: { STRATA_SERVER_BACKUP_DIR: '/srv/b' }, envFile: false }).backupDir, '/srv/b');
  t.is(resolveServerSettings({ toml: { backup_dir: './b' }, baseDir: '/etc/strata', env: {}, envFile: false }).backupDir, '/etc/strata/b');
  t.is(resolveServerSettings({ env: { STRATA_SERVER_BACKUP_DIR: 'rel' }, envFile: false }).backupDir, path.resolve('rel'));
  t.is(resolveServerSettings({ env: {}, envFile: false }).backupDir, undefined);
  t.throws(() => resolveServerSettings({ toml: { backup_dir: '' }, env: {}, envFile: false }), { message: /backup_dir/ });
});

test('over a socket: events arrive as the job runs; a client that leaves early harms nothing', async (t) => {
  const s = await serve({ config: writeConfig(`[server]\nbackup_dir = "./b"\n${SEEDS_TOML}`), port: 0, logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  const start = async () => (await (await fetch(`${s.url}/backups?instance=log`, { method: 'POST' })).json()) as { id: string };
  const job = await start();
  const r = await fetch(`${s.url}/jobs/${job.id}/events`);
  t.is(r.headers.get('content-type'), 'application/x-ndjson');
  const lines = (await r.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event);
  t.true(lines.length >= 3);
  t.is(lines.at(-1)?.type, 'done');

  // Leave after the first line, while the next backup runs: it still completes.
  const next = await start();
  const ac = new AbortController();
  const res = await fetch(`${s.url}/jobs/${next.id}/events`, { signal: ac.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  t.false((await reader.read()).done);
  ac.abort();
  let finished = false;
  for (let i = 0; i < 400 && !finished; i++) {
    const j = (await (await fetch(`${s.url}/jobs/${next.id}`)).json()) as { state: string; result?: { id: number } };
    finished = j.state !== 'running';
    if (finished) t.like(j, { state: 'done', result: { id: 2 } });
    else await new Promise((r) => setTimeout(r, 25));
  }
  t.true(finished, 'the backup finished');
  t.is((await fetch(`${s.url}/health`)).status, 200);
});
