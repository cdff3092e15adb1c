/**
 * The query language: plain, JSON-serialisable objects, validated here into a normalised
 * tree. Which index answers what is decided by the planner (`plan.ts`).
 *
 * ```
 * { index, eq }              { index, term } (alias)      { index, in: [...] }
 * { index, gt|gte|lt|lte }   { index, prefix }            (range indexes)
 * { index, eq: [a, b], gte } (compound: equality on leading fields, a range on the next)
 * { index, match: 'words' }  { index, matchAny: 'words' } (text indexes)
 * { and: [q...] }  { or: [q...] }  { not: q } (only inside an and beside a positive part)
 * ```
 */
import { describe, quote } from '../encodings';
import { invalidArgument } from '../errors';

/** A value a query compares with: a JSON scalar (or bytes, for `raw` extractors). */
export type TermValue = null | boolean | number | string | Uint8Array;

/** A predicate on one index. */
export interface IndexPredicate {
  index: string;
  eq?: TermValue | TermValue[];
  /** Alias of `eq` (the seeds' name). */
  term?: TermValue | TermValue[];
  in?: (TermValue | TermValue[])[];
  gt?: TermValue;
  gte?: TermValue;
  lt?: TermValue;
  lte?: TermValue;
  prefix?: string;
  match?: string;
  matchAny?: string;
}

/** A query. */
export type Query = IndexPredicate | { and: Query[] } | { or: Query[] } | { not: Query };

/** Normalised leaf: one index, one kind of test. */
export type Leaf =
  | { kind: 'eq'; index: string; values: TermValue[] }
  | { kind: 'in'; index: string; alternatives: TermValue[][] }
  | {
      kind: 'range';
      index: string;
      /** Equality on the leading fields of a compound index (empty otherwise). */
      values: TermValue[];
      lower?: { value: TermValue; inclusive: boolean };
      upper?: { value: TermValue; inclusive: boolean };
    }
  | { kind: 'prefix'; index: string; values: TermValue[]; prefix: string }
  | { kind: 'match'; index: string; text: string; any: boolean };

/** The normalised tree. */
export type Node = Leaf | { kind: 'and'; children: Node[]; not: Node[] } | { kind: 'or'; children: Node[] };

/** Limits on the size of a query. */
export const MAX_QUERY_DEPTH = 16;
export const MAX_QUERY_LEAVES = 256;
export const MAX_IN_VALUES = 1024;

const PREDICATE_KEYS = new Set(['index', 'eq', 'term', 'in', 'gt', 'gte', 'lt', 'lte', 'prefix', 'match', 'matchAny']);

function isTermValue(v: unknown): v is TermValue {
  return v === null || typeof v === 'boolean' || typeof v === 'string' || v instanceof Uint8Array || (typeof v === 'number' && Number.isFinite(v));
}

function termValue(v: unknown, what: string): TermValue {
  if (!isTermValue(v)) {
    throw invalidArgument(`${what} must be a string, finite number, boolean, null or Uint8Array, got ${typeof v === 'number' ? String(v) : describe(v)}`);
  }
  return v;
}

function values(v: unknown, what: string): TermValue[] {
  if (Array.isArray(v)) {
    if (v.length === 0) throw invalidArgument(`${what} must not be an empty array`);
    return v.map((x, i) => termValue(x, `${what}[${i}]`));
  }
  return [termValue(v, what)];
}

/** Validates and normalises a query. Throws `STRATA_INVALID_ARGUMENT` naming the bad part. */
export function normalizeQuery(q: unknown): Node {
  let leaves = 0;
  const walk = (x: unknown, what: string, depth: number, insideAnd: boolean): Node => {
    if (depth > MAX_QUERY_DEPTH) throw invalidArgument(`${what}: the query is nested deeper than ${MAX_QUERY_DEPTH} levels`);
    if (x === null || typeof x !== 'object' || Array.isArray(x)) throw invalidArgument(`${what} must be a query object, got ${describe(x)}`);
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o);
    if ('and' in o || 'or' in o || 'not' in o) {
      if (keys.length !== 1) throw invalidArgument(`${what}: 'and', 'or' and 'not' take an object of their own, got keys ${keys.join(', ')}`);
      if ('not' in o) {
        if (!insideAnd) throw invalidArgument(`${what}: 'not' is only allowed inside an 'and' beside a positive part (a query never scans for what does not match)`);
        return walk(o.not, `${what}.not`, depth + 1, false);
      }
      const op = 'and' in o ? 'and' : 'or';
      const list = o[op];
      if (!Array.isArray(list) || list.length === 0) throw invalidArgument(`${what}.${op} must be a non-empty array of queries`);
      if (op === 'or') return { kind: 'or', children: list.map((c, i) => walk(c, `${what}.or[${i}]`, depth + 1, false)) };
      const children: Node[] = [];
      const not: Node[] = [];
      list.forEach((c, i) => {
        const isNot = c !== null && typeof c === 'object' && !Array.isArray(c) && 'not' in (c as object);
        const n = walk(c, `${what}.and[${i}]`, depth + 1, true);
        (isNot ? not : children).push(n);
      });
      if (children.length === 0) throw invalidArgument(`${what}.and: 'not' needs a positive part beside it in the same 'and'`);
      return { kind: 'and', children, not };
    }
    for (const k of keys) if (!PREDICATE_KEYS.has(k)) throw invalidArgument(`${what}: unknown operator ${quote(k)}`);
    if (typeof o.index !== 'string' || o.index.length === 0) throw invalidArgument(`${what}.index must be a non-empty string naming an index`);
    if (++leaves > MAX_QUERY_LEAVES) throw invalidArgument(`the query has more than ${MAX_QUERY_LEAVES} predicates`);
    const index = o.index;
    if (o.eq !== undefined && o.term !== undefined) throw invalidArgument(`${what}: 'eq' and its alias 'term' cannot both be given`);
    const eqRaw = o.eq !== undefined ? o.eq : o.term;
    const ops = ['in', 'gt', 'gte', 'lt', 'lte', 'prefix', 'match', 'matchAny'].filter((k) => o[k] !== undefined);
    const has = (k: string): boolean => ops.includes(k);
    if (has('match') || has('matchAny')) {
      if (ops.length !== 1 || eqRaw !== undefined) throw invalidArgument(`${what}: 'match'/'matchAny' cannot be combined with other operators`);
      const any = has('matchAny');
      const text = any ? o.matchAny : o.match;
      if (typeof text !== 'string') throw invalidArgument(`${what}.${any ? 'matchAny' : 'match'} must be a string of words`);
      return { kind: 'match', index, text, any };
    }
    if (has('in')) {
      if (ops.length !== 1 || eqRaw !== undefined) throw invalidArgument(`${what}: 'in' cannot be combined with other operators`);
      const list = o.in;
      if (!Array.isArray(list) || list.length === 0) throw invalidArgument(`${what}.in must be a non-empty array`);
      if (list.length > MAX_IN_VALUES) throw invalidArgument(`${what}.in has ${list.length} values, more than ${MAX_IN_VALUES}`);
      return { kind: 'in', index, alternatives: list.map((v, i) => values(v, `${what}.in[${i}]`)) };
    }
    const prefixVals = eqRaw === undefined ? [] : values(eqRaw, `${what}.eq`);
    if (has('prefix')) {
      if (ops.length !== 1) throw invalidArgument(`${what}: 'prefix' cannot be combined with range operators`);
      if (typeof o.prefix !== 'string') throw invalidArgument(`${what}.prefix must be a string`);
      return { kind: 'prefix', index, values: prefixVals, prefix: o.prefix };
    }
    if (has('gt') && has('gte')) throw invalidArgument(`${what}: 'gt' and 'gte' are mutually exclusive`);
    if (has('lt') && has('lte')) throw invalidArgument(`${what}: 'lt' and 'lte' are mutually exclusive`);
    if (ops.length > 0) {
      const leaf: Leaf = { kind: 'range', index, values: prefixVals };
      if (has('gt') || has('gte')) {
        const inclusive = has('gte');
        leaf.lower = { value: termValue(inclusive ? o.gte : o.gt, `${what}.${inclusive ? 'gte' : 'gt'}`), inclusive };
      }
      if (has('lt') || has('lte')) {
        const inclusive = has('lte');
        leaf.upper = { value: termValue(inclusive ? o.lte : o.lt, `${what}.${inclusive ? 'lte' : 'lt'}`), inclusive };
      }
      return leaf;
    }
    if (eqRaw === undefined) throw invalidArgument(`${what}: a predicate on index '${index}' needs an operator (eq, in, gt, gte, lt, lte, prefix, match or matchAny)`);
    return { kind: 'eq', index, values: prefixVals };
  };
  return walk(q, 'query', 0, false);
}

/** A stable text form of a normalised query (bytes as hex), for cursor fingerprints. */
export function canonical(n: Node): string {
  return JSON.stringify(n, (_k, v: unknown) => (v instanceof Uint8Array ? { $hex: Buffer.from(v).toString('hex') } : v));
}
