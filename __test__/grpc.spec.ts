/**
 * The gRPC service (ts/server/grpc) through a real @grpc/grpc-js client over loopback:
 * every RPC on raw, json and bson instances, every error path (bad fields, unknown
 * instance, missing or building index, unique violations, limits, tokens), Scan with a
 * slow and a cancelling client, and the `.proto` the server loads.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import test from 'ava';
import { BSON, Binary, EJSON, Long, ObjectId } from 'bson';

import { Db, StrataError } from '../ts/index';
import { GrpcEvent, GrpcServer, LOADER_OPTIONS, PROTO_PATH, SERVICE_NAME, isLoopback, loadService, startGrpc } from '../ts/server/grpc';
import { unary, Auth, DEFAULT_LIMITS, Context } from '../ts/server/grpc/context';
import { toFailure } from '../ts/server/grpc/errors';
import { serve } from '../ts/server';
import { expectCode, fresh, tmpPath } from './helpers';

const ROOT = path.join(__dirname, '..');
const SHIPPED_PROTO = path.join(ROOT, 'proto', 'stratadb.proto');

// ---- a client -----------------------------------------------------------------------------

// Responses are plain objects decoded by proto-loader; the tests read the fields they check.
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

type UnaryFn = (req: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Msg) => void) => grpc.ClientUnaryCall;
type StreamFn = (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<Msg>;

/** A client built from the shipped `.proto` (not from the server's module). */
function clientFor(port: number): grpc.Client & Record<string, UnaryFn | StreamFn> {
  const def = protoLoader.loadSync(SHIPPED_PROTO, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stratadb: { v1: { Strata: grpc.ServiceClientConstructor } } };
  return new pkg.stratadb.v1.Strata(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, UnaryFn | StreamFn>;
}

interface Conn {
  client: grpc.Client & Record<string, UnaryFn | StreamFn>;
  call(method: string, req?: object, token?: string): Promise<Msg>;
  stream(method: string, req?: object, token?: string): grpc.ClientReadableStream<Msg>;
}

function meta(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return md;
}

function connect(port: number, defaultToken?: string): Conn {
  const client = clientFor(port);
  return {
    client,
    call: (method, req = {}, token = defaultToken) =>
      new Promise((resolve, reject) => {
        (client[method] as UnaryFn).call(client, req, meta(token), (e, r) => (e ? reject(e) : resolve(r)));
      }),
    stream: (method, req = {}, token = defaultToken) => (client[method] as StreamFn).call(client, req, meta(token)),
  };
}

/** Asserts that `p` fails with gRPC `status` and `strata-code` `code` (never UNKNOWN/INTERNAL); returns the error. */
async function fails(p: Promise<unknown>, status: grpc.status, code: string | undefined): Promise<grpc.ServiceError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected status ${grpc.status[status]}, the call succeeded`);
  const e = caught as grpc.ServiceError;
  const got = e.metadata?.get('strata-code')[0];
  if (e.code !== status || got !== code) {
    throw new Error(`expected ${grpc.status[status]} / ${String(code)}, got ${grpc.status[e.code]} / ${String(got)}: ${e.details}`);
  }
  if (e.details.includes('    at ')) throw new Error(`a stack trace was sent: ${e.details}`);
  return e;
}

/** Reads a stream to its end. */
function readAll(s: grpc.ClientReadableStream<Msg>): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const out: Msg[] = [];
    s.on('data', (m: Msg) => out.push(m));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

// ---- the shared server: raw, json and bson instances ------------------------------------

interface Fixture {
  raw: Db;
  json: Db;
  bson: Db;
  server: GrpcServer;
  events: GrpcEvent[];
  c: Conn;
}

let fx: Fixture;

test.before(async () => {
  const raw = await fresh();
  const json = await fresh({
    valueEncoding: 'json',
    indexes: [
      { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
      { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
      { name: 'email', type: 'equality', unique: true, sparse: true, extractor: { kind: 'json_path', path: '$.email' } },
    ],
  });
  const bson = await fresh({ valueEncoding: 'bson' });
  for (const name of ['users', 'accounts']) {
    await bson.collection(name, { indexes: [{ field: 'age', type: 'range' }, { field: 'email', unique: true, sparse: true }, { field: 'city' }] });
  }
  const events: GrpcEvent[] = [];
  const server = await startGrpc(new Map<string, Db>([['log', raw], ['app', json], ['docs', bson]]), { port: 0, onEvent: (e) => events.push(e) });
  fx = { raw, json, bson, server, events, c: connect(server.port) };
});

test.after.always(async () => {
  fx.c.client.close();
  await fx.server.close();
  await Promise.all([fx.raw.close(), fx.json.close(), fx.bson.close()]);
});

// ---- the .proto ---------------------------------------------------------------------------

test('the server loads the .proto shipped in proto/, and package.json ships it', (t) => {
  t.is(PROTO_PATH, SHIPPED_PROTO);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[]; dependencies: Record<string, string> };
  t.true(pkg.files.includes('proto'));
  t.regex(pkg.dependencies['@grpc/grpc-js'] ?? '', /^\d+\.\d+\.\d+$/);
  t.regex(pkg.dependencies['@grpc/proto-loader'] ?? '', /^\d+\.\d+\.\d+$/);
  const text = fs.readFileSync(SHIPPED_PROTO, 'utf8');
  t.regex(text, /^package stratadb\.v1;$/m);
  const rpcs = [...text.matchAll(/^\s*rpc (\w+)\(/gm)].map((m) => m[1]).sort();
  t.deepEqual(Object.keys(loadService()).sort(), rpcs);
  t.deepEqual(
    rpcs,
    [
      'Batch', 'Count', 'CountDocuments', 'DeclareCollectionIndexes', 'Delete', 'DeleteMany', 'DeleteOne', 'Explain', 'Find', 'FindById',
      'Get', 'Health', 'InsertMany', 'InsertOne', 'ListCollectionIndexes', 'Put', 'Query', 'ReplaceOne', 'Scan', 'UpdateOne',
    ].sort(),
  );
  t.is(SERVICE_NAME, 'stratadb.v1.Strata');
});

test('Health answers ok; the service the server runs is the one in the file', async (t) => {
  t.deepEqual(await fx.c.call('Health'), { status: 'ok' });
});

// ---- raw instances ------------------------------------------------------------------------

test('raw: Put / Get / Delete with binary keys and values; the first instance is the default', async (t) => {
  const key = Buffer.from([0x00, 0xfe, 0x01, 0xff]);
  const value = Buffer.from([0xc3, 0x28, 0x00, 0x01]);
  await fx.c.call('Put', { instance: 'log', key, value: { bytes: value } });
  t.deepEqual(await fx.raw.get<Buffer>(key, { keyEncoding: 'buffer', valueEncoding: 'buffer' }), value);
  const got = await fx.c.call('Get', { key }); // no instance: the first ('log')
  t.true(got.found);
  t.deepEqual(got.value.bytes, value);
  t.is(got.value.kind, 'bytes');
  t.deepEqual(await fx.c.call('Get', { instance: 'log', key, format: 'VALUE_FORMAT_BYTES' }), got);
  await fx.c.call('Delete', { instance: 'log', key, sync: true });
  t.deepEqual(await fx.c.call('Get', { instance: 'log', key }), { found: false, value: null });
  t.is(await fx.raw.get(key, { keyEncoding: 'buffer' }), undefined);
});

test('raw: JSON text is refused both ways; bad keys and fields are INVALID_ARGUMENT', async (t) => {
  await fx.raw.put('k', 'v');
  await fails(fx.c.call('Put', { instance: 'log', key: b('x'), value: { json: '1' } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Get', { instance: 'log', key: b('k'), format: 'VALUE_FORMAT_JSON' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  // The empty key is a key like any other (one rule for Db, StrataLevel and the engine).
  await fx.c.call('Put', { instance: 'log', key: Buffer.alloc(0), value: { bytes: b('empty') } });
  t.is(await fx.raw.get(Buffer.alloc(0), { keyEncoding: 'buffer' }), 'empty');
  await fx.raw.del(Buffer.alloc(0), { keyEncoding: 'buffer' });
  await fails(fx.c.call('Put', { instance: 'log', key: b('x') }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  // A format number the .proto does not define.
  await fails(fx.c.call('Get', { instance: 'log', key: b('k'), format: 99 }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  // The system keyspace is out of reach.
  await fails(fx.c.call('Put', { instance: 'log', key: Buffer.alloc(9, 0xff), value: { bytes: b('v') } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.is(await fx.raw.get('x'), undefined);
});

test('an unknown instance is NOT_FOUND (names never reach the file system)', async (t) => {
  const e = await fails(fx.c.call('Get', { instance: 'nope', key: b('k') }), grpc.status.NOT_FOUND, 'STRATA_NOT_FOUND');
  t.regex(e.details, /no instance named "nope"/);
  await fails(fx.c.call('Put', { instance: '../etc', key: b('k'), value: { bytes: b('v') } }), grpc.status.NOT_FOUND, 'STRATA_NOT_FOUND');
  await fails(fx.c.call('Get', { instance: '__proto__', key: b('k') }), grpc.status.NOT_FOUND, 'STRATA_NOT_FOUND');
  await fails(readAll(fx.c.stream('Scan', { instance: 'nope' })), grpc.status.NOT_FOUND, 'STRATA_NOT_FOUND');
});

test('a request that is not a valid protobuf message is INVALID_ARGUMENT, not INTERNAL', async (t) => {
  const raw = new grpc.Client(`127.0.0.1:${fx.server.port}`, grpc.credentials.createInsecure());
  const id = (x: Buffer): Buffer => x;
  const garbage = Buffer.from([0x12, 0xff]); // field 2 (key), a length varint cut short
  try {
    const e = await fails(
      new Promise((resolve, reject) => raw.makeUnaryRequest('/stratadb.v1.Strata/Get', id, id, garbage, (err, r) => (err ? reject(err) : resolve(r)))),
      grpc.status.INVALID_ARGUMENT,
      'STRATA_INVALID_ARGUMENT',
    );
    t.regex(e.details, /not a valid protobuf message/);
    await fails(
      new Promise((resolve, reject) => {
        const s = raw.makeServerStreamRequest('/stratadb.v1.Strata/Scan', id, id, garbage);
        s.on('data', () => undefined);
        s.on('error', reject);
        s.on('end', resolve);
      }),
      grpc.status.INVALID_ARGUMENT,
      'STRATA_INVALID_ARGUMENT',
    );
    t.is((await fx.c.call('Health')).status, 'ok');
  } finally {
    raw.close();
  }
});

// ---- json instances -----------------------------------------------------------------------

test('json: JSON text in and out, stored as the json encoding; bytes must be JSON', async (t) => {
  await fx.c.call('Put', { instance: 'app', key: b('j:1'), value: { json: ' {"name": "ann", "tags": ["a"], "n": 1.5} ' } });
  t.deepEqual(await fx.json.get('j:1'), { name: 'ann', tags: ['a'], n: 1.5 });
  const got = await fx.c.call('Get', { instance: 'app', key: b('j:1') });
  t.is(got.value.kind, 'json');
  t.deepEqual(JSON.parse(got.value.json as string), { name: 'ann', tags: ['a'], n: 1.5 });
  const bytes = await fx.c.call('Get', { instance: 'app', key: b('j:1'), format: 'VALUE_FORMAT_BYTES' });
  t.deepEqual(bytes.value.bytes, b('{"name":"ann","tags":["a"],"n":1.5}'));
  await fx.c.call('Put', { instance: 'app', key: b('j:2'), value: { bytes: b('[1,2]') } });
  t.deepEqual(await fx.json.get('j:2'), [1, 2]);
  await fails(fx.c.call('Put', { instance: 'app', key: b('j:3'), value: { json: '{bad' } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Put', { instance: 'app', key: b('j:3'), value: { bytes: b('not json') } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Put', { instance: 'app', key: b('j:3'), value: { bytes: Buffer.from([0xff, 0xfe]) } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.is(await fx.json.get('j:3'), undefined);
});

test('json: a unique index violation is ABORTED / STRATA_CONSTRAINT and writes nothing', async (t) => {
  await fx.c.call('Put', { instance: 'app', key: b('u:1'), value: { json: '{"email":"a@x"}' } });
  await fails(fx.c.call('Put', { instance: 'app', key: b('u:2'), value: { json: '{"email":"a@x"}' } }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  t.is(await fx.json.get('u:2'), undefined);
  await fails(
    fx.c.call('Batch', { instance: 'app', operations: [{ type: 'PUT', key: b('u:3'), value: { json: '{}' } }, { type: 'PUT', key: b('u:4'), value: { json: '{"email":"a@x"}' } }] }),
    grpc.status.ABORTED,
    'STRATA_CONSTRAINT',
  );
  t.is(await fx.json.get('u:3'), undefined);
});

// ---- bson instances -----------------------------------------------------------------------

test('bson: Extended JSON in, relaxed Extended JSON out (int64 kept exact), canonical and bytes round trips', async (t) => {
  const oid = new ObjectId();
  const text = JSON.stringify({
    _id: { $oid: oid.toHexString() },
    at: { $date: '2024-01-02T03:04:05.678Z' },
    big: { $numberLong: '9007199254740993' },
    small: 5,
    half: 0.5,
    bin: { $binary: { base64: 'AAEC', subType: '00' } },
    nested: { list: [1, 'two', null] },
  });
  await fx.c.call('Put', { instance: 'docs', key: b('d:1'), value: { json: text } });
  const stored = await fx.bson.get<Record<string, unknown>>('d:1');
  t.true(stored?._id instanceof ObjectId);
  t.true(stored?.at instanceof Date);
  t.true(stored?.big instanceof Long);
  t.is((stored?.big as Long).toString(), '9007199254740993');

  const relaxed = (await fx.c.call('Get', { instance: 'docs', key: b('d:1') })).value.json as string;
  const r = JSON.parse(relaxed) as Record<string, unknown>;
  t.deepEqual(r._id, { $oid: oid.toHexString() });
  t.deepEqual(r.big, { $numberLong: '9007199254740993' });
  t.is(r.small, 5);
  t.is(r.half, 0.5);
  t.deepEqual(r.nested, { list: [1, 'two', null] });
  t.deepEqual(r.at, { $date: '2024-01-02T03:04:05.678Z' });

  // Canonical Extended JSON keeps every BSON type: writing it back gives the same bytes.
  const raw = (await fx.c.call('Get', { instance: 'docs', key: b('d:1'), format: 'VALUE_FORMAT_BYTES' })).value.bytes as Buffer;
  const canonical = (await fx.c.call('Get', { instance: 'docs', key: b('d:1'), format: 'VALUE_FORMAT_CANONICAL_JSON' })).value.json as string;
  t.regex(canonical, /"\$numberInt":"5"/);
  await fx.c.call('Put', { instance: 'docs', key: b('d:2'), value: { json: canonical } });
  t.deepEqual((await fx.c.call('Get', { instance: 'docs', key: b('d:2'), format: 'VALUE_FORMAT_BYTES' })).value.bytes, raw);
  // Bytes are stored as given.
  const doc = BSON.serialize({ x: 1, y: 'z' });
  await fx.c.call('Put', { instance: 'docs', key: b('d:3'), value: { bytes: Buffer.from(doc) } });
  t.deepEqual(await fx.bson.get('d:3'), { x: 1, y: 'z' });

  await fails(fx.c.call('Put', { instance: 'docs', key: b('d:4'), value: { json: '[1,2]' } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Put', { instance: 'docs', key: b('d:4'), value: { json: '{"a":{"$oid":1}}' } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Put', { instance: 'docs', key: b('d:4'), value: { bytes: b('not bson') } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.is(await fx.bson.get('d:4'), undefined);
});

test('settings.codecs gives an instance a codec other than its valueEncoding', async (t) => {
  const db = await fresh(); // utf8 values, used for JSON text
  const server = await startGrpc({ j: db }, { port: 0, codecs: { j: 'json' } });
  const c = connect(server.port);
  try {
    await c.call('Put', { key: b('k'), value: { json: '{"a": [1, 2]}' } });
    t.is(await db.get('k'), '{"a":[1,2]}');
    t.deepEqual(await c.call('Get', { key: b('k') }), { found: true, value: { json: '{"a":[1,2]}', kind: 'json' } });
    await fails(c.call('Put', { key: b('k2'), value: { bytes: b('nope') } }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

// ---- Batch --------------------------------------------------------------------------------

test('Batch applies puts and deletes atomically; one bad operation writes nothing', async (t) => {
  await fx.raw.put('bt:gone', 'x');
  const r = await fx.c.call('Batch', {
    instance: 'log',
    operations: [
      { type: 'PUT', key: b('bt:1'), value: { bytes: b('one') } },
      { type: 'PUT', key: b('bt:2'), value: { bytes: b('two') } },
      { type: 'DEL', key: b('bt:gone') },
    ],
    sync: true,
  });
  t.is(r.written, 3);
  t.deepEqual(await fx.raw.getMany(['bt:1', 'bt:2', 'bt:gone']), ['one', 'two', undefined]);
  await fails(
    fx.c.call('Batch', { instance: 'app', operations: [{ type: 'PUT', key: b('bt:3'), value: { json: '1' } }, { type: 'PUT', key: b('bt:4'), value: { json: '{' } }] }),
    grpc.status.INVALID_ARGUMENT,
    'STRATA_INVALID_ARGUMENT',
  );
  await fails(fx.c.call('Batch', { instance: 'log', operations: [{ type: 'TYPE_UNSPECIFIED', key: b('bt:5') }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Batch', { instance: 'log', operations: [{ type: 'DEL', key: b('bt:5'), value: { bytes: b('v') } }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Batch', { instance: 'log', operations: [{ type: 'PUT', key: b('bt:5') }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(await fx.json.getMany(['bt:3', 'bt:4']), [undefined, undefined]);
  t.is((await fx.c.call('Batch', { instance: 'log', operations: [] })).written, 0);
});

// ---- Query, Count, Explain ----------------------------------------------------------------

async function seedPeople(db: Db, n: number): Promise<void> {
  const ops = [];
  for (let i = 0; i < n; i++) {
    ops.push({ type: 'put' as const, key: `p:${String(i).padStart(3, '0')}`, value: JSON.stringify({ age: i % 50, city: i % 3 === 0 ? 'Porto' : 'Lima' }) });
  }
  await db.batch(ops, { valueEncoding: 'utf8' });
}

test('Query pages through matches with the cursor exactly as db.query; keys only; options as fields', async (t) => {
  await seedPeople(fx.json, 120);
  const q = { and: [{ index: 'city', eq: 'Porto' }, { index: 'age', gte: 10, lt: 40 }] };
  const expected = (await fx.json.query(q, { limit: 10_000 })).items.map((i) => i.key);
  t.true(expected.length > 20);
  const seen: string[] = [];
  let cursor = '';
  let pages = 0;
  do {
    const page = await fx.c.call('Query', { instance: 'app', queryJson: JSON.stringify(q), limit: 7, cursor });
    for (const it of page.items) {
      seen.push((it.key as Buffer).toString());
      const v = JSON.parse(it.value.json as string) as { age: number; city: string };
      t.is(v.city, 'Porto');
    }
    t.is(page.partial, '');
    t.is(typeof page.stats.postingsScanned, 'number');
    cursor = page.cursor as string;
    pages++;
  } while (cursor !== '');
  t.deepEqual(seen, expected);
  t.is(pages, Math.ceil(expected.length / 7));

  const keysOnly = await fx.c.call('Query', { instance: 'app', queryJson: JSON.stringify(q), limit: 3, keysOnly: true });
  t.deepEqual(
    keysOnly.items.map((i: Msg) => (i.key as Buffer).toString()),
    expected.slice(0, 3),
  );
  t.true(keysOnly.items.every((i: Msg) => i.value === null));
  const bytes = await fx.c.call('Query', { instance: 'app', queryJson: JSON.stringify(q), limit: 1, format: 'VALUE_FORMAT_BYTES' });
  t.deepEqual(bytes.items[0].value.bytes, await fx.json.get(expected[0] as string, { valueEncoding: 'buffer' }));

  // A postings budget stops the page early with a cursor that continues it.
  const all: string[] = [];
  cursor = '';
  let partials = 0;
  do {
    const page = await fx.c.call('Query', { instance: 'app', queryJson: JSON.stringify({ index: 'age', gte: 0 }), cursor, maxPostingsScanned: 10, limit: 1000, keysOnly: true });
    if (page.partial === 'maxPostingsScanned') partials++;
    all.push(...page.items.map((i: Msg) => (i.key as Buffer).toString()));
    cursor = page.cursor as string;
  } while (cursor !== '');
  t.true(partials > 0);
  t.deepEqual(all, (await fx.json.query({ index: 'age', gte: 0 }, { limit: 10_000, values: false })).items.map((i) => i.key));
  const timed = await fx.c.call('Query', { instance: 'app', queryJson: JSON.stringify(q), timeoutMs: 60_000 });
  t.is(timed.partial, '');
});

test('Query errors: bad JSON, bad query, missing index, bad cursor, bad limit — never INTERNAL', async (t) => {
  const qj = (q: unknown): string => JSON.stringify(q);
  await fails(fx.c.call('Query', { instance: 'app', queryJson: '{bad' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Query', { instance: 'app', queryJson: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Query', { instance: 'app', queryJson: qj({ index: 'age', near: 3 }) }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Query', { instance: 'app', queryJson: qj([1]) }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  const e = await fails(fx.c.call('Query', { instance: 'app', queryJson: qj({ index: 'shoe', eq: 42 }) }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  t.regex(e.details, /shoe/);
  await fails(fx.c.call('Query', { instance: 'app', queryJson: qj({ index: 'city', gte: 'a' }) }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  await fails(fx.c.call('Query', { instance: 'app', queryJson: qj({ index: 'age', gte: 0 }), cursor: 'garbage' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Query', { instance: 'app', queryJson: qj({ index: 'age', gte: 0 }), limit: 10_001 }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(fx.c.call('Count', { instance: 'app', queryJson: qj({ index: 'shoe', eq: 1 }) }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  await fails(fx.c.call('Explain', { instance: 'app', queryJson: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.false(fx.events.some((ev) => ev.type === 'error' && (ev.status === grpc.status.INTERNAL || ev.status === grpc.status.UNKNOWN)));
});

test('a query on an index still building is FAILED_PRECONDITION / STRATA_INDEX_BUILDING', async (t) => {
  const db = await fresh<string, unknown>({ valueEncoding: 'json' });
  const ops = [];
  for (let i = 0; i < 20_000; i++) ops.push({ type: 'put' as const, key: `r:${i}`, value: { n: i } });
  await db.batch(ops);
  const server = await startGrpc({ only: db }, { port: 0 });
  const c = connect(server.port);
  try {
    await c.call('Health'); // the connection is up before the build starts
    // The build runs in chunks of 1,000 records between which calls are answered; a few
    // rebuilds make sure one query lands inside a build.
    let building = 0;
    for (let round = 0; round < 5 && building === 0; round++) {
      if (round === 0) await db.createIndex({ name: 'n', type: 'range', extractor: { kind: 'json_path', path: '$.n' } }, { background: true });
      else await db.rebuildIndex('n', { background: true });
      try {
        await c.call('Count', { queryJson: JSON.stringify({ index: 'n', gte: 0 }) });
      } catch (e) {
        await fails(Promise.reject(e), grpc.status.FAILED_PRECONDITION, 'STRATA_INDEX_BUILDING');
        building++;
      }
      await db.createIndex({ name: 'n', type: 'range', extractor: { kind: 'json_path', path: '$.n' } });
    }
    t.is(building, 1);
    t.is((await c.call('Count', { queryJson: JSON.stringify({ index: 'n', gte: 0 }) })).count, 20_000);
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

test('Count (exact and estimated) and Explain', async (t) => {
  await seedPeople(fx.json, 120);
  const q = { index: 'city', eq: 'Porto' };
  const exact = await fx.json.count(q);
  t.deepEqual(await fx.c.call('Count', { instance: 'app', queryJson: JSON.stringify(q) }), { count: exact, low: exact, high: exact });
  const est = await fx.c.call('Count', { instance: 'app', queryJson: JSON.stringify(q), estimate: true });
  t.true(est.high >= exact);
  t.true(est.low <= est.high);
  const ex = JSON.parse((await fx.c.call('Explain', { instance: 'app', queryJson: JSON.stringify({ and: [q, { index: 'age', lt: 5 }] }) })).explanationJson as string) as {
    plan: { op?: string };
    estimate: number;
    actual?: { count: number };
  };
  t.is(typeof ex.estimate, 'number');
  t.is(ex.actual?.count, await fx.json.count({ and: [q, { index: 'age', lt: 5 }] }));
  t.truthy(ex.plan);
  const noRun = JSON.parse((await fx.c.call('Explain', { instance: 'app', queryJson: JSON.stringify(q), analyze: false })).explanationJson as string) as { actual?: unknown };
  t.is(noRun.actual, undefined);
});

test('Query terms in Extended JSON: $date as milliseconds, $oid as hex, $binary as bytes', async (t) => {
  const db = await fresh<string, Record<string, unknown>>({
    valueEncoding: 'bson',
    indexes: [
      { name: 'at', type: 'range', extractor: { kind: 'bson_path', path: '$.at' } },
      { name: 'ref', type: 'equality', extractor: { kind: 'bson_path', path: '$.ref' } },
      { name: 'blob', type: 'equality', extractor: { kind: 'bson_path', path: '$.blob' } },
    ],
  });
  const ref = new ObjectId();
  await db.put('e:1', { at: new Date(1000), ref, blob: new Uint8Array([1, 2, 3]) });
  await db.put('e:2', { at: new Date(5000), ref: new ObjectId(), blob: new Uint8Array([9]) });
  const server = await startGrpc({ e: db }, { port: 0 });
  const c = connect(server.port);
  try {
    const keys = async (q: unknown): Promise<string[]> =>
      (await c.call('Query', { queryJson: EJSON.stringify(q, { relaxed: false }), keysOnly: true })).items.map((i: Msg) => (i.key as Buffer).toString());
    t.deepEqual(await keys({ index: 'at', lt: new Date(2000) }), ['e:1']);
    t.deepEqual(await keys({ index: 'ref', eq: ref }), ['e:1']);
    t.deepEqual(await keys({ index: 'blob', eq: { $binary: { base64: Buffer.from([9]).toString('base64'), subType: '00' } } }), ['e:2']);
    const ex = JSON.parse((await c.call('Explain', { queryJson: EJSON.stringify({ index: 'blob', eq: new Binary(Buffer.from([9])) }) })).explanationJson as string) as { actual: { count: number } };
    t.is(ex.actual.count, 1);
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

// ---- collections --------------------------------------------------------------------------

test('collections: InsertOne / FindById / Find / UpdateOne / DeleteOne with Extended JSON documents', async (t) => {
  const ins = await fx.c.call('InsertOne', { instance: 'docs', collection: 'users', documentJson: '{"name":"Ann","age":34,"city":"Porto","born":{"$date":"1990-01-02T00:00:00Z"}}' });
  t.regex(ins.insertedId as string, /^[0-9a-f]{24}$/);
  t.deepEqual(JSON.parse(ins.insertedIdJson as string), { $oid: ins.insertedId });
  await fx.c.call('InsertOne', { instance: 'docs', collection: 'users', documentJson: '{"_id":"bob","name":"Bob","age":20,"city":"Lima","n":{"$numberLong":"9007199254740993"}}', sync: true });
  await fx.c.call('InsertOne', { instance: 'docs', collection: 'users', documentJson: '{"_id":"cid","name":"Cid","age":51,"city":"Porto"}' });

  const ann = await fx.c.call('FindById', { instance: 'docs', collection: 'users', id: ins.insertedId });
  t.true(ann.found);
  const annDoc = JSON.parse(ann.documentJson as string) as Record<string, unknown>;
  t.deepEqual(annDoc, { _id: { $oid: ins.insertedId }, name: 'Ann', age: 34, city: 'Porto', born: { $date: '1990-01-02T00:00:00Z' } });
  const bob = JSON.parse((await fx.c.call('FindById', { instance: 'docs', collection: 'users', id: 'bob' })).documentJson as string) as Record<string, unknown>;
  t.deepEqual(bob.n, { $numberLong: '9007199254740993' });
  t.deepEqual(await fx.c.call('FindById', { instance: 'docs', collection: 'users', id: 'nobody' }), { found: false, documentJson: '' });
  // In-process, the same documents with their BSON types.
  const users = await fx.bson.collection('users');
  t.true((await users.findById('bob'))?.n instanceof Long);
  t.true((await users.findById(ins.insertedId as string))?.born instanceof Date);

  const page1 = await fx.c.call('Find', { instance: 'docs', collection: 'users', filterJson: '{"age":{"$gte":30}}', limit: 1, projectionJson: '{"name":1}' });
  t.is(page1.documentsJson.length, 1);
  t.not(page1.cursor, '');
  const page2 = await fx.c.call('Find', { instance: 'docs', collection: 'users', filterJson: '{"age":{"$gte":30}}', limit: 1, cursor: page1.cursor, projectionJson: '{"name":1}' });
  const names = [...page1.documentsJson, ...page2.documentsJson].map((d: string) => (JSON.parse(d) as { name: string }).name).sort();
  t.deepEqual(names, ['Ann', 'Cid']);
  t.deepEqual(Object.keys(JSON.parse(page1.documentsJson[0] as string) as object).sort(), ['_id', 'name']);
  const porto = await fx.c.call('Find', { instance: 'docs', collection: 'users', filterJson: '{"city":"Porto","age":{"$lt":40}}' });
  t.deepEqual(porto.documentsJson.map((d: string) => (JSON.parse(d) as { name: string }).name), ['Ann']);
  const all = await fx.c.call('Find', { instance: 'docs', collection: 'users' });
  t.is(all.documentsJson.length, 3);
  t.is(all.cursor, '');

  t.deepEqual(await fx.c.call('UpdateOne', { instance: 'docs', collection: 'users', id: 'bob', updateJson: '{"$inc":{"age":1},"$set":{"tags":["x"]}}' }), { matchedCount: 1, modifiedCount: 1 });
  t.is((await users.findById('bob'))?.age, 21);
  t.deepEqual(await fx.c.call('UpdateOne', { instance: 'docs', collection: 'users', filterJson: '{"age":{"$gte":50}}', updateJson: '{"$set":{"old":true}}' }), { matchedCount: 1, modifiedCount: 1 });
  t.is((await users.findById('cid'))?.old, true);
  t.deepEqual(await fx.c.call('UpdateOne', { instance: 'docs', collection: 'users', id: 'nobody', updateJson: '{"$set":{"a":1}}' }), { matchedCount: 0, modifiedCount: 0 });

  t.deepEqual(await fx.c.call('DeleteOne', { instance: 'docs', collection: 'users', id: 'bob' }), { deletedCount: 1 });
  t.deepEqual(await fx.c.call('DeleteOne', { instance: 'docs', collection: 'users', filterJson: '{"city":"Porto"}' }), { deletedCount: 1 });
  t.is((await fx.c.call('Find', { instance: 'docs', collection: 'users' })).documentsJson.length, 1);
});

test('collections: unique and id violations, missing index, bad input — typed statuses, nothing written', async (t) => {
  const call = (m: string, req: object): Promise<Msg> => fx.c.call(m, { instance: 'docs', collection: 'accounts', ...req });
  await call('InsertOne', { documentJson: '{"_id":"e1","email":"e@x"}' });
  await fails(call('InsertOne', { documentJson: '{"_id":"e2","email":"e@x"}' }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  await fails(call('InsertOne', { documentJson: '{"_id":"e1"}' }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  await fails(call('UpdateOne', { id: 'e1', updateJson: '{"$set":{"email":"e@x"}}' }).then(() => call('InsertOne', { documentJson: '{"_id":"e3"}' })).then(() => call('UpdateOne', { id: 'e3', updateJson: '{"$set":{"email":"e@x"}}' })), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  const e = await fails(call('Find', { filterJson: '{"shoe":42}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  t.regex(e.details, /shoe/);
  await fails(call('UpdateOne', { filterJson: '{"shoe":42}', updateJson: '{"$set":{"a":1}}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  await fails(call('InsertOne', { documentJson: '{bad' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertOne', { documentJson: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertOne', { documentJson: '[1]' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertOne', { documentJson: '{"_id":5}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertOne', { documentJson: '{"$bad":1}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertOne', { collection: 'no/slash', documentJson: '{}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('FindById', { id: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('Find', { filterJson: '{"age":{"$regex":"x"}}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('Find', { cursor: 'garbage' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('UpdateOne', { updateJson: '{"$set":{"a":1}}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('UpdateOne', { id: 'e1', updateJson: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('UpdateOne', { id: 'e1', updateJson: '{"$rename":{"a":"b"}}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('UpdateOne', { id: 'e1', updateJson: '{"$inc":{"email":1}}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeleteOne', {}), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  const users = await fx.bson.collection('accounts');
  t.is((await users.findById('e1'))?.email, 'e@x');
  t.is(await users.findById('e2'), null);
  t.is((await users.findById('e3'))?.email, undefined);
  t.false(fx.events.some((ev) => ev.type === 'error' && (ev.status === grpc.status.INTERNAL || ev.status === grpc.status.UNKNOWN)));
});

test('collections: InsertMany / ReplaceOne / CountDocuments / DeleteMany, all or nothing', async (t) => {
  const call = (m: string, req: object): Promise<Msg> => fx.c.call(m, { instance: 'docs', collection: 'members', ...req });
  t.deepEqual((await call('DeclareCollectionIndexes', { indexes: [{ field: 'age', type: 'range' }, { field: 'email', unique: true, sparse: true }] })).indexes, [
    { field: 'age', type: 'range', unique: false, sparse: false },
    { field: 'email', type: 'equality', unique: true, sparse: true },
  ]);
  const ins = await call('InsertMany', { documentsJson: ['{"_id":"m1","age":10}', '{"age":20,"when":{"$date":"2020-01-01T00:00:00Z"}}', '{"_id":{"$oid":"0123456789abcdef01234567"},"age":30}'], sync: true });
  t.is(ins.insertedCount, 3);
  t.is(ins.insertedIds[0], 'm1');
  t.regex(ins.insertedIds[1] as string, /^[0-9a-f]{24}$/);
  t.is(ins.insertedIds[2], '0123456789abcdef01234567');
  t.deepEqual(ins.insertedIdsJson.map((j: string) => JSON.parse(j) as unknown), ['m1', { $oid: ins.insertedIds[1] }, { $oid: '0123456789abcdef01234567' }]);
  const members = await fx.bson.collection('members');
  t.true((await members.findById(ins.insertedIds[1] as string))?.when instanceof Date);

  t.deepEqual(await call('CountDocuments', {}), { count: 3 });
  t.deepEqual(await call('CountDocuments', { filterJson: '{"age":{"$gte":20}}' }), { count: 2 });
  t.deepEqual(await call('CountDocuments', { filterJson: '{"age":{"$gt":99}}' }), { count: 0 });

  // One duplicate (given twice, or already stored) and nothing of the batch is written.
  await fails(call('InsertMany', { documentsJson: ['{"_id":"m9","age":1}', '{"_id":"m9","age":2}'] }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  await fails(call('InsertMany', { documentsJson: ['{"_id":"m8","age":1}', '{"_id":"m1","age":2}'] }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  await fails(call('InsertMany', { documentsJson: ['{"_id":"m7","email":"a@x"}', '{"_id":"m6","email":"a@x"}'] }), grpc.status.ABORTED, 'STRATA_CONSTRAINT');
  await fails(call('InsertMany', { documentsJson: ['{"_id":"m5"}', '{bad'] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertMany', { documentsJson: ['{"_id":"m4"}', '[]'] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('InsertMany', { documentsJson: [] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  for (const id of ['m9', 'm8', 'm7', 'm6', 'm5', 'm4']) t.is(await members.findById(id), null, id);
  t.deepEqual(await call('CountDocuments', {}), { count: 3 });

  t.deepEqual(await call('ReplaceOne', { id: 'm1', documentJson: '{"age":11,"name":"one"}' }), { matchedCount: 1, modifiedCount: 1 });
  t.deepEqual(await members.findById('m1'), { _id: 'm1', age: 11, name: 'one' });
  t.deepEqual(await call('ReplaceOne', { filterJson: '{"age":{"$gte":30}}', documentJson: '{"age":31}' }), { matchedCount: 1, modifiedCount: 1 });
  t.is((await members.findById('0123456789abcdef01234567'))?.age, 31);
  t.deepEqual(await call('ReplaceOne', { id: 'nobody', documentJson: '{"age":1}' }), { matchedCount: 0, modifiedCount: 0 });
  await fails(call('ReplaceOne', { id: 'm1', documentJson: '{"_id":"other","age":1}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('ReplaceOne', { documentJson: '{"age":1}' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('ReplaceOne', { id: 'm1' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('ReplaceOne', { filterJson: '{"shoe":1}', documentJson: '{}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  t.is((await members.findById('m1'))?.age, 11);

  await fails(call('DeleteMany', {}), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeleteMany', { filterJson: '{"shoe":1}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  await fails(call('DeleteMany', { filterJson: '[1]' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('CountDocuments', { filterJson: '{"shoe":1}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  await fails(call('CountDocuments', { filterJson: '{oops' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(await call('DeleteMany', { filterJson: '{"age":{"$lt":25}}' }), { deletedCount: 2 });
  t.deepEqual(await call('CountDocuments', {}), { count: 1 });
  t.deepEqual(await call('DeleteMany', { filterJson: '{}', sync: true }), { deletedCount: 1 });
  t.is(await members.count(), 0);
});

test('collections: DeclareCollectionIndexes builds the fields a Find then uses; ListCollectionIndexes; bad declarations', async (t) => {
  const call = (m: string, req: object): Promise<Msg> => fx.c.call(m, { instance: 'docs', collection: 'pets', ...req });
  t.deepEqual(await call('ListCollectionIndexes', {}), { indexes: [] });
  await call('InsertOne', { documentJson: '{"_id":"rex","kind":"dog","legs":4}' });
  await call('InsertOne', { documentJson: '{"_id":"tweety","kind":"bird","legs":2}' });
  await fails(call('Find', { filterJson: '{"kind":"dog"}' }), grpc.status.FAILED_PRECONDITION, 'STRATA_NO_INDEX');
  // Declared after the documents: built over them before the answer.
  const declared = await call('DeclareCollectionIndexes', { indexes: [{ field: 'kind' }, { field: 'legs', type: 'range' }] });
  t.deepEqual(declared.indexes, [
    { field: 'kind', type: 'equality', unique: false, sparse: false },
    { field: 'legs', type: 'range', unique: false, sparse: false },
  ]);
  t.deepEqual(await call('ListCollectionIndexes', {}), declared);
  const dogs = await call('Find', { filterJson: '{"kind":"dog"}' });
  t.deepEqual(dogs.documentsJson.map((d: string) => JSON.parse(d) as unknown), [{ _id: 'rex', kind: 'dog', legs: 4 }]);
  t.deepEqual(await call('CountDocuments', { filterJson: '{"legs":{"$lt":3}}' }), { count: 1 });
  // Declaring the same again is a no-op; another definition of a field is refused.
  t.deepEqual(await call('DeclareCollectionIndexes', { indexes: [{ field: 'kind' }] }), declared);
  await fails(call('DeclareCollectionIndexes', { indexes: [{ field: 'kind', type: 'range' }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: [{ field: 'legs', unique: true }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: [{ field: 'x', type: 'fuzzy' }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: [{ field: '' }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: [{ field: 'a' }, { field: 'a' }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: [] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { indexes: Array.from({ length: 65 }, (_, i) => ({ field: `f${i}` })) }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('DeclareCollectionIndexes', { collection: 'bad name', indexes: [{ field: 'a' }] }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('ListCollectionIndexes', { collection: '' }), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  await fails(call('ListCollectionIndexes', { instance: 'nope' }), grpc.status.NOT_FOUND, 'STRATA_NOT_FOUND');
  t.deepEqual(await call('ListCollectionIndexes', {}), declared);
  t.false(fx.events.some((ev) => ev.type === 'error' && (ev.status === grpc.status.INTERNAL || ev.status === grpc.status.UNKNOWN)));
});

// ---- Scan ---------------------------------------------------------------------------------

test('Scan: ranges, prefix, reverse, limit, keys only, batch sizes — the same entries as db.iterator', async (t) => {
  const db = await fresh();
  const ops = [];
  for (let i = 0; i < 250; i++) ops.push({ type: 'put' as const, key: `${i % 2 === 0 ? 'a' : 'b'}:${String(i).padStart(4, '0')}`, value: `v${i}` });
  await db.batch(ops);
  const server = await startGrpc({ s: db }, { port: 0 });
  const c = connect(server.port);
  try {
    const scan = async (req: object): Promise<{ batches: number; entries: [string, string | undefined][] }> => {
      const msgs = await readAll(c.stream('Scan', req));
      return {
        batches: msgs.length,
        entries: msgs.flatMap((m) => m.entries.map((e: Msg): [string, string | undefined] => [(e.key as Buffer).toString(), e.value === null ? undefined : (e.value.bytes as Buffer).toString()])),
      };
    };
    const iter = async (opts: object): Promise<[string, string][]> => db.iterator(opts).all();
    const all = await scan({});
    t.deepEqual(all.entries, await iter({}));
    t.is(all.batches, 3); // 100 per message by default
    t.deepEqual((await scan({ prefix: b('b:') })).entries, await iter({ prefix: 'b:' }));
    // contains: a substring search over the range; limit counts matches.
    const every = await iter({});
    const with7 = every.filter(([k]) => k.includes('7'));
    t.true(with7.length > 20);
    t.deepEqual((await scan({ contains: b('7') })).entries, with7);
    t.deepEqual((await scan({ contains: b('7'), limit: 5 })).entries, with7.slice(0, 5));
    t.deepEqual((await scan({ contains: b('7'), limit: 5, reverse: true, batchSize: 2 })).entries, [...with7].reverse().slice(0, 5));
    t.deepEqual((await scan({ contains: b('77'), prefix: b('b:'), keysOnly: true })).entries, every.filter(([k]) => k.startsWith('b:') && k.includes('77')).map(([k]) => [k, undefined]));
    t.deepEqual((await scan({ contains: b('zzz') })).entries, []);
    await fails(readAll(c.stream('Scan', { contains: Buffer.alloc(0) })), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
    t.deepEqual((await scan({ gte: b('a:0010'), lt: b('a:0100'), reverse: true })).entries, await iter({ gte: 'a:0010', lt: 'a:0100', reverse: true }));
    t.deepEqual((await scan({ gt: b('a:0010'), lte: b('b:0001') })).entries, await iter({ gt: 'a:0010', lte: 'b:0001' }));
    const limited = await scan({ limit: 17, batchSize: 5 });
    t.deepEqual(limited.entries, await iter({ limit: 17 }));
    t.is(limited.batches, 4);
    const keys = await scan({ keysOnly: true, prefix: b('a:'), batchSize: 1000 });
    t.deepEqual(
      keys.entries,
      (await iter({ prefix: 'a:' })).map(([k]) => [k, undefined]),
    );
    t.is(keys.batches, 1);
    t.deepEqual((await scan({ gte: b('z') })).entries, []);
    await fails(readAll(c.stream('Scan', { gt: b('a'), gte: b('a') })), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
    await fails(readAll(c.stream('Scan', { prefix: b('a'), lt: b('b') })), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
    await fails(readAll(c.stream('Scan', { batchSize: 1001 })), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
    await fails(readAll(c.stream('Scan', { format: 'VALUE_FORMAT_JSON' })), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

test('Scan: a slow client holds the server back (flow control), then gets every entry in order', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer' });
  const total = 4000;
  const value = Buffer.alloc(4096, 7);
  for (let part = 0; part < 4; part++) {
    const ops = [];
    for (let i = part * 1000; i < (part + 1) * 1000; i++) ops.push({ type: 'put' as const, key: `k:${String(i).padStart(5, '0')}`, value });
    await db.batch(ops);
  }
  const events: GrpcEvent[] = [];
  let paused = false;
  let onBlocked: ((sent: number) => void) | undefined;
  const blocked = new Promise<number>((resolve) => (onBlocked = resolve));
  const onEvent = (e: GrpcEvent): void => {
    events.push(e);
    // The server waits for the client while the client is not reading.
    if (e.type === 'scan-wait' && paused) onBlocked?.(e.sent);
  };
  const server = await startGrpc({ s: db }, { port: 0, onEvent });
  const c = connect(server.port);
  try {
    const s = c.stream('Scan', { batchSize: 50 });
    const received: string[] = [];
    let messages = 0;
    const done = new Promise<void>((resolve, reject) => {
      s.on('data', (m: Msg) => {
        messages++;
        for (const e of m.entries) received.push((e.key as Buffer).toString());
        if (messages === 1) {
          s.pause(); // read one message, then stop reading
          paused = true;
        }
      });
      s.on('error', reject);
      s.on('end', resolve);
    });
    const sentWhenBlocked = await blocked;
    t.true(sentWhenBlocked < total, `sent ${sentWhenBlocked} of ${total} before waiting`);
    t.is(messages, 1);
    t.false(events.some((e) => e.type === 'scan-end'));
    s.resume();
    await done;
    t.is(received.length, total);
    t.deepEqual(received, [...received].sort());
    t.is(new Set(received).size, total);
    t.deepEqual(
      events.find((e) => e.type === 'scan-end'),
      { type: 'scan-end', instance: 's', sent: total, reason: 'done' },
    );
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

test('Scan: a client that cancels midway stops the scan and its iterator', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer' });
  const total = 3000;
  const ops = [];
  for (let i = 0; i < total; i++) ops.push({ type: 'put' as const, key: `k:${String(i).padStart(5, '0')}`, value: Buffer.alloc(2048, 1) });
  await db.batch(ops);
  let ended: ((e: GrpcEvent) => void) | undefined;
  const end = new Promise<GrpcEvent>((resolve) => (ended = resolve));
  const server = await startGrpc({ s: db }, { port: 0, onEvent: (e) => (e.type === 'scan-end' ? ended?.(e) : undefined) });
  const c = connect(server.port);
  try {
    const s = c.stream('Scan', { batchSize: 20 });
    let messages = 0;
    const status = new Promise<grpc.status>((resolve) => {
      s.on('data', () => {
        if (++messages === 2) s.cancel();
      });
      s.on('error', (e: grpc.ServiceError) => resolve(e.code));
      s.on('end', () => resolve(grpc.status.OK));
    });
    t.is(await status, grpc.status.CANCELLED);
    const e = await end;
    t.is(e.type, 'scan-end');
    if (e.type === 'scan-end') {
      t.is(e.reason, 'cancelled');
      t.true(e.sent < total);
    }
    // The database is still fine (the iterator was closed) and the server still serves.
    await db.put('after', Buffer.from('x'));
    t.is((await c.call('Get', { key: b('after') })).found, true);
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

// ---- limits -------------------------------------------------------------------------------

test('limits: oversized keys, values, documents, batches and messages are RESOURCE_EXHAUSTED', async (t) => {
  const raw = await fresh();
  const bson = await fresh({ valueEncoding: 'bson' });
  const server = await startGrpc({ raw, bson }, { port: 0, limits: { maxKeyBytes: 64, maxValueBytes: 1024, maxBatchOps: 3, maxMessageBytes: 64 * 1024 } });
  const c = connect(server.port);
  try {
    await c.call('Put', { key: b('ok'), value: { bytes: Buffer.alloc(1024) } });
    await fails(c.call('Put', { key: b('big'), value: { bytes: Buffer.alloc(1025) } }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(c.call('Put', { key: Buffer.alloc(65, 0x61), value: { bytes: b('v') } }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(c.call('Get', { key: Buffer.alloc(65, 0x61) }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(c.call('Put', { instance: 'bson', key: b('d'), value: { json: JSON.stringify({ s: 'x'.repeat(1100) }) } }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(
      c.call('InsertOne', { instance: 'bson', collection: 'c', documentJson: JSON.stringify({ s: 'x'.repeat(1100) }) }),
      grpc.status.RESOURCE_EXHAUSTED,
      'STRATA_LIMIT',
    );
    const docs = (n: number): string[] => Array.from({ length: n }, (_, i) => `{"_id":"d${i}"}`);
    t.is((await c.call('InsertMany', { instance: 'bson', collection: 'many', documentsJson: docs(3) })).insertedCount, 3);
    await fails(c.call('InsertMany', { instance: 'bson', collection: 'many2', documentsJson: docs(4) }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(
      c.call('InsertMany', { instance: 'bson', collection: 'many2', documentsJson: ['{}', JSON.stringify({ s: 'x'.repeat(1100) })] }),
      grpc.status.RESOURCE_EXHAUSTED,
      'STRATA_LIMIT',
    );
    await fails(c.call('ReplaceOne', { instance: 'bson', collection: 'many', id: 'd0', documentJson: JSON.stringify({ s: 'x'.repeat(1100) }) }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    t.is(await (await bson.collection('many2')).count(), 0);
    t.deepEqual(await (await bson.collection('many')).findById('d0'), { _id: 'd0' });
    const ops = (n: number): object[] => Array.from({ length: n }, (_, i) => ({ type: 'PUT', key: b(`b${i}`), value: { bytes: b('v') } }));
    t.is((await c.call('Batch', { operations: ops(3) })).written, 3);
    await fails(c.call('Batch', { operations: ops(4) }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(c.call('Batch', { operations: [{ type: 'PUT', key: b('x'), value: { bytes: Buffer.alloc(2000) } }] }), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    await fails(readAll(c.stream('Scan', { gte: Buffer.alloc(65, 0x61) })), grpc.status.RESOURCE_EXHAUSTED, 'STRATA_LIMIT');
    // Past the message size, grpc-js itself refuses the message (no StrataDB code then).
    await fails(c.call('Put', { key: b('huge'), value: { bytes: Buffer.alloc(70 * 1024) } }), grpc.status.RESOURCE_EXHAUSTED, undefined);
    t.deepEqual(await raw.getMany(['big', 'b3', 'x', 'huge']), [undefined, undefined, undefined, undefined]);
    t.is((await c.call('Health')).status, 'ok');
  } finally {
    c.client.close();
    await server.close();
    await Promise.all([raw.close(), bson.close()]);
  }
});

test('the request timeout answers DEADLINE_EXCEEDED / STRATA_TIMEOUT', async (t) => {
  const ctx: Context = {
    instance: () => {
      throw new Error('unused');
    },
    queryInstance: () => {
      throw new Error('unused');
    },
    limits: { ...DEFAULT_LIMITS, requestTimeoutMs: 5 },
    emit: () => undefined,
  };
  const handler = unary<object, object>(ctx, new Auth(undefined), 'Slow', () => new Promise<object>(() => undefined));
  const answer = await new Promise<{ code?: number; details?: string; metadata?: grpc.Metadata }>((resolve) => {
    const call = { metadata: new grpc.Metadata(), request: {} } as unknown as grpc.ServerUnaryCall<object, object>;
    handler(call, (err) => resolve(err ?? {}));
  });
  t.is(answer.code, grpc.status.DEADLINE_EXCEEDED);
  t.deepEqual(answer.metadata?.get('strata-code'), ['STRATA_TIMEOUT']);
});

test('a closed database answers UNAVAILABLE / STRATA_CLOSED; the server keeps running', async (t) => {
  const a = await fresh();
  const other = await fresh();
  const server = await startGrpc({ a, other }, { port: 0 });
  const c = connect(server.port);
  try {
    await a.close();
    await fails(c.call('Get', { instance: 'a', key: b('k') }), grpc.status.UNAVAILABLE, 'STRATA_CLOSED');
    await fails(c.call('Put', { instance: 'a', key: b('k'), value: { bytes: b('v') } }), grpc.status.UNAVAILABLE, 'STRATA_CLOSED');
    await fails(readAll(c.stream('Scan', { instance: 'a' })), grpc.status.UNAVAILABLE, 'STRATA_CLOSED');
    await c.call('Put', { instance: 'other', key: b('k'), value: { bytes: b('v') } });
    t.is(await other.get('k'), 'v');
  } finally {
    c.client.close();
    await server.close();
    await other.close();
  }
});

// ---- auth ---------------------------------------------------------------------------------

test('a token: every call but Health needs "authorization: Bearer <token>"', async (t) => {
  const db = await fresh();
  const server = await startGrpc({ db }, { port: 0, token: 's3cret-token' });
  const c = connect(server.port);
  try {
    await fails(c.call('Get', { key: b('k') }), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    await fails(c.call('Get', { key: b('k') }, 'wrong'), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    await fails(c.call('Get', { key: b('k') }, 's3cret-token-and-more'), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    await fails(c.call('Put', { key: b('k'), value: { bytes: b('v') } }), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    await fails(readAll(c.stream('Scan', {})), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    await fails(c.call('InsertOne', { collection: 'c', documentJson: '{}' }), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    // Every method of the service but Health, token missing and wrong.
    for (const [name, m] of Object.entries(loadService())) {
      if (name === 'Health') continue;
      for (const token of [undefined, 'wrong']) {
        const p = m.responseStream ? readAll(c.stream(name, {}, token)) : c.call(name, {}, token);
        await fails(p, grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
      }
    }
    const md = new grpc.Metadata();
    md.set('authorization', 's3cret-token'); // no "Bearer"
    await fails(
      new Promise((resolve, reject) => (c.client.Get as UnaryFn).call(c.client, { key: b('k') }, md, (e, r) => (e ? reject(e) : resolve(r)))),
      grpc.status.UNAUTHENTICATED,
      'STRATA_UNAUTHENTICATED',
    );
    t.is(await db.get('k'), undefined);
    t.is((await c.call('Health')).status, 'ok');
    await c.call('Put', { key: b('k'), value: { bytes: b('v') } }, 's3cret-token');
    t.is((await c.call('Get', { key: b('k') }, 's3cret-token')).found, true);
    t.is((await readAll(c.stream('Scan', {}, 's3cret-token'))).length, 1);
  } finally {
    c.client.close();
    await server.close();
    await db.close();
  }
});

test('a non-loopback host needs a token; settings are checked', async (t) => {
  const db = await fresh();
  try {
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.com']) {
      const e = await expectCode(() => startGrpc({ db }, { host, port: 0 }), 'STRATA_INVALID_ARGUMENT');
      t.regex(e.message, /non-loopback/);
    }
    t.true(isLoopback('127.0.0.1') && isLoopback('127.1.2.3') && isLoopback('localhost') && isLoopback('::1') && isLoopback('[::1]') && isLoopback('::ffff:127.0.0.1'));
    t.false(isLoopback('0.0.0.0') || isLoopback('::') || isLoopback('128.0.0.1') || isLoopback('127.0.0.256') || isLoopback('localhost.example.com'));
    await expectCode(() => startGrpc({}, { port: 0 }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc(new Map(), { port: 0 }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ x: {} as Db }, { port: 0 }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 70000 }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, token: '' }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, limits: { maxValueBytes: 0 } }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, limits: { nope: 1 } as object }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, tls: true } as object), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, codecs: { db: 'xml' } as unknown as Record<string, 'raw'> }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => startGrpc({ db }, { port: 0, codecs: { other: 'raw' } }), 'STRATA_INVALID_ARGUMENT');
  } finally {
    await db.close();
  }
});

// ---- shutdown -----------------------------------------------------------------------------

test('close() cuts a stream stuck on its client at the timeout, then refuses calls; it is idempotent', async (t) => {
  const db = await fresh<string, Buffer>({ valueEncoding: 'buffer' });
  for (let part = 0; part < 3; part++) {
    const ops = [];
    for (let i = part * 1000; i < (part + 1) * 1000; i++) ops.push({ type: 'put' as const, key: `k:${String(i).padStart(5, '0')}`, value: Buffer.alloc(4096) });
    await db.batch(ops);
  }
  let waiting: (() => void) | undefined;
  const blocked = new Promise<void>((resolve) => (waiting = resolve));
  const server = await startGrpc({ db }, { port: 0, limits: { shutdownTimeoutMs: 200 }, onEvent: (e) => (e.type === 'scan-wait' ? waiting?.() : undefined) });
  const c = connect(server.port);
  try {
    const inFlight = c.call('Put', { key: b('last'), value: { bytes: b('v') } });
    // A stream whose client never reads keeps tryShutdown waiting until the timeout forces it.
    const s = c.stream('Scan', {});
    const streamEnd = new Promise<void>((resolve) => {
      s.on('data', () => s.pause());
      s.on('error', () => resolve());
      s.on('end', () => resolve());
    });
    await inFlight;
    await blocked;
    await Promise.all([server.close(), server.close()]);
    await streamEnd;
    await fails(c.call('Get', { key: b('last') }), grpc.status.UNAVAILABLE, undefined);
    t.deepEqual(await db.get('last'), Buffer.from('v'));
  } finally {
    c.client.close();
    await db.close();
  }
});

test('anything but a StrataError is INTERNAL with a fixed message (no stack); bson errors are INVALID_ARGUMENT', (t) => {
  const bug = toFailure(new TypeError('x is undefined'));
  t.is(bug.status.code, grpc.status.INTERNAL);
  t.is(bug.status.details, 'internal error');
  t.deepEqual(bug.status.metadata?.get('strata-code'), ['STRATA_INTERNAL']);
  t.true(bug.unexpected instanceof TypeError);
  let bsonError: unknown;
  try {
    EJSON.parse('{"$oid": 1}');
  } catch (e) {
    bsonError = e;
  }
  t.is(toFailure(bsonError).status.code, grpc.status.INVALID_ARGUMENT);
  t.is(toFailure(new StrataError('STRATA_INDEX_BUILDING', 'wait')).status.code, grpc.status.FAILED_PRECONDITION);
  t.is(toFailure(new StrataError('STRATA_EXISTS', 'there')).status.code, grpc.status.ALREADY_EXISTS);
});

test('kvOnly instances (query = false) answer key-value calls; query, index and collection calls are INVALID_ARGUMENT', async (t) => {
  const log = await fresh({ valueEncoding: 'bson' });
  const server = await startGrpc({ log }, { port: 0, kvOnly: ['log'] });
  const c = connect(server.port);
  try {
    await c.call('Put', { key: b('k'), value: { json: '{"a":1}' } });
    t.true((await c.call('Get', { key: b('k') })).found);
    for (const [m, req] of [
      ['Query', { queryJson: '{"index":"a","eq":1}' }],
      ['Count', { queryJson: '{"index":"a","eq":1}' }],
      ['Explain', { queryJson: '{"index":"a","eq":1}' }],
      ['InsertOne', { collection: 'c', documentJson: '{}' }],
      ['Find', { collection: 'c' }],
      ['DeclareCollectionIndexes', { collection: 'c', indexes: [{ field: 'a' }] }],
      ['ListCollectionIndexes', { collection: 'c' }],
    ] as const) {
      const e = await fails(c.call(m, req), grpc.status.INVALID_ARGUMENT, 'STRATA_INVALID_ARGUMENT');
      t.regex(e.details, /query = false/, m);
    }
    t.deepEqual(await log.listIndexes(), []);
    await expectCode(() => startGrpc({ log }, { port: 0, kvOnly: ['nope'] }), 'STRATA_INVALID_ARGUMENT');
  } finally {
    c.client.close();
    await server.close();
    await log.close();
  }
});

// ---- TLS ----------------------------------------------------------------------------------

/** A self-signed certificate for 127.0.0.1 made by openssl in `dir`, or undefined when there is no openssl. */
function selfSigned(dir: string, name = 'server'): { cert: string; key: string; certFile: string; keyFile: string } | undefined {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
    { encoding: 'utf8' },
  );
  if (r.error !== undefined || r.status !== 0) return undefined;
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const tlsTest = HAVE_OPENSSL ? test : test.skip;

function tlsClient(port: number, ca: string, token?: string): Conn {
  const def = protoLoader.loadSync(SHIPPED_PROTO, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stratadb: { v1: { Strata: grpc.ServiceClientConstructor } } };
  const client = new pkg.stratadb.v1.Strata(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(ca))) as unknown as grpc.Client & Record<string, UnaryFn | StreamFn>;
  return {
    client,
    call: (method, req = {}, tok = token) => new Promise((resolve, reject) => (client[method] as UnaryFn).call(client, req, meta(tok), (e, r) => (e ? reject(e) : resolve(r)))),
    stream: (method, req = {}, tok = token) => (client[method] as StreamFn).call(client, req, meta(tok)),
  };
}

tlsTest('tls: a client trusting the certificate talks TLS; a plaintext client and one trusting another certificate get nothing', async (t) => {
  const certs = selfSigned(tmpPath('certs'));
  const other = selfSigned(tmpPath('other'));
  if (certs === undefined || other === undefined) return t.fail('openssl could not make a certificate');
  const db = await fresh();
  const server = await startGrpc({ db }, { port: 0, token: 'tok', tls: { cert: certs.cert, key: Buffer.from(certs.key) } });
  const good = tlsClient(server.port, certs.cert, 'tok');
  const plain = connect(server.port, 'tok');
  const wrongCa = tlsClient(server.port, other.cert, 'tok');
  try {
    await good.call('Put', { key: b('k'), value: { bytes: b('over tls') } });
    t.deepEqual((await good.call('Get', { key: b('k') })).value, { bytes: b('over tls'), kind: 'bytes' });
    t.is((await readAll(good.stream('Scan', {}))).length, 1);
    await fails(good.call('Get', { key: b('k') }, 'wrong'), grpc.status.UNAUTHENTICATED, 'STRATA_UNAUTHENTICATED');
    const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + 2000 });
    for (const c of [plain, wrongCa]) {
      const e = await new Promise<grpc.ServiceError | null>((resolve) => (c.client.Health as unknown as (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void).call(c.client, {}, deadline(), resolve));
      t.truthy(e);
      t.true(e?.code === grpc.status.UNAVAILABLE || e?.code === grpc.status.DEADLINE_EXCEEDED, `got ${String(e?.code)}`);
    }
    t.is(await db.get('k'), 'over tls');
  } finally {
    for (const c of [good, plain, wrongCa]) c.client.close();
    await server.close();
    await db.close();
  }
});

tlsTest('tls: a key that is not PEM, or not the certificate\'s, is refused before binding', async (t) => {
  const certs = selfSigned(tmpPath('certs'));
  const other = selfSigned(tmpPath('other'));
  if (certs === undefined || other === undefined) return t.fail('openssl could not make a certificate');
  const db = await fresh();
  try {
    t.regex((await expectCode(() => startGrpc({ db }, { port: 0, tls: { cert: certs.cert, key: 'not a key' } }), 'STRATA_INVALID_ARGUMENT')).message, /tls\.key must be PEM/);
    t.regex((await expectCode(() => startGrpc({ db }, { port: 0, tls: { cert: certs.cert, key: other.key } }), 'STRATA_INVALID_ARGUMENT')).message, /not usable/);
    t.regex((await expectCode(() => startGrpc({ db }, { port: 0, tls: { cert: certs.cert } as never }), 'STRATA_INVALID_ARGUMENT')).message, /tls\.key/);
    t.regex((await expectCode(() => startGrpc({ db }, { port: 0, tls: 'yes' as never }), 'STRATA_INVALID_ARGUMENT')).message, /tls must be/);
  } finally {
    await db.close();
  }
});

tlsTest('tls: serve() reads grpc_tls_cert / grpc_tls_key (relative to lsm.toml) and serves gRPC over TLS; one without the other is refused', async (t) => {
  const dir = tmpPath('srv');
  const certs = selfSigned(path.join(dir, 'tls'));
  if (certs === undefined) return t.fail('openssl could not make a certificate');
  const toml = (extra: string): string => {
    const file = path.join(dir, `lsm-${Math.random().toString(36).slice(2)}.toml`);
    fs.writeFileSync(file, `[server]\ngrpc_port = 0\n${extra}\n[[instance]]\nname = "app"\ndata_dir = "./data"\ncodec = "json"\n`);
    return file;
  };
  const quiet = { env: {}, envFile: false as const, handleSignals: false, port: 0, logger: false };
  t.regex((await expectCode(() => serve({ config: toml('grpc_tls_cert = "tls/server.crt"\n'), ...quiet }), 'STRATA_INVALID_ARGUMENT')).message, /go together/);
  t.regex((await expectCode(() => serve({ config: toml('grpc_tls_cert = "tls/server.crt"\ngrpc_tls_key = "tls/missing.key"\n'), ...quiet }), 'STRATA_INVALID_ARGUMENT')).message, /missing\.key/);
  const running = await serve({ config: toml('grpc_tls_cert = "tls/server.crt"\ngrpc_tls_key = "tls/server.key"\n'), ...quiet });
  const c = tlsClient(running.grpcPort as number, certs.cert);
  try {
    await c.call('Put', { key: b('g'), value: { json: '{"tls":true}' } });
    t.deepEqual(await (await fetch(`${running.url}/keys/g`)).json(), { key: 'g', value: { tls: true } });
  } finally {
    c.client.close();
    await running.close();
  }
});
