/**
 * `readOnly` open mode and `strata verify`: a database left open by a crash (its WAL not yet
 * replayed) is opened, read and verified without a single byte of its directory changing;
 * writes fail with STRATA_READ_ONLY.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { StrataLevel, open } from '../ts/index';
import { expectCode, tmpPath } from './helpers';

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
const INDEX = path.join(__dirname, '..', 'dist', 'index.js');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));

/** Writes in a child that is then SIGKILLed: the writes live only in the WAL. */
function crashedDb(location: string): void {
  const script = `
    const { open } = require(${JSON.stringify(INDEX)});
    (async () => {
      const db = await open(${JSON.stringify(location)}, { env: {}, envFile: false });
      for (let i = 0; i < 100; i++) await db.put('k' + String(i).padStart(3, '0'), 'v' + i, { sync: true });
      process.kill(process.pid, 'SIGKILL');
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { env: cleanEnv, encoding: 'utf8' });
  if (r.signal !== 'SIGKILL') throw new Error(`writer did not crash as planned: ${r.status} ${r.stderr}`);
}

function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) out[name] = fs.readFileSync(path.join(dir, name)).toString('base64');
  return out;
}

test('strata verify on a crashed database checks it without modifying it', (t) => {
  const location = tmpPath();
  crashedDb(location);
  const before = contents(location);
  t.true(Object.keys(before).some((n) => n.endsWith('.wal') && before[n] !== ''), 'the crash left a non-empty WAL');
  const r = spawnSync(process.execPath, [CLI, 'verify', location], { env: cleanEnv, encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /is clean/);
  t.deepEqual(contents(location), before, 'verify changed the directory');
});

test('readOnly: reads see the WAL, writes fail with STRATA_READ_ONLY, nothing changes on disk', async (t) => {
  const location = tmpPath();
  crashedDb(location);
  const before = contents(location);
  const db = await open(location, { env: {}, envFile: false, readOnly: true });
  t.is(await db.get('k042'), 'v42');
  t.is((await db.keys().all()).length, 100);
  await expectCode(() => db.put('x', 'y'), 'STRATA_READ_ONLY');
  await expectCode(() => db.del('k001'), 'STRATA_READ_ONLY');
  await expectCode(() => db.batch([{ type: 'put', key: 'x', value: 'y' }]), 'STRATA_READ_ONLY');
  await expectCode(() => db.clear(), 'STRATA_READ_ONLY');
  await expectCode(() => db.compactRange(), 'STRATA_READ_ONLY');
  t.true((await db.verify()).ok);
  await db.close();
  t.deepEqual(contents(location), before);
  // A normal open afterwards recovers as usual.
  const rw = await open(location, { env: {}, envFile: false });
  t.is(await rw.get('k099'), 'v99');
  await rw.close();
});

test('readOnly never creates a database', async (t) => {
  const location = tmpPath();
  await expectCode(() => open(location, { env: {}, envFile: false, readOnly: true }), 'STRATA_NOT_FOUND');
  t.false(fs.existsSync(location));
  const r = spawnSync(process.execPath, [CLI, 'verify', location], { env: cleanEnv, encoding: 'utf8' });
  t.is(r.status, 2);
  t.false(fs.existsSync(location));
});

test('StrataLevel opened readOnly reads, and its writes fail with LEVEL_READONLY', async (t) => {
  const location = tmpPath();
  crashedDb(location);
  const before = contents(location);
  const db = new StrataLevel(location, { env: {}, envFile: false, readOnly: true });
  await db.open();
  t.is(await db.get('k007'), 'v7');
  const e = await t.throwsAsync(db.put('x', 'y'));
  t.is((e as Error & { code?: string }).code, 'LEVEL_READONLY');
  await db.close();
  t.deepEqual(contents(location), before);
});
