/**
 * `db.verify()` and `strata verify <dir>`: clean databases verify clean; a damaged data
 * block is reported with its file and offset; a database that cannot be opened exits 2.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { fresh, tmpPath } from './helpers';

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js');

function cliVerify(location: string): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  const r = spawnSync(process.execPath, [CLI, 'verify', location], { env, encoding: 'utf8', cwd: path.dirname(location) });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

async function build(location: string): Promise<void> {
  const db = await fresh({ memtableSize: 64 * 1024, targetFileSize: 64 * 1024, blockSize: 4096 }, location);
  for (let i = 0; i < 3000; i++) await db.put(`key${String(i).padStart(6, '0')}`, `value-${i}-${'x'.repeat(80)}`);
  await db.compactRange();
  const r = await db.verify();
  await db.close();
  if (!r.ok) throw new Error(`fresh database does not verify: ${JSON.stringify(r.problems)}`);
}

test('db.verify() is clean on a fresh database and rejects after close', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  t.deepEqual(await db.verify(), { ok: true, problems: [] });
  await db.flush();
  t.deepEqual(await db.verify(), { ok: true, problems: [] });
  await db.close();
  await t.throwsAsync(() => db.verify(), { code: 'STRATA_CLOSED' });
});

test('strata verify: clean → 0, damaged block → 1 with file and offset, unopenable → 2', async (t) => {
  const location = tmpPath();
  await build(location);
  const clean = cliVerify(location);
  t.is(clean.code, 0, clean.stdout + clean.stderr);
  t.regex(clean.stdout, /^ok: /m);

  const sst = fs.readdirSync(location).filter((f) => f.endsWith('.sst')).sort()[0] as string;
  const file = path.join(location, sst);
  const bytes = fs.readFileSync(file);
  const damaged = Buffer.from(bytes);
  (damaged[100] as number) ^= 0x10; // inside the first data block
  fs.writeFileSync(file, damaged);

  const db = await fresh({ createIfMissing: false }, location);
  const r = await db.verify();
  await db.close();
  t.false(r.ok);
  const p = r.problems.find((x) => x.file !== undefined && path.basename(x.file) === sst);
  t.truthy(p, JSON.stringify(r.problems));
  t.is(p?.code, 'STRATA_CORRUPTION');
  t.is(p?.offset, 0);

  const bad = cliVerify(location);
  t.is(bad.code, 1, bad.stdout + bad.stderr);
  t.regex(bad.stdout, new RegExp(`STRATA_CORRUPTION \\S*${sst} offset 0: `));
  t.regex(bad.stdout, /^FAILED: 1 problem/m);
  fs.writeFileSync(file, bytes);
  t.is(cliVerify(location).code, 0);

  const manifest = path.join(location, 'MANIFEST');
  const m = fs.readFileSync(manifest);
  const mm = Buffer.from(m);
  (mm[30] as number) ^= 0x01;
  fs.writeFileSync(manifest, mm);
  const unopenable = cliVerify(location);
  t.is(unopenable.code, 2);
  t.regex(unopenable.stderr, /STRATA_CORRUPTION: corruption in \S*MANIFEST at offset \d+/);
  fs.writeFileSync(manifest, m);

  const missing = cliVerify(path.join(path.dirname(location), 'nope'));
  t.is(missing.code, 2);
  t.regex(missing.stderr, /STRATA_NOT_FOUND/);
  t.is(cliVerify(location).code, 0);
});
