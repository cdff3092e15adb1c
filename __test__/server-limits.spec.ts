/**
 * The limits of ts/server/limits.ts on a bare fastify app whose one route waits for the
 * test: requests past max_in_flight get 429, a request not answered in time gets 503.
 * Deterministic: the route answers only when the test lets it.
 */
import test from 'ava';
import Fastify from 'fastify';

import { StrataError } from '../ts/errors';
import { toHttp } from '../ts/server/errors';
import { registerLimits } from '../ts/server/limits';
import { SERVER_DEFAULTS } from '../ts/server/settings';

function appWith(settings: Partial<typeof SERVER_DEFAULTS>, gate: Promise<void>) {
  const app = Fastify({ logger: false });
  registerLimits(app, { ...SERVER_DEFAULTS, ...settings });
  app.setErrorHandler((err, _req, reply) => {
    const e = toHttp(err);
    return reply.code(e.status).headers(e.headers).send(e.body);
  });
  let arrived!: () => void;
  const first = new Promise<void>((r) => (arrived = r));
  app.get('/wait', async () => {
    arrived();
    await gate;
    return { ok: true };
  });
  return { app, first };
}

test('past max_in_flight requests get 429 with Retry-After; the count goes down again', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { app, first } = appWith({ maxInFlight: 1 }, gate);
  const a = app.inject({ url: '/wait' });
  await first;
  const b = await app.inject({ url: '/wait' });
  t.is(b.statusCode, 429);
  t.is(JSON.parse(b.body).error.code, 'STRATA_TOO_MANY_REQUESTS');
  t.is(b.headers['retry-after'], '1');
  open();
  t.is((await a).statusCode, 200);
  t.is((await app.inject({ url: '/wait' })).statusCode, 200);
  await app.close();
});

test('a request not answered within request_timeout_ms gets 503', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { app } = appWith({ requestTimeoutMs: 50 }, gate);
  const alive = setInterval(() => undefined, 1000); // inject opens no socket; the timer of limits.ts is unref'd
  const r = await app.inject({ url: '/wait' });
  clearInterval(alive);
  t.is(r.statusCode, 503);
  t.is(JSON.parse(r.body).error.code, 'STRATA_TIMEOUT');
  open();
  await app.close();
});

test('error mapping: Strata codes to statuses, unknown errors to a generic 500 without details', (t) => {
  t.is(toHttp(new StrataError('STRATA_INVALID_ARGUMENT', 'x')).status, 400);
  t.is(toHttp(new StrataError('STRATA_CONSTRAINT', 'x')).status, 409);
  t.is(toHttp(new StrataError('STRATA_CLOSED', 'x')).status, 503);
  t.is(toHttp(new StrataError('STRATA_INDEX_BUILDING', 'x')).status, 503);
  const internal = toHttp(new Error('secret stack details'));
  t.is(internal.status, 500);
  t.false(JSON.stringify(internal.body).includes('secret'));
  t.true(internal.internal);
});
