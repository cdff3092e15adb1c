/** Bearer-token auth: every route but /health needs the token when one is configured. */
import test from 'ava';

import { tokenMatches } from '../ts/server/auth';
import { createHash } from 'node:crypto';
import { call, testApp } from './fixtures/server';

test('with a token: 401 without or with a wrong one, 200 with it; /health stays open', async (t) => {
  const a = await testApp({ authToken: 's3cret-token' });
  t.teardown(() => a.close());
  const ok = { authorization: 'Bearer s3cret-token' };
  t.is((await call(a.app, 'GET', '/health')).status, 200);
  for (const [method, url] of [
    ['GET', '/stats'],
    ['GET', '/keys'],
    ['GET', '/db/app/keys/x'],
    ['POST', '/admin/compact'],
    ['GET', '/features'],
    ['GET', '/openapi.json'],
    ['GET', '/docs/'],
    ['GET', '/no/such/route'],
  ] as const) {
    const none = await call(a.app, method, url);
    t.is(none.status, 401, `${method} ${url}`);
    t.is(none.body.error.code, 'STRATA_UNAUTHORIZED');
    t.is(none.headers['www-authenticate'], 'Bearer realm="stratadb"');
    for (const bad of ['Bearer wrong', 'Bearer s3cret-token2', 'Basic s3cret-token', 's3cret-token', 'Bearer ', 'Bearer s3cret-token extra']) {
      t.is((await call(a.app, method, url, undefined, { authorization: bad })).status, 401, `${url} with ${bad}`);
    }
  }
  t.is((await call(a.app, 'POST', '/keys', { key: 'k', value: { a: 1 } }, ok)).status, 200);
  t.is((await call(a.app, 'GET', '/keys/k', undefined, ok)).status, 200);
  t.is((await call(a.app, 'GET', '/openapi.json', undefined, ok)).status, 200);
  t.is((await call(a.app, 'GET', '/no/such/route', undefined, ok)).status, 404);
  t.is((await call(a.app, 'GET', '/keys', undefined, { authorization: 'bearer s3cret-token' })).status, 200, 'the scheme is case-insensitive');
  t.deepEqual((await call(a.app, 'GET', '/openapi.json', undefined, ok)).body.security, [{ bearer: [] }]);
});

test('without a token every route is open (loopback only: serve() refuses otherwise)', async (t) => {
  const a = await testApp();
  t.teardown(() => a.close());
  t.is((await call(a.app, 'GET', '/stats')).status, 200);
});

test('tokenMatches compares digests', (t) => {
  const d = createHash('sha256').update('abc').digest();
  t.true(tokenMatches('Bearer abc', d));
  t.false(tokenMatches('Bearer abd', d));
  t.false(tokenMatches(undefined, d));
  t.false(tokenMatches('', d));
});
