/**
 * T6 through Node: bit flips and 4 KiB overwrites in live files (SSTs, MANIFEST) of a closed
 * database. For each case a child process opens, scans and reads 200 random keys
 * (fixtures/corruption-reader.js), then `strata verify` runs on it. Every result must equal
 * the model or be a thrown STRATA_CORRUPTION; the child must exit 0; `verify` must exit non-zero
 * and name the damaged file and an offset (every byte of these files is CRC-covered, see
 * docs/format.md); clean copies must verify clean.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { prng } from './fixtures/kill-harness';
import { tmpPath } from './helpers';

const READER = path.join(__dirname, 'fixtures', 'corruption-reader.js');
const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
const CASES = Number(process.env.STRATA_TEST_CORRUPTION_CASES ?? 150);
const CLEAN = 5;
const N = 20_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

interface Case {
  n: number;
  file: string;
  kind: 'flip' | 'zeros' | 'junk' | 'clean';
  offset: number;
}

test(`T6: ${CASES} corruption cases through a Node child and strata verify`, async (t) => {
  t.timeout(15 * 60_000);
  const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  const base = tmpPath('base');
  const built = await run([READER, base, '1', String(N), 'build']);
  t.is(built.code, 0, built.stderr);
  const info = JSON.parse(built.stdout) as { ok: boolean; tables: number };
  t.true(info.ok);
  t.true(info.tables >= 4, `only ${info.tables} tables`);
  const live = fs.readdirSync(base).filter((f) => f.endsWith('.sst') || f === 'MANIFEST');

  const cases: Case[] = [];
  for (let n = 0; n < CASES + CLEAN; n++) {
    if (n % Math.floor((CASES + CLEAN) / CLEAN) === 0 && cases.filter((c) => c.kind === 'clean').length < CLEAN) {
      cases.push({ n, file: '', kind: 'clean', offset: 0 });
      continue;
    }
    const file = live[Math.floor(rand() * live.length)] as string;
    const size = fs.statSync(path.join(base, file)).size;
    const r = rand();
    const kind = r < 0.7 ? 'flip' : r < 0.85 ? 'zeros' : 'junk';
    cases.push({ n, file, kind, offset: Math.floor(rand() * size) });
  }

  const stats = { flip: 0, zeros: 0, junk: 0, unchanged: 0, openRefused: 0, readsFailed: 0, detectedByVerify: 0, cleanOk: 0 };
  const failures: string[] = [];
  const fail = (c: Case, what: string): void => {
    if (failures.length < 30) failures.push(`case ${c.n} (${c.kind} ${c.file}@${c.offset}): ${what}`);
  };

  const one = async (c: Case): Promise<void> => {
    const dir = tmpPath(`case${c.n}`);
    fs.cpSync(base, dir, { recursive: true });
    let changed = false;
    if (c.kind !== 'clean') {
      const p = path.join(dir, c.file);
      const bytes = fs.readFileSync(p);
      const before = Buffer.from(bytes);
      if (c.kind === 'flip') {
        bytes[c.offset] = (bytes[c.offset] as number) ^ (1 << Math.floor(rand() * 8));
      } else {
        const start = Math.max(0, Math.min(c.offset, bytes.length - 4096));
        for (let i = start; i < Math.min(bytes.length, start + 4096); i++) bytes[i] = c.kind === 'zeros' ? 0 : Math.floor(rand() * 256);
      }
      changed = !bytes.equals(before);
      fs.writeFileSync(p, bytes);
      stats[c.kind]++;
      if (!changed) stats.unchanged++;
    }
    const reader = await run([READER, dir, String(seed + c.n), String(N)]);
    if (reader.code !== 0 || reader.signal !== null) {
      fail(c, `reader child exited with code ${reader.code} signal ${reader.signal}: ${reader.stderr.slice(0, 300)}`);
    } else if (reader.stderr.trim() !== '') {
      fail(c, `reader child wrote to stderr: ${reader.stderr.slice(0, 300)}`);
    } else {
      const out = JSON.parse(reader.stdout) as { open: string; openMessage?: string; wrong: string[]; scanError?: string; getErrors: number };
      if (out.open !== 'ok') {
        stats.openRefused++;
        if (out.open !== 'STRATA_CORRUPTION') fail(c, `open failed with ${out.open}: ${out.openMessage ?? ''}`);
      }
      if (out.scanError !== undefined || out.getErrors > 0) stats.readsFailed++;
      if (out.wrong.length > 0) fail(c, `silently wrong results: ${out.wrong.slice(0, 3).join('; ')}`);
      if (c.kind === 'clean' && (out.open !== 'ok' || out.scanError !== undefined || out.getErrors > 0)) fail(c, 'clean database reported an error');
    }
    const v = await run([CLI, 'verify', dir]);
    if (v.signal !== null) fail(c, `verify died with ${v.signal}`);
    if (c.kind === 'clean' || !changed) {
      if (v.code !== 0) fail(c, `verify of an intact database exited ${v.code}: ${v.stdout}${v.stderr}`);
      else if (c.kind === 'clean') stats.cleanOk++;
    } else {
      const name = c.file.replace('.', '\\.');
      const withOffset = new RegExp(`(STRATA_CORRUPTION \\S*${name} offset \\d+:)|(corruption in \\S*${name} at offset \\d+)`);
      if (v.code === 0) fail(c, 'verify exited 0 on a damaged database');
      else if (!withOffset.test(v.stdout + v.stderr)) fail(c, `verify (exit ${v.code}) did not name ${c.file} with an offset: ${(v.stdout + v.stderr).slice(0, 400)}`);
      else stats.detectedByVerify++;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const started = Date.now();
  const queue = [...cases];
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await one(c);
    }),
  );
  t.log(
    `seed ${seed}: ${info.tables} tables; ${CASES} damaged cases (${stats.flip} bit flips, ${stats.zeros} zero pages, ${stats.junk} junk pages, ` +
      `${stats.unchanged} left the bytes unchanged) + ${CLEAN} clean in ${((Date.now() - started) / 1000).toFixed(1)}s; ` +
      `open refused ${stats.openRefused}, reads failed with STRATA_CORRUPTION in ${stats.readsFailed}, ` +
      `verify detected ${stats.detectedByVerify}/${CASES - stats.unchanged} with file and offset, clean verified ok ${stats.cleanOk}/${CLEAN}; ` +
      `failures ${failures.length}`,
  );
  t.deepEqual(failures, []);
  t.is(stats.cleanOk, CLEAN);
});
