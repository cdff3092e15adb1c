/**
 * Running a query: a page of matches in primary-key order, read at one snapshot, with a
 * cursor that continues it; `count` and `explain` run the same plan.
 */
import type { EncodingOptions, KvDb } from '../database';
import { describe } from '../encodings';
import { invalidArgument } from '../errors';
import type { IndexRegistry } from '../indexes/registry';
import { readPage, readValues } from '../multiget';
import { Snapshot } from '../snapshot';
import { Node, canonical, normalizeQuery } from './ast';
import { decodeCursor, encodeCursor, fingerprint } from './cursor';
import { probedCount, probedPage } from './fused';
import { Built, ExactTerm, PlanNode, build, checkIndexes, exactTerm } from './plan';
import { Budget, ProbeStream, Source, Stop, TermStream, UnionStream, after, readFirst } from './streams';

/** Largest `limit` of one page. */
export const MAX_LIMIT = 10_000;
/** `limit` when none is given. */
export const DEFAULT_LIMIT = 100;

/** Options of `db.query`; `keyEncoding` / `valueEncoding` override the database's for the items. */
export interface QueryOptions extends EncodingOptions {
  /** At most this many items (1–10,000; default 100). */
  limit?: number;
  /** The cursor of the previous page (`null`/absent: the first page). */
  cursor?: string | null;
  /** Stop after about this many milliseconds and return what was found (`partial: 'timeout'`). */
  timeoutMs?: number;
  /** Stop after reading about this many postings (`partial: 'maxPostingsScanned'`). */
  maxPostingsScanned?: number;
  /** Read every page at this snapshot (one consistent view across pages). */
  snapshot?: Snapshot;
  /** Return values too (default true); with false, items carry keys only. */
  values?: boolean;
}

/** Counters of one query run. */
export interface QueryStats {
  postingsScanned: number;
  recordsRead: number;
  seeks: number;
  ms: number;
}

/** One page of results. */
export interface QueryResult<K, V> {
  items: { key: K; value?: V }[];
  /** Pass to the next call to continue; `null` when there is nothing more. */
  cursor: string | null;
  /** `false`, or why the page stopped early (the cursor continues from there). */
  partial: false | 'timeout' | 'maxPostingsScanned';
  stats: QueryStats;
}

/** What `db.explain` returns. */
export interface Explanation {
  plan: PlanNode;
  /** The planner's estimate of the matches. */
  estimate: number;
  /** After running (unless `analyze: false`): the exact matches and the work done. */
  actual?: { count: number; postingsScanned: number; seeks: number; ms: number };
}

/** An estimated count. */
export interface CountEstimate {
  estimate: number;
  /** A plausible lower figure (0 when an intersection could be empty). */
  low: number;
  /** A true upper bound: no more postings exist for the query's leaves. */
  high: number;
}

const KNOWN = new Set(['limit', 'cursor', 'timeoutMs', 'maxPostingsScanned', 'snapshot', 'values', 'keyEncoding', 'valueEncoding']);

function positiveInt(v: unknown, what: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw invalidArgument(`${what} must be an integer from 1 to ${max}, got ${typeof v === 'number' ? String(v) : describe(v)}`);
  }
  return v;
}

interface Context {
  db: KvDb<unknown, unknown>;
  registry: IndexRegistry;
}

function checkSnapshot(given: unknown): Snapshot | undefined {
  if (given === undefined) return undefined;
  if (!(given instanceof Snapshot)) throw invalidArgument(`snapshot must be a Snapshot from db.snapshot(), got ${describe(given)}`);
  if (given.closed) throw invalidArgument('snapshot is closed');
  return given;
}

async function withSnapshot<T>(ctx: Context, given: unknown, fn: (s: Snapshot) => Promise<T>): Promise<T> {
  const s = checkSnapshot(given);
  if (s !== undefined) return fn(s);
  const own = ctx.db.snapshot();
  try {
    return await fn(own);
  } finally {
    await own.close();
  }
}

/**
 * The view a query reads at: the snapshot given, or one taken when the first stream reads (a
 * page read in one engine call, `readPage`, is one view by itself and takes none).
 */
class View {
  #taken: Snapshot | undefined;
  constructor(
    readonly db: KvDb<unknown, unknown>,
    readonly given: Snapshot | undefined,
  ) {}
  get snapshot(): Snapshot {
    return this.given ?? (this.#taken ??= this.db.snapshot());
  }
  /** True once a snapshot of this run was taken. */
  get taken(): boolean {
    return this.#taken !== undefined;
  }
  async close(): Promise<void> {
    await this.#taken?.close();
  }
}

function sequenceOf(s: Snapshot): number {
  return (s._native() as { sequence: number }).sequence;
}

type Decoders = ReturnType<KvDb<unknown, unknown>['_decoders']>;

/**
 * The items, next bound and counters of a page of one exact term read in one engine call
 * (see `readPage`); `undefined` when that cannot be done (read it the streams' way).
 */
async function termPage<K, V>(
  db: KvDb<unknown, unknown>,
  term: ExactTerm,
  from: Buffer,
  limit: number,
  wantValues: boolean,
  given: Snapshot | undefined,
  dec: Decoders,
): Promise<{ items: { key: K; value?: V }[]; next: Buffer | undefined; stats: Omit<QueryStats, 'ms'> } | undefined> {
  const seeked = from.length > 0;
  let page = readPage(db, term.range, seeked ? Buffer.concat([term.prefix, from]) : undefined, limit, term.prefix.length, wantValues, given);
  if (page instanceof Promise) page = await page;
  if (page === undefined) return undefined;
  const { data, n, keyStart, keyEnd, valueEnd } = page;
  const items: { key: K; value?: V }[] = [];
  const { keyAt, valueAt } = dec;
  for (let i = 0; i < n; i++) {
    const ks = keyStart[i] as number;
    const ke = keyEnd[i] as number;
    // Utf8 keys and utf8/json values decode straight from the answer buffer (no Buffer each).
    const key = (keyAt !== undefined ? keyAt(data, ks, ke) : dec.key(data.subarray(ks, ke))) as K;
    if (valueEnd === undefined) {
      items.push({ key });
      continue;
    }
    const ve = valueEnd[i] as number;
    // Postings and records are read at one view, so a record is always there.
    if (ve < 0) continue;
    let value: unknown;
    try {
      value = valueAt !== undefined ? valueAt(data, ke, ve) : dec.value(data.subarray(ke, ve), data.subarray(ks, ke));
    } catch (e) {
      // Decode again the checked way: the error names the key.
      if (valueAt === undefined) throw e;
      value = dec.value(data.subarray(ke, ve), data.subarray(ks, ke));
    }
    items.push({ key, value: value as V });
  }
  const more = page.more && n > 0;
  return {
    items,
    next: more ? after(data.subarray(keyStart[n - 1] as number, keyEnd[n - 1] as number)) : undefined,
    // The engine reads one posting past the page to know whether more follow.
    stats: { postingsScanned: n + (page.more ? 1 : 0), recordsRead: valueEnd === undefined ? 0 : n, seeks: seeked ? 1 : 0 },
  };
}

/** Runs one page of `q`. */
export async function runQuery<K, V>(ctx: Context, q: unknown, opts: QueryOptions = {}): Promise<QueryResult<K, V>> {
  const t0 = performance.now();
  if (opts === null || typeof opts !== 'object') throw invalidArgument(`options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) if (!KNOWN.has(k)) throw invalidArgument(`query options: unknown option ${JSON.stringify(k)}`);
  const limit = positiveInt(opts.limit, 'limit', MAX_LIMIT) ?? DEFAULT_LIMIT;
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs', 2 ** 31 - 1);
  const maxPostings = positiveInt(opts.maxPostingsScanned, 'maxPostingsScanned', Number.MAX_SAFE_INTEGER);
  if (opts.values !== undefined && typeof opts.values !== 'boolean') throw invalidArgument(`values must be a boolean, got ${describe(opts.values)}`);
  const wantValues = opts.values !== false;
  const dec = ctx.db._decoders(opts);
  const node = normalizeQuery(q);
  checkIndexes(ctx.registry, node);
  const dbId = ctx.registry.dbId;
  // The fingerprint (a hash of the query) is only needed to check or make a cursor.
  let fpMemo: string | undefined;
  const fp = (): string => (fpMemo ??= fingerprint(dbId, canonical(node)));
  const state = opts.cursor === undefined || opts.cursor === null ? { from: Buffer.alloc(0) } : decodeCursor(opts.cursor, fp(), dbId);
  const given = checkSnapshot(opts.snapshot);
  const seq = given === undefined ? undefined : sequenceOf(given);
  if (state.sequence !== undefined && seq !== undefined && state.sequence !== seq) {
    throw invalidArgument('cursor is not valid: it was made at another snapshot than the one given');
  }
  const cursorAt = (from: Buffer): string => {
    const next: { from: Buffer; sequence?: number } = { from };
    if (seq !== undefined) next.sequence = seq;
    return encodeCursor(fp(), dbId, next);
  };
  // One exact term without a time or posting budget: no plan (nothing to order or estimate);
  // the page is read in one engine call, postings and records at one view, without a
  // snapshot of its own (the streams' way when that cannot be done from memory).
  const term = timeoutMs === undefined && maxPostings === undefined ? exactTerm(ctx.registry, node) : undefined;
  if (term !== undefined) {
    const page = await termPage<K, V>(ctx.db, term, state.from, limit, wantValues, given, dec);
    if (page !== undefined) {
      return {
        items: page.items,
        cursor: page.next === undefined ? null : cursorAt(page.next),
        partial: false,
        stats: { ...page.stats, ms: performance.now() - t0 },
      };
    }
  }
  const view = new View(ctx.db, given);
  try {
    const budget = new Budget(timeoutMs === undefined ? undefined : Date.now() + timeoutMs, maxPostings);
    const src: Source = {
      db: ctx.db,
      budget,
      want: limit + 1,
      get snapshot(): Snapshot {
        return view.snapshot;
      },
    };
    const built = await build(ctx.registry, node, src, state.from);
    // An intersection probed beside one exact term: its page in native calls (`fused.ts`).
    if (built.stream instanceof ProbeStream && !view.taken && timeoutMs === undefined && maxPostings === undefined) {
      const page = await probedPage(ctx.db, built.stream, state.from, limit, wantValues, given);
      if (page !== undefined) {
        await built.stream.close();
        const items: { key: K; value?: V }[] = [];
        page.keys.forEach((pk, i) => {
          const v = page.values?.[i];
          // Postings and records are read at one view, so a record is always there.
          if (v === null) return;
          items.push(v === undefined ? { key: dec.key(pk) as K } : { key: dec.key(pk) as K, value: dec.value(v, pk) as V });
        });
        const { postingsScanned, recordsRead, seeks } = page;
        return { items, cursor: page.next === undefined ? null : cursorAt(page.next), partial: false, stats: { postingsScanned, recordsRead, seeks, ms: performance.now() - t0 } };
      }
    }
    readFirst(built.stream, limit + 1);
    const pks: Buffer[] = [];
    budget.canStop = () => pks.length > 0 || Buffer.compare(built.stream.lb(), state.from) > 0;
    let partial: QueryResult<K, V>['partial'] = false;
    let more = true;
    try {
      const stream = built.stream;
      while (pks.length < limit) {
        let h = stream.head();
        if (h instanceof Promise) h = await h;
        if (h === undefined) {
          more = false;
          break;
        }
        pks.push(Buffer.from(h));
        stream.seekTo(after(h));
      }
      if (more && (await stream.head()) === undefined) more = false;
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      partial = e.reason;
      more = true;
    } finally {
      await built.stream.close();
    }
    let cursor: string | null = null;
    if (more) {
      let from = built.stream.lb();
      const last = pks[pks.length - 1];
      if (last !== undefined && Buffer.compare(after(last), from) > 0) from = after(last);
      if (Buffer.compare(from, state.from) < 0) from = state.from;
      cursor = cursorAt(from);
    }
    const items: { key: K; value?: V }[] = [];
    let recordsRead = 0;
    if (wantValues && pks.length > 0) {
      const values = await readValues(ctx.db, pks, view.snapshot);
      recordsRead = pks.length;
      pks.forEach((pk, i) => {
        const v = values[i];
        // Postings and records are read at one snapshot, so a record is always there.
        if (v === null || v === undefined) return;
        items.push({ key: dec.key(pk) as K, value: dec.value(v, pk) as V });
      });
    } else {
      for (const pk of pks) items.push({ key: dec.key(pk) as K });
    }
    return {
      items,
      cursor,
      partial,
      stats: { postingsScanned: budget.postingsScanned, recordsRead, seeks: budget.seeks, ms: performance.now() - t0 },
    };
  } finally {
    await view.close();
  }
}

async function drain(built: Built): Promise<number> {
  let n = 0;
  try {
    // One exact term: its postings are distinct keys, so counting them is enough.
    const s = built.stream;
    if (s instanceof TermStream) return await s.countRest();
    // A union of exact terms (a range, `in`, `or` of terms): the distinct keys of all of them,
    // a batch at a time instead of a merge step per key.
    if (s instanceof UnionStream && s.children.every((c) => c instanceof TermStream)) {
      const seen = new Set<string>();
      for (const c of s.children as TermStream[]) await c.eachRest((pk) => seen.add(pk.toString('latin1')));
      return seen.size;
    }
    for (;;) {
      let h = s.head();
      if (h instanceof Promise) h = await h;
      if (h === undefined) return n;
      n++;
      s.seekTo(after(h));
    }
  } finally {
    await built.stream.close();
  }
}

function checkCountOptions(opts: unknown): { estimate: boolean; snapshot?: unknown } {
  if (opts === null || typeof opts !== 'object') throw invalidArgument(`options must be an object, got ${describe(opts)}`);
  const o = opts as { estimate?: unknown; snapshot?: unknown };
  for (const k of Object.keys(o)) if (k !== 'estimate' && k !== 'snapshot') throw invalidArgument(`count options: unknown option ${JSON.stringify(k)}`);
  if (o.estimate !== undefined && typeof o.estimate !== 'boolean') throw invalidArgument('estimate must be a boolean');
  return { estimate: o.estimate === true, snapshot: o.snapshot };
}

/** The exact number of matches of `q` (or, with `estimate`, the planner's figures). */
export async function countQuery(ctx: Context, q: unknown, opts: { estimate?: boolean; snapshot?: Snapshot } = {}): Promise<number | CountEstimate> {
  const o = checkCountOptions(opts);
  const node = normalizeQuery(q);
  checkIndexes(ctx.registry, node);
  return withSnapshot(ctx, o.snapshot, async (snapshot) => {
    const budget = new Budget(undefined, undefined);
    const built = await build(ctx.registry, node, { db: ctx.db, snapshot, budget }, Buffer.alloc(0), o.estimate);
    if (o.estimate) {
      await built.stream.close();
      return estimateOf(built.plan);
    }
    // An intersection probed beside one exact term: counted in native calls (`fused.ts`).
    if (built.stream instanceof ProbeStream) {
      const n = await probedCount(ctx.db, built.stream, snapshot);
      if (n !== undefined) {
        await built.stream.close();
        return n;
      }
    }
    return drain(built);
  });
}

function estimateOf(plan: PlanNode): CountEstimate {
  const low = lowOf(plan);
  return { estimate: Math.max(low, Math.min(plan.estimate, plan.upper)), low, high: plan.upper };
}

function lowOf(p: PlanNode): number {
  if (p.op === 'term') return 0;
  if (p.op === 'or') return Math.max(0, ...(p.children ?? []).map(lowOf));
  return 0;
}

/** The plan of `q` with estimates, and (unless `analyze: false`) the actual counts. */
export async function explainQuery(ctx: Context, q: unknown, opts: { analyze?: boolean; snapshot?: Snapshot } = {}): Promise<Explanation> {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('options must be an object');
  for (const k of Object.keys(opts)) if (k !== 'analyze' && k !== 'snapshot') throw invalidArgument(`explain options: unknown option ${JSON.stringify(k)}`);
  if (opts.analyze !== undefined && typeof opts.analyze !== 'boolean') throw invalidArgument('analyze must be a boolean');
  const node: Node = normalizeQuery(q);
  checkIndexes(ctx.registry, node);
  return withSnapshot(ctx, opts.snapshot, async (snapshot) => {
    const t0 = performance.now();
    const budget = new Budget(undefined, undefined);
    const built = await build(ctx.registry, node, { db: ctx.db, snapshot, budget }, Buffer.alloc(0), true);
    if (opts.analyze === false) {
      await built.stream.close();
      return { plan: built.plan, estimate: built.plan.estimate };
    }
    const count = await drain(built);
    built.finish();
    return {
      plan: built.plan,
      estimate: built.plan.estimate,
      actual: { count, postingsScanned: budget.postingsScanned, seeks: budget.seeks, ms: performance.now() - t0 },
    };
  });
}

