// Smoke run of the benchmark's query section (bench/run.js, STRATA_BENCH_SECTIONS=query) at a
// tiny N: SQLite, NeDB and the brute-force JS model always, StrataDB when the built package
// (dist/) has the query API. Every store must give the same answer to every query (the run
// checks that itself and exits non-zero on a mismatch); this test also recomputes some phase
// totals from the generated documents without any store, so a bug shared by every store (or
// by the model) cannot pass either.
// Needs bench/'s own dependencies (`npm ci --prefix bench`); a missing peer fails, never skips.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import test from 'ava';

import * as source from '../ts/index';
import { missingBenchPeers, tmpPath } from './helpers';

const ROOT = path.join(__dirname, '..');
const RUN = path.join(ROOT, 'bench', 'run.js');
const N = 3000;
const COUNT = 60;
const SEED = 301;

interface Doc { name: string; city: string; age: number; tags: string[]; active: boolean; bio: string }
type Query = Record<string, unknown> & { index?: string; eq?: unknown; gt?: number; gte?: number; lt?: number; lte?: number; match?: string };
interface PhaseSpec { phase: string; kind: 'first' | 'all' | 'count'; make: unknown }
interface Gen {
  documents(seed: number): { next(): { id: number; key: string; doc: Doc } };
  QUERY_PHASES: PhaseSpec[];
  PAGE_CITY: string;
  vocab: { cities: string[] };
}
interface Plan {
  phaseQueries(spec: PhaseSpec, seed: number, count: number): Query[];
  ALL_QUERY_PHASES: string[];
}
interface CheckedPhase { stores: string[]; compared: number; agree: boolean; totals: Record<string, number> }
interface Report {
  section: string;
  config: { n: number; count: number };
  check: { ok: boolean; phases: Record<string, CheckedPhase>; mismatches: unknown[] };
  stores: Record<string, { error?: string; unavailable?: boolean; phases?: Record<string, { ops: number; opsPerSec: number; capped?: unknown }> }>;
}

const req = createRequire(__filename);
const gen = req(path.join(ROOT, 'bench', 'lib', 'query-gen.js')) as Gen;
const plan = req(path.join(ROOT, 'bench', 'lib', 'query-plan.js')) as Plan;

/** Whether the built package has db.query / db.count (what bench/query-stores/stratadb.js uses). */
function builtHasQuery(): boolean {
  const dist = req(path.join(ROOT, 'dist', 'index.js')) as { Db?: { prototype: Record<string, unknown> } };
  return typeof dist.Db?.prototype.query === 'function' && typeof dist.Db?.prototype.count === 'function';
}

/** Whether the TypeScript source has them (then dist/ is only stale: said in the log). */
function sourceHasQuery(): boolean {
  return typeof (source.Db.prototype as unknown as Record<string, unknown>).query === 'function';
}

// The test's own folding and matching, written independently of bench/.
const fold = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
const words = (s: string) => fold(s).split(/[^a-z0-9\u00c0-\u024f]+/).filter(Boolean);
function inRange(q: Query, x: number): boolean {
  return (q.gt === undefined || x > q.gt) && (q.gte === undefined || x >= q.gte) && (q.lt === undefined || x < q.lt) && (q.lte === undefined || x <= q.lte);
}

test('bench query smoke: every store agrees on every query, and with totals recomputed from the documents', async (t) => {
  t.timeout(120_000);
  const missing = missingBenchPeers();
  if (missing.length > 0) {
    t.fail(`the benchmark's peers are not installed (${missing.join(', ')}): run \`npm ci --prefix bench\` first (.ci/run does); npm test never installs them`);
    return;
  }
  const withStrata = builtHasQuery();
  if (withStrata) t.log('StrataDB: dist/ has the query API, it is checked with the others');
  else if (sourceHasQuery()) t.log('StrataDB left out: ts/ has db.query but dist/ does not (the bench uses the built package: npm run build:ts)');
  else t.log('StrataDB left out: no query API yet (SQLite, NeDB and the model are checked)');
  const stores = withStrata ? ['stratadb', 'sqlite', 'nedb', 'model'] : ['sqlite', 'nedb', 'model'];
  const out = tmpPath('bench-query-results');
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  Object.assign(env, {
    STRATA_BENCH_NO_INSTALL: '1',
    STRATA_BENCH_SECTIONS: 'query',
    STRATA_BENCH_QUERY_N: String(N),
    STRATA_BENCH_QUERY_COUNT: String(COUNT),
    STRATA_BENCH_QUERY_STORES: stores.join(','),
    STRATA_BENCH_SEED: String(SEED),
    STRATA_BENCH_OUT: out,
    STRATA_BENCH_DIR: tmpPath('bench-query-data'),
    STRATA_BENCH_MAX_PHASE_SECONDS: '0', // no cap: every store answers every query
  });
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [RUN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  t.is(code, 0, `bench/run.js failed:\n${stderr}`);
  t.notRegex(stderr, /UNAVAILABLE|MISMATCH|FAILED/, stderr);

  const report = JSON.parse(fs.readFileSync(path.join(out, 'query-latest.json'), 'utf8')) as Report;
  t.is(report.section, 'query');
  t.true(fs.readFileSync(path.join(out, 'query-latest.md'), 'utf8').includes('## Answers'));
  t.deepEqual(Object.keys(report.stores), stores);
  for (const s of stores) {
    t.is(report.stores[s].error, undefined, `${s}: ${report.stores[s].error}`);
    for (const phase of plan.ALL_QUERY_PHASES) {
      const r = report.stores[s].phases?.[phase];
      t.truthy(r, `${s} ${phase}: no result`);
      if (r) t.true(r.ops > 0 && r.opsPerSec > 0 && !r.capped, `${s} ${phase}: ${JSON.stringify(r)}`);
    }
  }
  t.true(report.check.ok, JSON.stringify(report.check.mismatches, null, 2));
  t.deepEqual(report.check.mismatches, []);
  const checked = [...gen.QUERY_PHASES.map((s) => s.phase), 'q-page-city', 'q-update-move', 'q-final-counts'];
  t.deepEqual(Object.keys(report.check.phases), checked);
  for (const phase of checked) {
    const p = report.check.phases[phase];
    t.deepEqual([...p.stores].sort(), [...stores].sort(), `${phase}: answered by ${p.stores.join(', ')}`);
    t.true(p.agree, phase);
    const expected = phase === 'q-page-city' ? 1 : phase === 'q-update-move' ? Math.floor(N / 100) : phase === 'q-final-counts' ? gen.vocab.cities.length + 73 : COUNT;
    t.is(p.compared, expected, `${phase}: queries compared`);
    const totals = new Set(Object.values(p.totals));
    t.is(totals.size, 1, `${phase}: totals differ ${JSON.stringify(p.totals)}`);
    t.true(p.totals.model > 0, `${phase}: every query came back empty`);
  }

  // Recompute from the documents alone (the query phases run before the moves).
  const docs: Doc[] = [];
  const g = gen.documents(SEED);
  for (let i = 0; i < N; i++) docs.push(g.next().doc);
  const spec = (phase: string) => gen.QUERY_PHASES.find((s) => s.phase === phase) as PhaseSpec;
  const total = (phase: string, f: (q: Query) => number) => plan.phaseQueries(spec(phase), SEED, COUNT).reduce((s, q) => s + f(q), 0);
  const countWhere = (pred: (d: Doc) => boolean) => docs.reduce((n, d) => n + (pred(d) ? 1 : 0), 0);
  const first = (pred: (d: Doc) => boolean) => Math.min(100, countWhere(pred));
  const expect: Record<string, number> = {
    'q-city-rare': total('q-city-rare', (q) => countWhere((d) => d.city === q.eq)),
    'q-city-common': total('q-city-common', (q) => first((d) => d.city === q.eq)),
    'q-age-range': total('q-age-range', (q) => first((d) => inRange(q, d.age))),
    'q-age-count': total('q-age-count', (q) => countWhere((d) => inRange(q, d.age))),
    'q-text-one': total('q-text-one', (q) => first((d) => words(d.bio).includes(fold(q.match as string)))),
    'q-text-two': total('q-text-two', (q) => {
      const want = words(q.match as string);
      t.is(want.length, 2);
      return first((d) => want.every((w) => words(d.bio).includes(w)));
    }),
    'q-page-city': countWhere((d) => d.city === gen.PAGE_CITY),
    // Every document has one city and one age, moved or not.
    'q-final-counts': 2 * N,
  };
  for (const [phase, n] of Object.entries(expect)) t.is(report.check.phases[phase].totals.model, n, `${phase}: stores say ${report.check.phases[phase].totals.model}, the documents say ${n}`);
  // Accent folding is exercised: some text query is the unaccented form of an accented bio word.
  const textQueries = [...plan.phaseQueries(spec('q-text-one'), SEED, COUNT), ...plan.phaseQueries(spec('q-text-two'), SEED, COUNT)];
  const accented = new Set(docs.flatMap((d) => d.bio.split(' ')).filter((w) => fold(w) !== w).map(fold));
  t.true(textQueries.some((q) => (q.match as string).split(' ').some((w) => accented.has(w))), 'no unaccented query for an accented word');
});
