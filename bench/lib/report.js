'use strict';
// The Markdown report and the facts recorded with it (machine, versions, engine figures).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ALL_PHASES } = require('./common');

const ENGINE_PHASES = ['fillseq', 'fillrandom', 'fillbatch', 'overwrite', 'readrandom', 'readmissing', 'readseq', 'seekrandom', 'deleterandom'];

function git(args) {
  try {
    return execFileSync('git', args, { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machineInfo() {
  const cpus = os.cpus();
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    cpuModel: cpus[0]?.model?.trim(),
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit: git(['rev-parse', '--short', 'HEAD']) + (dirty ? ' (with uncommitted changes)' : ''),
  };
}

function loadEngine(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const int = (x) => Math.round(x).toLocaleString('en-US');
const mib = (b) => (b / (1 << 20)).toFixed(1);
const ratio = (x) => (x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));

function cell(store, phase) {
  if (!store || store.error) return 'error';
  const r = store.phases?.[phase];
  if (r) return `${int(r.opsPerSec)}${r.capped ? '*' : ''}`;
  if (store.skipped?.[phase]) return 'n/a';
  return '–';
}

function renderMarkdown(report) {
  const names = Object.keys(report.stores);
  const stores = report.stores;
  const label = (n) => stores[n]?.label ?? n;
  const m = report.machine;
  const c = report.config;
  const out = [];
  out.push('# StrataDB benchmark');
  out.push('');
  out.push(`- Date: ${report.date} (run took ${Math.round(report.durationSeconds)} s)`);
  out.push(`- Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.os}`);
  out.push(`- Node ${m.node}; StrataDB at commit ${m.commit}`);
  out.push(`- Versions: ${names.map((n) => `${label(n)} ${stores[n]?.version ?? '?'}`).join('; ')}`);
  out.push(`- N = ${int(c.n)}, ${c.keySize}-byte keys, ${c.valueSize}-byte values (compressible to about 50%), seed ${c.seed}; seekrandom ${int(c.seeks)} seeks; rangeread ${int(c.rangeReads ?? c.seeks)} range reads; YCSB ${int(c.ycsbOps)} operations per workload over ${int(c.n)} records; each phase capped at ${c.maxPhaseSeconds} s`);
  out.push('');
  out.push('## Throughput (ops/s)');
  out.push('');
  out.push(`| phase | ${names.map(label).join(' | ')} | StrataDB / best peer |`);
  out.push(`| --- | ${names.map(() => '---:').join(' | ')} | ---: |`);
  const ratios = {};
  for (const phase of ALL_PHASES.filter((p) => c.phases.includes(p))) {
    const peers = names.filter((n) => !n.startsWith('stratadb') && stores[n]?.phases?.[phase]);
    const best = peers.sort((a, b) => stores[b].phases[phase].opsPerSec - stores[a].phases[phase].opsPerSec)[0];
    const own = stores.stratadb?.phases?.[phase];
    let r = '–';
    if (own && best) {
      ratios[phase] = own.opsPerSec / stores[best].phases[phase].opsPerSec;
      r = `${ratio(ratios[phase])} (vs ${label(best)})`;
    }
    const ref = stores['stratadb-ref']?.phases?.[phase];
    if (ref && own) r += ` · ${ratio(own.opsPerSec / ref.opsPerSec)} vs ref`;
    out.push(`| ${phase} | ${names.map((n) => cell(stores[n], phase)).join(' | ')} | ${r} |`);
  }
  out.push('');
  out.push('`*`: the phase hit the time cap; the figure is over the operations done before it. `n/a`: the store has no such API.');
  out.push('Async phases await one call at a time; for stores whose calls are synchronous (better-sqlite3; LMDB reads) that awaits a plain value.');
  out.push('');

  const engine = report.engine;
  const own = stores.stratadb;
  if (own?.phases) {
    out.push('## StrataDB through Node vs the engine alone');
    out.push('');
    const em = engine?.machine;
    const sameMachine = !em || (em.cpuModel === m.cpuModel && em.os === m.os && em.cores === m.cores);
    if (engine?.phases && !sameMachine) {
      out.push(`Not compared: bench/results/engine-latest.json was measured on another machine (${em.cpuModel}, ${em.os}, ${engine.date ?? 'no date'}); run \`npm run bench:engine\` on this one, then \`npm run bench\`.`);
    } else if (engine?.phases) {
      out.push(`Engine: \`cargo bench -p strata-engine --bench phases\` (criterion, N = ${int(engine.n)}, ${engine.date ?? ''}, mean of ${engine.samples ?? '?'} runs; \`npm run bench:engine\`). Node figures are from this run (N = ${int(c.n)}); the engine's N may differ.`);
      out.push('');
      out.push('| phase | Node ops/s | engine ops/s | Node ÷ engine |');
      out.push('| --- | ---: | ---: | ---: |');
      for (const phase of ENGINE_PHASES) {
        const nodeR = own.phases[phase];
        const engR = engine.phases[phase];
        if (!nodeR || !engR) continue;
        out.push(`| ${phase} | ${int(nodeR.opsPerSec)} | ${int(engR.opsPerSec)} | ${ratio(nodeR.opsPerSec / engR.opsPerSec)} |`);
        const sync = own.phases[`${phase}-sync`];
        if (sync) out.push(`| ${phase}-sync | ${int(sync.opsPerSec)} | ${int(engR.opsPerSec)} | ${ratio(sync.opsPerSec / engR.opsPerSec)} |`);
      }
    } else {
      out.push('No engine figures: run `npm run bench:engine` (writes bench/results/engine-latest.json), then `npm run bench`.');
    }
    out.push('');
  }

  out.push('## On-disk size after fillrandom + close, and peak RSS');
  out.push('');
  out.push('| store | on disk (MiB, allocated) | apparent size (MiB) | peak RSS (MiB) |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const n of names) {
    const s = stores[n];
    const d = s?.disk?.afterFillrandom;
    out.push(`| ${label(n)} | ${d ? mib(d.allocated) : '–'} | ${d ? mib(d.apparent) : '–'} | ${s?.maxRssBytes ? mib(s.maxRssBytes) : '–'} |`);
  }
  out.push('');
  out.push(`Raw data written by fillrandom: ${mib(c.n * (c.keySize + c.valueSize))} MiB of keys and values. Peak RSS is the child process's \`maxRSS\` over all its phases.`);
  out.push('');

  const sampled = names.filter((n) => stores[n]?.smapsPeak?.rssBytes);
  if (sampled.length) {
    out.push('### Largest RSS sample (`STRATA_BENCH_SMAPS=1`: `/proc/self/smaps_rollup` every 100 ms)');
    out.push('');
    out.push('| store | RSS (MiB) | anonymous (MiB) | file-backed (MiB) | during |');
    out.push('| --- | ---: | ---: | ---: | --- |');
    for (const n of sampled) {
      const p = stores[n].smapsPeak;
      out.push(`| ${label(n)} | ${mib(p.rssBytes)} | ${mib(p.anonBytes)} | ${mib(p.fileBytes)} | ${p.phase} |`);
    }
    out.push('');
  }

  const st = own?.stats;
  if (st && Object.keys(st).length) {
    out.push('## StrataDB write amplification');
    out.push('');
    out.push('`writeAmplification` from `db.stats()` as the engine computes it today: (flush + compaction bytes written) / user bytes written, WAL bytes not included. Counters start at each open: `afterFillrandom` is fillrandom\'s open, before close (the last memtable is not flushed yet); `afterOverwrite` covers the overwrite phase on the reopened database.');
    out.push('');
    out.push('| when | write amplification | user MiB | flush MiB | compaction MiB | flushes | compactions | files per level |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const [when, s] of Object.entries(st)) {
      const files = (s.levels ?? []).map((l) => l.files).join('/');
      out.push(`| ${when} | ${s.writeAmplification.toFixed(2)} | ${mib(s.userBytesWritten)} | ${mib(s.flushBytes)} | ${mib(s.compactionBytesWritten)} | ${s.flushes} | ${s.compactions} | ${files} |`);
    }
    out.push('');
  }

  out.push('## Store settings');
  out.push('');
  for (const n of names) out.push(`- ${label(n)}: ${stores[n]?.notes ?? stores[n]?.error ?? ''}`);
  const errors = names.filter((n) => stores[n]?.error);
  if (errors.length) {
    out.push('');
    out.push('## Failures');
    out.push('');
    for (const n of errors) out.push(`- ${n}: \`${String(stores[n].error).split('\n')[0]}\``);
  }
  out.push('');
  return out.join('\n');
}

module.exports = { renderMarkdown, machineInfo, loadEngine, ENGINE_PHASES };
