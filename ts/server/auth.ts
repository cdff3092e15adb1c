/**
 * Bearer-token authentication: when a token is configured, every route but `/health` (and the
 * console's static files) needs `Authorization: Bearer <token>`. The comparison is constant-time (over SHA-256 digests, so
 * the token's length does not leak either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

import { HttpError } from './errors';

// The console's static files (no data in them; its API calls carry the token): ./console.
const OPEN_ROUTES = new Set(['/health', '/console', '/console/', '/console/:file']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** True when `header` carries exactly the token. */
export function tokenMatches(header: string | undefined, expected: Buffer): boolean {
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const given = digest(m ? (m[1] as string) : '');
  return timingSafeEqual(given, expected) && m !== null;
}

/** Installs the check (nothing when `token` is undefined). */
export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  if (token === undefined) return;
  const expected = digest(token);
  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (req, _reply, done) => {
    if ((req.routeOptions.url !== undefined && OPEN_ROUTES.has(req.routeOptions.url)) || tokenMatches(req.headers.authorization, expected)) {
      done();
      return;
    }
    done(
      new HttpError(401, 'STRATA_UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)', {
        'www-authenticate': 'Bearer realm="stratadb"',
      }),
    );
  });
}
