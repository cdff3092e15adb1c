/**
 * SSTable format version 2 on disk: the committed `fixtures/format/table-v2-zstd` database
 * (zstd blocks, docs/format.md "Footer") opens with zstd off and on, reads every record,
 * verifies clean, and keeps working when written to; a flipped byte in a zstd block is
 * `STRATA_CORRUPTION` from `verify()`, never a crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { open } from '../ts/index';
import { tableVersions, tmpPath } from './helpers';
import { fixtureEntries } from './fixtures/make-table-fixture';

const FIXTURE = path.join(__dirname, 'fixtures', 'format', 'table-v2-zstd');
const OPTS = { env: {}, envFile: false as const };

function copyFixture(): string {
  const dir = tmpPath();
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dir;
}

function expected(): Map<string, string> {
  const m = new Map(fixtureEntries(0));
  fixtureEntries(1).forEach(([k, v], i) => {
    if (i % 3 === 0) m.set(k, v);
  });
  return m;
}

test('the committed fixture is all format version 2', (t) => {
  const v = tableVersions(FIXTURE);
  t.true(v.length >= 2);
  t.deepEqual([...new Set(v)], [2]);
});

for (const zstd of ['off', 'bottommost', 'all'] as const) {
  test(`the v2 fixture reads back whole with zstd: '${zstd}', verifies clean and takes writes`, async (t) => {
    const dir = copyFixture();
    const db = await open<string, string>(dir, { ...OPTS, zstd });
    const want = expected();
    const got = new Map<string, string>();
    for await (const [k, v] of db.iterator()) got.set(k, v);
    t.deepEqual(got, want);
    t.is(await db.get('k01998'), want.get('k01998'));
    t.deepEqual((await db.verify()).problems, []);
    await db.put('k00001', 'new');
    await db.compactRange();
    t.is(await db.get('k00001'), 'new');
    t.is(await db.get('k01999'), want.get('k01999'));
    await db.close();
    const again = await open<string, string>(dir, OPTS);
    t.is(await again.get('k00001'), 'new');
    t.deepEqual((await again.verify()).problems, []);
    await again.close();
  });
}

test('a damaged byte in a zstd table is reported by verify, and reads fail typed, never crash', async (t) => {
  const dir = copyFixture();
  const biggest = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sst'))
    .sort((a, b) => fs.statSync(path.join(dir, b)).size - fs.statSync(path.join(dir, a)).size)[0];
  const file = path.join(dir, biggest);
  const bytes = fs.readFileSync(file);
  bytes[100] ^= 0x40;
  fs.writeFileSync(file, bytes);
  const db = await open<string, string>(dir, OPTS);
  const report = await db.verify();
  t.true(report.problems.length > 0);
  t.regex(JSON.stringify(report.problems), /checksum|corrupt/i);
  let failures = 0;
  for (const [k] of expected()) {
    try {
      await db.get(k);
    } catch (e) {
      t.is((e as { code?: string }).code, 'STRATA_CORRUPTION');
      failures++;
    }
  }
  t.true(failures > 0, 'the damaged block is refused');
  await db.close();
});
