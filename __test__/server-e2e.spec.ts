/**
 * End to end over a real loopback socket: serve() in this process, then a server process
 * that SIGTERM stops cleanly (requests in flight answered, every database closed, exit 0,
 * JSON logs with request ids).
 */
import * as path from 'node:path';
import test from 'ava';

import { openInstances } from '../ts/instances';
import { serve } from '../ts/server/serve';
import { SEEDS_TOML, startChild, writeConfig } from './fixtures/server';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

test('serve(): the seeds’ two instances side by side over a socket, with a token', async (t) => {
  const file = writeConfig(SEEDS_TOML + '\n[server]\nauth_token = "tok"\nlog_level = "silent"\n');
  const s = await serve({ config: file, port: 0, env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  t.regex(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const auth = { authorization: 'Bearer tok' };
  t.is((await json(`${s.url}/health`)).status, 200);
  t.is((await json(`${s.url}/keys`)).status, 401);
  const put = await json(`${s.url}/db/app/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ key: 'u:1', value: { city: 'Porto', age: 40 } }) });
  t.is(put.status, 200);
  await json(`${s.url}/db/log/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ key: 'l:1', value: b64('line') }) });
  t.deepEqual((await json(`${s.url}/keys/u%3A1`, { headers: auth })).body, { key: 'u:1', value: { city: 'Porto', age: 40 } });
  t.deepEqual((await json(`${s.url}/db/log/keys/l:1`, { headers: auth })).body, { key: 'l:1', value: b64('line') });
  const q = await json(`${s.url}/db/app/query`, { method: 'POST', headers: auth, body: JSON.stringify({ query: { index: 'age', gte: 30 } }) });
  t.deepEqual(q.body.items.map((i: { key: string }) => i.key), ['u:1']);
  t.is((await json(`${s.url}/db/log/query`, { method: 'POST', headers: auth, body: JSON.stringify({ query: { index: 'age', gte: 30 } }) })).status, 400);
  const spec = await json(`${s.url}/openapi.json`, { headers: auth });
  t.truthy(spec.body.paths['/db/{instance}/query']);
  const bad = await fetch(`${s.url}/keys`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"key": "x", "value": ' });
  t.is(bad.status, 400);
  t.deepEqual(Object.keys((await bad.json()) as object), ['error']);
  await s.close();
  await s.close();
  t.is(s.instances.get('app').db.status, 'closed');
});

test('SIGTERM: requests in flight are answered, every database is closed, exit 0; logs are JSON with request ids', async (t) => {
  t.timeout(60_000);
  const file = writeConfig();
  const { child, url, stderr } = await startChild(file, { STRATA_SERVER_LOG_LEVEL: 'info' });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.is((await json(`${url}/keys`, { method: 'POST', body: JSON.stringify({ key: 'before', value: { n: 0 } }) })).status, 200);
  const acked: string[] = [];
  const inFlight = Array.from({ length: 20 }, async (_, i) => {
    const items = Array.from({ length: 50 }, (_, j) => ({ key: `b${i}:${j}`, value: { n: j } }));
    try {
      const r = await json(`${url}/keys/batch`, { method: 'POST', body: JSON.stringify({ items }) });
      if (r.status === 200) acked.push(...items.map((it) => it.key));
      return r.status;
    } catch {
      return 'refused';
    }
  });
  await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGTERM');
  const statuses = await Promise.all(inFlight);
  t.is(await exited, 0, stderr());
  t.log(`answers to the 20 requests sent around SIGTERM: ${JSON.stringify(statuses)}`);
  t.true(statuses.every((s) => s === 200 || s === 503 || s === 'refused'), JSON.stringify(statuses));
  t.is(stderr(), '');
  const lines = stdout.split('\n').filter((l) => l.startsWith('{'));
  t.true(lines.length > 0);
  const logs = lines.map((l) => JSON.parse(l) as { level: number; reqId?: string; msg: string });
  t.true(logs.some((l) => typeof l.reqId === 'string' && l.msg === 'request completed'));
  t.true(logs.some((l) => l.msg === 'closed'));

  // Closed cleanly: the directories open again at once, with every acknowledged write.
  const instances = await openInstances(path.resolve(file), { dbOptions: { env: {}, envFile: false } });
  try {
    const db = instances.get('app').db;
    t.deepEqual(await db.get('before'), { n: 0 });
    for (const k of acked) t.truthy(await db.get(k), k);
  } finally {
    await instances.close();
  }
});
