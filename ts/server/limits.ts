/**
 * Request limits beside the ones fastify enforces itself (body size, parameter length):
 * requests in flight (more get 429) and the time to answer (a request not answered within
 * `requestTimeoutMs` gets 503). Connections are capped on the socket (`maxConnections`).
 *
 * One `onRequest` hook does the counting (and sets `x-request-id`); deadlines are checked by
 * one sweep timer over the requests in flight, not by a timer per request, so the cost per
 * request is a map insert and delete.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { toHttp, HttpError } from './errors';
import type { ServerSettings } from './settings';

export function registerLimits(app: FastifyInstance, s: ServerSettings): void {
  const inFlight = new Map<FastifyRequest, { reply: FastifyReply; deadline: number }>();
  let sweeper: NodeJS.Timeout | undefined;

  const sweep = (): void => {
    const now = Date.now();
    for (const [req, { reply, deadline }] of inFlight) {
      if (deadline > now) continue;
      inFlight.delete(req);
      if (reply.sent) continue;
      const e = toHttp(new HttpError(503, 'STRATA_TIMEOUT', `no answer within request_timeout_ms (${s.requestTimeoutMs} ms)`, { 'retry-after': '1' }));
      req.log.warn({ timeoutMs: s.requestTimeoutMs }, 'request timed out');
      reply.code(e.status).headers(e.headers).send(e.body);
    }
    if (inFlight.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const period = Math.max(5, Math.min(1000, Math.floor(s.requestTimeoutMs / 4)));

  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (inFlight.size >= s.maxInFlight) {
      done(new HttpError(429, 'STRATA_TOO_MANY_REQUESTS', `more than ${s.maxInFlight} requests in flight (max_in_flight); retry later`, { 'retry-after': '1' }));
      return;
    }
    inFlight.set(req, { reply, deadline: Date.now() + s.requestTimeoutMs });
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, period);
      sweeper.unref();
    }
    done();
  });
  const finished = (req: FastifyRequest, _reply: unknown, done: () => void): void => {
    inFlight.delete(req);
    done();
  };
  app.addHook('onResponse', finished);
  app.addHook('onRequestAbort', (req, done) => {
    inFlight.delete(req);
    done();
  });
  app.addHook('onClose', (_app, done) => {
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
    done();
  });
}
