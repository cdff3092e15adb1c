'use strict';
// The Markdown of the query section (bench/results/query-latest.md).

const { QUERY_PHASES, PAGE_CITY } = require('./query-gen');
const { ALL_QUERY_PHASES, FIRST_LIMIT, PAGE_LIMIT } = require('./query-plan');

const int = (x) => Math.round(x).toLocaleString('en-US');
const mib = (b) => (b / (1 << 20)).toFixed(1);
const ratio = (x) => (x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));

const TITLES = {
  'q-ingest-batch': 'ingest, batches of 1000',
  'q-ingest-put': 'ingest, awaited put',
  ...Object.fromEntries(QUERY_PHASES.map((s) => [s.phase, s.title])),
  'q-page-city': `page through city = "${PAGE_CITY}", ${PAGE_LIMIT} at a time`,
  'q-update-move': 'move: get, change city and age, put, query',
  'q-final-counts': 'after the moves: count per city and per age (untimed)',
};

/** The target of a phase as StrataDB ÷ SQLite. */
function target(phase) {
  if (phase === 'q-ingest-batch' || phase === 'q-ingest-put') return 2;
  if (QUERY_PHASES.find((s) => s.phase === phase)?.intersection) return 2;
  return 1;
}

function cell(s, phase) {
  if (!s) return '–';
  if (s.error) return s.unavailable ? 'unavailable' : 'error';
  const r = s.phases?.[phase];
  if (!r) return s.skipped?.[phase] ? 'n/a' : '–';
  return `${int(r.opsPerSec)}${r.capped ? '*' : ''}`;
}

function renderQueryMarkdown(report) {
  const stores = report.stores;
  const names = Object.keys(stores);
  const dbs = names.filter((n) => !stores[n]?.reference);
  const label = (n) => stores[n]?.label ?? n;
  const m = report.machine;
  const c = report.config;
  const check = report.check ?? { phases: {}, mismatches: [] };
  const out = [];
  out.push('# StrataDB query benchmark');
  out.push('');
  out.push(`- Date: ${report.date} (run took ${Math.round(report.durationSeconds)} s)`);
  out.push(`- Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.os}`);
  out.push(`- Node ${m.node}; StrataDB at commit ${m.commit}`);
  out.push(`- Versions: ${names.map((n) => `${label(n)} ${stores[n]?.version ?? '?'}`).join('; ')}`);
  out.push(`- ${int(c.n)} user documents of about 250 bytes (key \`u:\` + 10 digits; name, city, age, tags, active, bio), seed ${c.seed}; \`q-ingest-put\` ${int(c.putN)} documents on a fresh store; ${int(c.count)} queries per query phase${c.warmup ? ` after ${int(c.warmup)} untimed warm-up queries of the same kind (pages for q-page-city; at most 1 s)` : ''}, ${int(c.updates)} moves; each phase capped at ${c.maxPhaseSeconds} s`);
  out.push(`- Answers: ${check.ok === false ? `**MISMATCH** (${check.mismatches.length} reported below)` : check.ok ? 'every store returned the same keys and counts for every query (table below)' : 'not checked'}`);
  out.push('');
  out.push('## Throughput');
  out.push('');
  out.push(`| phase | what | unit | ${dbs.map(label).join(' | ')} | StrataDB ÷ SQLite | target | status |`);
  out.push(`| --- | --- | --- | ${dbs.map(() => '---:').join(' | ')} | ---: | ---: | --- |`);
  const ratios = {};
  for (const phase of ALL_QUERY_PHASES.filter((p) => c.phases.includes(p))) {
    const any = names.map((n) => stores[n]?.phases?.[phase]).find(Boolean);
    const unit = `${any?.unit ?? 'ops'}/s`;
    const own = stores.stratadb?.phases?.[phase];
    const peer = stores.sqlite?.phases?.[phase];
    let r = '–';
    let status = '–';
    if (own && peer) {
      ratios[phase] = own.opsPerSec / peer.opsPerSec;
      r = ratio(ratios[phase]);
      status = ratios[phase] >= target(phase) ? 'met' : 'not met';
    }
    const text = QUERY_PHASES.find((s) => s.phase === phase)?.text;
    const what = `${TITLES[phase] ?? phase}${text ? ` (NeDB: ${stores.nedb?.textNote ?? 'scan (no text index)'})` : ''}`;
    out.push(`| ${phase} | ${what} | ${unit} | ${dbs.map((n) => cell(stores[n], phase)).join(' | ')} | ${r} | ≥ ${target(phase)}× | ${status} |`);
  }
  out.push('');
  out.push(`\`*\`: the phase hit the time cap; the figure is over what it did before it (a capped ingest is completed untimed, capped moves are applied untimed, so every store queries the same data). Targets: every query phase ≥ 1× SQLite, intersections (AND) ≥ 2×, ingest ≥ 2×. First-${FIRST_LIMIT} queries return documents (values decoded) in primary-key order; "all matches" pages ${'1000'} at a time. NeDB text phases are a scan: it has no text index.`);
  out.push('');

  out.push('## Answers: matches returned per phase (every store must agree)');
  out.push('');
  const checked = Object.keys(check.phases ?? {});
  if (checked.length) {
    const all = names.filter((n) => checked.some((ph) => check.phases[ph].stores.includes(n)));
    out.push(`| phase | queries compared | ${all.map(label).join(' | ')} | agree |`);
    out.push(`| --- | ---: | ${all.map(() => '---:').join(' | ')} | --- |`);
    for (const phase of checked) {
      const p = check.phases[phase];
      const cells = all.map((n) => (p.totals[n] === undefined ? '–' : int(p.totals[n])));
      const agree = p.stores.length < 2 ? 'only one store' : p.agree ? 'yes' : `**NO** (${p.mismatched} queries)`;
      out.push(`| ${phase} | ${int(p.compared)} | ${cells.join(' | ')} | ${agree} |`);
    }
    out.push('');
    out.push('Each cell is the sum, over the queries every store ran, of the keys returned (first-100 lists, all matches, the paged union, the moved document\'s check query) or of the counts (`q-age-count`, `q-final-counts`). Agreement is checked query by query on the key lists themselves, not on these sums.');
  } else {
    out.push('No answers to compare.');
  }
  out.push('');

  if (check.mismatches?.length) {
    out.push('## Mismatches');
    out.push('');
    for (const x of check.mismatches) out.push(`- ${x.phase}${x.index >= 0 ? ` #${x.index}` : ''} ${x.query ? `\`${x.query}\`` : ''}: ${x.reference} vs ${x.store}: ${x.detail}`);
    out.push('');
  }

  const st = stores.stratadb?.stats;
  if (st && Object.keys(st).length) {
    out.push('## StrataDB query stats (mean per query call)');
    out.push('');
    out.push('| phase | calls | postingsScanned | recordsRead | seeks | ms |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [phase, s] of Object.entries(st)) {
      const q = s.queries || 1;
      out.push(`| ${phase} | ${int(s.queries)} | ${int(s.postingsScanned / q)} | ${int(s.recordsRead / q)} | ${(s.seeks / q).toFixed(1)} | ${(s.ms / q).toFixed(3)} |`);
    }
    out.push('');
  }

  out.push('## On disk after the batch ingest, reopen, peak RSS');
  out.push('');
  out.push('| store | on disk (MiB, allocated) | reopen (s) | peak RSS (MiB) |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const n of dbs) {
    const s = stores[n];
    const d = s?.info?.diskAfterIngest;
    out.push(`| ${label(n)} | ${d ? mib(d.allocated) : '–'} | ${s?.info?.reopenSeconds !== undefined ? s.info.reopenSeconds.toFixed(2) : '–'} | ${s?.maxRssBytes ? mib(s.maxRssBytes) : '–'} |`);
  }
  out.push('');
  out.push('Reopen: opening the batch-ingested store before the query phases (NeDB reads its whole datafile and rebuilds its indexes). SQLite runs ANALYZE after the ingest, untimed.');
  out.push('');

  out.push('## Store settings');
  out.push('');
  for (const n of names) out.push(`- ${label(n)}: ${stores[n]?.notes ?? ''}`);
  const errors = names.filter((n) => stores[n]?.error);
  if (errors.length) {
    out.push('');
    out.push('## Failures');
    out.push('');
    for (const n of errors) out.push(`- ${n}${stores[n].unavailable ? ' (unavailable)' : ''}: \`${String(stores[n].error).split('\n')[0]}\``);
  }
  out.push('');
  return out.join('\n');
}

module.exports = { renderQueryMarkdown, target, TITLES };
