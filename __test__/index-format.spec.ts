/**
 * The index formats on disk: the committed `fixtures/format/index-v1` database (registry
 * record version 1, the posting layout of docs/format.md) opens and answers queries; damaged
 * registry records fail `open` with `STRATA_CORRUPTION`; random bytes as registry records and
 * as query cursors never crash or hang (a small fuzz loop; `STRATA_TEST_SEED` replays it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import native = require('../ts/native');
import { Query, StrataError, open } from '../ts/index';
import { tmpPath, mulberry32 } from './helpers';
import { FIXTURE_INDEXES } from './fixtures/index-fixture-data';
import { initial } from './fixtures/make-index-fixture';

const FIXTURE = path.join(__dirname, 'fixtures', 'format', 'index-v1');
const OPTS = { env: {}, envFile: false as const, valueEncoding: 'json' as const, extractors: { initial } };

function copyFixture(): string {
  const dir = tmpPath();
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dir;
}

/** Puts raw system-keyspace records (kind 3 packed ops) into a closed database. */
async function putSystem(dir: string, key: Buffer, value: Buffer): Promise<void> {
  const db = await native.NativeDatabase.open(dir, {});
  const op = Buffer.concat([Buffer.from([3, key.length]), key, Buffer.from([value.length < 128 ? value.length : 0])]);
  if (value.length >= 128) throw new Error('test helper: short values only');
  await db.write(Buffer.concat([op, value]), true);
  await db.close();
}

test('the v1 fixture opens, lists its indexes and answers every kind of query', async (t) => {
  const db = await open<string, Record<string, unknown>>(copyFixture(), { ...OPTS, indexes: FIXTURE_INDEXES });
  t.deepEqual(
    (await db.listIndexes()).map((i) => [i.name, i.state]),
    FIXTURE_INDEXES.map((d) => [d.name, 'ready']).sort(([a], [b]) => String(a).localeCompare(String(b))),
  );
  const keys = async (q: Query): Promise<string[]> => (await db.query(q, { values: false })).items.map((i) => i.key);
  t.deepEqual(await keys({ index: 'city', eq: 'Lisboa' }), ['u:02']);
  t.deepEqual(await keys({ index: 'age', lt: 30 }), ['u:02', 'u:05']);
  t.deepEqual(await keys({ index: 'tags', eq: 'dev' }), ['u:01', 'u:02', 'u:05']);
  t.deepEqual(await keys({ index: 'email', eq: 'davi@x' }), ['u:04']);
  t.deepEqual(await keys({ index: 'city_age', eq: ['Porto Alegre'], gt: 40 }), ['u:04']);
  t.deepEqual(await keys({ index: 'bio', match: 'SÃO PAULO' }), ['u:01', 'u:04']);
  t.deepEqual(await keys({ index: 'initial', in: ['A', 'X'] }), ['u:01'], 'scope u: leaves x:01 out');
  t.deepEqual(await keys({ and: [{ index: 'city', eq: 'Recife' }, { not: { index: 'age', gte: 0 } }] }), ['u:05']);
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('a damaged registry or meta record fails open with STRATA_CORRUPTION naming it', async (t) => {
  const dir = copyFixture();
  await putSystem(dir, Buffer.concat([Buffer.from([0x02]), Buffer.from('city')]), Buffer.from('{"v":1,"id":'));
  const e = await t.throwsAsync(() => open(dir, OPTS));
  t.is((e as StrataError).code, 'STRATA_CORRUPTION');
  t.regex((e as Error).message, /index 'city'/);
  const dir2 = copyFixture();
  await putSystem(dir2, Buffer.from([0x00, 0x6d, 0x65, 0x74, 0x61]), Buffer.from('{"v":9}'));
  const e2 = await t.throwsAsync(() => open(dir2, OPTS));
  t.is((e2 as StrataError).code, 'STRATA_CORRUPTION');
  t.regex((e2 as Error).message, /meta/);
});

test('fuzz: random registry records and random cursors give typed errors, never a crash', async (t) => {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.log(`seed ${seed}`);
  const rnd = mulberry32(seed);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const pieces = ['{', '}', '"v":1', '"id":', '"definition":', '{"name":"city"}', 'null', '"state":"ready"', ',', '[', ']', '1e999', '"'];
  for (let i = 0; i < 25; i++) {
    const dir = copyFixture();
    const value =
      rnd() < 0.5 ? bytes(Math.floor(rnd() * 100)) : Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 10) }, () => pieces[Math.floor(rnd() * pieces.length)]).join(''));
    await putSystem(dir, Buffer.concat([Buffer.from([0x02]), Buffer.from('age')]), value);
    try {
      const db = await open(dir, OPTS);
      await db.close();
      t.fail(`seed ${seed}: the damaged record ${JSON.stringify(value.toString('latin1'))} was accepted`);
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== 'STRATA_CORRUPTION') t.fail(`seed ${seed}: ${JSON.stringify(value.toString('latin1'))} gave ${String(e)}`);
    }
  }
  const db = await open(copyFixture(), OPTS);
  const page = await db.query({ index: 'tags', eq: 'dev' }, { limit: 1 });
  const good = page.cursor as string;
  for (let i = 0; i < 2000; i++) {
    let c: string;
    const r = rnd();
    if (r < 0.3) c = bytes(Math.floor(rnd() * 60)).toString('latin1');
    else if (r < 0.6) c = bytes(Math.floor(rnd() * 60)).toString('base64url') + '.' + bytes(8).toString('hex');
    else {
      const pos = Math.floor(rnd() * good.length);
      c = good.slice(0, pos) + String.fromCharCode(32 + Math.floor(rnd() * 95)) + good.slice(pos + 1);
      if (c === good) continue;
    }
    try {
      await db.query({ index: 'tags', eq: 'dev' }, { cursor: c });
      t.fail(`seed ${seed}: cursor ${JSON.stringify(c)} was accepted`);
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== 'STRATA_INVALID_ARGUMENT') t.fail(`seed ${seed}: cursor ${JSON.stringify(c)} gave ${String(e)}`);
    }
  }
  t.is((await db.query({ index: 'tags', eq: 'dev' }, { cursor: good })).items.length, 2);
  await db.close();
});
