/**
 * Values on the wire (see `proto/stratadb.proto`, "Values"): a `Value` is stored bytes or
 * JSON text; what text means depends on the instance's codec — JSON for a `json` database,
 * Extended JSON (bson's EJSON) for a `bson` one. Also the Extended JSON readers of queries,
 * filters and updates, and the relaxed writer that keeps 64-bit integers exact.
 */
import { BSON, Binary, Double, EJSON, Int32, Long } from 'bson';

import type { EncodingName } from '../../encodings';
import { describe, printableKey } from '../../encodings';
import { invalidArgument } from '../../errors';
import { ServerError } from './errors';

/** How an instance's values are read and written: its database's `valueEncoding`. */
export type Codec = 'raw' | 'json' | 'bson';

/** `json` → json, `bson` → bson, any other encoding → raw. */
export function codecOf(valueEncoding: EncodingName): Codec {
  return valueEncoding === 'json' ? 'json' : valueEncoding === 'bson' ? 'bson' : 'raw';
}

/** A `Value` message as proto-loader decodes it (`oneofs: true`). */
export interface WireValue {
  bytes?: Buffer;
  json?: string;
  kind?: 'bytes' | 'json';
}

/** The `ValueFormat` enum, by name. */
export type ValueFormat = 'VALUE_FORMAT_AUTO' | 'VALUE_FORMAT_BYTES' | 'VALUE_FORMAT_JSON' | 'VALUE_FORMAT_CANONICAL_JSON';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BSON_READ = { promoteLongs: false } as const;
const BSON_EXACT = { promoteValues: false } as const;

/** What `db.put`/`db.batch` take for one value: the value and the encoding to write it with. */
export interface Encoded {
  value: unknown;
  valueEncoding: EncodingName;
}

function checkSize(n: number, max: number, what: string): void {
  if (n > max) throw new ServerError('STRATA_LIMIT', `${what} is ${n} bytes, more than the server's limit of ${max}`);
}

/** Parses JSON text; `STRATA_INVALID_ARGUMENT` naming `what` otherwise. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw invalidArgument(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Parses Extended JSON keeping every BSON type (`relaxed: false`): documents and BSON values. */
export function parseEjson(text: string, what: string): unknown {
  let v: unknown;
  try {
    v = EJSON.parse(text, { relaxed: false });
  } catch (e) {
    throw invalidArgument(`${what} is not valid Extended JSON: ${(e as Error).message}`);
  }
  return v;
}

/**
 * How the operands of a filter, update or query are read: Int32, Double and safe Long values
 * become numbers (operators compare numbers), and for `filter` and `query` Binary becomes
 * bytes; for `query` also Date → milliseconds and ObjectId → hex, the terms a `bson_path`
 * index holds.
 */
export type OperandMode = 'update' | 'filter' | 'query';

function operand(v: unknown, mode: OperandMode, depth: number): unknown {
  if (depth > 64) throw invalidArgument('the JSON is nested deeper than 64 levels');
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x: unknown) => operand(x, mode, depth + 1));
  if (v instanceof Int32 || v instanceof Double) return v.valueOf();
  if (v instanceof Long) {
    const n = v.toNumber();
    return Number.isSafeInteger(n) ? n : v;
  }
  if (mode !== 'update' && v instanceof Binary) return Buffer.from(v.buffer.subarray(0, v.position));
  if (mode === 'query' && v instanceof Date) return v.getTime();
  if (mode === 'query' && v instanceof BSON.ObjectId) return v.toHexString();
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = operand(x, mode, depth + 1);
  return out;
}

/** Parses the Extended JSON text of a filter, update, projection or query (see `OperandMode`). */
export function parseOperands(text: string, what: string, mode: OperandMode): unknown {
  return operand(parseEjson(text, what), mode, 0);
}

/** Copies `v` with every Long outside ±2^53 as `{ $numberLong }`, so relaxed Extended JSON keeps it exact. */
function exactLongs(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > 200) return v;
  if (Array.isArray(v)) return v.map((x: unknown) => exactLongs(x, depth + 1));
  if (v instanceof Long) return Number.isSafeInteger(v.toNumber()) ? v.toNumber() : { $numberLong: v.toString() };
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = exactLongs(x, depth + 1);
  return out;
}

/** Relaxed Extended JSON of a decoded BSON value (numbers as numbers; int64 beyond ±2^53 exact). */
export function relaxedEjson(v: unknown): string {
  return EJSON.stringify(exactLongs(v, 0), { relaxed: true });
}

/** JSON text with bytes as `{ "$binary": … }` (for explanations, whose terms may be bytes). */
export function jsonWithBytes(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k: string, x: unknown) {
    const orig = this[k];
    if (orig instanceof Uint8Array) return { $binary: { base64: Buffer.from(orig).toString('base64'), subType: '00' } };
    return x;
  });
}

/**
 * A request's value for `db.put`/`db.batch` on an instance of `codec`. Bytes are stored as
 * given (checked to be JSON / a BSON document on json / bson instances); text is parsed.
 */
export function encodeWireValue(codec: Codec, v: WireValue | null | undefined, what: string, maxBytes: number): Encoded {
  if (v === null || v === undefined || v.kind === undefined) throw invalidArgument(`${what} is required (set bytes or json)`);
  if (v.kind === 'bytes') {
    const bytes = v.bytes ?? Buffer.alloc(0);
    checkSize(bytes.length, maxBytes, what);
    if (codec === 'json') {
      let text: string;
      try {
        text = strictUtf8.decode(bytes);
      } catch {
        throw invalidArgument(`${what}.bytes must be UTF-8 JSON text on a json instance`);
      }
      parseJson(text, `${what}.bytes`);
    } else if (codec === 'bson') {
      try {
        BSON.deserialize(bytes, BSON_READ);
      } catch (e) {
        throw invalidArgument(`${what}.bytes must be one BSON document on a bson instance: ${(e as Error).message}`);
      }
    }
    return { value: bytes, valueEncoding: 'buffer' };
  }
  const text = v.json ?? '';
  checkSize(Buffer.byteLength(text, 'utf8'), maxBytes, what);
  if (codec === 'raw') throw invalidArgument(`${what}.json: this instance stores raw bytes (codec raw); send ${what}.bytes`);
  if (codec === 'json') return { value: parseJson(text, `${what}.json`), valueEncoding: 'json' };
  const doc = parseEjson(text, `${what}.json`);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || Object.getPrototypeOf(doc) !== Object.prototype) {
    throw invalidArgument(`${what}.json must be an Extended JSON object (a BSON document) on a bson instance, got ${describe(doc)}`);
  }
  return { value: doc, valueEncoding: 'bson' };
}

/** A stored value in the form `format` asks for, as a `Value` message. */
export function decodeWireValue(codec: Codec, bytes: Buffer, format: ValueFormat, key: Uint8Array): WireValue {
  if (format === 'VALUE_FORMAT_BYTES' || (format === 'VALUE_FORMAT_AUTO' && codec === 'raw')) return { bytes };
  if (codec === 'raw') throw invalidArgument(`format ${format}: this instance stores raw bytes (codec raw); ask for VALUE_FORMAT_BYTES or AUTO`);
  if (codec === 'json') {
    try {
      const text = strictUtf8.decode(bytes);
      JSON.parse(text);
      return { json: text };
    } catch {
      throw invalidArgument(`the value at key ${printableKey(key)} is not JSON; ask for VALUE_FORMAT_BYTES`);
    }
  }
  let doc: unknown;
  try {
    doc = BSON.deserialize(bytes, format === 'VALUE_FORMAT_CANONICAL_JSON' ? BSON_EXACT : BSON_READ);
  } catch {
    throw invalidArgument(`the value at key ${printableKey(key)} is not a BSON document; ask for VALUE_FORMAT_BYTES`);
  }
  return { json: format === 'VALUE_FORMAT_CANONICAL_JSON' ? EJSON.stringify(doc, { relaxed: false }) : relaxedEjson(doc) };
}

/** Checks a request's format field (proto-loader gives a name, or a number it does not know). */
export function checkFormat(f: unknown): ValueFormat {
  if (f === 'VALUE_FORMAT_AUTO' || f === 'VALUE_FORMAT_BYTES' || f === 'VALUE_FORMAT_JSON' || f === 'VALUE_FORMAT_CANONICAL_JSON') return f;
  throw invalidArgument(`format must be one of VALUE_FORMAT_AUTO, VALUE_FORMAT_BYTES, VALUE_FORMAT_JSON, VALUE_FORMAT_CANONICAL_JSON, got ${String(f)}`);
}
