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

test('the in-flight count follows requests that finish out of order, time out or are aborted', async (t) => {
  const app = Fastify({ logger: false });
  registerLimits(app, { ...SERVER_DEFAULTS, maxInFlight: 3, requestTimeoutMs: 200 });
  app.setErrorHandler((err, _req, reply) => {
    const e = toHttp(err);
    return reply.code(e.status).headers(e.headers).send(e.body);
  });
  const gates = new Map<string, () => void>();
  const arrived = new Map<string, () => void>();
  const arrival = (id: string): Promise<void> => new Promise<void>((r) => arrived.set(id, r));
  app.get('/wait/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    arrived.get(id)?.();
    await new Promise<void>((r) => gates.set(id, r));
    return { id };
  });
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const start = (id: string) => {
    const here = arrival(id);
    const r = app.inject({ url: `/wait/${id}` });
    return { r, here };
  };
  const a = start('a');
  const b = start('b');
  const c = start('c');
  await Promise.all([a.here, b.here, c.here]);
  t.is((await app.inject({ url: '/wait/x' })).statusCode, 429, 'three in flight');
  gates.get('b')?.(); // the middle one finishes first
  t.is((await b.r).statusCode, 200);
  const d = start('d');
  await d.here;
  t.is((await app.inject({ url: '/wait/y' })).statusCode, 429, 'a, c, d in flight');
  gates.get('a')?.();
  gates.get('d')?.();
  t.deepEqual([(await a.r).statusCode, (await d.r).statusCode], [200, 200]);
  // c is never answered: it times out (503), and its slot comes back.
  t.is((await c.r).statusCode, 503);
  gates.get('c')?.();
  // An aborted request gives its slot back at once, though its handler still waits.
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const { connect } = await import('node:net');
  for (const id of ['p', 'q', 'r']) {
    const here = arrival(id);
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET /wait/${id} HTTP/1.1\r\nHost: x\r\n\r\n`));
    await here;
    sock.destroy();
  }
  await new Promise((r) => setTimeout(r, 50));
  // Exactly max_in_flight fit again: the count is back to 0 (a leak would 429 one of e, f, g;
  // a slot given back twice would let a fourth in).
  const full = async (ids: string[], what: string): Promise<void> => {
    const outcome = ({ here, r }: ReturnType<typeof start>): Promise<string | number> => Promise.race([here.then(() => 'arrived'), r.then((res) => res.statusCode)]);
    const rs = ids.map(start);
    t.deepEqual(await Promise.all(rs.map(outcome)), ['arrived', 'arrived', 'arrived'], what);
    const extra = start(`${ids[0]}+`);
    t.is(await outcome(extra), 429, `${what}: and no more`);
    for (const id of ids) gates.get(id)?.();
    t.deepEqual(await Promise.all(rs.map(async ({ r }) => (await r).statusCode)), [200, 200, 200]);
  };
  await full(['e', 'f', 'g'], 'the three aborted requests hold no slot, though their handlers still run');
  // The aborted requests' handlers finish (on closed sockets), c's long after its 503: nothing is given back twice.
  for (const id of ['p', 'q', 'r']) gates.get(id)?.();
  await new Promise((r) => setTimeout(r, 50));
  await full(['h', 'i', 'j'], 'after the late finishes');
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
