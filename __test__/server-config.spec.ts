/**
 * lsm.toml and the server settings: the seeds' format opens isolated instances; every bad
 * config fails at start with a message naming the line; settings come from .env, STRATA_SERVER_*,
 * [server] and explicit options in that order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { open } from '../ts/index';
import { openInstances, parseLsmConfig, readLsmConfig } from '../ts/instances';
import { serve } from '../ts/server/serve';
import { CONFIG_ENV, isLoopback, resolveServerSettings, SERVER_DEFAULTS, SERVER_ENV } from '../ts/server/settings';
import { expectCode, tmpPath } from './helpers';
import { SEEDS_TOML, writeConfig } from './fixtures/server';

test('the seeds’ two-instance lsm.toml opens two isolated databases with their codecs', async (t) => {
  const file = writeConfig();
  const instances = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
  try {
    t.deepEqual(instances.list().map((i) => [i.name, i.codec, i.query]), [
      ['app', 'bson', true],
      ['log', 'raw', false],
    ]);
    t.is(instances.default.name, 'app');
    const app = instances.get('app');
    const log = instances.get('log');
    t.is(app.dataDir, path.join(path.dirname(file), '.lsm_app'));
    t.is(app.db.options.memtableSize, 4194304);
    t.is(app.db.options.valueEncoding, 'bson');
    t.is(log.db.options.valueEncoding, 'buffer');
    t.deepEqual((await app.db.listIndexes()).map((i) => i.name).sort(), ['age', 'city']);
    await app.db.put('k', { city: 'Porto' });
    t.is(await log.db.get('k'), undefined, 'instances do not share keys');
    t.throws(() => log.queryDb(), { message: /query = false/ });
    await expectCode(() => instances.get('nope'), 'STRATA_NOT_FOUND');
    t.deepEqual(Object.keys(instances.dbs()), ['app', 'log']);
  } finally {
    await instances.close();
  }
});

test('an instance named default is the default one; any StrataDB option in snake_case is taken', (t) => {
  const cfg = parseLsmConfig(`
[[instance]]
name = "a"
data_dir = "a"
[[instance]]
name = "default"
data_dir = "d"
codec = "json"
block_cache_size = "8MiB"
sync = true
profile = "low-memory"
`);
  const d = cfg.instances[1];
  t.is(d?.codec, 'json');
  t.deepEqual(d?.options, { blockCacheSize: '8MiB', sync: true, profile: 'low-memory', valueEncoding: 'json', keyEncoding: 'utf8' });
  t.is(cfg.instances[0]?.codec, 'raw', 'codec defaults to raw');
});

const bad: [string, string, RegExp][] = [
  ['unknown key', '[[instance]]\nname = "a"\ndata_dir = "a"\ncolour = "red"\n', /lsm\.toml:4: unknown key "colour"/],
  ['duplicate name', '[[instance]]\nname = "a"\ndata_dir = "a"\n\n[[instance]]\nname = "a"\ndata_dir = "b"\n', /lsm\.toml:6: duplicate instance name "a" \(first at line 2\)/],
  ['duplicate directory', '[[instance]]\nname = "a"\ndata_dir = "x"\n[[instance]]\nname = "b"\ndata_dir = "./x"\n', /lsm\.toml:6: instances "a" and "b" share the data_dir/],
  ['nested directories', '[[instance]]\nname = "a"\ndata_dir = "x"\n[[instance]]\nname = "b"\ndata_dir = "x/inner"\n', /lsm\.toml:6: the data_dir of "b" and of "a" are nested/],
  ['bad codec', '[[instance]]\nname = "a"\ndata_dir = "a"\ncodec = "xml"\n', /lsm\.toml:4: codec must be one of raw, json, bson/],
  ['missing indexes file', '[[instance]]\nname = "a"\ndata_dir = "a"\nindexes_file = "nope.toml"\n', /lsm\.toml:4: indexes_file .* does not exist/],
  ['bad option value', '[[instance]]\nname = "a"\ndata_dir = "a"\nmemtable_max_size = "lots"\n', /lsm\.toml:4: memtable_max_size: expected a size/],
  ['bad name', '[[instance]]\nname = "../etc"\ndata_dir = "a"\n', /lsm\.toml:2: instance name "\.\.\/etc" must be/],
  ['missing data_dir', '[[instance]]\nname = "a"\n', /lsm\.toml:1: data_dir must be a non-empty string/],
  ['no instance', '[server]\nport = 1\n', /no \[\[instance\]\] table/],
  ['syntax error', '[[instance]]\nname = "a\n', /lsm\.toml:2:\d+:/],
  ['unknown top-level table', '[[instance]]\nname = "a"\ndata_dir = "a"\n[extra]\nx = 1\n', /lsm\.toml:4: unknown top-level key "extra"/],
  ['codec-owned option', '[[instance]]\nname = "a"\ndata_dir = "a"\nvalue_encoding = "json"\n', /lsm\.toml:4: value_encoding is decided by codec/],
  ['indexes_file with query = false', '[[instance]]\nname = "a"\ndata_dir = "a"\nquery = false\nindexes_file = "i.toml"\n', /lsm\.toml:5: .*query = false/],
  ['query not a boolean', '[[instance]]\nname = "a"\ndata_dir = "a"\nquery = "yes"\n', /lsm\.toml:4: query must be true or false/],
];

for (const [what, toml, message] of bad) {
  test(`bad config fails naming the line: ${what}`, async (t) => {
    const file = writeConfig(toml, { 'i.toml': '' });
    const e = t.throws(() => readLsmConfig(file), { message });
    t.is((e as { code?: string }).code, 'STRATA_INVALID_ARGUMENT');
    await t.throwsAsync(openInstances(file), { message });
  });
}

test('a bad [server] key or value fails at start naming the line', async (t) => {
  const file = writeConfig(SEEDS_TOML + '\n[server]\nport = "eighty"\n');
  await t.throwsAsync(serve({ config: file, env: {}, envFile: false, handleSignals: false }), { message: /server setting port \(from lsm\.toml:\d+\): expected a port/ });
  const file2 = writeConfig('[server]\nprot = 80\n' + SEEDS_TOML);
  await t.throwsAsync(serve({ config: file2, env: {}, envFile: false, handleSignals: false }), { message: /lsm\.toml:2: unknown key "prot" in \[server\]/ });
  t.false(fs.existsSync(path.join(path.dirname(file), '.lsm_app')), 'nothing was opened');
});

test('a database that fails to open names its instance, and the others are closed again', async (t) => {
  const file = writeConfig();
  const first = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
  try {
    await t.throwsAsync(openInstances(file, { dbOptions: { env: {}, envFile: false } }), { message: /instance "app" \(lsm\.toml:2\)/ });
  } finally {
    await first.close();
  }
});

test('server settings: defaults → .env → STRATA_SERVER_* → [server] → explicit', (t) => {
  t.deepEqual(resolveServerSettings({ env: {}, envFile: false }), { ...SERVER_DEFAULTS });
  const envFile = path.join(tmpPath('envdir'));
  fs.mkdirSync(envFile, { recursive: true });
  const dotenv = path.join(envFile, '.env');
  fs.writeFileSync(dotenv, 'STRATA_SERVER_PORT=1111\nSTRATA_SERVER_LOG_LEVEL=warn\nSTRATA_SERVER_BODY_LIMIT=2MiB\nSTRATA_SERVER_MAX_BATCH=7\n');
  const s = resolveServerSettings({
    envFile: dotenv,
    env: { STRATA_SERVER_PORT: '2222', STRATA_SERVER_LOG_LEVEL: 'error', STRATA_SERVER_TOKEN: 'tok', STRATA_MEMTABLE_SIZE: '1MiB' },
    toml: { port: 3333, max_key_size: '2KiB' },
    explicit: { port: 4444 },
  });
  t.is(s.port, 4444);
  t.is(s.logLevel, 'error');
  t.is(s.bodyLimit, 2 * 1024 * 1024);
  t.is(s.maxBatch, 7);
  t.is(s.maxKeySize, 2048);
  t.is(s.authToken, 'tok');
  t.throws(() => resolveServerSettings({ env: { STRATA_SERVER_PROT: '1' }, envFile: false }), { message: /unknown server setting STRATA_SERVER_PROT \(from env\)/ });
  t.throws(() => resolveServerSettings({ env: { STRATA_SERVER_PORT: '70000' }, envFile: false }), { message: /port.*from env STRATA_SERVER_PORT.*0-65535/ });
  t.throws(() => resolveServerSettings({ toml: { workers: 4 }, env: {}, envFile: false }), { message: /workers must be 1/ });
});

test('database options ignore STRATA_SERVER_* variables (they belong to the server)', async (t) => {
  const db = await open(tmpPath(), { env: { STRATA_SERVER_TOKEN: 'x', STRATA_SERVER_PORT: '1' }, envFile: false });
  t.is(db.status, 'open');
  await db.close();
});

test('a non-loopback bind without a token is refused before anything opens', async (t) => {
  const file = writeConfig();
  await t.throwsAsync(serve({ config: file, host: '0.0.0.0', port: 0, env: {}, envFile: false, handleSignals: false }), {
    message: /refusing to listen on 0\.0\.0\.0 without a token/,
  });
  t.false(fs.existsSync(path.join(path.dirname(file), '.lsm_app')));
  t.true(isLoopback('127.0.0.1'));
  t.true(isLoopback('::1'));
  t.true(isLoopback('localhost'));
  t.false(isLoopback('0.0.0.0'));
  t.false(isLoopback('10.0.0.1'));
});

test('[[instance.collection]] declares collections and their indexed fields at start; bad tables fail naming their line', async (t) => {
  const file = writeConfig(`[[instance]]
name = "app"
data_dir = "./.lsm_app"
codec = "bson"

[[instance.collection]]
name = "users"
indexes = [{ field = "city" }, { field = "age", type = "range" }]

[[instance.collection]]
name = "orders"
indexes = [{ field = "sku", unique = true }]
`);
  const instances = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
  try {
    const db = instances.get('app').db;
    const names = (await db.listIndexes()).map((i) => i.name).sort();
    t.true(names.includes('users.city') && names.includes('users.age') && names.includes('orders.sku'), names.join(', '));
    const users = await db.collection('users');
    await users.insertMany([{ city: 'Lisbon', age: 30 }, { city: 'Porto', age: 41 }]);
    t.is(await users.count({ age: { $gte: 40 } }), 1, 'the declared range index answers without declaring it again');
  } finally {
    await instances.close();
  }
  // Reopening with the same declarations is a no-op.
  const again = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
  t.is(await (await again.get('app').db.collection('users')).count({ city: 'Lisbon' }), 1);
  await again.close();

  const bad: [string, RegExp][] = [
    ['[[instance]]\nname = "a"\ndata_dir = "./x"\ncodec = "bson"\n\n[[instance.collection]]\nname = "u"\n\n[[instance.collection]]\nname = "v"\ncolor = "red"\n', /lsm\.toml:11: unknown key "color" in \[\[instance\.collection\]\]/],
    ['[[instance]]\nname = "a"\ndata_dir = "./x"\nquery = false\n\n[[instance.collection]]\nname = "u"\n', /lsm\.toml:6: instance "a" has query = false/],
    ['[[instance]]\nname = "a"\ndata_dir = "./x"\n\n[[instance.collection]]\nname = "u"\nindexes = [{ field = "c", type = "fuzzy" }]\n', /lsm\.toml:7: indexes\[0\]: type must be equality, range or text/],
    ['[[instance]]\nname = "a"\ndata_dir = "./x"\n\n[[instance.collection]]\nname = "bad name"\n', /lsm\.toml:6: collection name must be/],
    ['[[instance]]\nname = "a"\ndata_dir = "./x"\n\n[[instance.collection]]\nname = "u"\n\n[[instance.collection]]\nname = "u"\n', /lsm\.toml:9: collection "u" is declared twice/],
  ];
  for (const [text, message] of bad) t.throws(() => parseLsmConfig(text, path.join(tmpPath(), 'lsm.toml')), { message });
});

test('.env.example and the README list every server setting, by variable and lsm.toml key', (t) => {
  const root = path.join(__dirname, '..');
  const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const listed = new Set([...example.matchAll(/^#? ?(STRATA_SERVER_[A-Z_]+)=/gm)].map((m) => m[1]));
  for (const [key, env] of Object.entries(SERVER_ENV)) {
    t.true(listed.has(env), `.env.example lacks ${env} (${key})`);
    t.true(readme.includes(`\`${env}\``), `README lacks ${env}`);
  }
  t.true(listed.has(CONFIG_ENV));
  // Nothing listed that the server would reject as unknown.
  for (const env of listed) t.true(env === CONFIG_ENV || Object.values(SERVER_ENV).includes(env as string), `.env.example lists unknown ${String(env)}`);
  // Every [server] key resolves from lsm.toml.
  const toml = [...readme.matchAll(/^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \| `STRATA_SERVER_/gm)].flatMap((m) => [m[1], m[2]]).filter((k): k is string => k !== undefined);
  t.is(toml.length, Object.keys(SERVER_ENV).length);
});
