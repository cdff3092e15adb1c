/**
 * Soak tier of T1 (RELIABILITY.md): kill -9 cycles through the Node binding for
 * STRATA_SOAK_SECS seconds (default 1800), with the quick tier's checker plus
 *
 * - RSS growth of this (checking) process < 10% after warm-up (it reopens, scans, verifies and
 *   closes the database every cycle, so leaks in those paths accumulate here). Warm-up is the
 *   first quarter of the run and at least WARM_CYCLES (250) cycles: until the 10,000-key space
 *   has filled, the database and the working set of a full scan still grow;
 * - open descriptors while the database is open <= live files + 16;
 * - files on disk not referenced by the manifest after a clean close = 0 (checked every cycle).
 *
 *   npm run test:soak:t1                     # 30 minutes
 *   STRATA_SOAK_SECS=120 npm run test:soak:t1
 *   STRATA_TEST_SEED=42 STRATA_SOAK_DIR=/var/tmp/soak npm run test:soak:t1
 *
 * (`npm run test:soak` runs this and every other soak test: scripts/soak-all.sh.)
 *
 * Exits 0 when every check held, 1 otherwise; prints a summary line every 25 cycles.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { emptySummary, killCycle, KillState, prng } from '../__test__/fixtures/kill-harness';

/**
 * Cycles before the RSS baseline is taken. The checking process's RSS grows until the 10,000-key
 * space and the SST set have filled: two 30-minute runs reached the same plateau (177.5 MiB at
 * cycle 250, 179.3 MiB at cycle 622; and 178.0 MiB at cycle 309 in a run on a loaded machine
 * whose baseline, taken at cycle ~100, was still on the way up).
 */
const WARM_CYCLES = 250;

async function main(): Promise<number> {
  const secs = Number(process.env.STRATA_SOAK_SECS ?? 1800);
  const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
  const root = process.env.STRATA_SOAK_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'strata-soak-'));
  const state = new KillState(path.join(root, 'db'), seed);
  const rand = prng(seed);
  const sum = emptySummary();
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const started = Date.now();
  let warmRss = 0;
  let maxRss = 0;
  const line = (): string => {
    const pct = (n: number): string => `${((100 * n) / Math.max(1, sum.cycles)).toFixed(0)}%`;
    return (
      `[${((Date.now() - started) / 1000).toFixed(0)}s] cycles ${sum.cycles}, ops ${sum.ops}, acked writes ${sum.ackedWrites} (${sum.ackedSyncWrites} sync), ` +
      `kills in flush/compaction ${sum.killsInBackground} (${pct(sum.killsInBackground)}; engine evidence ${pct(sum.killsInBackgroundStrict)}), ` +
      `lost ${sum.lostAckedWrites}, torn ${sum.tornBatches}, never written ${sum.neverWritten}, bad reads ${sum.badReads}, ` +
      `failed opens ${sum.failedOpens}, crashes ${sum.childCrashes}, stderr ${sum.unexpectedStderr.length}, verify problems ${sum.verifyProblems}, ` +
      `unreferenced ${sum.unreferencedAfterClose}, fd excess ${sum.maxFdDelta}, max live files ${sum.maxLiveFiles}, ` +
      `rss warm ${(warmRss / 2 ** 20).toFixed(1)} MiB max ${(maxRss / 2 ** 20).toFixed(1)} MiB`
    );
  };
  console.log(`soak: ${secs}s, seed ${seed}, directory ${root}`);
  while (Date.now() - started < secs * 1000) {
    try {
      await killCycle(state, sum, rand, { verifyEvery: 1 });
    } catch (e) {
      console.error(`cycle ${state.cycle} aborted: ${String(e)}`);
      break;
    }
    gc();
    const rss = process.memoryUsage().rss;
    const warm = sum.cycles >= WARM_CYCLES && Date.now() - started >= (secs * 1000) / 4;
    if (warm && warmRss === 0) warmRss = rss;
    else if (warmRss > 0) maxRss = Math.max(maxRss, rss);
    if (sum.cycles % 25 === 0) console.log(line());
  }
  console.log(line());
  const rssGrowth = warmRss > 0 && maxRss > 0 ? (maxRss - warmRss) / warmRss : 0;
  const failures = [
    ...sum.violations,
    ...sum.unexpectedStderr.map((l) => `stderr: ${l}`),
    ...(sum.killsInBackgroundStrict / Math.max(1, sum.cycles) < 0.25 ? ['fewer than 25% of kills landed in a flush or compaction'] : []),
    ...(rssGrowth >= 0.1 ? [`RSS grew ${(100 * rssGrowth).toFixed(1)}% after warm-up`] : []),
    ...(sum.maxFdDelta > 16 ? [`open descriptors exceeded live files + 16 by ${sum.maxFdDelta - 16}`] : []),
    ...(sum.unreferencedAfterClose > 0 ? [`${sum.unreferencedAfterClose} unreferenced files after clean close`] : []),
  ];
  console.log(
    warmRss > 0
      ? `RSS growth after warm-up: ${(100 * rssGrowth).toFixed(1)}%`
      : `RSS growth not checked: fewer than ${WARM_CYCLES} cycles or a quarter of the run`,
  );
  if (failures.length > 0) {
    console.log(`FAILED:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  console.log('PASSED');
  if (process.env.STRATA_SOAK_DIR === undefined) fs.rmSync(root, { recursive: true, force: true });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
