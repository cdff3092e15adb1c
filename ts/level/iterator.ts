/**
 * Iterators of `StrataLevel`. Entries cross the native boundary in batches
 * (`NativeIterator.nextBatch`): the first read after opening or seeking asks for one entry
 * (a lone `next()` after `seek()` is common), later reads for up to 1000 entries or
 * `highWaterMarkBytes` (default 64 KiB) of keys and values. The buffer holds only what the
 * engine returned for this iterator; nothing is merged or cached across iterators.
 */
import { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level';
import type { NativeIterator } from '../../binding';
import { LevelAbortError, toLevelError } from './errors';

/** Entries per batch after the first. */

/**
 * Splits one packed batch from `NativeIterator.nextBatch` (keys and values back to back, then
 * a u32 LE length per key and value, then the entry count) into `[key0, value0, key1, ...]`
 * views of it, without copying.
 */
function unpackBatch(batch: Buffer): Buffer[] {
  const n = batch.readUInt32LE(batch.length - 4);
  const out: Buffer[] = new Array<Buffer>(2 * n);
  let data = 0;
  let lens = batch.length - 4 - 8 * n;
  for (let i = 0; i < n; i++) {
    const kl = batch.readUInt32LE(lens);
    const vl = batch.readUInt32LE(lens + 4);
    lens += 8;
    out[2 * i] = batch.subarray(data, data + kl);
    out[2 * i + 1] = batch.subarray(data + kl, data + kl + vl);
    data += kl + vl;
  }
  return out;
}

export const BATCH_ENTRIES = 1000;
/** Default byte budget of one batch (keys plus values). */
export const BATCH_BYTES = 64 * 1024;

/** The storage formats `StrataLevel` handles natively. */
export type Format = 'utf8' | 'buffer' | 'view';

/** The private-API options abstract-level passes to `_iterator`, `_keys` and `_values`. */
export interface PrivateIteratorOptions {
  keys?: boolean;
  values?: boolean;
  limit?: number;
  keyEncoding?: string;
  valueEncoding?: string;
  highWaterMarkBytes?: number;
  signal?: AbortSignal | null;
  snapshot?: unknown;
  [option: string]: unknown;
}

/** Engine bytes → the value abstract-level expects for `format`. */
export function fromBytes(format: string | undefined): (b: Buffer) => string | Buffer | Uint8Array {
  if (format === 'utf8') return (b) => b.toString('utf8');
  if (format === 'view') return (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return (b) => b;
}

/** A key or value in a native format → bytes for the engine. */
export function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`StrataLevel stores strings, Buffers and Uint8Arrays, got ${typeof data}`);
}

/**
 * The batched read-ahead shared by the three iterator kinds. `native` is `undefined` when
 * the range is known to be empty.
 */
class Cursor {
  #native: NativeIterator | undefined;
  #buf: Buffer[] = [];
  #pos = 0;
  #exhausted: boolean;
  #seek: Uint8Array | undefined;
  #first = true;
  #consumed = 0;
  readonly #limit: number;
  readonly #maxBytes: number;
  readonly #signal: AbortSignal | null;

  constructor(native: NativeIterator | undefined, options: PrivateIteratorOptions) {
    this.#native = native;
    this.#exhausted = native === undefined;
    const limit = options.limit;
    this.#limit = typeof limit === 'number' && Number.isInteger(limit) && limit >= 0 ? limit : Infinity;
    const hwm = options.highWaterMarkBytes;
    this.#maxBytes = typeof hwm === 'number' && Number.isInteger(hwm) && hwm > 0 ? Math.min(hwm, 0xffffffff) : BATCH_BYTES;
    this.#signal = options.signal ?? null;
  }

  get #buffered(): number {
    return (this.#buf.length - this.#pos) / 2;
  }

  /** Fetches the next batch if the buffer is empty; false at the end. */
  async #fill(want: number): Promise<boolean> {
    if (this.#buffered > 0) return true;
    if (this.#exhausted || this.#native === undefined) return false;
    const room = this.#limit - this.#consumed;
    if (room <= 0) return false;
    const entries = Math.max(1, Math.min(want, room, 0xffffffff));
    if (this.#signal?.aborted) throw new LevelAbortError(this.#signal.reason);
    const seek = this.#seek;
    this.#seek = undefined;
    this.#first = false;
    const batch = unpackBatch(await this.#abortable(this.#native.nextBatch(entries, this.#maxBytes, seek)));
    this.#buf = batch;
    this.#pos = 0;
    if (batch.length === 0) {
      this.#exhausted = true;
      return false;
    }
    return true;
  }

  /** Races a native read against the iterator's abort signal. */
  async #abortable<T>(p: Promise<T>): Promise<T> {
    const signal = this.#signal;
    if (signal === null) {
      try {
        return await p;
      } catch (e) {
        throw toLevelError(e);
      }
    }
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new LevelAbortError(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // The native read may settle after an abort; its outcome is then dropped.
    p.catch(() => undefined);
    try {
      return await Promise.race([p, aborted]);
    } catch (e) {
      throw e instanceof LevelAbortError ? e : toLevelError(e);
    } finally {
      signal.removeEventListener('abort', onAbort as () => void);
    }
  }

  #take(): [Buffer, Buffer] {
    const k = this.#buf[this.#pos] as Buffer;
    const v = this.#buf[this.#pos + 1] as Buffer;
    this.#pos += 2;
    this.#consumed++;
    if (this.#pos === this.#buf.length) {
      this.#buf = [];
      this.#pos = 0;
    }
    return [k, v];
  }

  /** One entry, or `undefined` at the end. */
  async next(): Promise<[Buffer, Buffer] | undefined> {
    const ok = await this.#fill(this.#first ? 1 : BATCH_ENTRIES);
    return ok ? this.#take() : undefined;
  }

  /** Up to `size` entries (fewer when a batch ends early); empty at the end. */
  async nextv(size: number): Promise<[Buffer, Buffer][]> {
    const ok = await this.#fill(size);
    const out: [Buffer, Buffer][] = [];
    if (!ok) return out;
    const n = Math.min(size, this.#buffered);
    for (let i = 0; i < n; i++) out.push(this.#take());
    return out;
  }

  /** Every remaining entry (up to the limit). */
  async all(): Promise<[Buffer, Buffer][]> {
    const out: [Buffer, Buffer][] = [];
    while (await this.#fill(BATCH_ENTRIES)) {
      while (this.#buffered > 0) out.push(this.#take());
    }
    return out;
  }

  /** Repositions; the next read carries the target to the engine. */
  seek(target: unknown): void {
    this.#seek = toBytes(target);
    this.#buf = [];
    this.#pos = 0;
    this.#first = true;
    this.#exhausted = this.#native === undefined;
  }

  close(): void {
    this.#native?.close();
    this.#native = undefined;
    this.#buf = [];
    this.#pos = 0;
  }
}

type Db = object;

/** Entries (`[key, value]`, either slot `undefined` when not wanted). */
export class StrataLevelIterator extends AbstractIterator<Db, unknown, unknown> {
  readonly #cursor: Cursor;
  readonly #key: ((b: Buffer) => unknown) | undefined;
  readonly #value: ((b: Buffer) => unknown) | undefined;

  constructor(db: Db, options: PrivateIteratorOptions, native: NativeIterator | undefined) {
    super(db, options as never);
    this.#cursor = new Cursor(native, options);
    this.#key = options.keys === false ? undefined : fromBytes(options.keyEncoding);
    this.#value = options.values === false ? undefined : fromBytes(options.valueEncoding);
  }

  #entry(e: [Buffer, Buffer]): [unknown, unknown] {
    return [this.#key?.(e[0]), this.#value?.(e[1])];
  }

  async _next(): Promise<[unknown, unknown] | undefined> {
    const e = await this.#cursor.next();
    return e === undefined ? undefined : this.#entry(e);
  }

  async _nextv(size: number): Promise<[unknown, unknown][]> {
    return (await this.#cursor.nextv(size)).map((e) => this.#entry(e));
  }

  async _all(): Promise<[unknown, unknown][]> {
    return (await this.#cursor.all()).map((e) => this.#entry(e));
  }

  _seek(target: unknown): void {
    this.#cursor.seek(target);
  }

  async _close(): Promise<void> {
    this.#cursor.close();
  }
}

/** Keys only. */
export class StrataLevelKeyIterator extends AbstractKeyIterator<Db, unknown> {
  readonly #cursor: Cursor;
  readonly #key: (b: Buffer) => unknown;

  constructor(db: Db, options: PrivateIteratorOptions, native: NativeIterator | undefined) {
    super(db, options as never);
    this.#cursor = new Cursor(native, options);
    this.#key = fromBytes(options.keyEncoding);
  }

  async _next(): Promise<unknown> {
    const e = await this.#cursor.next();
    return e === undefined ? undefined : this.#key(e[0]);
  }

  async _nextv(size: number): Promise<unknown[]> {
    return (await this.#cursor.nextv(size)).map((e) => this.#key(e[0]));
  }

  async _all(): Promise<unknown[]> {
    return (await this.#cursor.all()).map((e) => this.#key(e[0]));
  }

  _seek(target: unknown): void {
    this.#cursor.seek(target);
  }

  async _close(): Promise<void> {
    this.#cursor.close();
  }
}

/** Values only. */
export class StrataLevelValueIterator extends AbstractValueIterator<Db, unknown, unknown> {
  readonly #cursor: Cursor;
  readonly #value: (b: Buffer) => unknown;

  constructor(db: Db, options: PrivateIteratorOptions, native: NativeIterator | undefined) {
    super(db, options as never);
    this.#cursor = new Cursor(native, options);
    this.#value = fromBytes(options.valueEncoding);
  }

  async _next(): Promise<unknown> {
    const e = await this.#cursor.next();
    return e === undefined ? undefined : this.#value(e[1]);
  }

  async _nextv(size: number): Promise<unknown[]> {
    return (await this.#cursor.nextv(size)).map((e) => this.#value(e[1]));
  }

  async _all(): Promise<unknown[]> {
    return (await this.#cursor.all()).map((e) => this.#value(e[1]));
  }

  _seek(target: unknown): void {
    this.#cursor.seek(target);
  }

  async _close(): Promise<void> {
    this.#cursor.close();
  }
}
