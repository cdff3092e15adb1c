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
const EMPTY_BUFFER = Buffer.alloc(0);

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
 * one native call. The operations of `systemParts` (postings: many small keys) are packed
 * as they are added and follow all other operations in the packed batch.
 */
export class BatchPacker {
  #ops: { kind: number; key: Uint8Array; value: Uint8Array | undefined }[] = [];
  #size = 0;
  /** The packed `systemParts` operations: `#tailLen` bytes of `#tail`, `#tailOps` of them. */
  #tail: Buffer = EMPTY_BUFFER;
  #tailLen = 0;
  #tailOps = 0;

  get length(): number {
    return this.#ops.length + this.#tailOps;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#ops.push({ kind: PUT, key, value });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength + varintSize(value.byteLength) + value.byteLength;
  }

  del(key: Uint8Array): void {
    this.#ops.push({ kind: DELETE, key, value: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength;
  }

  /** A put in the system keyspace (`key` is relative to the system prefix). */
  putSystem(key: Uint8Array, value: Uint8Array = EMPTY): void {
    this.#ops.push({ kind: SYSTEM_PUT, key, value });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength + varintSize(value.byteLength) + value.byteLength;
  }

  /** A delete in the system keyspace. */
  delSystem(key: Uint8Array): void {
    this.#ops.push({ kind: SYSTEM_DELETE, key, value: undefined });
    this.#size += 1 + varintSize(key.byteLength) + key.byteLength;
  }

  /**
   * A put (`del` false) or delete in the system keyspace of the key `a · b · c` with an empty
   * value, packed at once (the parts are copied now; nothing is allocated per operation).
   * These operations come after all others in `pack()`, in the order they were added: the
   * caller must not rely on their order relative to the other kinds (their keys never are
   * the keys of other operations of the batch).
   */
  systemParts(del: boolean, a: Uint8Array, b: Uint8Array, c: Uint8Array): void {
    const n = a.byteLength + b.byteLength + c.byteLength;
    const need = 2 + varintSize(n) + n;
    let buf = this.#tail;
    let pos = this.#tailLen;
    if (pos + need > buf.length) buf = this.#grow(need);
    buf[pos++] = del ? SYSTEM_DELETE : SYSTEM_PUT;
    if (n < 0x80) buf[pos++] = n;
    else pos = writeVarint(buf, pos, n);
    pos = copyInto(buf, pos, a);
    pos = copyInto(buf, pos, b);
    pos = copyInto(buf, pos, c);
    if (!del) buf[pos++] = 0; // the empty value
    this.#tailLen = pos;
    this.#tailOps++;
  }

  /** Makes room for `need` more bytes in the tail. */
  #grow(need: number): Buffer {
    const cap = Math.max(this.#tail.length * 2, this.#tailLen + need, 1024);
    const next = Buffer.allocUnsafe(cap);
    this.#tail.copy(next, 0, 0, this.#tailLen);
    this.#tail = next;
    return next;
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
    this.#tail = EMPTY_BUFFER;
    this.#tailLen = 0;
    this.#tailOps = 0;
  }

  /** Moves the collected operations into a new packer and empties this one. */
  take(): BatchPacker {
    const p = new BatchPacker();
    p.#ops = this.#ops;
    p.#size = this.#size;
    p.#tail = this.#tail;
    p.#tailLen = this.#tailLen;
    p.#tailOps = this.#tailOps;
    this.clear();
    return p;
  }

  pack(): Buffer {
    const buf = Buffer.allocUnsafe(this.#size + this.#tailLen);
    let pos = 0;
    for (const op of this.#ops) {
      buf[pos++] = op.kind;
      pos = writeVarint(buf, pos, op.key.byteLength);
      pos = copyInto(buf, pos, op.key);
      if (op.value !== undefined) {
        pos = writeVarint(buf, pos, op.value.byteLength);
        pos = copyInto(buf, pos, op.value);
      }
    }
    if (this.#tailLen > 0) buf.set(this.#tail.subarray(0, this.#tailLen), pos);
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
