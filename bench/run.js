#!/usr/bin/env node
'use strict';
// `npm run bench`: db_bench-style phases and YCSB workloads, StrataDB side by side with
// LevelDB, RocksDB, LMDB and SQLite. Each store runs in its own child process on fresh
// directories; results go to bench/results/<timestamp>.{json,md} and latest.{json,md}.
// Configuration: see README.md ("Benchmarks") or bench/README.md.
// Two sections (STRATA_BENCH_SECTIONS=kv,query, default both): `kv` (the phases above) and
// `query` (secondary indexes: StrataDB vs SQLite and NeDB, written to query-<timestamp> and
// query-latest.{json,md}); `server` (the HTTP server under autocannon, bench/server-bench.js).

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
  if (process.env.STRATA_BENCH_NO_INSTALL === '1') {
    // The smoke tests (npm test) never install: they say what to run instead.
    process.stderr.write(`bench: bench dependencies missing (${missing.join(', ')}): run \`npm ci --prefix bench\` first\n`);
    process.exit(3);
  }
  process.stderr.write(`bench: installing bench dependencies (missing: ${missing.join(', ')}) with npm ci --prefix bench\n`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] });
}

ensureDeps();

const { config, env } = require('./lib/common');
const { renderMarkdown, machineInfo, loadEngine } = require('./lib/report');
const { queryConfig } = require('./lib/query-plan');
const { checkAnswers } = require('./lib/query-check');
const { renderQueryMarkdown } = require('./lib/query-report');

const ALL_SECTIONS = ['kv', 'query', 'server'];

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
    start(store, phase, total, unit = 'ops') {
      if (cli) {
        bar = new cli.SingleBar({
          format: `${store.padEnd(13)} ${phase.padEnd(15)} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | {duration_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        }, cli.Presets.shades_classic);
        bar.start(total, 0, { rate: '-' });
      }
      lastLine = Date.now();
    },
    update(store, phase, done, total, seconds, unit = 'ops') {
      const rate = seconds > 0 ? fmtInt(done / seconds) : '-';
      if (bar) bar.update(done, { rate });
      else if (Date.now() - lastLine > 5000) {
        lastLine = Date.now();
        process.stderr.write(`  ${store} ${phase}: ${fmtInt(done)}/${fmtInt(total)} ${unit}, ${rate} ${unit}/s\n`);
      }
    },
    finish(store, phase, r) {
      if (bar) { bar.stop(); bar = undefined; }
      const unit = r.unit ?? 'ops';
      const capped = r.capped ? ` (capped at ${r.capped.maxPhaseSeconds}s of ${fmtInt(r.capped.planned)} planned)` : '';
      process.stderr.write(`${store.padEnd(13)} ${phase.padEnd(15)} ${fmtInt(r.ops).padStart(11)} ${unit} ${r.seconds.toFixed(2).padStart(8)} s ${fmtInt(r.opsPerSec).padStart(11)} ${unit}/s${capped}\n`);
    },
    note(store, phase, text) {
      if (bar) { bar.stop(); bar = undefined; }
      process.stderr.write(`${store.padEnd(13)} ${phase.padEnd(15)} ${text}\n`);
    },
  };
}

function runStore(name, cfg, ui, script = 'worker.js') {
  return new Promise((resolve) => {
    const child = fork(path.join(here, script), [name], {
      env: { ...process.env, STRATA_BENCH_WORKER_CONFIG: JSON.stringify(cfg) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: script === 'worker.js' ? 'json' : 'advanced', // the query workers send every answer
    });
    let result;
    let error;
    let unavailable = false;
    const units = {};
    child.on('message', (m) => {
      if (m.type === 'start') { units[m.phase] = m.unit; ui.start(name, m.phase, m.total, m.unit); }
      else if (m.type === 'progress') ui.update(name, m.phase, m.done, m.total, m.seconds, units[m.phase]);
      else if (m.type === 'phase') ui.finish(name, m.phase, m.result);
      else if (m.type === 'skip') ui.note(name, m.phase, `skipped: ${m.reason}`);
      else if (m.type === 'done') result = m.result;
      else if (m.type === 'error') { error = m.message; unavailable = !!m.unavailable; }
    });
    child.on('exit', (code, signal) => {
      if (!result && !error) error = `worker exited with ${signal ?? `code ${code}`} before reporting`;
      if (error && unavailable) ui.note(name, '-', `UNAVAILABLE: ${error.split('\n')[0]}`);
      else if (error) ui.note(name, '-', `FAILED: ${error}`);
      resolve({ name, result, error, unavailable });
    });
  });
}

/** The query section: one worker per store, then the cross-store check of every answer. */
async function querySection(base, ui) {
  const qcfg = queryConfig(base);
  const started = new Date();
  const machine = machineInfo(); // at the start: the commit of the build being measured
  process.stderr.write(`bench query: N=${qcfg.n} PUT_N=${qcfg.putN} QUERY_COUNT=${qcfg.count} QUERY_WARMUP=${qcfg.warmup} UPDATES=${qcfg.updates} SEED=${qcfg.seed} MAX_PHASE_SECONDS=${qcfg.maxPhaseSeconds}\n`);
  process.stderr.write(`bench query: stores ${qcfg.stores.join(', ')}; phases ${qcfg.phases.join(', ')}\n`);
  const stores = [];
  for (const name of qcfg.stores) stores.push(await runStore(name, { ...base, query: qcfg }, ui, 'query-worker.js'));
  const results = {};
  for (const s of stores) {
    if (s.result) results[s.name] = s.result;
    else {
      const mod = require(path.join(here, 'query-stores', `${s.name}.js`));
      let version;
      try { version = mod.version(); } catch { version = '?'; }
      results[s.name] = { error: s.error, unavailable: s.unavailable, label: mod.label, version, notes: mod.notes, reference: !!mod.reference };
    }
  }
  const check = checkAnswers(results, qcfg);
  const failed = stores.filter((s) => s.error && !s.unavailable);
  const report = {
    section: 'query',
    date: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine,
    config: { n: qcfg.n, putN: qcfg.putN, count: qcfg.count, warmup: qcfg.warmup, updates: qcfg.updates, seed: qcfg.seed, maxPhaseSeconds: qcfg.maxPhaseSeconds, phases: qcfg.phases, stores: qcfg.stores },
    check: { ok: check.ok, phases: check.phases, mismatches: check.mismatches },
    // The answers themselves are large: the report keeps what the check found.
    stores: Object.fromEntries(Object.entries(results).map(([n, r]) => [n, { ...r, answers: undefined }])),
  };
  const md = renderQueryMarkdown(report);
  fs.mkdirSync(base.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const b of [`query-${stamp}`, 'query-latest']) {
    fs.writeFileSync(path.join(base.out, `${b}.json`), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(base.out, `${b}.md`), md);
  }
  process.stdout.write(md);
  process.stderr.write(`bench query: wrote ${path.join(base.out, `query-${stamp}.{json,md}`)} and query-latest.{json,md}\n`);
  for (const s of stores.filter((x) => x.unavailable)) process.stderr.write(`bench query: ${s.name} UNAVAILABLE (not counted as a failure): ${s.error.split('\n')[0]}\n`);
  if (!check.ok) {
    process.stderr.write(`bench query: ANSWER MISMATCH between stores:\n`);
    for (const x of check.mismatches) process.stderr.write(`  ${x.phase}${x.index >= 0 ? ` #${x.index}` : ''} ${x.query}: ${x.reference} vs ${x.store}: ${x.detail}\n`);
    process.exitCode = 1;
  }
  if (failed.length) {
    process.stderr.write(`bench query: FAILED stores: ${failed.map((s) => s.name).join(', ')}\n`);
    process.exitCode = 1;
  }
}

function sections() {
  const raw = env('SECTIONS', undefined);
  if (raw === undefined || raw === 'all') return ALL_SECTIONS.slice();
  const want = raw.split(',').map((x) => x.trim()).filter(Boolean);
  for (const w of want) if (!ALL_SECTIONS.includes(w)) throw new Error(`bench: unknown SECTIONS entry '${w}' (known: ${ALL_SECTIONS.join(', ')})`);
  return ALL_SECTIONS.filter((x) => want.includes(x));
}

async function main() {
  const cfg = config();
  const which = sections();
  fs.mkdirSync(cfg.dir, { recursive: true });
  const ui = progress();
  try {
    if (env('SCALE', undefined) !== undefined) await scaleSection(cfg, ui);
    else {
      if (which.includes('kv')) await kvSection(cfg, ui);
      if (which.includes('query')) await querySection(cfg, ui);
      if (which.includes('server')) await require('./server-bench').serverSection(cfg);
    }
  } finally {
    fs.rmSync(cfg.dir, { recursive: true, force: true });
  }
}

const SCALE_PHASES = ['fillrandom', 'readrandom-sync', 'rangeread'];
const SCALE_STORES = ['stratadb', 'classic-level', 'lmdb'];

/**
 * `STRATA_BENCH_SCALE=100000,1000000,10000000`: the KV phases at each N (default phases
 * fillrandom, readrandom-sync, rangeread; default stores StrataDB, LevelDB, LMDB; SEEKS,
 * RANGE_READS and YCSB_OPS are N / 10 at each N), then one table of ops/s, on-disk size after
 * fillrandom and peak RSS per store and N. Written to bench/results/scale-<timestamp> and
 * scale-latest.{json,md}.
 */
async function scaleSection(cfg, ui) {
  const started = new Date();
  const ns = env('SCALE', '').split(',').map((x) => Number(x.trim().replace(/_/g, ''))).filter((x) => x > 0);
  if (ns.length === 0) throw new Error('bench: SCALE must be a comma list of N values, e.g. 100000,1000000');
  for (const x of ns) if (!Number.isInteger(x)) throw new Error(`bench: SCALE entry ${x} is not an integer`);
  const phases = env('PHASES', undefined) === undefined ? SCALE_PHASES : cfg.phases;
  const storeNames = env('STORES', undefined) === undefined ? SCALE_STORES : cfg.stores;
  const machine = machineInfo();
  process.stderr.write(`bench scale: N = ${ns.join(', ')}; stores ${storeNames.join(', ')}; phases ${phases.join(', ')}\n`);
  const runs = [];
  for (const n of ns) {
    const tenth = Math.max(1, Math.floor(n / 10));
    const c = { ...cfg, n, phases, stores: storeNames, seeks: tenth, rangeReads: tenth, ycsbOps: tenth };
    const stores = {};
    for (const name of storeNames) {
      const r = await runStore(name, c, ui);
      stores[name] = r.result ?? { error: r.error };
    }
    runs.push({ n, stores });
  }
  const report = {
    section: 'scale',
    date: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine,
    config: { ns, valueSize: cfg.valueSize, keySize: 16, seed: cfg.seed, maxPhaseSeconds: cfg.maxPhaseSeconds, phases, stores: storeNames },
    runs,
  };
  const md = renderScaleMarkdown(report);
  fs.mkdirSync(cfg.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const base of [`scale-${stamp}`, 'scale-latest']) {
    fs.writeFileSync(path.join(cfg.out, `${base}.json`), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(cfg.out, `${base}.md`), md);
  }
  process.stdout.write(md);
  process.stderr.write(`bench scale: wrote ${path.join(cfg.out, `scale-${stamp}.{json,md}`)} and scale-latest.{json,md}\n`);
  if (runs.some((r) => Object.values(r.stores).some((s) => s.error))) process.exitCode = 1;
}

function renderScaleMarkdown(report) {
  const mib = (b) => (b / (1 << 20)).toFixed(1);
  const c = report.config;
  const m = report.machine;
  const out = ['# StrataDB scaling benchmark', ''];
  out.push(`- Date: ${report.date} (run took ${Math.round(report.durationSeconds)} s)`);
  out.push(`- Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.os}; Node ${m.node}; StrataDB at commit ${m.commit}`);
  out.push(`- N = ${c.ns.map(fmtInt).join(', ')}; ${c.keySize}-byte keys, ${c.valueSize}-byte values; rangeread N / 10 reads; each phase capped at ${c.maxPhaseSeconds} s`);
  out.push('');
  out.push(`| store | N | ${c.phases.join(' | ')} | on disk after fillrandom (MiB) | peak RSS (MiB) |`);
  out.push(`| --- | ---: | ${c.phases.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const name of c.stores) {
    for (const run of report.runs) {
      const s = run.stores[name];
      if (!s || s.error) {
        out.push(`| ${name} | ${fmtInt(run.n)} | ${c.phases.map(() => 'error').join(' | ')} | – | – |`);
        continue;
      }
      const cells = c.phases.map((p) => {
        const r = s.phases?.[p];
        if (r) return `${fmtInt(r.opsPerSec)}${r.capped ? '*' : ''}`;
        return s.skipped?.[p] ? 'n/a' : '–';
      });
      const d = s.disk?.afterFillrandom;
      out.push(`| ${s.label ?? name} | ${fmtInt(run.n)} | ${cells.join(' | ')} | ${d ? mib(d.allocated) : '–'} | ${s.maxRssBytes ? mib(s.maxRssBytes) : '–'} |`);
    }
  }
  out.push('');
  out.push('Figures in ops/s; `*`: the phase hit the time cap. Peak RSS is the store process\'s `maxRSS` at that N.');
  out.push('');
  return out.join('\n');
}

async function kvSection(cfg, ui) {
  const started = new Date();
  process.stderr.write(`bench: N=${cfg.n} VALUE_SIZE=${cfg.valueSize} YCSB_OPS=${cfg.ycsbOps} SEEKS=${cfg.seeks} RANGE_READS=${cfg.rangeReads} SEED=${cfg.seed} MAX_PHASE_SECONDS=${cfg.maxPhaseSeconds}\n`);
  process.stderr.write(`bench: stores ${cfg.stores.join(', ')}; phases ${cfg.phases.join(', ')}; data under ${cfg.dir}\n`);
  const stores = [];
  for (const name of cfg.stores) stores.push(await runStore(name, cfg, ui));

  const report = {
    date: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine: machineInfo(),
    config: { n: cfg.n, valueSize: cfg.valueSize, keySize: 16, seed: cfg.seed, ycsbOps: cfg.ycsbOps, seeks: cfg.seeks, rangeReads: cfg.rangeReads, maxPhaseSeconds: cfg.maxPhaseSeconds, phases: cfg.phases, stores: cfg.stores },
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
