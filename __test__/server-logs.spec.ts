// The server's request logs (ts/server/logging.ts): one `request completed` line per request
// with its id, method, url, status and time; nothing per request above `info`; a request's
// warn/error lines still carry its id; the child logger is made only when a line is written.
import { Writable } from 'node:stream';
import test from 'ava';
import pino from 'pino';

import { openInstances, readLsmConfig } from '../ts/instances';
import { buildApp } from '../ts/server/app';
import { RequestLogger } from '../ts/server/logging';
import { resolveServerSettings } from '../ts/server/settings';
import { writeConfig } from './fixtures/server';

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
  [k: string]: unknown;
}

function sink(): { stream: Writable; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { stream, lines };
}

async function appWithLog(t: { teardown(fn: () => Promise<void>): void }, level: string) {
  const cfg = readLsmConfig(writeConfig());
  const instances = await openInstances(cfg, { dbOptions: { env: {}, envFile: false } });
  const settings = resolveServerSettings({ toml: cfg.server, explicit: { logLevel: 'silent' }, env: {}, envFile: false });
  const { stream, lines } = sink();
  const app = await buildApp(instances, settings, { logger: { level, stream } });
  t.teardown(async () => {
    await app.close();
    await instances.close();
  });
  return { app, lines };
}

test('at info: one request completed line per request, with its id, method, url, status and time', async (t) => {
  const { app, lines } = await appWithLog(t, 'info');
  lines.length = 0;
  const put = await app.inject({ method: 'POST', url: '/db/app/keys', payload: { key: 'k', value: { a: 1 } } });
  const got = await app.inject({ url: '/db/app/keys/k' });
  const missing = await app.inject({ url: '/db/app/keys/nope', headers: { 'x-request-id': 'client-id-1' } });
  t.deepEqual([put.statusCode, got.statusCode, missing.statusCode], [200, 200, 404]);
  t.false(lines.some((l) => l.msg === 'incoming request'));
  const done = lines.filter((l) => l.msg === 'request completed');
  t.is(done.length, 3);
  const expected: [string, string, number, string][] = [
    ['POST', '/db/app/keys', 200, String(put.headers['x-request-id'])],
    ['GET', '/db/app/keys/k', 200, String(got.headers['x-request-id'])],
    ['GET', '/db/app/keys/nope', 404, 'client-id-1'],
  ];
  for (const [i, [method, url, status, id]] of expected.entries()) {
    const l = done[i] as Line;
    t.is(l.level, 30);
    t.is(l.reqId, id);
    t.is(l.req?.method, method);
    t.is(l.req?.url, url);
    t.is(l.res?.statusCode, status);
    t.is(typeof l.responseTime, 'number');
  }
  // The 404's own line (the error handler's, at info) carries the same id.
  t.true(lines.some((l) => l.reqId === 'client-id-1' && l.code === 'STRATA_KEY_NOT_FOUND'));
});

test('at warn: no line per request; a 4xx logs nothing either', async (t) => {
  const { app, lines } = await appWithLog(t, 'warn');
  lines.length = 0;
  t.is((await app.inject({ url: '/health' })).statusCode, 200);
  t.is((await app.inject({ url: '/db/app/keys/nope' })).statusCode, 404);
  t.deepEqual(lines, []);
});

test('RequestLogger: the child is made on the first enabled line, and every line has the bindings', (t) => {
  const { stream, lines } = sink();
  const parent = pino({ level: 'warn' }, stream);
  let children = 0;
  const child = parent.child.bind(parent);
  (parent as unknown as { child: typeof child }).child = (b, o) => {
    children++;
    return child(b, o);
  };
  const log = new RequestLogger(parent, { reqId: 'r-1' });
  log.info({ a: 1 }, 'not written');
  log.debug('not written');
  t.is(children, 0);
  t.false(log.enabled('info'));
  t.true(log.enabled('warn'));
  t.is(log.level, 'warn');
  log.warn({ b: 2 }, 'written');
  log.error('also written');
  t.is(children, 1);
  t.deepEqual(
    lines.map((l) => [l.level, l.msg, l.reqId, l.b]),
    [
      [40, 'written', 'r-1', 2],
      [50, 'also written', 'r-1', undefined],
    ],
  );
  // A level set on it applies to its later lines.
  log.level = 'info';
  log.info('now written');
  t.is(lines.at(-1)?.msg, 'now written');
  t.is(lines.at(-1)?.reqId, 'r-1');
});
