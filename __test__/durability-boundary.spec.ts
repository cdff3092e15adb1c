/**
 * T13: N-API boundary robustness. A child process (so that a native crash is observed as a
 * signal, not as a dead test runner) runs 10,000 seeded random API calls from
 * fixtures/boundary-fuzz.js: invalid argument types, 0 B to 64 MiB buffers, use after close,
 * iterators outliving their database or collected with it (--expose-gc), close() with 100
 * operations in flight, and the binding's __testPanic (sync and async).
 *
 * Soak: STRATA_TEST_BOUNDARY_CALLS=1000000 sets the number of calls. With STRATA_SOAK_SECS the
 * program runs for that many seconds instead and reports how many calls it made against the
 * target (run ava with a --timeout above it). Logs `SOAK-SUMMARY T13: …`.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import test from 'ava';

import { expectCode, fresh, tmpPath } from './helpers';

const FUZZ = path.join(__dirname, 'fixtures', 'boundary-fuzz.js');
const CALLS = Number(process.env.STRATA_TEST_BOUNDARY_CALLS ?? 10_000);
const SOAK_SECS = Number(process.env.STRATA_SOAK_SECS ?? 0);

test(`T13: ${CALLS} random API calls never crash the process and fail only with documented codes`, async (t) => {
  // A hang guard: 10 minutes, plus the soak time or 5 ms per call (about 5x the loaded VM's rate).
  t.timeout(10 * 60_000 + (SOAK_SECS > 0 ? SOAK_SECS * 1000 : CALLS * 5));
  const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  const args = ['--expose-gc', FUZZ, tmpPath(), String(seed), String(CALLS), String(SOAK_SECS)];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s })),
  );
  t.is(signal, null, `child died with ${signal}; stderr: ${stderr.slice(-2000)}`);
  t.is(code, 0, `child exited ${code}; stderr: ${stderr.slice(-2000)}`);
  const { stats, violations } = JSON.parse(stdout) as { stats: Record<string, unknown>; violations: string[] };
  t.log(`seed ${seed}: ${JSON.stringify(stats)}`);
  if (SOAK_SECS > 0 || CALLS > 10_000) {
    const reached = (stats.calls as number) >= CALLS ? 'reached' : 'not reached';
    t.log(
      `SOAK-SUMMARY T13: ${String(stats.calls)} calls in ${String(stats.secs)} s (target ${CALLS} ${reached}), seed ${seed}, ` +
        `${violations.length} violations, 0 crashes; codes ${JSON.stringify(stats.byCode)}`,
    );
  }
  t.deepEqual(violations, []);
  t.true((stats.calls as number) >= (SOAK_SECS > 0 ? Math.min(CALLS, 1_000) : CALLS));
  // Only the deliberate panics may print (Rust's panic hook writes them to stderr).
  const other = stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/deliberate panic for testing|panicked at src\/tasks\/panic\.rs|stack backtrace|RUST_BACKTRACE/.test(l));
  t.deepEqual(other, []);
});

// Regression (found by the T13 program, seed 900324): a BigInt or a cyclic object as an
// encoding name or a batch op type made the error message's JSON.stringify throw a plain
// TypeError without a code instead of STRATA_INVALID_ARGUMENT.
test('unserializable option values fail with STRATA_INVALID_ARGUMENT, not a TypeError', async (t) => {
  const db = await fresh();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const bad of [12n, cyclic]) {
    await expectCode(() => db.keys({ keyEncoding: bad as never }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => db.get('k', { valueEncoding: bad as never }), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => db.batch([{ type: bad, key: 'k' } as never]), 'STRATA_INVALID_ARGUMENT');
    await expectCode(() => db.batch().put('k', 'v', { keyEncoding: bad as never }), 'STRATA_INVALID_ARGUMENT');
  }
  await db.close();
  t.pass();
});
