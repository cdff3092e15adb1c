/**
 * The planner: turns a normalised query into streams over posting lists, with each
 * predicate's cardinality estimated from the engine (`approximateCount` of its posting
 * range: index blocks and memtables, no data read). Intersections are driven by their most
 * selective side, each other side read in windows beside it or probed per candidate
 * (whichever touches fewer postings) or, when it is not made of exact terms, leapfrogged
 * (or, when every side is made of exact terms and that costs less, driven by one term with
 * every other side probed: read by the engine); unions merge; `explain` shows the chosen
 * plan with estimated and actual counts. A predicate that no index can answer is
 * `STRATA_NO_INDEX`: nothing here reads records to filter them.
 */
import type { BindingRange } from '../../binding';
import { successor } from '../codec';
import { StrataError, invalidArgument } from '../errors';
import type { IndexRegistry } from '../indexes/registry';
import type { LiveIndex } from '../indexes/maintain';
import { postingPrefix } from '../indexes/layout';
import { TermTag, encodeTerm, encodeTerms, stringPrefixRange } from '../indexes/terms';
import { queryTokens } from '../indexes/text';
import type { IndexType } from '../indexes/definition';
import type { Leaf, Node, TermValue } from './ast';
import { AndStream, PkStream, ProbeStream, Source, TermStream, UnionStream, WindowSide, WindowStream, openRange, termsOf } from './streams';

/**
 * Relative cost of reading one posting in sequence and of probing one posting key. On the
 * query benchmark's intersections (100,000 documents) the CPU per query was flat for probe
 * costs from 0.5 to 1.25 reads and rose past 1.5 (2 read more postings than probing would).
 */
const READ_COST = 1;
const PROBE_COST = 1;
/**
 * The same in the engine (a page of a probe plan driven by one exact term is read by
 * `scanProbe`): scanning one driver posting, or probing one term for a candidate with the
 * engine's forward cursors, relative to `READ_COST`. On q-city-and-age (100,000 documents) a
 * posting scanned or probed there took ~0.37 us of CPU, one of the windows or JavaScript
 * probes 0.53-0.69 us; at 0.45 a common city drove (0.54x on that query), at 0.75 a quarter
 * of the middling cities that win by it kept their windows.
 */
const NATIVE_COST = 0.6;

/** One node of a plan, as `explain` shows it. */
export interface PlanNode {
  op: 'term' | 'range' | 'and' | 'or' | 'not';
  index?: string;
  /** What the node looks up, in words. */
  detail?: string;
  /** Estimated matches (from the engine's approximate counts). */
  estimate: number;
  /** An upper bound on the postings the node can read. */
  upper: number;
  /**
   * `window` (and: the sides read window by window in key order beside the driver),
   * `probe` (and: some sides looked up per candidate), `leapfrog` (and: seeks between
   * sides), `merge` (or, and ranges of a few terms), `read-and-sort` (wide ranges).
   */
  strategy?: 'window' | 'leapfrog' | 'probe' | 'merge' | 'read-and-sort' | 'seek';
  children?: PlanNode[];
  /** After running: the postings this node read. */
  postingsScanned?: number;
}

/** A built plan: the stream and how to describe it. */
export interface Built {
  stream: PkStream;
  plan: PlanNode;
  /** Fills `postingsScanned` after a run. */
  finish(): void;
}

function indexOf(registry: IndexRegistry, name: string, what: string): { live: LiveIndex; type: IndexType } {
  const slot = registry.get(name);
  if (slot === undefined) {
    throw new StrataError('STRATA_NO_INDEX', `${what}: there is no index named '${name}' (a query never scans: create the index it needs)`);
  }
  if (slot.record.state !== 'ready') {
    throw new StrataError('STRATA_INDEX_BUILDING', `${what}: index '${name}' is still being built; query it once it is ready (await db.createIndex(def) resolves then)`);
  }
  return { live: slot.live, type: slot.record.definition.type };
}

function enc(values: TermValue[], what: string): Buffer {
  return values.length === 1 ? encodeTerm(values[0] as TermValue, what) : encodeTerms(values, what);
}

function typeBracket(v: TermValue): [number, number] {
  if (v === null) return [TermTag.null, TermTag.null + 1];
  if (typeof v === 'boolean') return [TermTag.false, TermTag.true + 1];
  if (typeof v === 'number') return [TermTag.number, TermTag.number + 1];
  if (typeof v === 'string') return [TermTag.string, TermTag.string + 1];
  return [TermTag.bytes, TermTag.bytes + 1];
}


function describeValues(values: TermValue[]): string {
  return values.map((v) => (v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : JSON.stringify(v))).join(', ');
}

/**
 * Builds the streams of `node`, reading at `src`, producing keys `>= start`. Estimates are
 * asked of the engine where the plan needs them (the sides of an intersection), or
 * everywhere with `estimates` (explain, estimated counts); elsewhere they are -1.
 */
export async function build(registry: IndexRegistry, node: Node, src: Source, start: Buffer, estimates = false): Promise<Built> {
  const db = src.db;
  const count = (r: BindingRange, need: boolean): { estimate: number; upper: number } =>
    need ? db._approximateCount(r) : { estimate: -1, upper: -1 };

  const termLeaf = (live: LiveIndex, name: string, term: Buffer, detail: string, need: boolean): Built => {
    const { prefix, range } = termRange(live, term);
    const c = count(range, need);
    const stream = new TermStream(src, range, prefix, start);
    const plan: PlanNode = { op: 'term', index: name, detail, estimate: c.estimate, upper: c.upper, strategy: 'seek' };
    return { stream, plan, finish: () => (plan.postingsScanned = stream.scanned) };
  };

  const rangeLeaf = async (live: LiveIndex, name: string, lo: Buffer, hi: Buffer | undefined, detail: string, need: boolean): Promise<Built> => {
    const range: BindingRange = hi === undefined ? { system: true, gte: lo } : { system: true, gte: lo, lt: hi };
    const c = count(range, need);
    const stream = await openRange(src, range, live.arity, start);
    const plan: PlanNode = {
      op: 'range',
      index: name,
      detail,
      estimate: c.estimate,
      upper: c.upper,
      strategy: stream instanceof UnionStream ? 'merge' : 'read-and-sort',
    };
    return { stream, plan, finish: () => (plan.postingsScanned = stream.scanned) };
  };

  const union = (parts: Built[]): Built => {
    if (parts.length === 1) return parts[0] as Built;
    const stream = new UnionStream(parts.map((p) => p.stream));
    const plan: PlanNode = {
      op: 'or',
      estimate: parts.reduce((n, p) => n + p.plan.estimate, 0),
      upper: parts.reduce((n, p) => n + p.plan.upper, 0),
      strategy: 'merge',
      children: parts.map((p) => p.plan),
    };
    return {
      stream,
      plan,
      finish: () => {
        parts.forEach((p) => p.finish());
        plan.postingsScanned = stream.scanned;
      },
    };
  };

  const intersect = (pos: Built[], neg: Built[]): Built => {
    const sorted = [...pos].sort((a, b) => a.plan.estimate - b.plan.estimate);
    if (sorted.length === 1 && neg.length === 0) return sorted[0] as Built;
    let [driver, ...others] = sorted as [Built, ...Built[]];
    const d = Math.max(1, driver.plan.estimate);
    // Every side made of exact terms is either read window by window beside the driver (its
    // postings per driver key, sequentially) or probed (one lookup per term and candidate),
    // whichever touches less; other sides (wide ranges read and sorted, nested or/and) are
    // leapfrogged with seeks.
    let driverTerms = termsOf(driver.stream);
    const choose = (b: Built): 'read' | 'probe' | 'leap' => {
      const terms = termsOf(b.stream);
      if (terms === undefined) return 'leap';
      const read = (Math.max(0, b.plan.estimate) / d) * READ_COST;
      const probe = terms.length * PROBE_COST;
      // Windows need a driver of exact terms; beside any other driver, probe or leapfrog.
      if (driverTerms === undefined) return probe <= read ? 'probe' : 'leap';
      return probe < read ? 'probe' : 'read';
    };
    let ways = [...others, ...neg].map(choose);
    // Or one exact term drives and every other side is probed, when that costs less: the
    // page is then read in the engine (`fused.ts`). Chosen whatever the budget, so `explain`
    // shows the plan a query runs (with a budget the streams run it, still cheaper than windows).
    const fused = nativeDriver(sorted, neg, driver, ways, d);
    if (fused !== undefined) {
      driver = fused;
      driverTerms = termsOf(fused.stream);
      others = sorted.filter((b) => b !== fused);
      ways = [...others, ...neg].map(() => 'probe' as const);
    }
    const must = others.map((b, i) => ({ b, way: ways[i] as string }));
    const not = neg.map((b, i) => ({ b, way: ways[others.length + i] as string }));
    const side = (b: Built): WindowSide => ({ terms: termsOf(b.stream) as TermStream[], estimate: b.plan.estimate });
    const readMust = must.filter((x) => x.way === 'read');
    const readNot = not.filter((x) => x.way === 'read');
    const leap = must.filter((x) => x.way === 'leap').map((x) => x.b.stream);
    const leapNot = not.filter((x) => x.way === 'leap').map((x) => x.b.stream);
    let inner: PkStream = driver.stream;
    // A driver of several terms alone is merged window by window too (cheaper than a merge
    // step per key), unless seeks from leapfrogged sides would cut its windows short.
    const alone = driverTerms !== undefined && driverTerms.length > 1 && leap.length === 0 && leapNot.length === 0;
    if (driverTerms !== undefined && (readMust.length > 0 || readNot.length > 0 || alone)) {
      inner = new WindowStream(
        src,
        { terms: driverTerms, estimate: driver.plan.estimate },
        readMust.map((x) => side(x.b)),
        readNot.map((x) => side(x.b)),
        start,
      );
    }
    if (leap.length > 0 || leapNot.length > 0) inner = new AndStream([inner, ...leap], leapNot);
    const probeMust = must.filter((x) => x.way === 'probe');
    const probeNot = not.filter((x) => x.way === 'probe');
    const prefixes = (x: { b: Built }): Buffer[] => (termsOf(x.b.stream) as TermStream[]).map((t) => t.prefix);
    const stream: PkStream =
      probeMust.length > 0 || probeNot.length > 0
        ? new ProbeStream(src, inner, probeMust.map(prefixes), probeNot.map(prefixes), [...probeMust, ...probeNot].map((x) => x.b.stream))
        : inner;
    const how = (x: { b: Built; way: string }): string => `${x.b.plan.index ?? x.b.plan.op} ${x.way === 'read' ? 'read in windows' : x.way === 'probe' ? 'probed' : 'leapfrogged'}`;
    const detail = [`driver ${driver.plan.index ?? driver.plan.op}`, ...must.map(how), ...not.map((x) => `not ${how(x)}`)].join('; ');
    const notPlans: PlanNode[] = neg.map((n) => ({ op: 'not', estimate: n.plan.estimate, upper: n.plan.upper, children: [n.plan] }));
    const plan: PlanNode = {
      op: 'and',
      estimate: Math.min(...sorted.map((p) => p.plan.estimate)),
      upper: Math.min(...sorted.map((p) => p.plan.upper)),
      detail,
      strategy: stream instanceof ProbeStream ? 'probe' : stream instanceof WindowStream ? 'window' : 'leapfrog',
      children: [...sorted.map((p) => p.plan), ...notPlans],
    };
    return {
      stream,
      plan,
      finish: () => {
        sorted.forEach((p) => p.finish());
        neg.forEach((n, i) => {
          n.finish();
          (notPlans[i] as PlanNode).postingsScanned = n.plan.postingsScanned;
        });
        plan.postingsScanned = stream.scanned;
      },
    };
  };

  const leaf = async (l: Leaf, at: string, need: boolean): Promise<Built> => {
    const { live, type } = indexOf(registry, l.index, at);
    const name = l.index;
    const base = postingPrefix(live.id);
    if (l.kind === 'match') {
      if (type !== 'text') {
        throw new StrataError('STRATA_NO_INDEX', `${at}: '${l.any ? 'matchAny' : 'match'}' needs a text index; '${name}' is a ${type} index`);
      }
      const tokens = queryTokens(l.text);
      if (tokens.length === 0) throw invalidArgument(`${at}: the text ${JSON.stringify(l.text)} has no words to match`);
      const parts = tokens.map((t) => termLeaf(live, name, encodeTerm(t, at), `word ${JSON.stringify(t)}`, need || !l.any));
      return l.any ? union(parts) : intersect(parts, []);
    }
    if (type === 'text') {
      throw new StrataError('STRATA_NO_INDEX', `${at}: '${name}' is a text index: query it with 'match' or 'matchAny'`);
    }
    const arity = live.arity;
    const eqPart = (values: TermValue[], w: string): Promise<Built> | Built => {
      if (values.length > arity) throw invalidArgument(`${w}: index '${name}' has ${arity} field(s), got ${values.length} values`);
      const term = enc(values, w);
      if (values.length === arity) return termLeaf(live, name, term, `= ${describeValues(values)}`, need);
      const lo = Buffer.concat([base, term]);
      return rangeLeaf(live, name, lo, successor(lo), `leading fields = ${describeValues(values)}`, need);
    };
    if (l.kind === 'eq') return eqPart(l.values, at);
    if (l.kind === 'in') return union(await Promise.all(l.alternatives.map((v, i) => eqPart(v, `${at}.in[${i}]`))));
    if (type !== 'range') {
      throw new StrataError(
        'STRATA_NO_INDEX',
        `${at}: '${l.kind === 'prefix' ? 'prefix' : 'gt/gte/lt/lte'}' needs an index of type 'range'; '${name}' is an ${type} index`,
      );
    }
    if (l.values.length >= arity) throw invalidArgument(`${at}: index '${name}' has ${arity} field(s): a range needs at most ${arity - 1} leading values`);
    const lead = l.values.length === 0 ? base : Buffer.concat([base, enc(l.values, at)]);
    if (l.kind === 'prefix') {
      const r = stringPrefixRange(l.prefix);
      return rangeLeaf(live, name, Buffer.concat([lead, r.gte]), Buffer.concat([lead, r.lt]), `prefix ${JSON.stringify(l.prefix)}`, need);
    }
    // `gte: v, lte: v` on the last field is one exact term: no terms to discover.
    if (l.lower?.inclusive === true && l.upper?.inclusive === true && l.values.length === arity - 1 && !(l.lower.value instanceof Uint8Array) && Object.is(l.lower.value, l.upper.value)) {
      return termLeaf(live, name, enc([...l.values, l.lower.value], at), `= ${describeValues([...l.values, l.lower.value])}`, need);
    }
    // Type bracketing (as MongoDB): a bound compares with values of its own type only.
    const kind = l.lower ?? l.upper;
    if (kind === undefined) throw invalidArgument(`${at}: empty range`);
    const [tlo, thi] = typeBracket(kind.value);
    if (l.lower !== undefined && l.upper !== undefined && typeBracket(l.upper.value)[0] !== tlo) {
      throw invalidArgument(`${at}: the bounds of a range must be of the same type`);
    }
    let lo: Buffer = Buffer.concat([lead, Buffer.from([tlo])]);
    let hi: Buffer | undefined = Buffer.concat([lead, Buffer.from([thi])]);
    if (l.lower !== undefined) {
      const t = Buffer.concat([lead, encodeTerm(l.lower.value, `${at}.lower`)]);
      lo = l.lower.inclusive ? t : (successor(t) as Buffer);
    }
    if (l.upper !== undefined) {
      const t = Buffer.concat([lead, encodeTerm(l.upper.value, `${at}.upper`)]);
      hi = l.upper.inclusive ? successor(t) : t;
    }
    const detail = [
      l.values.length > 0 ? `leading fields = ${describeValues(l.values)}` : '',
      l.lower ? `${l.lower.inclusive ? '>=' : '>'} ${describeValues([l.lower.value])}` : '',
      l.upper ? `${l.upper.inclusive ? '<=' : '<'} ${describeValues([l.upper.value])}` : '',
    ]
      .filter((s) => s.length > 0)
      .join(', ');
    if (hi !== undefined && Buffer.compare(lo, hi) >= 0) {
      // An empty range: a stream that yields nothing.
      return rangeLeaf(live, name, lo, lo, detail, need);
    }
    return rangeLeaf(live, name, lo, hi, detail, need);
  };

  const walk = async (n: Node, at: string, need: boolean): Promise<Built> => {
    if (n.kind === 'and') {
      const pos = await Promise.all(n.children.map((c, i) => walk(c, `${at}.and[${i}]`, true)));
      const neg = await Promise.all(n.not.map((c, i) => walk(c, `${at}.not[${i}]`, true)));
      return intersect(pos, neg);
    }
    if (n.kind === 'or') return union(await Promise.all(n.children.map((c, i) => walk(c, `${at}.or[${i}]`, need))));
    return leaf(n, at, need);
  };
  return walk(node, 'query', estimates);
}

/**
 * The side to drive an intersection from when every side is made of exact terms and its page
 * is read by the engine (`scanProbe`: one exact term drives, every other side is probed per
 * candidate by the engine's forward cursors): the single-term side that costs least that
 * way, when that costs less than the streams' plan (`driver` and `ways`, the planner's choice
 * per other side); `undefined` to keep that plan (it is already probed beside one term, or
 * cheaper, or not made of exact terms).
 */
function nativeDriver(sorted: Built[], neg: Built[], driver: Built, ways: ('read' | 'probe' | 'leap')[], d: number): Built | undefined {
  const all = [...sorted, ...neg];
  const termCounts = all.map((b) => termsOf(b.stream)?.length);
  if (termCounts.some((n) => n === undefined)) return undefined;
  if (driver.stream instanceof TermStream && ways.every((w) => w === 'probe')) return undefined;
  const totalTerms = termCounts.reduce((n: number, t) => n + (t as number), 0);
  // Sides of one term each are read in windows only on a tie of estimates (approximate counts
  // of small terms are coarse: the other may be the smaller); driven by the engine there,
  // q-text-two counted 4% more instructions (callgrind), so those keep the streams' plan.
  if (totalTerms === all.length) return undefined;
  // The cheapest driver is the single-term side with the smallest estimate (`sorted` is in
  // estimate order): its own term is scanned, every other term probed per candidate.
  const best = sorted.find((b) => b.stream instanceof TermStream);
  if (best === undefined) return undefined;
  const bestCost = Math.max(1, best.plan.estimate) * totalTerms * NATIVE_COST;
  // The streams' plan: the driver's postings and every side read beside it, or probed per
  // candidate, or leapfrogged (at most its postings read).
  const others = [...sorted.filter((b) => b !== driver), ...neg];
  let current = d * READ_COST;
  others.forEach((b, i) => {
    current += ways[i] === 'probe' ? d * (termsOf(b.stream) as TermStream[]).length * PROBE_COST : Math.max(0, b.plan.estimate) * READ_COST;
  });
  return bestCost < current ? best : undefined;
}

/** The posting-key prefix and posting range of one exact term of `live`. */
function termRange(live: LiveIndex, term: Buffer): ExactTerm {
  const prefix = Buffer.concat([postingPrefix(live.id), term]);
  const hi = successor(prefix);
  return { prefix, range: hi === undefined ? { system: true, gte: prefix } : { system: true, gte: prefix, lt: hi } };
}

/** The postings of one exact term: keys `prefix · primary key` in `range`. */
export interface ExactTerm {
  prefix: Buffer;
  range: BindingRange;
}

/**
 * The postings `node` reads when it is one exact term (`eq` on every field of an equality or
 * range index, `match` of one word on a text index), else `undefined` (also for anything
 * `build` would reject: it says why). One term has nothing to order or estimate, so its page
 * needs no plan. Indexes must have passed `checkIndexes`.
 */
export function exactTerm(registry: IndexRegistry, node: Node): ExactTerm | undefined {
  if (node.kind !== 'eq' && node.kind !== 'match') return undefined;
  const slot = registry.get(node.index);
  if (slot === undefined || slot.record.state !== 'ready') return undefined;
  const type = slot.record.definition.type;
  if (node.kind === 'match') {
    if (type !== 'text' || node.any) return undefined;
    const tokens = queryTokens(node.text);
    return tokens.length === 1 ? termRange(slot.live, encodeTerm(tokens[0] as string, 'query')) : undefined;
  }
  if (type === 'text' || node.values.length !== slot.live.arity) return undefined;
  return termRange(slot.live, enc(node.values, 'query'));
}

/** Checks every index the query names without opening anything (for early errors). */
export function checkIndexes(registry: IndexRegistry, node: Node): void {
  const walk = (n: Node): void => {
    if (n.kind === 'and') {
      n.children.forEach(walk);
      n.not.forEach(walk);
    } else if (n.kind === 'or') n.children.forEach(walk);
    else indexOf(registry, n.index, 'query');
  };
  walk(node);
}

