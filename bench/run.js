#!/usr/bin/env node
'use strict';
// `npm run bench`: db_bench-style phases and YCSB workloads, StrataDB side by side with
// LevelDB, RocksDB, LMDB and SQLite. Each store runs in its own child process on fresh
// directories; results go to bench/results/<timestamp>.{json,md} and latest.{json,md}.
// Configuration: see README.md ("Benchmarks") or bench/README.md.

const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const here = __dirname;

/** Installs bench/'s own dependencies when they are missing (`npm ci --prefix bench`). */
function ensureDeps() {
  const pkg = require(path.join(here, 'package.json'));
  const missing = Object.keys(pkg.dependencies).filter((d) => !fs.existsSync(path.join(here, 'node_modules', d, 'package.json')));
  if (missing.length === 0) return;
  process.stderr.write(`bench: installing bench dependencies (missing: ${missing.join(', ')}) with npm ci --prefix bench\n`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] });
}

ensureDeps();

const { config } = require('./lib/common');
const { renderMarkdown, machineInfo, loadEngine } = require('./lib/report');

function fmtInt(x) {
  return Math.round(x).toLocaleString('en-US');
}

/** Progress on stderr: a live bar on a terminal, otherwise a line every few seconds and one per phase. */
function progress() {
  const tty = process.stderr.isTTY;
  let bar;
  let lastLine = 0;
  const cli = tty ? require('cli-progress') : undefined;
  return {
    start(store, phase, total) {
      if (cli) {
        bar = new cli.SingleBar({
          format: `${store.padEnd(13)} ${phase.padEnd(15)} [{bar}] {value}/{total} ops | {rate} ops/s | {duration_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        }, cli.Presets.shades_classic);
        bar.start(total, 0, { rate: '-' });
      }
      lastLine = Date.now();
    },
    update(store, phase, done, total, seconds) {
      const rate = seconds > 0 ? fmtInt(done / seconds) : '-';
      if (bar) bar.update(done, { rate });
      else if (Date.now() - lastLine > 5000) {
        lastLine = Date.now();
        process.stderr.write(`  ${store} ${phase}: ${fmtInt(done)}/${fmtInt(total)} ops, ${rate} ops/s\n`);
      }
    },
    finish(store, phase, r) {
      if (bar) { bar.stop(); bar = undefined; }
      const capped = r.capped ? ` (capped at ${r.capped.maxPhaseSeconds}s of ${fmtInt(r.capped.planned)} planned)` : '';
      process.stderr.write(`${store.padEnd(13)} ${phase.padEnd(15)} ${fmtInt(r.ops).padStart(11)} ops ${r.seconds.toFixed(2).padStart(8)} s ${fmtInt(r.opsPerSec).padStart(11)} ops/s${capped}\n`);
    },
    note(store, phase, text) {
      if (bar) { bar.stop(); bar = undefined; }
      process.stderr.write(`${store.padEnd(13)} ${phase.padEnd(15)} ${text}\n`);
    },
  };
}

function runStore(name, cfg, ui) {
  return new Promise((resolve) => {
    const child = fork(path.join(here, 'worker.js'), [name], {
      env: { ...process.env, STRATA_BENCH_WORKER_CONFIG: JSON.stringify(cfg) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    let error;
    child.on('message', (m) => {
      if (m.type === 'start') ui.start(name, m.phase, m.total);
      else if (m.type === 'progress') ui.update(name, m.phase, m.done, m.total, m.seconds);
      else if (m.type === 'phase') ui.finish(name, m.phase, m.result);
      else if (m.type === 'skip') ui.note(name, m.phase, `skipped: ${m.reason}`);
      else if (m.type === 'done') result = m.result;
      else if (m.type === 'error') error = m.message;
    });
    child.on('exit', (code, signal) => {
      if (!result && !error) error = `worker exited with ${signal ?? `code ${code}`} before reporting`;
      if (error) ui.note(name, '-', `FAILED: ${error}`);
      resolve({ name, result, error });
    });
  });
}

async function main() {
  const cfg = config();
  fs.mkdirSync(cfg.dir, { recursive: true });
  const started = new Date();
  process.stderr.write(`bench: N=${cfg.n} VALUE_SIZE=${cfg.valueSize} YCSB_OPS=${cfg.ycsbOps} SEEKS=${cfg.seeks} SEED=${cfg.seed} MAX_PHASE_SECONDS=${cfg.maxPhaseSeconds}\n`);
  process.stderr.write(`bench: stores ${cfg.stores.join(', ')}; phases ${cfg.phases.join(', ')}; data under ${cfg.dir}\n`);
  const ui = progress();
  const stores = [];
  for (const name of cfg.stores) stores.push(await runStore(name, cfg, ui));
  fs.rmSync(cfg.dir, { recursive: true, force: true });

  const report = {
    date: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine: machineInfo(),
    config: { n: cfg.n, valueSize: cfg.valueSize, keySize: 16, seed: cfg.seed, ycsbOps: cfg.ycsbOps, seeks: cfg.seeks, maxPhaseSeconds: cfg.maxPhaseSeconds, phases: cfg.phases, stores: cfg.stores },
    stores: Object.fromEntries(stores.map((s) => [s.name, s.result ?? { error: s.error }])),
    engine: loadEngine(path.join(cfg.out, 'engine-latest.json')),
  };
  const failed = stores.filter((s) => s.error);
  const md = renderMarkdown(report);
  fs.mkdirSync(cfg.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const base of [stamp, 'latest']) {
    fs.writeFileSync(path.join(cfg.out, `${base}.json`), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(cfg.out, `${base}.md`), md);
  }
  process.stdout.write(md);
  process.stderr.write(`bench: wrote ${path.join(cfg.out, `${stamp}.{json,md}`)} and latest.{json,md}\n`);
  if (failed.length) {
    process.stderr.write(`bench: FAILED stores: ${failed.map((s) => s.name).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
