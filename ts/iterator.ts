/**
 * Iterators over a key range. Entries cross from native code in batches
 * (`NativeIterator.nextBatch`): the first fetch asks for one entry (cheap for "first key"
 * lookups), later fetches for up to 1000 entries or 64 KiB. A JS-side buffer serves
 * `next()` / `nextv()` / `all()` / `for await` from those batches.
 */
import type { NativeIterator } from '../binding';
import { StrataError, fromNative } from './errors';

/** First fetch size, later fetch size and byte budget per fetch. */
export const FIRST_BATCH = 1;
export const BATCH_ENTRIES = 1000;
export const BATCH_BYTES = 64 * 1024;

/** @internal What an iterator needs from its database. */
export interface IteratorHost {
  /** Runs a native operation as a pending operation of the open database. */
  run<R>(op: () => Promise<R>): Promise<R>;
  /** Forgets a closed iterator. */
  forget(it: BaseIterator<unknown>): void;
}

function notOpen(message = 'iterator is not open'): StrataError {
  return new StrataError('STRATA_ITERATOR_NOT_OPEN', message);
}

/** Common machinery of entry, key and value iterators. */
export abstract class BaseIterator<T> implements AsyncIterable<T> {
  readonly #host: IteratorHost;
  #native: NativeIterator | undefined;
  #buf: Buffer[] = [];
  #pos = 0;
  #ended: boolean;
  #closed = false;
  #fetched = false;
  #seek: Uint8Array | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #encodeTarget: (target: unknown) => Uint8Array;

  /** @internal */
  constructor(host: IteratorHost, native: NativeIterator | undefined, encodeTarget: (target: unknown) => Uint8Array) {
    this.#host = host;
    this.#native = native;
    this.#ended = native === undefined;
    this.#encodeTarget = encodeTarget;
  }

  /** Maps one raw entry to what this iterator yields. */
  protected abstract decode(key: Buffer, value: Buffer): T;

  /** True once closed (explicitly, by `all()`, or by closing the database). */
  get closed(): boolean {
    return this.#closed;
  }

  #serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs a read: admitted by the database at call time (so `db.close()` waits for it),
   * then serialized behind earlier reads of this iterator.
   */
  async #read<R>(fn: () => Promise<R>): Promise<R> {
    if (this.#closed) throw notOpen();
    try {
      return await this.#host.run(() => this.#serial(fn));
    } catch (e) {
      const err = fromNative(e);
      if (err.code === 'STRATA_CLOSED') throw notOpen(`iterator is not open: ${err.message}`);
      throw err;
    }
  }

  async #fill(want: number): Promise<void> {
    if (this.#closed) throw notOpen();
    if (this.#pos < this.#buf.length || this.#ended) return;
    const native = this.#native;
    if (native === undefined) throw notOpen();
    const max = this.#fetched ? Math.max(BATCH_ENTRIES, Math.min(want, 100_000)) : Math.max(FIRST_BATCH, Math.min(want, BATCH_ENTRIES));
    const seek = this.#seek;
    this.#seek = undefined;
    let batch: Buffer[];
    try {
      batch = await native.nextBatch(max, BATCH_BYTES, seek);
    } catch (e) {
      const err = fromNative(e);
      if (err.code === 'STRATA_CLOSED' || err.code === 'STRATA_ITERATOR_NOT_OPEN') throw notOpen(`iterator is not open: ${err.message}`);
      throw err;
    }
    if (this.#closed) throw notOpen();
    this.#fetched = true;
    this.#buf = batch;
    this.#pos = 0;
    if (batch.length === 0) this.#ended = true;
  }

  #take(): T | undefined {
    if (this.#pos >= this.#buf.length) return undefined;
    const k = this.#buf[this.#pos] as Buffer;
    const v = this.#buf[this.#pos + 1] as Buffer;
    this.#pos += 2;
    return this.decode(k, v);
  }

  /** The next item, or `undefined` at the end. Rejects with `STRATA_ITERATOR_NOT_OPEN` once closed. */
  next(): Promise<T | undefined> {
    return this.#read(async () => {
      await this.#fill(1);
      return this.#take();
    });
  }

  /** Up to `size` items (fewer only at the end; an empty array means the end). */
  nextv(size: number): Promise<T[]> {
    if (!Number.isInteger(size) || size < 0) {
      return Promise.reject(new StrataError('STRATA_INVALID_ARGUMENT', `nextv: size must be a non-negative integer, got ${String(size)}`));
    }
    return this.#read(async () => {
      const out: T[] = [];
      while (out.length < size) {
        await this.#fill(size - out.length);
        const item = this.#take();
        if (item === undefined) break;
        out.push(item);
      }
      return out;
    });
  }

  /** Every remaining item; then closes the iterator. */
  async all(): Promise<T[]> {
    try {
      return await this.#read(async () => {
        const out: T[] = [];
        for (;;) {
          await this.#fill(BATCH_ENTRIES);
          const item = this.#take();
          if (item === undefined) return out;
          out.push(item);
          while (this.#pos < this.#buf.length) out.push(this.#take() as T);
        }
      });
    } finally {
      await this.close();
    }
  }

  /**
   * Repositions: the next item is the first key `>= target` (or, when reversed, the last key
   * `<= target`) within the iterator's range. Takes effect on the next read.
   */
  seek(target: unknown): void {
    if (this.#closed) throw notOpen();
    const encoded = this.#encodeTarget(target);
    if (this.#native === undefined) return;
    this.#seek = encoded;
    this.#buf = [];
    this.#pos = 0;
    this.#ended = false;
  }

  /** @internal Ends the iterator because its database is closing. */
  _closeByDb(): void {
    this.#closed = true;
    this.#buf = [];
    this.#native?.close();
    this.#native = undefined;
  }

  /** Releases the iterator. Idempotent; later reads reject with `STRATA_ITERATOR_NOT_OPEN`. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return this.#serial(async () => {
      this._closeByDb();
      this.#host.forget(this as BaseIterator<unknown>);
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    try {
      for (;;) {
        const item = await this.next();
        if (item === undefined) return;
        yield item;
      }
    } finally {
      await this.close();
    }
  }
}

/** Yields `[key, value]` entries. */
export class EntryIterator<K, V> extends BaseIterator<[K, V]> {
  readonly #dk: (b: Buffer) => K;
  readonly #dv: (b: Buffer) => V;

  /** @internal */
  constructor(
    host: IteratorHost,
    native: NativeIterator | undefined,
    encodeTarget: (target: unknown) => Uint8Array,
    decodeKey: (b: Buffer) => K,
    decodeValue: (b: Buffer) => V,
  ) {
    super(host, native, encodeTarget);
    this.#dk = decodeKey;
    this.#dv = decodeValue;
  }

  protected decode(key: Buffer, value: Buffer): [K, V] {
    return [this.#dk(key), this.#dv(value)];
  }
}

/** Yields keys (or values) only. */
export class ItemIterator<T> extends BaseIterator<T> {
  readonly #d: (key: Buffer, value: Buffer) => T;

  /** @internal */
  constructor(
    host: IteratorHost,
    native: NativeIterator | undefined,
    encodeTarget: (target: unknown) => Uint8Array,
    decode: (key: Buffer, value: Buffer) => T,
  ) {
    super(host, native, encodeTarget);
    this.#d = decode;
  }

  protected decode(key: Buffer, value: Buffer): T {
    return this.#d(key, value);
  }
}
