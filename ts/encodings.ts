/**
 * Key and value encodings. An encoding turns user values into bytes for the engine and
 * bytes back into user values. Stateless; selected by name per database or per call.
 */
import { BSON } from 'bson';

import { invalidArgument } from './errors';

/** Names of the built-in encodings. */
export type EncodingName = 'utf8' | 'buffer' | 'view' | 'json' | 'bson';

/** The type an encoding decodes to. */
export interface EncodingTypes {
  utf8: string;
  buffer: Buffer;
  view: Uint8Array;
  json: unknown;
  bson: Record<string, unknown>;
}

/** A codec: `encode` to bytes, `decode` from bytes. */
export interface Encoding<T> {
  readonly name: EncodingName;
  encode(value: unknown, what: string): Uint8Array;
  decode(bytes: Buffer): T;
  /** `decode(bytes.subarray(start, end))` without the subarray (where that pays; a plain function). */
  readonly decodeRange?: (bytes: Buffer, start: number, end: number) => T;
}

function bytesOf(value: unknown, what: string, name: EncodingName): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw invalidArgument(`${what} must be a string or Uint8Array with the '${name}' encoding, got ${describe(value)}`);
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Uint8Array) return 'Uint8Array';
  return typeof value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const PRINTABLE_KEY_BYTES = 64;

/** A key for error messages: a JSON string when it is printable UTF-8, else hex; long keys cut. */
export function printableKey(key: Uint8Array): string {
  const head = key.subarray(0, PRINTABLE_KEY_BYTES);
  const more = key.length > head.length ? `… (${key.length} bytes)` : '';
  try {
    const s = strictUtf8.decode(key);
    if (!/[\u0000-\u001f\u007f-\u009f]/.test(s)) {
      return s.length > PRINTABLE_KEY_BYTES ? `${JSON.stringify(s.slice(0, PRINTABLE_KEY_BYTES))}${more}` : JSON.stringify(s);
    }
  } catch {
    // not UTF-8: hex below
  }
  return `0x${Buffer.from(head).toString('hex')}${more}`;
}

/** `JSON.stringify(value)` for error messages; never throws (BigInt, cycles) and never `undefined`. */
export function quote(value: unknown): string {
  try {
    return JSON.stringify(value) ?? describe(value);
  } catch {
    return describe(value);
  }
}

const utf8: Encoding<string> = {
  name: 'utf8',
  encode: (v, what) => bytesOf(v, what, 'utf8'),
  decode: (b) => b.toString('utf8'),
  decodeRange: (b, start, end) => b.toString('utf8', start, end),
};

const buffer: Encoding<Buffer> = {
  name: 'buffer',
  encode: (v, what) => bytesOf(v, what, 'buffer'),
  decode: (b) => b,
};

const view: Encoding<Uint8Array> = {
  name: 'view',
  encode: (v, what) => bytesOf(v, what, 'view'),
  decode: (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
};

const json: Encoding<unknown> = {
  name: 'json',
  encode: (v, what) => {
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw invalidArgument(`${what} cannot be encoded as JSON`, e);
    }
    if (text === undefined) throw invalidArgument(`${what} cannot be encoded as JSON (got ${describe(v)})`);
    return Buffer.from(text, 'utf8');
  },
  decode: (b) => JSON.parse(b.toString('utf8')) as unknown,
  decodeRange: (b, start, end) => JSON.parse(b.toString('utf8', start, end)) as unknown,
};

/** True for `{...}` objects (prototype `Object.prototype` or `null`). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * BSON documents (the `bson` package). The top level must be a plain object. Decoding keeps
 * 64-bit integers as `Long` (`promoteLongs: false`), so they round-trip; Int32 and Double
 * decode to numbers, Binary stays `Binary`, ObjectId, Date, Decimal128... decode to their
 * classes. Stored bytes that are not exactly one BSON document fail to decode.
 */
const bson: Encoding<Record<string, unknown>> = {
  name: 'bson',
  encode: (v, what) => {
    if (!isPlainObject(v)) {
      throw invalidArgument(`${what} must be a plain object with the 'bson' encoding, got ${describe(v)}`);
    }
    try {
      return BSON.serialize(v);
    } catch (e) {
      throw invalidArgument(`${what} cannot be encoded as BSON: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  },
  decode: (b) => BSON.deserialize(b, { promoteLongs: false }) as Record<string, unknown>,
};

const REGISTRY: Record<EncodingName, Encoding<unknown>> = { utf8, buffer, view, json, bson };

/** Names accepted by `keyEncoding` / `valueEncoding`. */
export const encodingNames = Object.keys(REGISTRY) as EncodingName[];

/** Looks up an encoding by name, or throws `STRATA_INVALID_ARGUMENT`. */
export function encoding(name: unknown, option = 'encoding'): Encoding<unknown> {
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(REGISTRY, name)) {
    return REGISTRY[name as EncodingName];
  }
  throw invalidArgument(`${option}: unknown encoding ${quote(name)} (expected one of ${encodingNames.join(', ')})`);
}
