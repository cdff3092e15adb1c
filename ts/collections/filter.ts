/**
 * MongoDB-style filters → the index query language (`ts/query/ast.ts`), answered by the
 * planner from postings alone. Nothing here reads a document.
 *
 * Every indexed field has a value index and an array-elements index (`fields.ts`), so a
 * condition on a field becomes `or` of the two: `{ tags: 'a' }` matches `tags: 'a'` and
 * `tags: ['a', 'b']`. Conditions of one field are separate: `{ n: { $gt: 1, $lt: 5 } }` on
 * an array matches when some element is `> 1` and some element is `< 5` (as MongoDB, without
 * `$elemMatch`). `$ne`, `$nin` and `$not` become `not` beside the positive conditions of the
 * same conjunction (a query never scans for what does not match, so a conjunction needs one
 * positive condition). The empty filter `{}` matches every document (a read of the
 * collection's key range, not of any index).
 */
import type { IndexType } from '../indexes/definition';
import type { Query, TermValue } from '../query/ast';
import { describe, quote } from '../encodings';
import { StrataError, invalidArgument } from '../errors';
import type { CollectionFields, FieldInfo } from './fields';
import { parseField } from './fields';
import { isObjectId } from './ids';
import type { ObjectId } from 'bson';

/** A value a filter compares with. Dates compare as their milliseconds, ObjectIds as their hex string. */
export type FilterValue = null | boolean | number | string | Date | ObjectId | Uint8Array | { $oid: string } | { $date: string | number };

/** Conditions on one field. */
export interface FieldCondition {
  $eq?: FilterValue;
  $ne?: FilterValue;
  $gt?: FilterValue;
  $gte?: FilterValue;
  $lt?: FilterValue;
  $lte?: FilterValue;
  $in?: FilterValue[];
  $nin?: FilterValue[];
  $not?: FieldCondition;
}

/** `$text: { $search }`: documents whose text fields contain any of the words. */
export interface TextSearch {
  $search: string;
  $caseSensitive?: false;
  $diacriticSensitive?: false;
}

/** A filter: plain JSON (plus BSON values), in MongoDB's syntax. */
export interface Filter {
  $and?: Filter[];
  $or?: Filter[];
  $text?: TextSearch;
  [field: string]: FilterValue | FieldCondition | Filter[] | TextSearch | undefined;
}

/** A compiled filter: a query, every document, or no document. */
export type Compiled = { kind: 'query'; query: Query } | { kind: 'all' } | { kind: 'none' };

/** A conjunction being built: positive queries, negated queries, or nothing can match. */
interface Part {
  pos: Query[];
  neg: Query[];
  none: boolean;
}

const UNSUPPORTED = new Set(['$regex', '$exists', '$elemMatch', '$size', '$all', '$type', '$where', '$expr', '$nor', '$mod', '$options', '$jsonSchema', '$near', '$geoWithin', '$bitsAllSet']);
const FIELD_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$not']);
const MAX_DEPTH = 32;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A filter value → the term the extractor gives for it. */
export function termOf(v: unknown, what: string): TermValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalidArgument(`${what} must be a finite number, got ${String(v)}`);
    return v;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms)) throw invalidArgument(`${what} is an invalid Date`);
    return ms;
  }
  if (isObjectId(v)) return v.toHexString();
  if (v instanceof Uint8Array) return v;
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$oid') {
      if (typeof v.$oid !== 'string' || !/^[0-9a-fA-F]{24}$/.test(v.$oid)) throw invalidArgument(`${what}.$oid must be 24 hex digits`);
      return v.$oid.toLowerCase();
    }
    if (keys.length === 1 && keys[0] === '$date') {
      const d = new Date(v.$date as string | number);
      if ((typeof v.$date !== 'string' && typeof v.$date !== 'number') || !Number.isFinite(d.getTime())) throw invalidArgument(`${what}.$date must be an ISO date string or milliseconds`);
      return d.getTime();
    }
    throw invalidArgument(`${what}: equality with a sub-document is not supported (use dotted paths: { 'a.b': value })`);
  }
  if (Array.isArray(v)) throw invalidArgument(`${what}: equality with an array is not supported (a value matches an element: { tags: 'x' })`);
  throw invalidArgument(`${what} must be null, a boolean, a finite number, a string, a Date, an ObjectId or a Uint8Array, got ${describe(v)}`);
}

function termList(v: unknown, what: string): TermValue[] {
  if (!Array.isArray(v)) throw invalidArgument(`${what} must be an array, got ${describe(v)}`);
  return v.map((x, i) => termOf(x, `${what}[${i}]`));
}

function conj(parts: Part[]): Part {
  const out: Part = { pos: [], neg: [], none: false };
  for (const p of parts) {
    out.pos.push(...p.pos);
    out.neg.push(...p.neg);
    out.none ||= p.none;
  }
  return out;
}

function partOf(q: Query): Part {
  return { pos: [q], neg: [], none: false };
}

/** A conjunction as one compiled filter (`all` when it has no condition). */
function toCompiled(p: Part, what: string): Compiled {
  if (p.none) return { kind: 'none' };
  if (p.pos.length === 0) {
    if (p.neg.length === 0) return { kind: 'all' };
    throw invalidArgument(`${what}: $ne, $nin and $not need a positive condition beside them (a query never scans for what does not match)`);
  }
  if (p.pos.length === 1 && p.neg.length === 0) return { kind: 'query', query: p.pos[0] as Query };
  return { kind: 'query', query: { and: [...p.pos, ...p.neg.map((n) => ({ not: n }))] } };
}

/** Compiles filters of one collection. */
export class FilterCompiler {
  readonly #collection: string;
  readonly #fields: CollectionFields;

  constructor(collection: string, fields: CollectionFields) {
    this.#collection = collection;
    this.#fields = fields;
  }

  /** Compiles a filter; `STRATA_INVALID_ARGUMENT` for bad syntax, `STRATA_NO_INDEX` naming an unindexed field. */
  compile(filter: unknown): Compiled {
    if (filter === undefined) return { kind: 'all' };
    return toCompiled(this.#filter(filter, 'filter', 0), 'filter');
  }

  #filter(f: unknown, what: string, depth: number): Part {
    if (depth > MAX_DEPTH) throw invalidArgument(`${what}: the filter is nested deeper than ${MAX_DEPTH} levels`);
    if (!isPlainObject(f)) throw invalidArgument(`${what} must be an object, got ${describe(f)}`);
    const parts: Part[] = [];
    for (const [k, v] of Object.entries(f)) {
      if (v === undefined) continue;
      const at = `${what}.${k}`;
      if (k === '$and' || k === '$or') {
        if (!Array.isArray(v) || v.length === 0) throw invalidArgument(`${at} must be a non-empty array of filters`);
        const subs = v.map((x, i) => this.#filter(x, `${at}[${i}]`, depth + 1));
        if (k === '$and') parts.push(conj(subs));
        else parts.push(this.#or(subs, at));
      } else if (k === '$text') {
        parts.push(this.#text(v, at));
      } else if (k.startsWith('$')) {
        throw invalidArgument(UNSUPPORTED.has(k) ? `${at}: ${quote(k)} is not supported` : `${at}: unknown operator ${quote(k)}`);
      } else {
        parts.push(this.#field(k, v, at, depth));
      }
    }
    return conj(parts);
  }

  #or(subs: Part[], at: string): Part {
    const branches: Query[] = [];
    for (const [i, s] of subs.entries()) {
      const c = toCompiled(s, `${at}[${i}]`);
      if (c.kind === 'all') return { pos: [], neg: [], none: false };
      if (c.kind === 'query') branches.push(c.query);
    }
    if (branches.length === 0) return { pos: [], neg: [], none: true };
    return partOf(branches.length === 1 ? (branches[0] as Query) : { or: branches });
  }

  #text(v: unknown, at: string): Part {
    if (!isPlainObject(v)) throw invalidArgument(`${at} must be an object { $search: 'words' }, got ${describe(v)}`);
    for (const [k, x] of Object.entries(v)) {
      if (k === '$search') continue;
      if ((k === '$caseSensitive' || k === '$diacriticSensitive') && x === false) continue;
      if (k === '$caseSensitive' || k === '$diacriticSensitive') throw invalidArgument(`${at}.${k}: only false is supported (text search folds case and accents)`);
      throw invalidArgument(`${at}: unknown option ${quote(k)} (expected $search)`);
    }
    if (typeof v.$search !== 'string') throw invalidArgument(`${at}.$search must be a string of words`);
    const search = v.$search;
    if (/["]/.test(search) || /(^|\s)-\S/.test(search)) throw invalidArgument(`${at}.$search: phrases ("...") and negated words (-word) are not supported`);
    const text = this.#fields.text;
    if (text.length === 0) {
      throw new StrataError('STRATA_NO_INDEX', `${at}: collection '${this.#collection}' has no text index (declare { field, type: 'text' } in its indexes)`);
    }
    const branches: Query[] = [];
    for (const t of text) branches.push({ index: t.value, matchAny: search }, { index: t.each, matchAny: search });
    return partOf({ or: branches });
  }

  #info(field: string, at: string, needs: IndexType): FieldInfo {
    const info = this.#fields.fields.get(field);
    if (info === undefined) {
      const textOnly = this.#fields.text.some((t) => t.field === field);
      throw new StrataError(
        'STRATA_NO_INDEX',
        `${at}: collection '${this.#collection}' has no index on field '${field}'` +
          (textOnly ? ' (only a text index, queried with $text)' : ` (declare { field: '${field}' } in its indexes; a filter never scans)`),
      );
    }
    if (needs === 'range' && info.type !== 'range') {
      throw new StrataError('STRATA_NO_INDEX', `${at}: field '${field}' has an equality index; $gt/$gte/$lt/$lte need { field: '${field}', type: 'range' }`);
    }
    return info;
  }

  #field(key: string, v: unknown, at: string, depth: number): Part {
    const field = parseField(key, at).join('.');
    if (isPlainObject(v) && Object.keys(v).some((k) => k.startsWith('$')) && !isValueObject(v)) {
      return this.#conditions(field, v, at, depth);
    }
    const t = termOf(v, at);
    return partOf(this.#eq(this.#info(field, at, 'equality'), t));
  }

  #eq(info: FieldInfo, t: TermValue): Query {
    return { or: [{ index: info.value, eq: t }, { index: info.each, eq: t }] };
  }

  #in(info: FieldInfo, ts: TermValue[]): Query {
    return { or: [{ index: info.value, in: ts }, { index: info.each, in: ts }] };
  }

  #conditions(field: string, ops: Record<string, unknown>, at: string, depth: number): Part {
    if (depth > MAX_DEPTH) throw invalidArgument(`${at}: the filter is nested deeper than ${MAX_DEPTH} levels`);
    const parts: Part[] = [];
    const bounds: { op: string; value: TermValue }[] = [];
    for (const [op, x] of Object.entries(ops)) {
      if (x === undefined) continue;
      const w = `${at}.${op}`;
      if (!op.startsWith('$')) throw invalidArgument(`${at}: cannot mix operators and field names in one object (got ${quote(op)})`);
      if (!FIELD_OPS.has(op)) throw invalidArgument(UNSUPPORTED.has(op) ? `${w}: ${quote(op)} is not supported` : `${at}: unknown operator ${quote(op)}`);
      switch (op) {
        case '$eq': {
          const t = termOf(x, w);
          parts.push(partOf(this.#eq(this.#info(field, w, 'equality'), t)));
          break;
        }
        case '$ne': {
          const t = termOf(x, w);
          parts.push({ pos: [], neg: [this.#eq(this.#info(field, w, 'equality'), t)], none: false });
          break;
        }
        case '$in': {
          const ts = termList(x, w);
          const info = this.#info(field, w, 'equality');
          parts.push(ts.length === 0 ? { pos: [], neg: [], none: true } : partOf(this.#in(info, ts)));
          break;
        }
        case '$nin': {
          const ts = termList(x, w);
          const info = this.#info(field, w, 'equality');
          if (ts.length > 0) parts.push({ pos: [], neg: [this.#in(info, ts)], none: false });
          break;
        }
        case '$not': {
          if (!isPlainObject(x) || Object.keys(x).length === 0 || !Object.keys(x).every((k) => k.startsWith('$'))) {
            throw invalidArgument(`${w} must be an object of operators, e.g. { $gt: 5 }`);
          }
          const inner = this.#conditions(field, x, w, depth + 1);
          parts.push(negate(inner, w));
          break;
        }
        default:
          bounds.push({ op, value: termOf(x, w) });
      }
    }
    if (bounds.length > 0) parts.push(partOf(this.#range(this.#info(field, at, 'range'), bounds)));
    if (parts.length === 0) throw invalidArgument(`${at} must hold at least one operator`);
    return conj(parts);
  }

  #range(info: FieldInfo, bounds: { op: string; value: TermValue }[]): Query {
    const leaf = (index: string, b: { op: string; value: TermValue }[]): Query => {
      const q: Record<string, unknown> = { index };
      for (const x of b) q[x.op.slice(1)] = x.value;
      return q as unknown as Query;
    };
    const lowers = bounds.filter((b) => b.op === '$gt' || b.op === '$gte');
    const uppers = bounds.filter((b) => b.op === '$lt' || b.op === '$lte');
    // The value index: one leaf when a lower and an upper bound of one type make one range.
    let scalar: Query;
    const lo = lowers[0];
    const hi = uppers[0];
    if (lowers.length === 1 && uppers.length === 1 && lo !== undefined && hi !== undefined && sameBracket(lo.value, hi.value)) {
      scalar = leaf(info.value, [lo, hi]);
    } else {
      scalar = bounds.length === 1 ? leaf(info.value, bounds) : { and: bounds.map((b) => leaf(info.value, [b])) };
    }
    // The elements index: each bound on its own (different elements may satisfy them).
    const each: Query = bounds.length === 1 ? leaf(info.each, bounds) : { and: bounds.map((b) => leaf(info.each, [b])) };
    return { or: [scalar, each] };
  }
}

/** `{ $oid }` and `{ $date }` are values, not operator objects. */
function isValueObject(v: Record<string, unknown>): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === '$oid' || keys[0] === '$date');
}

function bracket(v: TermValue): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  return 4;
}

function sameBracket(a: TermValue, b: TermValue): boolean {
  return bracket(a) === bracket(b);
}

/** The negation of a conjunction, as a conjunction (double negation cancels). */
function negate(p: Part, at: string): Part {
  if (p.none) return { pos: [], neg: [], none: false };
  if (p.pos.length === 0 && p.neg.length === 1) return partOf(p.neg[0] as Query);
  const c = toCompiled(p, at);
  if (c.kind === 'all') return { pos: [], neg: [], none: true };
  if (c.kind === 'none') return { pos: [], neg: [], none: false };
  return { pos: [], neg: [c.query], none: false };
}
