/**
 * End to end over a real loopback socket: serve() in this process, then a server process
 * that SIGTERM stops cleanly (requests in flight answered, every database closed, exit 0,
 * JSON logs with request ids).
 */
import * as http from 'node:http';
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
  // A request in flight when the signal comes: its headers and half its body are sent first,
  // the rest after SIGTERM. It must be answered, and its write kept.
  const body = JSON.stringify({ key: 'in-flight', value: { n: 1 } });
  const { hostname: host, port } = new URL(url);
  const answer = new Promise<number>((resolve, reject) => {
    const req = http.request({ host, port, method: 'POST', path: '/keys', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(body.slice(0, 10));
    setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => req.end(body.slice(10)), 300);
    }, 300);
  });
  t.is(await answer, 200, 'the request in flight at SIGTERM is answered');
  t.is(await exited, 0, stderr());
  // After the signal, new connections are refused.
  await t.throwsAsync(fetch(`${url}/health`));
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
    t.deepEqual(await db.get('in-flight'), { n: 1 });
  } finally {
    await instances.close();
  }
});

test('SIGINT stops the server like SIGTERM (exit 0, databases closed)', async (t) => {
  t.timeout(60_000);
  const file = writeConfig();
  const { child, url, stderr } = await startChild(file);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.is((await json(`${url}/db/log/keys`, { method: 'POST', body: JSON.stringify({ key: 'k', value: b64('v') }) })).status, 200);
  child.kill('SIGINT');
  t.is(await exited, 0, stderr());
  const instances = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
  t.deepEqual(await instances.get('log').db.get('k'), Buffer.from('v'));
  await instances.close();
});

test('a non-loopback bind is allowed with a token, and then needs it', async (t) => {
  const file = writeConfig();
  const s = await serve({ config: file, host: '0.0.0.0', port: 0, token: 'tok', logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  const local = `http://127.0.0.1:${s.port}`;
  t.is((await json(`${local}/health`)).status, 200);
  t.is((await json(`${local}/stats`)).status, 401);
  t.is((await json(`${local}/stats`, { headers: { authorization: 'Bearer tok' } })).status, 200);
});
