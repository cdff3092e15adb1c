// Smoke run of the benchmark suite (bench/run.js) with a tiny N, every store and every phase,
// so the suite cannot rot. `npm run bench` itself is not part of `npm test`.
// Needs bench/'s own dependencies (`npm ci --prefix bench`, done by .ci/run): when they are
// missing it fails at once saying so (it never installs them itself), and is never skipped.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { missingBenchPeers, tmpPath } from './helpers';

const RUN = path.join(__dirname, '..', 'bench', 'run.js');
const STORES = ['stratadb', 'classic-level', 'rocksdb', 'lmdb', 'lmdb-nosync', 'sqlite'];
const PHASES = [
  'fillseq', 'fillseq-sync', 'fillrandom', 'fillbatch', 'fillbatch-random', 'overwrite', 'readrandom', 'readrandom-sync', 'readmissing',
  'readseq', 'seekrandom', 'rangeread', 'deleterandom', 'ycsb-a', 'ycsb-b', 'ycsb-c', 'ycsb-d', 'ycsb-e', 'ycsb-f',
];
// Phases that exist only where a store has the synchronous API; anything else must run everywhere.
const SYNC_ONLY = new Set(['fillseq-sync', 'readrandom-sync']);

interface PhaseResult { ops: number; seconds: number; opsPerSec: number }
interface StoreResult {
  error?: string;
  phases: Record<string, PhaseResult>;
  skipped: Record<string, string>;
  disk: { afterFillrandom?: { allocated: number; apparent: number } };
  maxRssBytes: number;
  stats: Record<string, { writeAmplification: number; userBytesWritten: number }>;
}

test('bench smoke: every phase x store reports a positive figure', async (t) => {
  t.timeout(600_000);
  const missing = missingBenchPeers();
  if (missing.length > 0) {
    t.fail(`the benchmark's peers are not installed (${missing.join(', ')}): run \`npm ci --prefix bench\` first (.ci/run does); npm test never installs them`);
    return;
  }
  const out = tmpPath('bench-results');
  const dataDir = tmpPath('bench-data');
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  Object.assign(env, {
    STRATA_BENCH_NO_INSTALL: '1',
    STRATA_BENCH_N: '2000',
    STRATA_BENCH_OUT: out,
    STRATA_BENCH_DIR: dataDir,
    STRATA_BENCH_STORES: 'all',
    // The query section has its own smoke test (bench-query-smoke.spec.ts).
    STRATA_BENCH_SECTIONS: 'kv',
    STRATA_BENCH_PHASES: 'all',
    // LMDB's default durability flushes every commit; keep the smoke run short.
    STRATA_BENCH_MAX_PHASE_SECONDS: '1',
  });
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [RUN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  t.is(code, 0, `bench/run.js failed:\n${stderr}`);

  const report = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8')) as {
    stores: Record<string, StoreResult>;
    machine: { cores: number; cpuModel: string; node: string };
  };
  t.true(fs.readFileSync(path.join(out, 'latest.md'), 'utf8').includes('## Throughput (ops/s)'));
  t.true(report.machine.cores > 0);
  t.deepEqual(Object.keys(report.stores), STORES);
  for (const store of STORES) {
    const s = report.stores[store];
    t.is(s.error, undefined, `${store} failed: ${s.error}`);
    for (const phase of PHASES) {
      const r = s.phases[phase];
      if (r === undefined && SYNC_ONLY.has(phase)) {
        t.truthy(s.skipped[phase], `${store} ${phase}: neither a figure nor a reason to skip`);
        continue;
      }
      t.truthy(r, `${store} ${phase}: no result`);
      t.true(r.ops > 0 && r.opsPerSec > 0 && Number.isFinite(r.opsPerSec), `${store} ${phase}: ${JSON.stringify(r)}`);
    }
    t.true((s.disk.afterFillrandom?.allocated ?? 0) > 0, `${store}: no on-disk size`);
    t.true(s.maxRssBytes > 0, `${store}: no peak RSS`);
  }
  // Sync APIs that exist must be measured.
  for (const [store, phase] of [['stratadb', 'readrandom-sync'], ['lmdb', 'fillseq-sync'], ['sqlite', 'fillseq-sync'], ['sqlite', 'readrandom-sync']]) {
    t.truthy(report.stores[store].phases[phase], `${store} ${phase} missing`);
  }
  const wa = report.stores.stratadb.stats.afterFillrandom;
  t.true(wa.userBytesWritten > 0 && wa.writeAmplification >= 0, JSON.stringify(wa));
  t.false(fs.existsSync(path.join(dataDir, 'stratadb')), 'bench data left behind');
});
