/**
 * Values as JSON, per instance codec: how a value travels in a JSON document (an HTTP body)
 * and what is stored.
 *
 * | codec | JSON form                                   | stored as            |
 * | ----- | ------------------------------------------- | -------------------- |
 * | raw   | a base64 string                             | the bytes            |
 * | json  | any JSON value but `null`                   | `JSON.stringify`     |
 * | bson  | an object; Extended JSON for types JSON lacks | BSON                 |
 *
 * `bson` reads canonical Extended JSON (`EJSON.deserialize` with `relaxed: false`: an integer
 * is an Int32 when it fits, else an Int64, a fraction a Double) and answers relaxed Extended
 * JSON (numbers as JSON numbers, except an Int64 outside the safe integer range). A document
 * with no Extended JSON in it — the common case — takes a shorter road to the same bytes and
 * back: `bsonFromJson` and `toJson` below.
 */
import { BSON, EJSON, Long } from 'bson';

import { invalidArgument, StrataError } from '../errors';
import type { Codec } from './config';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Turns the JSON form of a value into what the instance's `Db` stores. Throws `STRATA_INVALID_ARGUMENT`. */
export function fromJson(codec: Codec, value: unknown, what = 'value'): unknown {
  switch (codec) {
    case 'raw':
      if (typeof value !== 'string' || !BASE64.test(value)) throw invalidArgument(`${what} must be a base64 string (codec raw)`);
      return Buffer.from(value, 'base64');
    case 'json':
      if (value === null || value === undefined) throw invalidArgument(`${what} must not be null (codec json)`);
      return value;
    case 'bson':
      checkDocument(value, what);
      try {
        return EJSON.deserialize(value as Record<string, unknown>, { relaxed: false });
      } catch (e) {
        throw invalidArgument(`${what} is not valid Extended JSON: ${(e as Error).message}`, e);
      }
  }
}

/**
 * The bytes the instance's `Db` stores for the JSON form of a value: what `fromJson` gives,
 * encoded by the instance's value encoding, without the round trip through JS values where
 * a shorter exact road exists (bson: `bsonFromJson`). Throws `STRATA_INVALID_ARGUMENT`.
 */
export function storedFromJson(codec: Codec, value: unknown, what = 'value'): Buffer {
  switch (codec) {
    case 'raw':
      return fromJson('raw', value, what) as Buffer;
    case 'json':
      // The 'json' encoding's bytes: JSON.stringify as UTF-8 (a value from JSON.parse always has a text).
      return Buffer.from(JSON.stringify(fromJson('json', value, what)), 'utf8');
    case 'bson':
      return bsonFromJson(value, what);
  }
}

function checkDocument(value: unknown, what: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`${what} must be an object (codec bson)`);
}

/** Bounds of the integers canonical Extended JSON reads as Int32 / Int64 (bson's own constants). */
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -Math.pow(2, 63);
const INT64_MAX = Math.pow(2, 63) - 1;

/** What a JSON value needs to become a BSON value exactly as canonical Extended JSON reads it. */
const AS_IS = 0;
/**
 * Integers outside the Int32 range that canonical EJSON reads as Int64 (BSON.serialize would
 * write a Double), or -0 (EJSON's text round trip writes it as 0, an Int32).
 */
const WIDE = 1;
/** Extended JSON (a key starting with `$`), or a key BSON refuses (a NUL): `EJSON.deserialize` decides. */
const EXTENDED = 2;

/** True for an integer that canonical EJSON reads as an Int64 (not an Int32, not a Double). */
function isWide(n: number): boolean {
  return Number.isInteger(n) && (n < INT32_MIN || n > INT32_MAX) && n <= INT64_MAX && n >= INT64_MIN;
}

/** The road of a JSON value (from `JSON.parse`): AS_IS, WIDE or EXTENDED. */
function roadOf(v: unknown): number {
  if (typeof v === 'number') return isWide(v) || Object.is(v, -0) ? WIDE : AS_IS;
  if (v === null || typeof v !== 'object') return AS_IS;
  let road = AS_IS;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = roadOf(v[i]);
      if (r === EXTENDED) return EXTENDED;
      road |= r;
    }
    return road;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k.charCodeAt(0) === 0x24 /* $ */ || k.includes('\u0000')) return EXTENDED;
    const r = roadOf(o[k]);
    if (r === EXTENDED) return EXTENDED;
    road |= r;
  }
  return road;
}

/** A copy of a JSON value with its Int64-range integers as `Long`s and -0 as 0 (the value has no Extended JSON). */
function widened(v: unknown): unknown {
  if (typeof v === 'number') return isWide(v) ? Long.fromNumber(v) : Object.is(v, -0) ? 0 : v;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(widened);
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) define(out, k, widened(o[k]));
  return out;
}

/** `out[k] = x`, also for the key `__proto__` (an own property, as JSON.parse makes it). */
function define(out: Record<string, unknown>, k: string, x: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  else out[k] = x;
}

/**
 * The BSON bytes of a document's JSON form: exactly
 * `BSON.serialize(EJSON.deserialize(value, { relaxed: false }))`. A document with no key
 * starting with `$` holds no Extended JSON, and canonical EJSON changes only its numbers: an
 * integer in the Int32 range stays an Int32 and a fraction (or -0, or an integer beyond the
 * Int64 range) a Double — as `BSON.serialize` writes a number — while the other integers
 * become Int64s (and -0, which `EJSON.deserialize`'s text round trip turns into 0, an Int32).
 * So such a document is serialized as it is (its wide integers as `Long`s and -0 as 0, in a
 * copy), without EJSON's text round trip (`JSON.stringify` + `JSON.parse` with a reviver).
 * Extended JSON that reads as an invalid date (`{ "$date": "soon" }`, which BSON would store
 * as 1970-01-01) is refused. Throws `STRATA_INVALID_ARGUMENT`.
 */
export function bsonFromJson(value: unknown, what = 'value'): Buffer {
  checkDocument(value, what);
  let doc: unknown;
  try {
    const road = roadOf(value);
    if (road === AS_IS) doc = value;
    else if (road === WIDE) doc = widened(value);
    else {
      doc = fromJson('bson', value, what);
      const bad = invalidDate(doc, what);
      if (bad !== undefined) throw invalidArgument(`${bad} is not a valid date`);
    }
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw invalidArgument(`${what} is not valid Extended JSON: ${(e as Error).message}`, e);
  }
  let bytes: Uint8Array;
  try {
    bytes = BSON.serialize(doc as Record<string, unknown>);
  } catch (e) {
    throw invalidArgument(`${what} cannot be encoded as BSON: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The path of the first invalid `Date` in a document read from Extended JSON, if any. */
function invalidDate(v: unknown, at: string): string | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? at : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = invalidDate(v[i], `${at}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  for (const k of Object.keys(v)) {
    const bad = invalidDate((v as Record<string, unknown>)[k], `${at}.${k}`);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Turns a stored value (as the instance's `Db` decodes it) into its JSON form. */
export function toJson(codec: Codec, value: unknown): unknown {
  switch (codec) {
    case 'raw':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'json':
      return value;
    case 'bson':
      return isRelaxed(value) ? value : relaxed(value);
  }
}

/** True for a number relaxed Extended JSON writes as a JSON number (NaN and ±Infinity are `{ $numberDouble }`). */
const finite = (n: number): boolean => n - n === 0;

/**
 * True when a decoded BSON value is its own relaxed Extended JSON form: only JSON's types
 * (finite numbers, strings, booleans, null, arrays, plain objects). Then `toJson` answers the
 * value itself, not a copy.
 */
function isRelaxed(v: unknown): boolean {
  if (typeof v === 'number') return finite(v);
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isRelaxed(v[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!isRelaxed(o[k])) return false;
  return true;
}

/**
 * Relaxed Extended JSON, except that a `Long` outside the safe integer range stays
 * `{ $numberLong }` (relaxed EJSON would round it to a double).
 */
function relaxed(v: unknown): unknown {
  if (typeof v === 'number') return finite(v) ? v : { $numberDouble: String(v) };
  if (v === null || typeof v !== 'object') return v;
  // A Long itself (`Long.isLong` is true of a Timestamp too, which stays `{ $timestamp }`).
  if ((v as { _bsontype?: unknown })._bsontype === 'Long') {
    const n = (v as Long).toNumber();
    return Number.isSafeInteger(n) ? n : { $numberLong: (v as Long).toString() };
  }
  if (Array.isArray(v)) return v.map(relaxed);
  if (Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) define(out, k, relaxed((v as Record<string, unknown>)[k]));
    return out;
  }
  return EJSON.serialize(v, { relaxed: true });
}
