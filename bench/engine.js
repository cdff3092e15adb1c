#!/usr/bin/env node
'use strict';
// `npm run bench:engine`: runs the engine-only criterion benchmark
// (crates/engine/benches/phases.rs) and writes bench/results/engine-latest.json with ops/s
// per phase, read from criterion's estimates. `--no-run` only converts the last estimates.
// STRATA_BENCH_ENGINE_N (default 100000) and STRATA_BENCH_ENGINE_SAMPLES (default 10) pass through.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { machineInfo, ENGINE_PHASES } = require('./lib/report');

const root = path.join(__dirname, '..');
const n = Number(process.env.STRATA_BENCH_ENGINE_N ?? 100_000);
const samples = Number(process.env.STRATA_BENCH_ENGINE_SAMPLES ?? 10);
const out = process.env.STRATA_BENCH_OUT ?? path.join(__dirname, 'results');

if (!process.argv.includes('--no-run')) {
  execFileSync('cargo', ['bench', '-p', 'strata-engine', '--bench', 'phases'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, STRATA_BENCH_ENGINE_N: String(n), STRATA_BENCH_ENGINE_SAMPLES: String(samples) },
  });
}

const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }));
const dir = path.join(meta.target_directory, 'criterion', 'phases');
const phases = {};
for (const phase of ENGINE_PHASES) {
  const f = path.join(dir, phase, 'new', 'estimates.json');
  const bf = path.join(dir, phase, 'new', 'benchmark.json');
  if (!fs.existsSync(f)) continue;
  const est = JSON.parse(fs.readFileSync(f, 'utf8'));
  const bench = fs.existsSync(bf) ? JSON.parse(fs.readFileSync(bf, 'utf8')) : {};
  const ops = bench.throughput?.Elements ?? (phase === 'seekrandom' ? Math.max(1, Math.floor(n / 10)) : n);
  const meanNs = est.mean.point_estimate;
  phases[phase] = {
    ops,
    meanSecondsPerRun: meanNs / 1e9,
    opsPerSec: ops / (meanNs / 1e9),
    opsPerSecCi95: [ops / (est.mean.confidence_interval.upper_bound / 1e9), ops / (est.mean.confidence_interval.lower_bound / 1e9)],
  };
}
if (Object.keys(phases).length === 0) {
  process.stderr.write(`bench:engine: no criterion estimates under ${dir}\n`);
  process.exit(1);
}
const report = { date: new Date().toISOString(), n, samples, machine: machineInfo(), phases };
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'engine-latest.json'), JSON.stringify(report, null, 2) + '\n');
process.stdout.write('| phase | engine ops/s |\n| --- | ---: |\n');
for (const [p, r] of Object.entries(phases)) process.stdout.write(`| ${p} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} |\n`);
process.stderr.write(`bench:engine: wrote ${path.join(out, 'engine-latest.json')}\n`);
