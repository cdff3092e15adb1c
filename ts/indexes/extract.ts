/**
 * Extractors: the stored bytes of a record (and its key) → the encoded terms of one index.
 *
 * - `json_path`: the value is parsed as JSON (strict UTF-8); `bson_path`: deserialised with
 *   `BSON.deserialize` (`promoteLongs: false`, as the `'bson'` encoding does). A value that
 *   does not parse is an error naming the index and the key.
 * - A path gives zero or more values (`[*]` one per array element). Indexable values become
 *   terms: null, booleans, finite numbers, strings; from BSON also Int32/Double (numbers),
 *   Long/bigint (numbers when safe integers, else an error), Decimal128 (a number when the
 *   nearest double has the same decimal value, else an error), Date (its milliseconds),
 *   ObjectId (its 24-character hex string), Binary and Uint8Array (bytes). Other values —
 *   objects and arrays reached without `[*]`, regexes, code, timestamps, min/max keys... —
 *   are skipped: they give no term.
 * - A path that reaches nothing is *missing*: with `sparse` the record is not indexed,
 *   otherwise the path gives the term `null` (MongoDB's semantics). A path that reaches only
 *   skipped values is not missing: it gives no term (so no posting for a single path, and no
 *   tuple for a compound index).
 * - Compound (`paths`): the cross product of the per-path term lists, each tuple encoded with
 *   `encodeTerms`; at most `MAX_COMPOUND_TERMS` tuples per record. With `sparse` a record is
 *   skipped only when every path is missing.
 * - `raw`: the whole stored value as one bytes term (for a text index: the value read as
 *   UTF-8 and tokenized).
 * - `text` indexes: every string term goes through `tokenize`, each token becomes a string
 *   term; non-string values are skipped.
 * - `custom`: `customs[name](decodeValue(value), decodeKey(key))` returns a `Term`, a
 *   `Term[]`, or `undefined` (not indexed); anything else is an error.
 */
import { BSON } from 'bson';

import { describe, printableKey, quote } from '../encodings';
import { StrataError, invalidArgument } from '../errors';
import { CompiledPath, IndexDefinition, PathSegment, compilePath, normalizeIndexDefinition } from './definition';
import { MAX_TERM_BYTES, Term, encodeTermShared, endDistinct, pushDistinct, startDistinct } from './terms';
import { codePointCompare, tokenize, tokensInto } from './text';

export { codePointCompare } from './text';

export { compilePath } from './definition';
export { printableKey } from '../encodings';
export type { CompiledPath, PathSegment } from './definition';

/** A custom extractor: returns a `Term`, a `Term[]`, or `undefined` (record not indexed). */
export type CustomExtractor = (value: unknown, key: unknown) => unknown;

/** Most terms (tuples) a compound index produces for one record. */
export const MAX_COMPOUND_TERMS = 1000;

/**
 * The last document parsed from a stored value, per format, while `cacheParses(true)` is on:
 * the index maintainer computes the indexes of a record one after another on the same Buffer
 * in one synchronous loop, so each record is parsed once. Outside such a loop nothing is
 * cached: a caller's Buffer may be changed between two writes, and must be parsed again.
 */
let caching = false;
const lastParsed = {
  json: { value: undefined as Buffer | undefined, doc: undefined as unknown },
  bson: { value: undefined as Buffer | undefined, doc: undefined as unknown },
};

/** An index ready to turn records into terms. */
export interface CompiledIndex {
  /** The canonical definition. */
  def: IndexDefinition;
  /**
   * Encoded terms of one record, deduplicated, sorted bytewise; `[]` when the record is not
   * indexed (including keys outside the scope). Throws `STRATA_INVALID_ARGUMENT` naming the
   * index and the key.
   */
  terms(key: Buffer, value: Buffer): Buffer[];
  /**
   * The terms of `terms`, in no particular order (cheaper: what a new record's postings need;
   * sort them with `compareBytes` to compare two records' terms).
   */
  termSet(key: Buffer, value: Buffer): Buffer[];
  /** True when `key` is in the index's scope (always, without a scope). */
  inScope(key: Buffer): boolean;
}

/** What `compileIndex` needs from the database. */
export interface CompileContext {
  customs: Record<string, CustomExtractor>;
  decodeKey: (b: Buffer) => unknown;
  decodeValue: (b: Buffer) => unknown;
}

/**
 * Turns the parse cache on (for one synchronous loop over records) or off; either way the
 * cached documents are dropped.
 */
export function cacheParses(on: boolean): void {
  caching = on;
  lastParsed.json.value = lastParsed.bson.value = undefined;
  lastParsed.json.doc = lastParsed.bson.doc = undefined;
}

// ---- paths -------------------------------------------------------------------------------

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** A BSON value class instance (ObjectId, Long, ...): `_bsontype` on the prototype. */
function bsonType(v: object): string | undefined {
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' && !hasOwn(v, '_bsontype') ? t : undefined;
}

/** An object whose members a path may step into. */
function isDocument(v: unknown): v is Record<string, unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Date) &&
    !(v instanceof RegExp) &&
    bsonType(v) === undefined
  );
}

/** The values `p` reaches in `doc` (`[]` when it reaches nothing). */
export function evalPath(doc: unknown, p: CompiledPath): unknown[] {
  let cur: unknown[] = [doc];
  for (const seg of p.segments) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (seg.kind === 'member') {
        if (isDocument(v) && hasOwn(v, seg.name)) {
          const x = v[seg.name];
          if (x !== undefined) next.push(x);
        }
      } else if (Array.isArray(v)) {
        if (seg.kind === 'index') {
          if (seg.index < v.length && v[seg.index] !== undefined) next.push(v[seg.index]);
        } else {
          for (const x of v) if (x !== undefined) next.push(x);
        }
      }
    }
    if (next.length === 0) return next;
    cur = next;
  }
  return cur;
}

// ---- values → terms ----------------------------------------------------------------------

const SKIP = Symbol('skip');

/** Canonical decimal: sign, significant digits without leading/trailing zeros, exponent. */
function canonicalDecimal(s: string): string | undefined {
  const m = /^([+-])?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(s);
  if (m === null || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) return undefined;
  const frac = m[3] ?? '';
  let digits = (m[2] ?? '') + frac;
  let exp = Number(m[4] ?? '0') - frac.length;
  digits = digits.replace(/^0+/, '');
  if (digits === '') return '0';
  const trimmed = digits.replace(/0+$/, '');
  exp += digits.length - trimmed.length;
  return `${m[1] === '-' ? '-' : ''}${trimmed}e${exp}`;
}

function safeInteger(s: string, what: () => string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${what()}: integer ${s} is not a safe integer and cannot be indexed as a number`);
  return n;
}

/** An indexable value → its term, or `SKIP`. Throws for numbers that cannot be indexed. */
function valueTerm(v: unknown, what: () => string): Term | typeof SKIP {
  if (v === null) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw invalidArgument(`${what()}: ${String(v)} cannot be indexed (numbers must be finite)`);
      return v;
    case 'bigint':
      return safeInteger(v.toString(), what);
    case 'object':
      break;
    default:
      return SKIP;
  }
  if (v instanceof Uint8Array) return v;
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms)) throw invalidArgument(`${what()}: an invalid Date cannot be indexed`);
    return ms;
  }
  const o = v as Record<string, unknown>;
  switch (bsonType(o)) {
    case 'Int32':
    case 'Double': {
      const n = (o as { valueOf(): unknown }).valueOf();
      return typeof n === 'number' ? valueTerm(n, what) : SKIP;
    }
    case 'Long':
      return safeInteger(String(o), what);
    case 'Decimal128': {
      const s = String(o);
      const n = Number(s);
      const c = canonicalDecimal(s);
      if (c === undefined || !Number.isFinite(n) || canonicalDecimal(String(n)) !== c) {
        throw invalidArgument(`${what()}: Decimal128 ${s} is not exactly representable as a number and cannot be indexed`);
      }
      return n === 0 ? 0 : n;
    }
    case 'ObjectId': {
      const hex = (o as { toHexString?: unknown }).toHexString;
      return typeof hex === 'function' ? String(hex.call(o)) : SKIP;
    }
    case 'Binary': {
      const value = (o as { value?: unknown }).value;
      const bytes: unknown = typeof value === 'function' ? value.call(o) : undefined;
      return bytes instanceof Uint8Array ? bytes : SKIP;
    }
    default:
      return SKIP;
  }
}

/** A custom extractor's return value → terms; junk throws. */
function customTerms(r: unknown, what: () => string): Term[] {
  if (r === undefined) return [];
  const one = (t: unknown, at: string): Term => {
    if (t === null || typeof t === 'boolean' || typeof t === 'string' || t instanceof Uint8Array) return t;
    if (typeof t === 'number' && Number.isFinite(t)) return t;
    throw invalidArgument(
      `${what()}: custom extractor returned ${typeof t === 'number' ? String(t) : describe(t)}${at} ` +
        '(expected null, a boolean, a finite number, a string, a Uint8Array, an array of those, or undefined)',
    );
  };
  if (Array.isArray(r)) return r.map((t: unknown, i) => one(t, ` at [${i}]`));
  return [one(r, '')];
}

// ---- keys in messages --------------------------------------------------------------------

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });


/** A value that is its own term: null, a boolean, a string or a finite number. */
function isPlainTerm(v: unknown): v is null | boolean | string | number {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    default:
      return v === null;
  }
}

/** `valueTerm(v)` of a value reached by path `p`; `where` (the record) is only called on an error. */
function termOf(v: unknown, p: CompiledPath, where: () => string): Term | typeof SKIP {
  return isPlainTerm(v) ? v : valueTerm(v, () => `${where()}, path ${p.canonical}`);
}

/** `Buffer.compare` in JavaScript (short terms compare faster without the native call). */
export function compareBytes(a: Buffer, b: Buffer): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  if (n > 32) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

// ---- compiling ---------------------------------------------------------------------------

/** Per-path terms of one record: `undefined` when the path is missing. */
type PathTerms = Term[] | undefined;

/**
 * Compiles a definition (validated again with `normalizeIndexDefinition`) into the function
 * that computes the terms of a record. An unregistered custom extractor is an error here.
 */
export function compileIndex(def: IndexDefinition, ctx: CompileContext): CompiledIndex {
  const d = normalizeIndexDefinition(def, 'index definition');
  const label = `index ${quote(d.name)}`;
  const ex = d.extractor;
  const text = d.type === 'text';
  const sparse = d.sparse === true;
  const scope = d.scope === undefined ? undefined : Buffer.from(d.scope, 'utf8');

  const inScope = (key: Buffer): boolean =>
    scope === undefined || (key.length >= scope.length && key.compare(scope, 0, scope.length, 0, scope.length) === 0);

  const context = (key: Buffer) => (): string => `${label}, key ${printableKey(key)}`;

  const rethrow = (e: unknown, where: () => string, what?: string): never => {
    const msg = e instanceof Error ? e.message : String(e);
    throw invalidArgument(`${where()}: ${what === undefined ? msg : `${what}${msg ? `: ${msg}` : ''}`}`, e);
  };

  /** Terms of the record before encoding: one list per path (compound), or one list. */
  let extract: (key: Buffer, value: Buffer, where: () => string) => PathTerms[] | undefined;
  /** For a single JSON or BSON path: the terms of a record, without `extract`'s lists. */
  let single: ((key: Buffer, value: Buffer) => Buffer[]) | undefined;

  if (ex.kind === 'raw') {
    extract = (_key, value, where) => {
      if (!text) return [[Buffer.from(value)]];
      let s: string;
      try {
        s = strictUtf8.decode(value);
      } catch (e) {
        return rethrow(e, where, 'value is not valid UTF-8 text');
      }
      return [[s]];
    };
  } else if (ex.kind === 'custom') {
    const fn = Object.prototype.hasOwnProperty.call(ctx.customs, ex.name) ? ctx.customs[ex.name] : undefined;
    if (typeof fn !== 'function') {
      const known = Object.keys(ctx.customs);
      throw invalidArgument(
        `${label}: custom extractor ${quote(ex.name)} is not registered` +
          (known.length > 0 ? ` (registered: ${known.map((k) => quote(k)).join(', ')})` : ' (none are registered)'),
      );
    }
    extract = (key, value, where) => {
      let v: unknown;
      let k: unknown;
      try {
        v = ctx.decodeValue(value);
        k = ctx.decodeKey(key);
      } catch (e) {
        return rethrow(e, where, 'cannot decode the record for the custom extractor');
      }
      let r: unknown;
      try {
        r = fn(v, k);
      } catch (e) {
        return rethrow(e, where, `custom extractor ${quote(ex.name)} threw`);
      }
      if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
        throw invalidArgument(`${where()}: custom extractor ${quote(ex.name)} returned a promise (extractors must be synchronous)`);
      }
      return [customTerms(r, where)];
    };
  } else {
    const paths = 'paths' in ex ? ex.paths.map((p) => compilePath(p)) : [compilePath(ex.path)];
    const bson = ex.kind === 'bson_path';
    const parse = (value: Buffer, key: Buffer): unknown => {
      // The indexes of a record read the same Buffer: parse it once (paths never mutate it).
      if (!caching) return parseUncached(value, key);
      const memo = bson ? lastParsed.bson : lastParsed.json;
      if (memo.value === value) return memo.doc;
      memo.value = undefined;
      const doc = parseUncached(value, key);
      memo.value = value;
      memo.doc = doc;
      return doc;
    };
    const parseUncached = (value: Buffer, key: Buffer): unknown => {
      if (bson) {
        try {
          return BSON.deserialize(value, { promoteLongs: false });
        } catch (e) {
          return rethrow(e, context(key), 'value is not a BSON document');
        }
      }
      try {
        return JSON.parse(strictUtf8.decode(value)) as unknown;
      } catch (e) {
        return rethrow(e, context(key), 'value is not JSON');
      }
    };
    extract = (key, value, where) => {
      const doc = parse(value, key);
      return paths.map((p): PathTerms => {
        const found = evalPath(doc, p);
        if (found.length === 0) return undefined;
        const out: Term[] = [];
        for (const v of found) {
          const t = termOf(v, p, where);
          if (t !== SKIP) out.push(t);
        }
        return out;
      });
    };
    if (paths.length === 1) single = singlePath(paths[0] as CompiledPath, parse);
  }

  const encode = (t: Term, where: () => string): Buffer => {
    try {
      return encodeTermShared(t);
    } catch (e) {
      if (e instanceof StrataError && e.code === 'STRATA_INVALID_ARGUMENT') return rethrow(e, where);
      throw e;
    }
  };

  /** Encoded terms of one path list, deduplicated (unsorted; sorted for a text index). */
  const encodeList = (list: Term[], where: () => string): Buffer[] => {
    if (text) return encodeTokens(list, where);
    if (list.length === 1) return [encode(list[0] as Term, where)];
    const seen = new Set<string>();
    const out: Buffer[] = [];
    for (const t of list) {
      const b = encode(t, where);
      const id = b.toString('latin1');
      if (!seen.has(id)) {
        seen.add(id);
        out.push(b);
      }
    }
    return out;
  };

  /** `encode` for the record of `key` (its context is only built for an error). */
  const encodeFor = (t: Term, key: Buffer): Buffer => {
    try {
      return encodeTermShared(t);
    } catch (e) {
      if (e instanceof StrataError && e.code === 'STRATA_INVALID_ARGUMENT') return rethrow(e, context(key));
      throw e;
    }
  };

  /**
   * The tokens of the strings of `list`, encoded, sorted and distinct. Distinct strings have
   * distinct encodings, ordered as the strings in code-point order (UTF-8 byte order), so the
   * tokens are deduplicated and sorted as strings; they are encoded in first-seen order, so a
   * token that cannot be encoded fails as it always did.
   */
  const encodeTokens = (list: Term[], where: () => string): Buffer[] => {
    let tokens: string[];
    if (list.length === 1 && typeof list[0] === 'string') tokens = tokenize(list[0]);
    else {
      const seen = new Set<string>();
      for (const t of list) if (typeof t === 'string') for (const w of tokenize(t)) seen.add(w);
      tokens = [...seen];
    }
    const encoded = tokens.map((w) => encode(w, where));
    if (tokens.length < 2) return encoded;
    const order = tokens.map((_, i) => i);
    order.sort((i, j) => codePointCompare(tokens[i] as string, tokens[j] as string));
    return order.map((i) => encoded[i] as Buffer);
  };

  /**
   * `encodeTokens([s])` for one string, distinct but in no particular order: the tokens are
   * encoded in text order, each distinct one once; should one fail to encode (a lone
   * surrogate), `encodeTokens` reports it, as it always did.
   */
  const textTerms = (s: string, key: Buffer): Buffer[] => {
    const tokens: string[] = [];
    tokensInto(s, tokens);
    const out: Buffer[] = [];
    let failed = false;
    startDistinct(out);
    try {
      for (const w of tokens) pushDistinct(w);
    } catch {
      failed = true;
    } finally {
      endDistinct();
    }
    return failed ? encodeTokens([s], context(key)) : out;
  };

  /** The terms of a single path `p` (JSON or BSON) of a record, as `termSet` gives them. */
  function singlePath(p: CompiledPath, parse: (value: Buffer, key: Buffer) => unknown): (key: Buffer, value: Buffer) => Buffer[] {
    // Member steps, then at most one `[*]` at the end: walked without `evalPath`'s arrays.
    const segs = p.segments;
    const wildcard = segs.length > 0 && (segs[segs.length - 1] as PathSegment).kind === 'wildcard';
    const members: string[] = [];
    for (const seg of wildcard ? segs.slice(0, -1) : segs) if (seg.kind === 'member') members.push(seg.name);
    const simple = members.length === segs.length - (wildcard ? 1 : 0);
    const missing = (key: Buffer): Buffer[] => (sparse || text ? [] : [encodeFor(null, key)]);

    /** Terms of the values found, in order (all of them first, so extraction errors come first). */
    const many = (key: Buffer, found: readonly unknown[]): Buffer[] => {
      const where = context(key);
      const list: Term[] = [];
      for (const v of found) {
        const t = termOf(v, p, where);
        if (t !== SKIP) list.push(t);
      }
      if (text) return encodeTokens(list, where);
      const out = new Array<Buffer>(list.length);
      for (let i = 0; i < list.length; i++) out[i] = encodeFor(list[i] as Term, key);
      return distinct(out);
    };

    return (key, value) => {
      const doc = parse(value, key);
      if (!simple) {
        const found = evalPath(doc, p);
        return found.length === 0 ? missing(key) : many(key, found);
      }
      let v: unknown = doc;
      for (const name of members) {
        if (!isDocument(v) || !hasOwn(v, name)) return missing(key);
        v = v[name];
        if (v === undefined) return missing(key);
      }
      if (wildcard) {
        if (!Array.isArray(v)) return missing(key);
        let n = 0;
        for (const x of v) if (x !== undefined) n++;
        if (n === 0) return missing(key);
        return many(key, n === v.length ? v : v.filter((x) => x !== undefined));
      }
      const t = isPlainTerm(v) ? v : termOf(v, p, context(key));
      if (t === SKIP) return [];
      if (text) return typeof t === 'string' ? textTerms(t, key) : [];
      return [encodeFor(t, key)];
    };
  }

  /** `bs` without repeats, in no particular order (a few terms: compared pairwise, no sort). */
  const distinct = (bs: Buffer[]): Buffer[] => {
    if (bs.length > 16) return sortUnique(bs);
    let k = 0;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i] as Buffer;
      let j = 0;
      while (j < k && compareBytes(bs[j] as Buffer, b) !== 0) j++;
      if (j === k) bs[k++] = b;
    }
    bs.length = k;
    return bs;
  };

  const sortUnique = (bs: Buffer[]): Buffer[] => {
    if (bs.length < 2) return bs;
    bs.sort(compareBytes);
    let k = 1;
    for (let i = 1; i < bs.length; i++) if (compareBytes(bs[i] as Buffer, bs[k - 1] as Buffer) !== 0) bs[k++] = bs[i] as Buffer;
    bs.length = k;
    return bs;
  };

  const termSet = (key: Buffer, value: Buffer): Buffer[] => {
    if (!inScope(key)) return [];
    if (single !== undefined) return single(key, value);
    return sorted(key, value);
  };

  const terms = (key: Buffer, value: Buffer): Buffer[] => {
    if (!inScope(key)) return [];
    if (single === undefined) return sorted(key, value);
    const ts = single(key, value);
    return ts.length < 2 ? ts : ts.sort(compareBytes);
  };

  /** `terms` through `extract`'s lists (every kind of index; sorted as it goes). */
  const sorted = (key: Buffer, value: Buffer): Buffer[] => {
    const where = context(key);
    const lists = extract(key, value, where);
    if (lists === undefined) return [];
    if (lists.length === 1) {
      const only = lists[0];
      if (only === undefined) return sparse || text ? [] : [encode(null, where)];
      return text ? encodeList(only, where) : sortUnique(encodeList(only, where));
    }
    if (sparse && lists.every((l) => l === undefined)) return [];
    const encoded = lists.map((l) => (l === undefined ? [encode(null, where)] : encodeList(l, where)));
    let product = 1;
    for (const l of encoded) product *= l.length;
    if (product > MAX_COMPOUND_TERMS) {
      throw invalidArgument(
        `${where()}: the compound index would produce ${product} terms (${encoded.map((l) => l.length).join(' x ')}), ` +
          `more than MAX_COMPOUND_TERMS (${MAX_COMPOUND_TERMS})`,
      );
    }
    if (product === 0) return [];
    let tuples: Buffer[][] = [[]];
    for (const l of encoded) {
      const next: Buffer[][] = [];
      for (const prefix of tuples) for (const b of l) next.push([...prefix, b]);
      tuples = next;
    }
    return sortUnique(
      tuples.map((parts) => {
        const b = Buffer.concat(parts);
        if (b.length > MAX_TERM_BYTES) {
          throw invalidArgument(`${where()}: encoded compound term of ${b.length} bytes exceeds MAX_TERM_BYTES (${MAX_TERM_BYTES})`);
        }
        return b;
      }),
    );
  };

  return { def: d, terms, termSet, inScope };
}
