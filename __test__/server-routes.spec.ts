/**
 * Every route through `fastify.inject`: the seeds' endpoints on the default instance and
 * under /db/{instance}, the three codecs, paging with cursors, query/explain/count, indexes
 * with build progress, admin, and every error path (400/404/413/415, never a 500).
 */
import test from 'ava';
import { BSON } from 'bson';

import { call, testApp, TestApp } from './fixtures/server';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function withApp(t: { teardown(fn: () => Promise<void>): void }, settings = {}): Promise<TestApp> {
  const a = await testApp(settings);
  t.teardown(() => a.close());
  return a;
}

test('health and stats routes', async (t) => {
  const { app } = await withApp(t);
  t.deepEqual((await call(app, 'GET', '/health')).body, { status: 'ok', instances: 2 });
  const stats = await call(app, 'GET', '/stats');
  t.is(stats.status, 200);
  t.is(stats.body.instance, 'app');
  t.is(typeof stats.body.lastSequence, 'number');
  const log = await call(app, 'GET', '/db/log/stats');
  t.is(log.body.instance, 'log');
  t.is(log.body.codec, 'raw');
  const all = await call(app, 'GET', '/stats_all');
  t.deepEqual(Object.keys(all.body.instances), ['app', 'log']);
  for (const p of ['/stats/memory', '/db/log/stats/memory']) t.is(typeof (await call(app, 'GET', p)).body.memtableBytes, 'number');
  for (const p of ['/stats/disk', '/db/log/stats/disk']) t.is(typeof (await call(app, 'GET', p)).body.totalBytes, 'number');
  t.is((await call(app, 'GET', '/db/nope/stats')).status, 404);
});

test('bson codec: JSON in and out, Extended JSON for types JSON lacks, BSON on disk', async (t) => {
  const { app, instances } = await withApp(t);
  const value = { city: 'Porto', when: { $date: '2024-01-02T03:04:05.000Z' }, big: { $numberLong: '9007199254740993' }, n: 3 };
  t.is((await call(app, 'POST', '/keys', { key: 'u:1', value })).status, 200);
  const got = await call(app, 'GET', '/keys/u:1');
  t.is(got.status, 200);
  t.deepEqual(got.body, { key: 'u:1', value: { city: 'Porto', when: { $date: '2024-01-02T03:04:05Z' }, big: { $numberLong: '9007199254740993' }, n: 3 } });
  const raw = (await instances.get('app').db.get('u:1', { valueEncoding: 'buffer' })) as unknown as Buffer;
  const doc = BSON.deserialize(raw);
  t.true(doc.when instanceof Date);
  t.is((await call(app, 'POST', '/keys', { key: 'x', value: [1, 2] })).status, 400, 'bson values are objects');
  t.is((await call(app, 'POST', '/keys', { key: 'x', value: 'str' })).body.error.code, 'STRATA_BAD_REQUEST');
  t.is((await call(app, 'POST', '/keys', { key: 'x', value: { $date: 'not a date' } })).status, 400);
});

test('raw codec: base64 in and out; bad base64 is 400', async (t) => {
  const { app, instances } = await withApp(t);
  t.is((await call(app, 'POST', '/db/log/keys', { key: 'l1', value: b64('hello') })).status, 200);
  t.deepEqual((await call(app, 'GET', '/db/log/keys/l1')).body, { key: 'l1', value: b64('hello') });
  t.deepEqual(await instances.get('log').db.get('l1'), Buffer.from('hello'));
  const bad = await call(app, 'POST', '/db/log/keys', { key: 'l2', value: 'not base64!' });
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /base64/);
  t.is((await call(app, 'POST', '/db/log/keys', { key: 'l2', value: { a: 1 } })).status, 400);
});

test('json codec: any JSON value but null', async (t) => {
  const a = await testApp({}, '[[instance]]\nname = "j"\ndata_dir = "j"\ncodec = "json"\n', {});
  t.teardown(() => a.close());
  for (const value of [1, 'text', [1, { a: true }], { nested: { x: [null] } }, false]) {
    t.is((await call(a.app, 'POST', '/keys', { key: 'k', value })).status, 200);
    t.deepEqual((await call(a.app, 'GET', '/db/j/keys/k')).body.value, value);
  }
  t.is((await call(a.app, 'POST', '/keys', { key: 'k', value: null })).status, 400);
});

test('keys: get, put, delete, odd keys travel percent-encoded, missing is 404', async (t) => {
  const { app } = await withApp(t);
  const enc = encodeURIComponent;
  for (const key of ['a/b', 'ключ', 'sp ace', '%41', '...', 'q?x#y', '😀', 'a%2Fb']) {
    t.is((await call(app, 'POST', '/db/log/keys', { key, value: b64(key) })).status, 200, key);
    const got = await call(app, 'GET', `/db/log/keys/${enc(key)}`);
    t.deepEqual(got.body, { key, value: b64(key) }, key);
  }
  t.is((await call(app, 'DELETE', `/db/log/keys/${encodeURIComponent('a/b')}`)).status, 200);
  const gone = await call(app, 'GET', `/db/log/keys/${encodeURIComponent('a/b')}`);
  t.is(gone.status, 404);
  t.is(gone.body.error.code, 'STRATA_KEY_NOT_FOUND');
  t.is((await call(app, 'DELETE', '/db/log/keys/never')).status, 404);
  t.is((await call(app, 'GET', '/db/nope/keys/x')).body.error.code, 'STRATA_NOT_FOUND');
});

test('batch put and delete are atomic and bounded by max_batch', async (t) => {
  const { app } = await withApp(t, { maxBatch: 3 });
  const items = ['a', 'b', 'c'].map((k) => ({ key: k, value: b64(k) }));
  t.deepEqual((await call(app, 'POST', '/db/log/keys/batch', { items })).body, { ok: true, count: 3 });
  t.deepEqual((await call(app, 'GET', '/db/log/keys')).body.items, ['a', 'b', 'c']);
  const tooMany = await call(app, 'POST', '/db/log/keys/batch', { items: [...items, { key: 'd', value: '' }] });
  t.is(tooMany.status, 413);
  t.is(tooMany.body.error.code, 'STRATA_TOO_LARGE');
  const oneBad = await call(app, 'POST', '/db/log/keys/batch', { items: [{ key: 'e', value: b64('e') }, { key: 'f', value: '!!' }] });
  t.is(oneBad.status, 400);
  t.regex(oneBad.body.error.message, /items\[1\]\.value/);
  t.is((await call(app, 'GET', '/db/log/keys/e')).status, 404, 'nothing of a rejected batch is written');
  t.deepEqual((await call(app, 'DELETE', '/db/log/keys/batch', { keys: ['a', 'b'] })).body, { ok: true, count: 2 });
  t.deepEqual((await call(app, 'GET', '/db/log/keys')).body.items, ['c']);
  t.is((await call(app, 'DELETE', '/db/log/keys/batch', { keys: ['a', 'b', 'c', 'd'] })).status, 413);
  t.is((await call(app, 'POST', '/keys/batch', { items: [] })).status, 400);
});

test('GET /keys and /scan page with cursors over prefix/start/end ranges', async (t) => {
  const { app } = await withApp(t);
  const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  await call(app, 'POST', '/db/log/keys/batch', { items: [...keys.map((key) => ({ key, value: b64(key) })), { key: 'other', value: '' }] });
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/db/log/keys?prefix=k&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call(app, 'GET', url);
    t.is(r.status, 200);
    seen.push(...r.body.items);
    cursor = r.body.cursor;
    pages++;
  } while (cursor !== null);
  t.deepEqual(seen, keys);
  t.is(pages, 3);
  const range = await call(app, 'GET', '/db/log/keys?start=k05&end=k08');
  t.deepEqual(range.body.items, ['k05', 'k06', 'k07']);
  const scan = await call(app, 'GET', '/db/log/scan?prefix=k1&limit=3');
  t.deepEqual(scan.body.items.map((i: { key: string }) => i.key), ['k10', 'k11', 'k12']);
  t.is(scan.body.items[0].value, b64('k10'));
  const next = await call(app, 'GET', `/db/log/scan?prefix=k1&limit=100&cursor=${encodeURIComponent(scan.body.cursor)}`);
  t.deepEqual(next.body.items.map((i: { key: string }) => i.key), ['k13', 'k14', 'k15', 'k16', 'k17', 'k18', 'k19']);
  t.is(next.body.cursor, null);
  t.deepEqual((await call(app, 'GET', '/db/log/keys?start=z&end=a')).body, { items: [], cursor: null });
  for (const c of ['garbage', 'k1.***', 'k2.YQ', 'k1.a b']) {
    const r = await call(app, 'GET', `/db/log/keys?cursor=${encodeURIComponent(c)}`);
    t.is(r.status, 400, c);
  }
  t.is((await call(app, 'GET', '/db/log/keys?limit=0')).status, 400);
  t.is((await call(app, 'GET', '/db/log/keys?limit=100000')).status, 400);
  t.is((await call(app, 'GET', '/db/log/keys?limit=abc')).status, 400);
});

test('key search: prefix is a range read, substring a budgeted scan with a cursor', async (t) => {
  const { app } = await withApp(t, { scanBudget: 5 });
  const keys = ['apple', 'apricot', 'banana', 'grape', 'grapefruit', 'papaya', 'pineapple', 'zap'];
  await call(app, 'POST', '/db/log/keys/batch', { items: keys.map((key) => ({ key, value: '' })) });
  t.deepEqual((await call(app, 'GET', '/db/log/keys/search?q=ap')).body.items, ['apple', 'apricot']);
  t.deepEqual((await call(app, 'GET', '/db/log/keys/search/prefix?q=grape')).body.items, ['grape', 'grapefruit']);
  // Substring: 8 keys, a budget of 5 keys per page → two pages; every match exactly once.
  const found: string[] = [];
  let cursor: string | null = null;
  let partials = 0;
  do {
    const url: string = `/db/log/keys/search/substring?q=ap${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call(app, 'GET', url);
    t.true(r.body.scanned <= 5);
    if (r.body.partial) partials++;
    found.push(...r.body.items);
    cursor = r.body.cursor;
  } while (cursor !== null);
  t.deepEqual(found, ['apple', 'apricot', 'grape', 'grapefruit', 'papaya', 'pineapple', 'zap']);
  t.true(partials >= 1);
  const same = await call(app, 'GET', '/db/log/keys/search?q=ap&prefix=false&limit=2');
  t.deepEqual(same.body.items, ['apple', 'apricot']);
  t.is((await call(app, 'GET', '/db/log/keys/search')).status, 400, 'q is required');
  t.is((await call(app, 'GET', '/keys/search?q=')).status, 400);
});

test('index queries, count and explain on the bson instance; query = false answers a clear 400', async (t) => {
  const { app } = await withApp(t);
  const people = Array.from({ length: 30 }, (_, i) => ({ key: `p:${String(i).padStart(2, '0')}`, value: { city: i % 3 === 0 ? 'Porto' : 'Lisboa', age: 20 + i } }));
  await call(app, 'POST', '/db/app/keys/batch', { items: people });
  const q = { and: [{ index: 'city', eq: 'Porto' }, { index: 'age', gte: 30 }] };
  const want = people.filter((p) => p.value.city === 'Porto' && p.value.age >= 30).map((p) => p.key);
  const got: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await call(app, 'POST', '/db/app/query', { query: q, limit: 2, cursor });
    t.is(r.status, 200);
    for (const it of r.body.items) {
      got.push(it.key);
      t.is(it.value.city, 'Porto');
    }
    cursor = r.body.cursor;
  } while (cursor !== null);
  t.deepEqual(got, want);
  const keysOnly = await call(app, 'POST', '/db/app/query', { query: { index: 'city', eq: 'Lisboa' }, values: false, limit: 1 });
  t.deepEqual(Object.keys(keysOnly.body.items[0]), ['key']);
  const bounded = await call(app, 'POST', '/db/app/query', { query: { index: 'age', gte: 0 }, max_postings_scanned: 3, limit: 100 });
  t.is(bounded.body.partial, 'maxPostingsScanned');
  t.truthy(bounded.body.cursor);
  t.is((await call(app, 'POST', '/db/app/query', { query: { index: 'age', gte: 0 }, timeout: 5000 })).body.items.length, 30);
  t.deepEqual((await call(app, 'POST', '/db/app/count', { query: q })).body, { count: want.length });
  t.is(typeof (await call(app, 'POST', '/db/app/count', { query: q, estimate: true })).body.estimate, 'number');
  const ex = await call(app, 'POST', '/db/app/explain', { query: q });
  t.is(ex.status, 200);
  t.is(ex.body.actual.count, want.length);
  t.is((await call(app, 'POST', '/db/app/explain', { query: q, analyze: false })).body.actual, undefined);

  const noIndex = await call(app, 'POST', '/db/app/query', { query: { index: 'nope', eq: 1 } });
  t.is(noIndex.status, 400);
  t.is(noIndex.body.error.code, 'STRATA_NO_INDEX');
  const badQ = await call(app, 'POST', '/db/app/query', { query: { what: 1 } });
  t.is(badQ.status, 400);
  t.is(badQ.body.error.code, 'STRATA_INVALID_ARGUMENT');
  t.is((await call(app, 'POST', '/db/app/query', { query: { index: 'city', eq: 'x' }, cursor: 'forged' })).status, 400);
  t.is((await call(app, 'POST', '/db/app/query', { query: q, extra: 1 })).status, 400);
  let deep: unknown = { index: 'city', eq: 'x' };
  for (let i = 0; i < 200; i++) deep = { and: [deep, { index: 'city', eq: 'y' }] };
  t.is((await call(app, 'POST', '/db/app/query', { query: deep })).status, 400);
  for (const path of ['/db/log/query', '/db/log/count', '/db/log/explain']) {
    const off = await call(app, 'POST', path, { query: { index: 'city', eq: 'x' } });
    t.is(off.status, 400, path);
    t.regex(off.body.error.message, /query = false/);
  }
  t.is((await call(app, 'GET', '/db/log/indexes')).status, 400);
  t.is((await call(app, 'POST', '/db/nope/query', { query: { index: 'city', eq: 'x' } })).status, 404);
});

test('indexes: create (202, then ready), show progress, rebuild, drop; errors', async (t) => {
  const { app } = await withApp(t);
  await call(app, 'POST', '/db/app/keys/batch', { items: Array.from({ length: 50 }, (_, i) => ({ key: `r${i}`, value: { tag: `t${i % 5}` } })) });
  const def = { name: 'tag', type: 'equality', extractor: { kind: 'bson_path', path: '$.tag' } };
  const created = await call(app, 'POST', '/db/app/indexes', def);
  t.true(created.status === 202 || created.status === 200);
  t.is(created.body.name, 'tag');
  const ready = await call(app, 'POST', '/db/app/indexes?wait=true', def);
  t.is(ready.status, 200, 'the same definition again is a no-op; wait answers once ready');
  t.is(ready.body.state, 'ready');
  const shown = await call(app, 'GET', '/db/app/indexes/tag');
  t.is(shown.body.state, 'ready');
  t.is(shown.body.progress.processed, 50);
  t.deepEqual((await call(app, 'GET', '/db/app/indexes')).body.items.map((i: { name: string }) => i.name).sort(), ['age', 'city', 'tag']);
  t.is((await call(app, 'POST', '/db/app/query', { query: { index: 'tag', eq: 't1' } })).body.items.length, 10);
  const rebuilt = await call(app, 'POST', '/db/app/indexes/tag/rebuild?wait=true');
  t.is(rebuilt.status, 200);
  t.is(rebuilt.body.state, 'ready');
  t.is(rebuilt.body.progress.processed, 50);
  const other = await call(app, 'POST', '/db/app/indexes', { ...def, type: 'range' });
  t.is(other.status, 400, 'same name, another definition');
  t.is((await call(app, 'POST', '/db/app/indexes', { name: 'bad name!', type: 'equality', extractor: { kind: 'raw' } })).status, 400);
  t.is((await call(app, 'POST', '/db/app/indexes', { name: 'x', type: 'fuzzy', extractor: { kind: 'raw' } })).status, 400);
  t.is((await call(app, 'POST', '/db/app/indexes', { name: 'x', type: 'equality', extractor: { kind: 'custom', name: 'f' } })).status, 400);
  const uniq = await call(app, 'POST', '/db/app/indexes?wait=true', { name: 'u', type: 'equality', unique: true, extractor: { kind: 'bson_path', path: '$.tag' } });
  t.true(uniq.status === 409, `a unique build over shared terms fails: ${uniq.status} ${JSON.stringify(uniq.body)}`);
  t.is((await call(app, 'DELETE', '/db/app/indexes/tag')).status, 200);
  t.is((await call(app, 'DELETE', '/db/app/indexes/tag')).status, 404);
  t.is((await call(app, 'GET', '/db/app/indexes/tag')).status, 404);
  t.is((await call(app, 'POST', '/db/app/indexes/tag/rebuild')).status, 404);
});

test('admin: compact, verify, compaction status, instances', async (t) => {
  const { app } = await withApp(t);
  await call(app, 'POST', '/keys', { key: 'a', value: { city: 'x' } });
  t.deepEqual((await call(app, 'POST', '/admin/compact?instance=log')).body, { compacted: ['log'] });
  t.deepEqual((await call(app, 'POST', '/admin/compact')).body, { compacted: ['app', 'log'] });
  const v = await call(app, 'POST', '/admin/verify');
  t.true(v.body.ok);
  t.deepEqual(Object.keys(v.body.instances), ['app', 'log']);
  t.true((await call(app, 'POST', '/admin/verify?instance=app')).body.instances.app.ok);
  const st = await call(app, 'GET', '/admin/compaction/status?instance=app');
  t.false(st.body.instances.app.running);
  t.is(typeof st.body.instances.app.compactions, 'number');
  t.is((await call(app, 'GET', '/admin/compaction/status?instance=zz')).status, 404);
  t.is((await call(app, 'POST', '/admin/compact?instance=../x')).status, 400);
  const inst = await call(app, 'GET', '/admin/instances');
  t.deepEqual(inst.body, {
    default: 'app',
    items: [
      { name: 'app', codec: 'bson', query: true, status: 'open' },
      { name: 'log', codec: 'raw', query: false, status: 'open' },
    ],
  });
});

test('limits and malformed input: 413 for body, key and value size, 400 for bad JSON, 415 for other types, JSON 404 for unknown routes', async (t) => {
  const { app } = await withApp(t, { bodyLimit: 4096, maxKeySize: 16, maxValueSize: 64 });
  const big = await call(app, 'POST', '/db/log/keys', { key: 'k', value: b64('x'.repeat(5000)) });
  t.is(big.status, 413);
  t.is(big.body.error.code, 'STRATA_TOO_LARGE');
  t.is((await call(app, 'POST', '/db/log/keys', { key: 'k'.repeat(17), value: '' })).status, 413);
  t.is((await call(app, 'GET', `/db/log/keys/${'k'.repeat(17)}`)).status, 413);
  const longParam = await call(app, 'GET', `/db/log/keys/${'k'.repeat(100)}`);
  t.is(longParam.status, 413, 'a path parameter longer than the router takes');
  t.is(longParam.body.error.code, 'STRATA_TOO_LARGE');
  const badUrl = await call(app, 'GET', '/keys/%E0%A4%A');
  t.is(badUrl.status, 400);
  t.is(badUrl.body.error.code, 'STRATA_BAD_REQUEST');
  t.is((await call(app, 'POST', '/db/log/keys', { key: 'k', value: b64('x'.repeat(65)) })).status, 413);
  t.is((await call(app, 'POST', '/db/log/keys', { key: 'k', value: b64('x'.repeat(64)) })).status, 200);
  t.is((await call(app, 'POST', '/keys', { key: 'k', value: { s: 'x'.repeat(100) } })).status, 413);
  const badJson = await app.inject({ method: 'POST', url: '/keys', headers: { 'content-type': 'application/json' }, payload: '{"key": ' });
  t.is(badJson.statusCode, 400);
  t.deepEqual(Object.keys(JSON.parse(badJson.body)), ['error']);
  const text = await app.inject({ method: 'POST', url: '/keys', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
  t.is(text.statusCode, 415);
  const plain = await app.inject({ method: 'POST', url: '/keys', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
  t.is(plain.statusCode, 400, 'text is parsed, then fails the body schema');
  t.is((await call(app, 'POST', '/keys', { key: '', value: {} })).status, 400);
  t.is((await call(app, 'POST', '/keys', { key: 1, value: {} })).status, 400);
  t.is((await call(app, 'POST', '/keys', { key: 'a', value: {}, extra: true })).status, 400);
  t.is((await call(app, 'POST', '/keys', { value: {} })).status, 400);
  t.is((await call(app, 'POST', '/keys', { key: '\ud800', value: {} })).status, 400);
  t.is((await call(app, 'POST', '/keys', { key: 'user:1\udfff', value: {} })).status, 400);
  t.is((await call(app, 'POST', '/keys', { key: 'user:1\ud83d\ude00', value: {} })).status, 200);
  const nf = await call(app, 'GET', '/nope');
  t.is(nf.status, 404);
  t.is(nf.body.error.code, 'STRATA_NOT_FOUND');
  t.is((await call(app, 'PUT', '/keys')).status, 404);
  let deep = '1';
  for (let i = 0; i < 5000; i++) deep = `{"a":${deep}}`;
  const nested = await app.inject({ method: 'POST', url: '/db/log/keys', headers: { 'content-type': 'application/json' }, payload: `{"key":"k","value":${deep}}` });
  t.true(nested.statusCode === 400 || nested.statusCode === 413, String(nested.statusCode));
});

test('values nested too deep to store are 400, not 500', async (t) => {
  const a = await testApp({ bodyLimit: 1024 * 1024, maxValueSize: 1024 * 1024 }, '[[instance]]\nname = "j"\ndata_dir = "j"\ncodec = "json"\n[[instance]]\nname = "b"\ndata_dir = "b"\ncodec = "bson"\n', {});
  t.teardown(() => a.close());
  let deep = '1';
  for (let i = 0; i < 20000; i++) deep = `{"a":${deep}}`;
  for (const url of ['/db/j/keys', '/db/b/keys']) {
    const r = await a.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: `{"key":"k","value":${deep}}` });
    t.is(r.statusCode, 400, `${url}: ${r.body.slice(0, 200)}`);
  }
});

test('every response carries a request id; a given x-request-id is kept', async (t) => {
  const { app } = await withApp(t);
  const r = await app.inject({ url: '/health', headers: { 'x-request-id': 'abc-123' } });
  t.is(r.headers['x-request-id'], 'abc-123');
  // Generated ids: this process's random prefix and a counter, distinct per request (404s too).
  const ids = [];
  for (const url of ['/nope', '/health', '/nope']) ids.push(String((await app.inject({ url })).headers['x-request-id']));
  for (const id of ids) t.regex(id, /^[0-9a-f]{8}-[0-9a-z]+$/);
  t.is(new Set(ids).size, 3);
  t.is(new Set(ids.map((id) => id.split('-')[0])).size, 1);
});

test('/openapi.json lists every route with its schemas; /docs serves the UI', async (t) => {
  const { app } = await withApp(t);
  const spec = (await call(app, 'GET', '/openapi.json')).body;
  t.is(spec.openapi, '3.0.3');
  const paths = Object.keys(spec.paths);
  for (const p of [
    '/health', '/stats', '/stats_all', '/stats/memory', '/stats/disk', '/keys', '/keys/{key}', '/keys/batch', '/keys/search',
    '/keys/search/prefix', '/keys/search/substring', '/scan', '/db/{instance}/keys', '/db/{instance}/keys/{key}', '/db/{instance}/query',
    '/db/{instance}/explain', '/db/{instance}/indexes', '/db/{instance}/indexes/{name}', '/db/{instance}/indexes/{name}/rebuild',
    '/db/{instance}/stats', '/admin/compact', '/admin/verify', '/admin/compaction/status', '/features', '/features/{id}',
  ]) {
    t.true(paths.includes(p), p);
  }
  t.truthy(spec.paths['/db/{instance}/keys/{key}'].get.parameters.find((p: { name: string }) => p.name === 'instance'));
  t.truthy(spec.paths['/keys'].post.requestBody);
  const docs = await app.inject({ url: '/docs/' });
  t.is(docs.statusCode, 200);
  t.regex(docs.body, /swagger/i);
});
