import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { StrataLevel, loadConfig, open, parseSize, profiles, toBindingOptions, StrataError } from '../ts/index';
import { expectCode, fresh, tableVersions, tmpPath } from './helpers';

const MiB = 1024 * 1024;

function envFile(text: string): string {
  const file = tmpPath('.env');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

test('defaults', (t) => {
  const c = loadConfig({ env: {}, envFile: false });
  t.is(c.profile, 'balanced');
  t.is(c.createIfMissing, true);
  t.is(c.errorIfExists, false);
  t.is(c.memtableSize, 32 * MiB);
  t.is(c.blockSize, 4096);
  t.is(c.bloomBitsPerKey, 10);
  t.is(c.compression, true);
  t.is(c.zstd, 'off');
  t.is(c.zstdLevel, 3);
  t.is(c.sync, false);
  t.is(c.blockCacheSize, 32 * MiB);
  t.is(c.useMmap, true);
  t.is(c.compactionStyle, 'leveled');
  t.is(c.l0CompactionTrigger, 4);
  t.is(c.l0StopTrigger, 20);
  t.is(c.levelSizeRatio, 10);
  t.is(c.numLevels, 7);
  t.is(c.baseLevelSize, 64 * MiB);
  t.is(c.targetFileSize, 16 * MiB);
  t.is(c.walRecovery, 'tolerate-corrupted-tail');
  t.is(c.keyEncoding, 'utf8');
  t.is(c.valueEncoding, 'utf8');
  t.is(c.sources.memtableSize, 'default');
});

test('sizes', (t) => {
  t.is(parseSize(4096), 4096);
  t.is(parseSize('4096'), 4096);
  t.is(parseSize('64KiB'), 64 * 1024);
  t.is(parseSize('32MiB'), 32 * MiB);
  t.is(parseSize('1GiB'), 1024 * MiB);
  t.is(parseSize('8mb'), 8 * MiB);
  t.is(parseSize('1.5MiB'), undefined);
  t.is(parseSize('lots'), undefined);
  t.is(parseSize(-1), undefined);
});

test('profiles', (t) => {
  const w = loadConfig({ env: {}, envFile: false, profile: 'write-heavy' });
  t.is(w.memtableSize, 128 * MiB);
  t.is(w.compactionStyle, 'size-tiered');
  t.is(w.l0CompactionTrigger, 8);
  t.is(w.sources.memtableSize, 'profile write-heavy');
  const r = loadConfig({ env: {}, envFile: false, profile: 'read-heavy' });
  t.is(r.blockCacheSize, 256 * MiB);
  t.is(r.bloomBitsPerKey, 14);
  t.is(r.compactionStyle, 'leveled');
  const l = loadConfig({ env: {}, envFile: false, profile: 'low-memory' });
  t.is(l.memtableSize, 4 * MiB);
  t.is(l.blockCacheSize, 4 * MiB);
  t.is(l.blockSize, 4096);
  t.deepEqual(Object.keys(profiles).sort(), ['balanced', 'low-memory', 'read-heavy', 'write-heavy']);
});

test('precedence: profile < .env < env < explicit', (t) => {
  const file = envFile('STRATA_MEMTABLE_SIZE=64MiB\nSTRATA_BLOCK_SIZE=8KiB\nSTRATA_SYNC=true\nOTHER=ignored\n');
  const env = { STRATA_BLOCK_SIZE: '16384', STRATA_PROFILE: 'write-heavy', PATH: '/bin' };
  const c = loadConfig({ env, envFile: file, sync: false });
  t.is(c.profile, 'write-heavy');
  t.is(c.memtableSize, 64 * MiB);
  t.is(c.sources.memtableSize, '.env');
  t.is(c.blockSize, 16384);
  t.is(c.sources.blockSize, 'env');
  t.is(c.sync, false);
  t.is(c.sources.sync, 'options');
  t.is(c.compactionStyle, 'size-tiered');
  t.is(c.l0CompactionTrigger, 8);
  t.is(process.env.STRATA_MEMTABLE_SIZE, undefined, '.env must not pollute process.env');
  const explicitProfile = loadConfig({ env, envFile: file, profile: 'low-memory' });
  t.is(explicitProfile.profile, 'low-memory');
  t.is(explicitProfile.blockCacheSize, 4 * MiB);
});

test('.env profile applies when env has none', (t) => {
  const file = envFile('STRATA_PROFILE=read-heavy\n');
  t.is(loadConfig({ env: {}, envFile: file }).profile, 'read-heavy');
});

test('env values are parsed by type', (t) => {
  const c = loadConfig({
    env: {
      STRATA_CREATE_IF_MISSING: 'false',
      STRATA_COMPRESSION: '0',
      STRATA_L0_COMPACTION_TRIGGER: '6',
      STRATA_COMPACTION_STYLE: 'size-tiered',
      STRATA_WAL_RECOVERY: 'salvage',
      STRATA_VALUE_ENCODING: 'json',
      STRATA_TARGET_FILE_SIZE: '1GiB',
    },
    envFile: false,
  });
  t.is(c.createIfMissing, false);
  t.is(c.compression, false);
  t.is(c.l0CompactionTrigger, 6);
  t.is(c.compactionStyle, 'size-tiered');
  t.is(c.walRecovery, 'salvage');
  t.is(c.valueEncoding, 'json');
  t.is(c.targetFileSize, 1024 * MiB);
  const b = toBindingOptions(c);
  t.is(b.targetFileSize, 1024 * MiB);
  t.is(b.compactionStyle, 'size-tiered');
});

test('invalid values name the option and the source', (t) => {
  const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
    [{ env: {}, envFile: false, bogus: true } as never, /unknown option "bogus" \(from options\)/],
    [{ env: {}, envFile: false, memtableSize: 'huge' }, /memtableSize \(from options\)/],
    [{ env: {}, envFile: false, sync: 'yes' as never }, /sync \(from options\)/],
    [{ env: {}, envFile: false, numLevels: 2.5 }, /numLevels \(from options\)/],
    [{ env: {}, envFile: false, compactionStyle: 'tiered' as never }, /compactionStyle/],
    [{ env: {}, envFile: false, profile: 'fast' as never }, /profile \(from options\)/],
    [{ env: { STRATA_MEMTABLE_SIZE: '12 parsecs' }, envFile: false }, /memtableSize \(from env STRATA_MEMTABLE_SIZE\)/],
    [{ env: { STRATA_SYNC: 'maybe' }, envFile: false }, /sync \(from env STRATA_SYNC\)/],
    [{ env: { STRATA_PROFILE: 'nope' }, envFile: false }, /profile \(from env STRATA_PROFILE\)/],
    [{ env: {}, envFile: envFile('STRATA_BLOCK_SIZE=big\n') }, /blockSize \(from \.env STRATA_BLOCK_SIZE\)/],
  ];
  for (const [opts, message] of cases) {
    const e = t.throws(() => loadConfig(opts), { instanceOf: StrataError, message });
    t.is((e as StrataError).code, 'STRATA_INVALID_ARGUMENT');
  }
});

test('variables reserved for the test and benchmark tools are not options', (t) => {
  const env = {
    STRATA_SOAK_SECS: '60',
    STRATA_TEST_SEED: '7',
    STRATA_BENCH_N: '1000',
    STRATA_CRASH_POINT: 'wal.appended.before_sync',
    STRATA_CRASH_HIT: '3',
    STRATA_CRASH_ODDS: '1000',
    STRATA_CRASH_SEED: '1',
  };
  const c = loadConfig({ env, envFile: false });
  t.deepEqual(c, loadConfig({ env: {}, envFile: false }));
});

test('open applies options and rejects bad ones', async (t) => {
  const db = await fresh({ memtableSize: '4MiB', profile: 'low-memory', compactionStyle: 'size-tiered' });
  t.is(db.options.memtableSize, 4 * MiB);
  t.is(db.options.compactionStyle, 'size-tiered');
  await db.put('a', '1');
  await db.close();
  await expectCode(() => fresh({ memtableSize: 'nope' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ env: { STRATA_SYNC: 'perhaps' } }), 'STRATA_INVALID_ARGUMENT');
});

test('zstd: tables written with it are format version 2, read back under any setting; bad settings are refused', async (t) => {
  const dir = tmpPath();
  const value = (i: number): string => `v${i}-` + 'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(i % 26, (i % 26) + 40);
  const db = await open(dir, { env: {}, envFile: false, zstd: 'all', zstdLevel: 5, memtableSize: '64KiB' });
  t.is(db.options.zstd, 'all');
  const ops = Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: value(i) }));
  await db.batch(ops);
  await db.close();
  const versions = tableVersions(dir);
  t.true(versions.length > 0);
  t.deepEqual([...new Set(versions)], [2]);
  for (const zstd of ['off', 'bottommost'] as const) {
    const again = await open(dir, { env: {}, envFile: false, zstd });
    for (const i of [0, 1234, 2999]) t.is(await again.get(`k${String(i).padStart(5, '0')}`), value(i));
    await again.close();
  }
  t.is(loadConfig({ env: { STRATA_ZSTD: 'bottommost', STRATA_ZSTD_LEVEL: '9' }, envFile: false }).zstd, 'bottommost');
  await expectCode(() => fresh({ zstd: 'max' as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ zstd: 'all', zstdLevel: 0 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ zstd: 'all', zstdLevel: 20 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ zstd: 'bottommost', compression: false }), 'STRATA_INVALID_ARGUMENT');
});

test('the .env file of the working directory is read by default', (t) => {
  const dir = path.dirname(envFile('STRATA_BLOOM_BITS_PER_KEY=12\n'));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    t.is(loadConfig({ env: {} }).bloomBitsPerKey, 12);
  } finally {
    process.chdir(cwd);
  }
});

test('unknown STRATA_* variables are warned about once each, never fatal', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    if ((w as Error & { code?: string }).code === 'STRATA_UNKNOWN_ENV') warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    const env = { STRATA_API_KEY: 'secret', STRATA_HOME: '/somewhere', STRATA_SYNC: 'true' };
    const c = loadConfig({ env, envFile: envFile('STRATA_FROM_DOTENV=1\n') });
    t.is(c.sync, true, 'known variables still apply');
    loadConfig({ env, envFile: false });
    const db = await fresh({ env });
    await db.close();
    await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(warnings.map((w) => /variable (\w+)/.exec(w.message)?.[1]).sort(), ['STRATA_API_KEY', 'STRATA_FROM_DOTENV', 'STRATA_HOME']);
    t.false(warnings.some((w) => w.message.includes('secret')), 'the value is never printed');
  } finally {
    process.off('warning', onWarning);
  }
  // A known variable with a bad value stays an error.
  t.throws(() => loadConfig({ env: { STRATA_SYNC: 'maybe' }, envFile: false }), { instanceOf: StrataError });
});

test('read, write and iterator options are checked like open options', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  const bad = { bogus: 1 } as never;
  await expectCode(() => db.get('a', bad), 'STRATA_INVALID_ARGUMENT');
  t.throws(() => db.getSync('a', bad), { code: 'STRATA_INVALID_ARGUMENT' } as never);
  await expectCode(() => db.getMany(['a'], bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.has('a', bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('a', '2', bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.del('a', bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.batch([{ type: 'put', key: 'b', value: '1' }], bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.batch().put('b', '1').write(bad), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.clear({ revers: true } as never), 'STRATA_INVALID_ARGUMENT');
  for (const make of [() => db.iterator(bad), () => db.keys(bad), () => db.values(bad), () => db.iterator({ revers: true } as never)]) {
    const e = t.throws(make, { code: 'STRATA_INVALID_ARGUMENT' } as never);
    t.regex(e?.message ?? '', /unknown option "(bogus|revers)" of an iterator/);
  }
  t.throws(() => db.approximateCount({ prefixx: 'a' } as never), { code: 'STRATA_INVALID_ARGUMENT' } as never);
  t.is(await db.get('a'), '1', 'nothing was written by the refused calls');
  t.deepEqual(await db.keys().all(), ['a']);
  await db.close();
});

test('the empty key is a key like any other', async (t) => {
  const db = await fresh();
  await db.put('', 'empty');
  t.is(await db.get(''), 'empty');
  t.is(db.getSync(''), 'empty');
  t.true(await db.has(''));
  t.deepEqual(await db.iterator().all(), [['', 'empty']]);
  await db.batch([{ type: 'put', key: '', value: 'again' }]);
  t.is(await db.get(''), 'again');
  await db.del('');
  t.is(await db.get(''), undefined);
  await db.close();
});

test('an empty key stored through StrataLevel is read and deleted through Db', async (t) => {
  const location = tmpPath();
  const level = new StrataLevel(location, { env: {}, envFile: false });
  await level.open();
  await level.put('', 'from level');
  await level.close();
  const db = await open(location, { env: {}, envFile: false });
  t.is(await db.get(''), 'from level');
  await db.del('');
  t.deepEqual(await db.keys().all(), []);
  await db.close();
});
