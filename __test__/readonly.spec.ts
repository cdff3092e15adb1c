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

test('readOnly and strata verify work on a read-only file system (a read-only bind mount)', (t) => {
  const probe = spawnSync('unshare', ['-Urm', 'true']);
  if (probe.error !== undefined || probe.status !== 0) {
    t.log(`no user+mount namespaces here (unshare: ${String(probe.error ?? probe.stderr)}); the engine test read_only.rs covers this with a file system that refuses every write`);
    t.pass();
    return;
  }
  const location = tmpPath();
  crashedDb(location);
  const before = contents(location);
  const mnt = tmpPath('ro-mount');
  fs.mkdirSync(mnt, { recursive: true });
  const child = `
    const { open } = require(${JSON.stringify(INDEX)});
    (async () => {
      const dir = process.argv[1];
      let writable;
      try { await open(dir, { env: {}, envFile: false }); writable = 'opened'; } catch (e) { writable = e.code; }
      const db = await open(dir, { env: {}, envFile: false, readOnly: true });
      const v = await db.get('k050');
      let put;
      try { await db.put('x', 'y'); } catch (e) { put = e.code; }
      await db.close();
      console.log(JSON.stringify({ writable, v, put }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const script = 'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && "$3" "$4" verify "$2" && "$3" -e "$5" "$2"';
  const r = spawnSync('unshare', ['-Urm', 'sh', '-c', script, 'sh', location, mnt, process.execPath, CLI, child], { env: cleanEnv, encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /is clean/);
  const last = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { writable: string; v: string; put: string };
  t.is(last.writable, 'STRATA_IO_ERROR', 'a writable open fails on a read-only file system');
  t.is(last.v, 'v50');
  t.is(last.put, 'STRATA_READ_ONLY');
  t.deepEqual(contents(location), before);
});
