'use strict';
// The cross-store check of the query section: every store must give the same answer to every
// query it ran (first-100 key lists, full key lists, counts, the paged union, the counts after
// the moves). A store capped by MAX_PHASE_SECONDS is compared over the queries it reached.

const { QUERY_PHASES, describe, keyOf, PAGE_CITY, moves, moveCheck } = require('./query-gen');
const { phaseQueries, checkQueries, seedOf } = require('./query-plan');
const { rng } = require('./common');

/** Phases whose answers are compared, in order, and what one answer is. */
const CHECKED = [...QUERY_PHASES.map((s) => s.phase), 'q-page-city', 'q-update-move', 'q-final-counts'];

/** The queries behind the answers of a phase (for messages). */
function queriesOf(phase, qcfg) {
  const spec = QUERY_PHASES.find((s) => s.phase === phase);
  if (spec) return phaseQueries(spec, qcfg.seed, qcfg.count);
  if (phase === 'q-page-city') return [{ index: 'city', eq: PAGE_CITY }];
  if (phase === 'q-update-move') return moves(qcfg.updates, qcfg.n, rng(seedOf(qcfg.seed, 900))).map(moveCheck);
  if (phase === 'q-final-counts') return checkQueries();
  return [];
}

/** The size of one answer: a count, or the number of keys. */
function sizeOf(a) {
  if (typeof a === 'number') return a;
  if (Array.isArray(a)) return a.length;
  return a.keys.length;
}

/** Compares answer a (reference) with b; returns undefined when they agree, else a description. */
function diff(a, b) {
  if (typeof a === 'number' || typeof b === 'number') return a === b ? undefined : `count ${a} vs ${b}`;
  if (!Array.isArray(a)) {
    // A paged union: compare the common prefix; when both are complete, everything.
    const n = a.complete && b.complete ? Math.max(a.keys.length, b.keys.length) : Math.min(a.keys.length, b.keys.length);
    const d = diff(a.keys.slice(0, n), b.keys.slice(0, n));
    if (d) return `paged union: ${d}`;
    if (a.complete && b.complete && a.count !== b.count) return `paged union: count() ${a.count} vs ${b.count}`;
    return undefined;
  }
  if (a.length === b.length && a.every((x, i) => x === b[i])) return undefined;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const at = (l) => (i < l.length ? keyOf(l[i]) : 'end');
  const bSet = new Set(b);
  const aSet = new Set(a);
  const onlyA = a.filter((x) => !bSet.has(x)).slice(0, 5).map(keyOf);
  const onlyB = b.filter((x) => !aSet.has(x)).slice(0, 5).map(keyOf);
  return `${a.length} vs ${b.length} keys, first difference at #${i} (${at(a)} vs ${at(b)}); only in the first: ${onlyA.join(', ') || '-'}; only in the second: ${onlyB.join(', ') || '-'}`;
}

/**
 * Checks the answers of every store. Returns { ok, reference, phases: { phase: { compared,
 * agree, totals: { store: n } } }, mismatches: [{ phase, index, query, reference, store, detail }] }.
 * The reference of a phase is the first of model, sqlite, nedb, stratadb that answered it.
 */
function checkAnswers(stores, qcfg) {
  const order = ['model', 'sqlite', 'nedb', 'stratadb', ...Object.keys(stores)];
  const names = [...new Set(order)].filter((n) => stores[n]?.answers);
  const out = { ok: true, phases: {}, mismatches: [] };
  for (const phase of CHECKED) {
    const having = names.filter((n) => Array.isArray(stores[n].answers[phase]));
    if (having.length === 0) continue;
    const ref = having[0];
    const compared = Math.min(...having.map((n) => stores[n].answers[phase].length));
    const p = { reference: ref, stores: having, compared, agree: true, totals: {}, sizes: {} };
    for (const n of having) {
      const a = stores[n].answers[phase];
      p.totals[n] = a.slice(0, compared).reduce((s, x) => s + sizeOf(x), 0);
      p.sizes[n] = a.length;
    }
    const queries = having.length > 1 ? queriesOf(phase, qcfg) : [];
    for (const n of having.slice(1)) {
      let shown = 0;
      for (let i = 0; i < compared; i++) {
        const d = diff(stores[ref].answers[phase][i], stores[n].answers[phase][i]);
        if (!d) continue;
        p.agree = false;
        out.ok = false;
        p.mismatched = (p.mismatched ?? 0) + 1;
        if (shown++ < 5) out.mismatches.push({ phase, index: i, query: queries[i] ? describe(queries[i]) : '?', reference: ref, store: n, detail: d });
      }
      if (shown > 5) out.mismatches.push({ phase, index: -1, query: '', reference: ref, store: n, detail: `${shown - 5} more mismatching queries in this phase` });
    }
    out.phases[phase] = p;
  }
  return out;
}

module.exports = { checkAnswers, CHECKED, queriesOf, diff, sizeOf };
