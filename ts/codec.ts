/**
 * Turning user keys and values into engine bytes, with the validation every public method
 * shares, and the packed batch layout sent to the engine in one call.
 */
import { Encoding } from './encodings';
import { describe } from './encodings';
import { invalidArgument } from './errors';

/** Largest key the engine accepts, in bytes. */
export const MAX_KEY_SIZE = 65536;
/** Largest value the engine accepts, in bytes. */
export const MAX_VALUE_SIZE = 256 * 1024 * 1024;

/** Encodes and checks a key. Throws `STRATA_INVALID_ARGUMENT`. */
export function encodeKey(key: unknown, enc: Encoding<unknown>, what = 'key'): Uint8Array {
  if (key === undefined || key === null) throw invalidArgument(`${what} must not be ${describe(key)}`);
  // The empty key is a key like any other (the engine and abstract-level accept it, and
  // `StrataLevel` stores it), so `Db` reads, writes and deletes it too.
  const bytes = enc.encode(key, what);
  if (bytes.byteLength > MAX_KEY_SIZE) {
    throw invalidArgument(`${what} of ${bytes.byteLength} bytes exceeds the limit of ${MAX_KEY_SIZE} bytes`);
  }
  return bytes;
}

/** Encodes and checks a value. Throws `STRATA_INVALID_ARGUMENT`. */
export function encodeValue(value: unknown, enc: Encoding<unknown>, what = 'value'): Uint8Array {
  if (value === undefined || value === null) throw invalidArgument(`${what} must not be ${describe(value)}`);
  const bytes = enc.encode(value, what);
  if (bytes.byteLength > MAX_VALUE_SIZE) {
    throw invalidArgument(`${what} of ${bytes.byteLength} bytes exceeds the limit of ${MAX_VALUE_SIZE} bytes`);
  }
  return bytes;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

const DELETE = 0;
const PUT = 1;
/** System-keyspace operations: the engine prefixes their keys (docs/format.md, "System keyspace"). */
const SYSTEM_DELETE = 2;
const SYSTEM_PUT = 3;
const EMPTY = new Uint8Array(0);

/** One already-encoded user operation, as the index layer sees a write. */
export interface RawOp {
  type: 'put' | 'del';
  key: Uint8Array;
  /** Set for puts. */
  value?: Uint8Array;
}

/**
 * Collects already-encoded operations and packs them in the engine's op layout
 * (`crates/engine/src/batch.rs`): per op `kind u8 (0 delete, 1 put, 2 system delete, 3 system
 * put) · varint key_len · key · [varint value_len · value]`, no header. One buffer per batch,
 * one native call.
 */
export class BatchPacker {
  /** `key2`/`key3`: further parts of the key (`systemParts`), written after `key`. */
  #ops: { kind: number; key: Uint8Array; value: Uint8Array | undefined; key2: Uint8Array | undefined; key3: Uint8Array | undefined }[] = [];
  #size = 0;

  get length(): number {
    return this.#ops.length;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#ops.push({ kind: PUT, key, value, key2: undefined, key3: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength + varintSize(value.byteLength) + value.byteLength;
  }

  del(key: Uint8Array): void {
    this.#ops.push({ kind: DELETE, key, value: undefined, key2: undefined, key3: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength;
  }

  /** A put in the system keyspace (`key` is relative to the system prefix). */
  putSystem(key: Uint8Array, value: Uint8Array = EMPTY): void {
    this.#ops.push({ kind: SYSTEM_PUT, key, value, key2: undefined, key3: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength + varintSize(value.byteLength) + value.byteLength;
  }

  /** A delete in the system keyspace. */
  delSystem(key: Uint8Array): void {
    this.#ops.push({ kind: SYSTEM_DELETE, key, value: undefined, key2: undefined, key3: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength;
  }

  /**
   * A put (`del` false) or delete in the system keyspace of the key `a · b · c` with an empty
   * value, without building the key: its parts are copied once, when the batch is packed.
   */
  systemParts(del: boolean, a: Uint8Array, b: Uint8Array, c: Uint8Array): void {
    const n = a.byteLength + b.byteLength + c.byteLength;
    if (del) {
      this.#ops.push({ kind: SYSTEM_DELETE, key: a, value: undefined, key2: b, key3: c });
      this.#size += 1 + varintSize(n) + n;
    } else {
      this.#ops.push({ kind: SYSTEM_PUT, key: a, value: EMPTY, key2: b, key3: c });
      this.#size += 1 + varintSize(n) + n + 1;
    }
  }

  /** The user operations collected so far, in order (system operations are left out). */
  userOps(): RawOp[] {
    const out: RawOp[] = [];
    for (const op of this.#ops) {
      if (op.kind === PUT) out.push({ type: 'put', key: op.key, value: op.value });
      else if (op.kind === DELETE) out.push({ type: 'del', key: op.key });
    }
    return out;
  }

  clear(): void {
    this.#ops = [];
    this.#size = 0;
  }

  /** Moves the collected operations into a new packer and empties this one. */
  take(): BatchPacker {
    const p = new BatchPacker();
    p.#ops = this.#ops;
    p.#size = this.#size;
    this.clear();
    return p;
  }

  pack(): Buffer {
    const buf = Buffer.allocUnsafe(this.#size);
    let pos = 0;
    for (const op of this.#ops) {
      buf[pos++] = op.kind;
      if (op.key2 === undefined) {
        pos = writeVarint(buf, pos, op.key.byteLength);
        pos = copyInto(buf, pos, op.key);
      } else {
        const k3 = op.key3 as Uint8Array;
        pos = writeVarint(buf, pos, op.key.byteLength + op.key2.byteLength + k3.byteLength);
        pos = copyInto(buf, pos, op.key);
        pos = copyInto(buf, pos, op.key2);
        pos = copyInto(buf, pos, k3);
      }
      if (op.value !== undefined) {
        pos = writeVarint(buf, pos, op.value.byteLength);
        pos = copyInto(buf, pos, op.value);
      }
    }
    return buf;
  }
}

/** Copies `src` into `buf` at `pos`; returns the end. Short arrays byte by byte (cheaper than `set`). */
function copyInto(buf: Buffer, pos: number, src: Uint8Array): number {
  const n = src.byteLength;
  if (n > 24) {
    buf.set(src, pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) buf[pos + i] = src[i] as number;
  return pos + n;
}

/** The smallest key greater than every key starting with `prefix`, or `undefined` if none. */
export function successor(prefix: Uint8Array): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i] = (out[i] as number) + 1;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}
