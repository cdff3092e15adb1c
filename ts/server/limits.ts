/**
 * Request limits beside the ones fastify enforces itself (body size, parameter length):
 * requests in flight (more get 429) and the time to answer (a request not answered in
 * `requestTimeoutMs` gets 503). Connections are capped on the socket (`maxConnections`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { toHttp, HttpError } from './errors';
import type { ServerSettings } from './settings';

const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
const counted = new WeakSet<FastifyRequest>();

export function registerLimits(app: FastifyInstance, s: ServerSettings): void {
  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    if (inFlight >= s.maxInFlight) {
      throw new HttpError(429, 'STRATA_TOO_MANY_REQUESTS', `more than ${s.maxInFlight} requests in flight (max_in_flight); retry later`, { 'retry-after': '1' });
    }
    inFlight++;
    counted.add(req);
    const timer = setTimeout(() => {
      if (reply.sent) return;
      const e = toHttp(new HttpError(503, 'STRATA_TIMEOUT', `no answer within request_timeout_ms (${s.requestTimeoutMs} ms)`, { 'retry-after': '1' }));
      req.log.warn({ timeoutMs: s.requestTimeoutMs }, 'request timed out');
      reply.code(e.status).headers(e.headers).send(e.body);
    }, s.requestTimeoutMs);
    timer.unref();
    timers.set(req, timer);
  });
  const done = async (req: FastifyRequest): Promise<void> => {
    const t = timers.get(req);
    if (t !== undefined) {
      clearTimeout(t);
      timers.delete(req);
    }
    if (counted.delete(req)) inFlight--;
  };
  app.addHook('onResponse', done);
  app.addHook('onRequestAbort', done);
}
