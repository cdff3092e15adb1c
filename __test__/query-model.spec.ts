/**
 * The randomized differential test of indexes and queries: random documents (JSON, and BSON
 * with `bson_path` extractors in every other case)
 * under every index type — equality, range, multi-value, compound, unique, sparse, custom,
 * text — with random puts, deletes, batches and clears (many unawaited at once), reopens
 * midway, and random queries with every operator, checked against a brute-force model.
 * Paging uses random limits with writes between pages. `verify()` must stay clean.
 *
 * `STRATA_TEST_QUERY_CASES` (default 12) sets the cases; `STRATA_TEST_SEED` replays one.
 */
import test, { ExecutionContext } from 'ava';

import { Db, IndexDefinition, Query, StrataError } from '../ts/index';
import { fresh, tmpPath, mulberry32 } from './helpers';
import { open } from '../ts/index';

interface Doc {
  city?: string;
  age?: number | string;
  tags?: string[];
  active?: boolean;
  email?: string;
  bio?: string;
}

type Scalar = null | boolean | number | string;

const CITIES = ['Porto', 'Paris', 'Pune', 'Lima', 'Oslo', 'Roma'];
const TAGS = ['a', 'b', 'c', 'd'];
const WORDS = ['sun', 'moon', 'são', 'café', 'river', 'stone', 'zoë', 'sky'];

const fold = (w: string): string => w.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').normalize('NFC');

const INDEXES: IndexDefinition[] = [
  { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
  { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
  { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } },
  { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' }, sparse: true },
  { name: 'email', type: 'equality', extractor: { kind: 'json_path', path: '$.email' }, unique: true, sparse: true },
  { name: 'city_age', type: 'range', extractor: { kind: 'json_path', paths: ['$.city', '$.age'] } },
  { name: 'bucket', type: 'equality', extractor: { kind: 'custom', name: 'bucket' } },
  { name: 'bio', type: 'text', extractor: { kind: 'json_path', path: '$.bio' } },
];

/** The same indexes on BSON values: `bson_path` extractors. */
const BSON_INDEXES: IndexDefinition[] = INDEXES.map((d) => {
  const ex = d.extractor;
  if (ex.kind !== 'json_path') return d;
  return { ...d, extractor: 'paths' in ex ? { kind: 'bson_path', paths: ex.paths } : { kind: 'bson_path', path: ex.path } };
});

const bucket = (value: unknown): unknown => {
  const age = (value as Doc).age;
  return typeof age === 'number' ? Math.floor(age / 10) : undefined;
};

/** The model's terms of a document per index (the extractor semantics, written independently). */
function modelTerms(index: string, d: Doc): Scalar[][] {
  const one = (v: Scalar | undefined): Scalar[][] => [[v === undefined ? null : v]];
  switch (index) {
    case 'city':
      return one(d.city);
    case 'age':
      return one(d.age);
    case 'tags':
      return d.tags === undefined || d.tags.length === 0 ? [[null]] : d.tags.map((t) => [t]);
    case 'active':
      return d.active === undefined ? [] : [[d.active]];
    case 'email':
      return d.email === undefined ? [] : [[d.email]];
    case 'city_age':
      return [[d.city ?? null, d.age ?? null]];
    case 'bucket':
      return typeof d.age === 'number' ? [[Math.floor(d.age / 10)]] : [];
    case 'bio':
      return d.bio === undefined ? [] : d.bio.split(' ').map((w) => [fold(w)]);
    default:
      throw new Error(index);
  }
}

const typeRank = (v: Scalar): number => (v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : 3);

function cmp(a: Scalar, b: Scalar): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
}

type Model = Map<string, Doc>;

function evalQuery(model: Model, q: Query): Set<string> {
  const o = q as Record<string, unknown>;
  if ('and' in o) {
    const parts = o.and as Query[];
    const pos = parts.filter((p) => !('not' in (p as object)));
    const neg = parts.filter((p) => 'not' in (p as object)).map((p) => evalQuery(model, (p as { not: Query }).not));
    let out = evalQuery(model, pos[0] as Query);
    for (const p of pos.slice(1)) {
      const s = evalQuery(model, p);
      out = new Set([...out].filter((k) => s.has(k)));
    }
    for (const s of neg) out = new Set([...out].filter((k) => !s.has(k)));
    return out;
  }
  if ('or' in o) {
    const out = new Set<string>();
    for (const p of o.or as Query[]) for (const k of evalQuery(model, p)) out.add(k);
    return out;
  }
  const index = o.index as string;
  const out = new Set<string>();
  for (const [k, d] of model) {
    const terms = modelTerms(index, d);
    let hit: boolean;
    if (o.match !== undefined || o.matchAny !== undefined) {
      const words = String(o.match ?? o.matchAny).split(' ').map(fold);
      const have = new Set(terms.map((t) => t[0]));
      hit = o.match !== undefined ? words.every((w) => have.has(w)) : words.some((w) => have.has(w));
    } else if (o.in !== undefined) {
      hit = (o.in as Scalar[]).some((v) => terms.some((t) => cmp(t[0] as Scalar, v) === 0));
    } else {
      const lead = o.eq === undefined ? [] : Array.isArray(o.eq) ? (o.eq as Scalar[]) : [o.eq as Scalar];
      const rangeOps = ['gt', 'gte', 'lt', 'lte', 'prefix'].filter((x) => o[x] !== undefined);
      hit = terms.some((t) => {
        for (let i = 0; i < lead.length; i++) if (cmp(t[i] as Scalar, lead[i] as Scalar) !== 0) return false;
        if (rangeOps.length === 0) return true;
        const v = t[lead.length] as Scalar;
        if (o.prefix !== undefined) return typeof v === 'string' && v.startsWith(o.prefix as string);
        const bound = (o.gt ?? o.gte ?? o.lt ?? o.lte) as Scalar;
        if (typeRank(v) !== typeRank(bound)) return false;
        if (o.gt !== undefined && !(cmp(v, o.gt as Scalar) > 0)) return false;
        if (o.gte !== undefined && !(cmp(v, o.gte as Scalar) >= 0)) return false;
        if (o.lt !== undefined && !(cmp(v, o.lt as Scalar) < 0)) return false;
        if (o.lte !== undefined && !(cmp(v, o.lte as Scalar) <= 0)) return false;
        return true;
      });
    }
    if (hit) out.add(k);
  }
  return out;
}

const sorted = (s: Set<string>): string[] => [...s].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

async function runCase(t: ExecutionContext, seed: number, steps: number, codec: 'json' | 'bson'): Promise<{ queries: number; pages: number }> {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const key = (): string => `k${String(int(60)).padStart(2, '0')}`;
  const doc = (): Doc => {
    const d: Doc = {};
    if (rnd() < 0.9) d.city = pick(CITIES);
    if (rnd() < 0.9) d.age = rnd() < 0.9 ? int(100) : pick(['n/a', 'old']);
    if (rnd() < 0.8) d.tags = Array.from({ length: int(4) }, () => pick(TAGS));
    if (rnd() < 0.7) d.active = rnd() < 0.6;
    if (rnd() < 0.3) d.email = `e${int(25)}`;
    if (rnd() < 0.8) d.bio = Array.from({ length: 1 + int(4) }, () => pick(WORDS)).join(' ');
    return d;
  };
  const leaf = (): Query => {
    switch (int(12)) {
      case 0:
        return { index: 'city', eq: rnd() < 0.1 ? null : pick(CITIES) };
      case 1:
        return { index: 'city', in: [pick(CITIES), pick(CITIES)] };
      case 2: {
        const a = int(100);
        const b = a + int(40);
        const q: Query = { index: 'age' };
        const r = q as unknown as Record<string, number>;
        if (rnd() < 0.5) r[rnd() < 0.5 ? 'gt' : 'gte'] = a;
        if (rnd() < 0.7 || r.gt === undefined && r.gte === undefined) r[rnd() < 0.5 ? 'lt' : 'lte'] = b;
        return q;
      }
      case 3:
        return { index: 'tags', eq: rnd() < 0.15 ? null : pick(TAGS) };
      case 4:
        return { index: 'active', eq: rnd() < 0.5 };
      case 5:
        return { index: 'email', eq: `e${int(25)}` };
      case 6:
        return { index: 'city_age', eq: [pick(CITIES)], gte: int(60) };
      case 7:
        return { index: 'city_age', prefix: pick(['P', 'Po', 'L', 'R', 'x']) };
      case 8:
        return { index: 'bucket', eq: int(10) };
      case 9:
        return { index: 'bio', match: `${pick(WORDS)}${rnd() < 0.5 ? ` ${pick(WORDS)}` : ''}` };
      case 10:
        return { index: 'bio', matchAny: `${pick(WORDS)} ${pick(WORDS)}` };
      default:
        return { index: 'age', eq: rnd() < 0.1 ? 'n/a' : int(100) };
    }
  };
  const query = (depth = 0): Query => {
    const r = rnd();
    if (depth >= 2 || r < 0.45) return leaf();
    if (r < 0.75) {
      const parts: Query[] = Array.from({ length: 2 + int(2) }, () => query(depth + 1));
      if (rnd() < 0.35) parts.push({ not: leaf() });
      return { and: parts };
    }
    return { or: Array.from({ length: 2 + int(2) }, () => query(depth + 1)) };
  };

  const dir = tmpPath();
  const options = {
    env: {},
    envFile: false as const,
    valueEncoding: codec,
    memtableSize: 64 * 1024,
    indexes: codec === 'json' ? INDEXES : BSON_INDEXES,
    extractors: { bucket },
  };
  let db: Db<string, Doc> = await open<string, Doc>(dir, options);
  const model: Model = new Map();
  /** The unique-email holder check, applied in call order (writes apply in call order). */
  const allowed = (batch: [string, Doc | null][]): boolean => {
    const next = new Map(model);
    for (const [k, d] of batch) {
      if (d === null) next.delete(k);
      else next.set(k, d);
    }
    const holders = new Map<string, string>();
    for (const [k, d] of next) {
      if (d.email === undefined) continue;
      const h = holders.get(d.email);
      if (h !== undefined && h !== k) return false;
      holders.set(d.email, k);
    }
    return true;
  };
  let queries = 0;
  let pages = 0;
  const checkQuery = async (q: Query): Promise<void> => {
    const want = sorted(evalQuery(model, q));
    const got = await db.query(q, { limit: 10000, values: false });
    queries++;
    if (JSON.stringify(got.items.map((i) => i.key)) !== JSON.stringify(want)) {
      t.fail(`seed ${seed}: query ${JSON.stringify(q)}\n got  ${JSON.stringify(got.items.map((i) => i.key))}\n want ${JSON.stringify(want)}`);
    }
    if ((await db.count(q)) !== want.length) t.fail(`seed ${seed}: count of ${JSON.stringify(q)}`);
  };

  for (let step = 0; step < steps; step++) {
    const r = rnd();
    if (r < 0.55) {
      // A burst of unawaited writes.
      const writes: Promise<unknown>[] = [];
      const expectOk: boolean[] = [];
      for (let i = 0, n = 1 + int(12); i < n; i++) {
        const w = rnd();
        let ops: [string, Doc | null][];
        if (w < 0.6) ops = [[key(), doc()]];
        else if (w < 0.8) ops = [[key(), null]];
        else ops = Array.from({ length: 2 + int(4) }, () => [key(), rnd() < 0.8 ? doc() : null] as [string, Doc | null]);
        const ok = allowed(ops);
        expectOk.push(ok);
        if (ok) for (const [k, d] of ops) d === null ? model.delete(k) : model.set(k, d);
        writes.push(
          ops.length === 1
            ? ops[0]?.[1] === null
              ? db.del(ops[0][0])
              : db.put((ops[0] as [string, Doc])[0], (ops[0] as [string, Doc])[1])
            : db.batch(ops.map(([k, d]) => (d === null ? { type: 'del' as const, key: k } : { type: 'put' as const, key: k, value: d }))),
        );
      }
      const results = await Promise.allSettled(writes);
      results.forEach((res, i) => {
        const ok = expectOk[i] as boolean;
        if (ok && res.status === 'rejected') t.fail(`seed ${seed}: write ${i} rejected: ${String(res.reason)}`);
        if (!ok && (res.status !== 'rejected' || !(res.reason instanceof StrataError) || res.reason.code !== 'STRATA_CONSTRAINT')) {
          t.fail(`seed ${seed}: write ${i} should have been rejected with STRATA_CONSTRAINT`);
        }
      });
    } else if (r < 0.6) {
      const a = key();
      const b = key();
      const [lo, hi] = a < b ? [a, b] : [b, a];
      await db.clear({ gte: lo, lt: hi });
      for (const k of [...model.keys()]) if (k >= lo && k < hi) model.delete(k);
    } else if (r < 0.63) {
      await db.close();
      db = await open<string, Doc>(dir, options);
    } else if (r < 0.7) {
      // Paging with random limits and writes between pages.
      const q = query();
      const before = evalQuery(model, q);
      const seen: string[] = [];
      const touched = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit: 1 + int(7), cursor, values: false });
        pages++;
        const now = evalQuery(model, q);
        for (const { key: k } of page.items) {
          seen.push(k);
          if (!now.has(k)) t.fail(`seed ${seed}: page item ${k} does not match ${JSON.stringify(q)} now`);
        }
        cursor = page.cursor;
        if (rnd() < 0.5) {
          const k = key();
          const d = doc();
          if (allowed([[k, d]])) {
            touched.add(k);
            model.set(k, d);
            await db.put(k, d);
          }
        }
      } while (cursor !== null);
      if (new Set(seen).size !== seen.length) t.fail(`seed ${seed}: duplicates while paging ${JSON.stringify(q)}`);
      const after = evalQuery(model, q);
      for (const k of before) {
        if (after.has(k) && !touched.has(k) && !seen.includes(k)) t.fail(`seed ${seed}: paging skipped ${k} of ${JSON.stringify(q)}`);
      }
    } else {
      await checkQuery(query());
    }
  }
  for (let i = 0; i < 10; i++) await checkQuery(query());
  const v = await db.verify();
  if (!v.ok) t.fail(`seed ${seed}: verify: ${JSON.stringify(v.problems.slice(0, 3))}`);
  await db.close();
  return { queries, pages };
}

test('random documents, writes and queries match a brute-force model', async (t) => {
  t.timeout(10 * 60_000);
  const cases = Number(process.env.STRATA_TEST_QUERY_CASES ?? 12);
  const base = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.log(`seed ${base} (STRATA_TEST_SEED replays it), ${cases} cases`);
  let queries = 0;
  let pages = 0;
  for (let c = 0; c < cases; c++) {
    // Every other case stores BSON documents indexed with bson_path extractors.
    const r = await runCase(t, base + c, 150, c % 2 === 0 ? 'json' : 'bson');
    queries += r.queries;
    pages += r.pages;
  }
  t.log(`${queries} queries, ${pages} pages checked`);
  t.true(queries > 0);
});

test('an unregistered custom extractor of a stored index fails open with a clear error', async (t) => {
  const dir = tmpPath();
  const db = await open(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: [INDEXES[6] as IndexDefinition], extractors: { bucket } });
  await db.close();
  const e = await t.throwsAsync(() => open(dir, { env: {}, envFile: false, valueEncoding: 'json' }));
  t.is((e as StrataError).code, 'STRATA_INVALID_ARGUMENT');
  t.regex((e as Error).message, /bucket/);
  void fresh;
});
