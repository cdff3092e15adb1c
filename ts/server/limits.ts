/**
 * Request limits beside the ones fastify enforces itself (body size, parameter length):
 * requests in flight (more get 429) and the time to answer (a request not answered within
 * `requestTimeoutMs` gets 503). Connections are capped on the socket (`maxConnections`).
 *
 * One `onRequest` hook does the counting (and sets `x-request-id`); deadlines are checked by
 * one sweep timer over the requests in flight, not by a timer per request. The requests in
 * flight are a doubly linked list in arrival order — which is deadline order, every request
 * having the same timeout and the deadlines read off a monotonic clock — whose node hangs on the request (a request decoration), so a request
 * costs one small object and a few pointer writes, no hashing: a `Map` keyed by request was
 * rehashed over and over as the count went up and down by the hundred (about 1 µs per request
 * in the server's CPU profile).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { toHttp, HttpError } from './errors';
import type { ServerSettings } from './settings';

/** A request in flight: a node of the list, from the oldest (`head`) to the newest. */
interface InFlight {
  req: FastifyRequest;
  reply: FastifyReply;
  deadline: number;
  prev: InFlight | undefined;
  next: InFlight | undefined;
}

/** The request decoration that holds its node while it is in flight. */
const NODE = Symbol('strata.inFlight');
type WithNode = { [NODE]: InFlight | null };

export function registerLimits(app: FastifyInstance, s: ServerSettings): void {
  let head: InFlight | undefined;
  let tail: InFlight | undefined;
  let count = 0;
  let sweeper: NodeJS.Timeout | undefined;

  const unlink = (n: InFlight): void => {
    if (n.prev === undefined) head = n.next;
    else n.prev.next = n.next;
    if (n.next === undefined) tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = n.next = undefined;
    (n.req as unknown as WithNode)[NODE] = null;
    count--;
  };

  const sweep = (): void => {
    const now = performance.now();
    // Oldest first: the deadlines rise along the list (performance.now() never steps back).
    while (head !== undefined && head.deadline <= now) {
      const { req, reply } = head;
      unlink(head);
      if (reply.sent) continue;
      const e = toHttp(new HttpError(503, 'STRATA_TIMEOUT', `no answer within request_timeout_ms (${s.requestTimeoutMs} ms)`, { 'retry-after': '1' }));
      req.log.warn({ timeoutMs: s.requestTimeoutMs }, 'request timed out');
      reply.code(e.status).headers(e.headers).send(e.body);
    }
    if (count === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const period = Math.max(5, Math.min(1000, Math.floor(s.requestTimeoutMs / 4)));

  app.decorateRequest(NODE, null);
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (count >= s.maxInFlight) {
      done(new HttpError(429, 'STRATA_TOO_MANY_REQUESTS', `more than ${s.maxInFlight} requests in flight (max_in_flight); retry later`, { 'retry-after': '1' }));
      return;
    }
    const n: InFlight = { req, reply, deadline: performance.now() + s.requestTimeoutMs, prev: tail, next: undefined };
    if (tail === undefined) head = n;
    else tail.next = n;
    tail = n;
    count++;
    (req as unknown as WithNode)[NODE] = n;
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, period);
      sweeper.unref();
    }
    done();
  });
  /** Takes a request off the list (once: a timed-out request is already off it). */
  const finished = (req: FastifyRequest): void => {
    const n = (req as unknown as WithNode)[NODE];
    if (n !== null && n !== undefined) unlink(n);
  };
  app.addHook('onResponse', (req, _reply, done) => {
    finished(req);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    finished(req);
    done();
  });
  app.addHook('onClose', (_app, done) => {
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
    done();
  });
}
