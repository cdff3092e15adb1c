/**
 * Iterators over a key range. Entries cross from native code in batches, each one packed
 * Buffer (keys and values back to back, then their `u32` lengths, then the count) that is
 * sliced here with `subarray`. A batch is read on the calling thread when every block it
 * needs is in memory (`nextBatchSync`), else on the thread pool (`nextBatch`), which
 * continues exactly where the other stopped. The first fetch after opening or seeking asks
 * for only what the call needs (one entry for `next()`, `size` for `nextv(size)`), later
 * fetches for up to 1000 entries or 64 KiB. `next()` / `nextv()` / `all()` / `for await` are
 * served from the current batch without further native calls.
 */
import type { BindingRange, NativeDatabase, NativeIterator, NativeSnapshot } from '../binding';
import { StrataError, fromNative } from './errors';
import { charge, fastAllowed, nextTurn } from './turns';

/** First fetch size, later fetch size and byte budget per fetch. */
export const FIRST_BATCH = 1;
export const BATCH_ENTRIES = 1000;
export const BATCH_BYTES = 64 * 1024;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * What a batch read on the calling thread counts against the event-loop budget: one point
 * read per 32 entries asked for (a full batch of 1000 counts 32, a `limit: 10` range read 1).
 */
function batchCost(max: number): number {
  return Math.max(1, Math.ceil(max / 32));
}

/** @internal What an iterator needs from its database. */
export interface IteratorHost {
  /** Runs a native operation as a pending operation of the open database. */
  run<R>(op: () => Promise<R>): Promise<R>;
  /** Forgets a closed iterator. */
  forget(it: BaseIterator<unknown>): void;
  /** True when a read may run on the calling thread now (the database accepts it). */
  usable(): boolean;
}

function notOpen(message = 'iterator is not open'): StrataError {
  return new StrataError('STRATA_ITERATOR_NOT_OPEN', message);
}

/** A native batch read's error, with a closed iterator or database as `STRATA_ITERATOR_NOT_OPEN`. */
function iteratorError(e: unknown): StrataError {
  const err = fromNative(e);
  if (err.code === 'STRATA_CLOSED' || err.code === 'STRATA_ITERATOR_NOT_OPEN') return notOpen(`iterator is not open: ${err.message}`);
  return err;
}

/**
 * @internal Where an iterator's batches come from: a `NativeIterator` or a `HandleCursor`
 * (whose first batch may have been read when it was opened: `takeFirst`).
 */
export type BatchSource = Pick<NativeIterator, 'nextBatch' | 'nextBatchSync' | 'close'> & {
  takeFirst?(): Buffer | undefined;
  /** Gives `n` entries read but dropped unseen (by a seek) back to the limit. */
  giveBack?(n: number): void;
};

/** `cursorOpen`'s status in the last 4 bytes of `io`: no first batch read. */
const NOT_READ = 0xffff_ffff;

/** `cursorOpen` flags (src/cursor.rs). */
const LOWER_EXCLUSIVE = 1;
const UPPER_EXCLUSIVE = 2;
const REVERSE = 4;
const SYSTEM = 8;

/**
 * @internal An iterator held by its database as a numeric handle (`cursorOpen`): no native
 * object per iterator, and bounds, seek targets and in-memory batches cross through the
 * database's registered `io` buffer (each batch is copied out of it at once, into a pooled
 * Buffer, so the entries handed out never change).
 */
export class HandleCursor implements BatchSource {
  readonly #db: NativeDatabase;
  readonly #io: Buffer;
  readonly #handle: number;
  #open = true;
  /** The first batch, read by `cursorOpen`, until the first read takes it (or a seek drops it). */
  #first: Buffer | undefined;

  private constructor(db: NativeDatabase, io: Buffer, handle: number, first: Buffer | undefined) {
    this.#db = db;
    this.#io = io;
    this.#handle = handle;
    this.#first = first;
  }

  /**
   * Opens a cursor over an encoded range; `undefined` when its bounds do not fit `io` (then
   * use `NativeDatabase.iterator`). `io` must be registered with `db.setIo`. With a small
   * limit (at most `BATCH_ENTRIES`) and `readNow` (the database accepts reads on the calling
   * thread), the first batch (up to `limit` entries) is read in the same native call when
   * the turn's budget allows and every block it needs is in memory: a `{ gte, limit: 10 }`
   * range read then costs one native call to open and read, and one to close.
   */
  static open(db: NativeDatabase, io: Buffer, r: BindingRange, snapshot: NativeSnapshot | undefined, readNow = false): HandleCursor | undefined {
    const lower = r.gt ?? r.gte;
    const upper = r.lt ?? r.lte;
    const ll = lower === undefined ? 0 : lower.byteLength;
    if (ll + (upper === undefined ? 0 : upper.byteLength) > io.length) return undefined;
    if (lower !== undefined) io.set(lower, 0);
    if (upper !== undefined) io.set(upper, ll);
    const limit = r.limit;
    const first = readNow && limit !== undefined && limit <= BATCH_ENTRIES && fastAllowed(batchCost(limit)) ? limit : 0;
    const flags =
      (r.gt !== undefined ? LOWER_EXCLUSIVE : 0) | (r.lt !== undefined ? UPPER_EXCLUSIVE : 0) | (r.reverse === true ? REVERSE : 0) | (r.system === true ? SYSTEM : 0);
    const handle = db.cursorOpen(lower === undefined ? -1 : ll, upper === undefined ? -1 : upper.byteLength, flags, limit ?? -1, snapshot, first);
    let batch: Buffer | undefined;
    if (first > 0) {
      const n = io.readUInt32LE(io.length - 4);
      if (n !== NOT_READ) {
        batch = Buffer.allocUnsafe(n);
        io.copy(batch, 0, 0, n);
      }
    }
    return new HandleCursor(db, io, handle, batch);
  }

  /** The first batch read at opening, once (`undefined` if none, or after a seek). */
  takeFirst(): Buffer | undefined {
    const b = this.#first;
    this.#first = undefined;
    return b;
  }

  /** Drops the first batch unseen (a seek before the first read): its entries do not count against the limit. */
  #dropFirst(): void {
    const b = this.#first;
    if (b === undefined) return;
    this.#first = undefined;
    this.giveBack(b.readUInt32LE(b.length - 4));
  }

  giveBack(n: number): void {
    if (n > 0 && this.#open) this.#db.cursorGiveBack(this.#handle, n);
  }

  nextBatch(maxEntries: number, maxBytes: number, seek?: Uint8Array | null): Promise<Buffer> {
    if (!this.#open) return Promise.reject(notOpen());
    try {
      this.#dropFirst();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#db.cursorNext(this.#handle, maxEntries, maxBytes, seek ?? undefined);
  }

  nextBatchSync(maxEntries: number, maxBytes: number, seek?: Uint8Array | null): Buffer | null {
    if (!this.#open) throw notOpen();
    this.#dropFirst();
    const io = this.#io;
    let r: number | Buffer | null;
    if (seek == null) r = this.#db.cursorRead(this.#handle, maxEntries, maxBytes, -1);
    else if (seek.byteLength <= io.length) {
      io.set(seek, 0);
      r = this.#db.cursorRead(this.#handle, maxEntries, maxBytes, seek.byteLength);
    } else r = this.#db.cursorRead(this.#handle, maxEntries, maxBytes, -1, seek);
    if (typeof r !== 'number') return r;
    const out = Buffer.allocUnsafe(r);
    io.copy(out, 0, 0, r);
    return out;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#db.cursorClose(this.#handle);
  }
}

/** Common machinery of entry, key and value iterators. */
export abstract class BaseIterator<T> implements AsyncIterable<T> {
  readonly #host: IteratorHost;
  #native: BatchSource | undefined;
  /** The current packed batch, and the read positions in its data and its length table. */
  #batch: Buffer = EMPTY;
  /** `#batch`'s memory: entries are views made with `Buffer.from(arrayBuffer, offset, length)`,
   * about twice as fast as `subarray` (no species lookup). */
  #ab: ArrayBufferLike = EMPTY.buffer;
  #base = 0;
  #dataPos = 0;
  #lenPos = 0;
  #left = 0;
  #ended: boolean;
  #closed = false;
  #fetched = false;
  /** Reads of this iterator admitted and not yet finished. */
  #reading = 0;
  #seek: Uint8Array | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #encodeTarget: (target: unknown) => Uint8Array;

  /** @internal */
  constructor(host: IteratorHost, native: BatchSource | undefined, encodeTarget: (target: unknown) => Uint8Array) {
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
    this.#reading++;
    try {
      return await this.#host.run(() => this.#serial(fn));
    } catch (e) {
      const err = fromNative(e);
      if (err.code === 'STRATA_CLOSED') throw notOpen(`iterator is not open: ${err.message}`);
      throw err;
    } finally {
      this.#reading--;
    }
  }

  #setBatch(batch: Buffer): void {
    const n = batch.readUInt32LE(batch.length - 4);
    this.#batch = batch;
    this.#ab = batch.buffer;
    this.#base = batch.byteOffset;
    this.#left = n;
    this.#dataPos = 0;
    this.#lenPos = batch.length - 4 - 8 * n;
    if (n === 0) this.#ended = true;
  }

  /** Makes the batch read when the source was opened the current one; false if there is none. */
  #takeFirst(native: BatchSource): boolean {
    if (this.#fetched || this.#seek !== undefined || native.takeFirst === undefined) return false;
    const first = native.takeFirst();
    if (first === undefined) return false;
    this.#fetched = true;
    this.#setBatch(first);
    return true;
  }

  #fetchSize(want: number): number {
    return this.#fetched ? Math.max(BATCH_ENTRIES, Math.min(want, 100_000)) : Math.max(FIRST_BATCH, Math.min(want, BATCH_ENTRIES));
  }

  async #fill(want: number): Promise<void> {
    if (this.#closed) throw notOpen();
    if (this.#left > 0 || this.#ended) return;
    const native = this.#native;
    if (native === undefined) throw notOpen();
    if (this.#takeFirst(native)) return;
    const max = this.#fetchSize(want);
    const cost = batchCost(max);
    // This turn's budget spent: let the event loop turn, then read here all the same.
    if (!fastAllowed(cost)) await nextTurn();
    if (this.#closed) throw notOpen();
    const seek = this.#seek;
    this.#seek = undefined;
    let batch: Buffer | null;
    try {
      // On the calling thread when in memory; `null` hands over to the pool (the seek, if
      // any, has been taken into account either way).
      if (fastAllowed(cost)) {
        batch = native.nextBatchSync(max, BATCH_BYTES, seek);
        if (batch === null) batch = await native.nextBatch(max, BATCH_BYTES);
      } else {
        batch = await native.nextBatch(max, BATCH_BYTES, seek);
      }
    } catch (e) {
      throw iteratorError(e);
    }
    if (this.#closed) throw notOpen();
    this.#fetched = true;
    this.#setBatch(batch);
  }

  /**
   * `#fill` without a promise, for the synchronous fast path of `nextv`: true once the batch
   * is filled (or the iterator is known to be at its end); false when the read must take the
   * asynchronous path (budget spent, or a block not in memory: then the native cursor has
   * taken any seek into account and `#fill` continues exactly where this stopped). Throws
   * what `#fill` rejects with.
   */
  #fillHere(want: number): boolean {
    if (this.#left > 0 || this.#ended) return true;
    const native = this.#native;
    if (native === undefined) throw notOpen();
    if (this.#takeFirst(native)) return true;
    const max = this.#fetchSize(want);
    if (!fastAllowed(batchCost(max))) return false;
    const seek = this.#seek;
    this.#seek = undefined;
    let batch: Buffer | null;
    try {
      batch = native.nextBatchSync(max, BATCH_BYTES, seek);
    } catch (e) {
      throw iteratorError(e);
    }
    if (batch === null) return false;
    this.#fetched = true;
    this.#setBatch(batch);
    return true;
  }

  #take(): T | undefined {
    if (this.#left === 0) return undefined;
    const b = this.#batch;
    const kl = b.readUInt32LE(this.#lenPos);
    const vl = b.readUInt32LE(this.#lenPos + 4);
    const ks = this.#dataPos;
    const vs = ks + kl;
    this.#dataPos = vs + vl;
    this.#lenPos += 8;
    this.#left--;
    const at = this.#base + ks;
    return this.decode(Buffer.from(this.#ab, at, kl), Buffer.from(this.#ab, at + kl, vl));
  }

  /** True when the next item can be served from the current batch right now. */
  #ready(): boolean {
    return this.#left > 0 && this.#reading === 0 && !this.#closed;
  }

  /** The next item, or `undefined` at the end. Rejects with `STRATA_ITERATOR_NOT_OPEN` once closed. */
  next(): Promise<T | undefined> {
    if (this.#ready()) {
      try {
        return Promise.resolve(this.#take());
      } catch (e) {
        return Promise.reject(e);
      }
    }
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
    const out: T[] = [];
    // Served on the calling thread, without a promise chain, when no other read of this
    // iterator is pending, the database accepts reads and every block is in memory.
    if (this.#reading === 0 && !this.#closed && this.#host.usable()) {
      try {
        while (out.length < size && this.#fillHere(size - out.length)) {
          const item = this.#take();
          if (item === undefined) return Promise.resolve(out);
          out.push(item);
          while (this.#left > 0 && out.length < size) out.push(this.#take() as T);
        }
      } catch (e) {
        return Promise.reject(e);
      }
      if (out.length >= size) return Promise.resolve(out);
    }
    return this.#read(async () => {
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
          while (this.#left > 0) out.push(this.#take() as T);
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
    // Entries of the current batch not handed out yet do not count against the limit.
    if (this.#left > 0) {
      try {
        this.#native.giveBack?.(this.#left);
      } catch (e) {
        throw iteratorError(e);
      }
    }
    this.#seek = encoded;
    this.#batch = EMPTY;
    this.#left = 0;
    this.#fetched = false;
    this.#ended = false;
  }

  /** @internal Ends the iterator because its database is closing. */
  _closeByDb(): void {
    this.#closed = true;
    this.#batch = EMPTY;
    this.#left = 0;
    this.#native?.close();
    this.#native = undefined;
  }

  /** Releases the iterator. Idempotent; later reads reject with `STRATA_ITERATOR_NOT_OPEN`. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#reading === 0) {
      // No read pending, so none is queued on the chain: release now.
      this._closeByDb();
      this.#host.forget(this as BaseIterator<unknown>);
      return Promise.resolve();
    }
    return this.#serial(async () => {
      this._closeByDb();
      this.#host.forget(this as BaseIterator<unknown>);
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T, void, undefined> {
    // A plain iterator object rather than an async generator: an item already in the
    // current batch costs one settled promise, not a generator round trip.
    const done = (): IteratorResult<T, void> => ({ done: true, value: undefined });
    const finish = (): Promise<IteratorResult<T, void>> => this.close().then(done);
    const step = (item: T | undefined): Promise<IteratorResult<T, void>> | IteratorResult<T, void> =>
      item === undefined ? finish() : { done: false, value: item };
    return {
      next: (): Promise<IteratorResult<T, void>> => {
        if (this.#ready()) {
          try {
            const item = this.#take();
            return item === undefined ? finish() : Promise.resolve({ done: false, value: item });
          } catch (e) {
            return this.close().then(() => Promise.reject(e));
          }
        }
        return this.next().then(step, (e: unknown) => this.close().then(() => Promise.reject(e)));
      },
      return: (): Promise<IteratorResult<T, void>> => finish(),
    };
  }
}

/** Yields `[key, value]` entries. */
export class EntryIterator<K, V> extends BaseIterator<[K, V]> {
  readonly #dk: (b: Buffer) => K;
  readonly #dv: (value: Buffer, key: Buffer) => V;

  /** @internal */
  constructor(
    host: IteratorHost,
    native: BatchSource | undefined,
    encodeTarget: (target: unknown) => Uint8Array,
    decodeKey: (b: Buffer) => K,
    decodeValue: (value: Buffer, key: Buffer) => V,
  ) {
    super(host, native, encodeTarget);
    this.#dk = decodeKey;
    this.#dv = decodeValue;
  }

  protected decode(key: Buffer, value: Buffer): [K, V] {
    return [this.#dk(key), this.#dv(value, key)];
  }
}

/** Yields keys (or values) only. */
export class ItemIterator<T> extends BaseIterator<T> {
  readonly #d: (key: Buffer, value: Buffer) => T;

  /** @internal */
  constructor(
    host: IteratorHost,
    native: BatchSource | undefined,
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

/**
 * @internal A cursor over the keys of a raw range, for the query layer's posting lists:
 * reads batches of keys (values are not copied out), on the calling thread when every block
 * is in memory (`readSync`), else on the thread pool (`read`, which continues exactly where
 * `readSync` stopped). No per-entry promise: one call per batch.
 */
export class KeyCursor {
  #native: NativeIterator | undefined;
  readonly #run: <R>(op: () => Promise<R>) => Promise<R>;
  readonly #onClose: (c: KeyCursor) => void;

  constructor(native: NativeIterator, run: <R>(op: () => Promise<R>) => Promise<R>, onClose: (c: KeyCursor) => void) {
    this.#native = native;
    this.#run = run;
    this.#onClose = onClose;
  }

  /** The keys of a packed batch, each without its first `strip` bytes. */
  static #keys(batch: Buffer, strip: number): Buffer[] {
    const n = batch.readUInt32LE(batch.length - 4);
    const out = new Array<Buffer>(n);
    let data = 0;
    let lens = batch.length - 4 - 8 * n;
    for (let i = 0; i < n; i++) {
      const kl = batch.readUInt32LE(lens);
      const vl = batch.readUInt32LE(lens + 4);
      out[i] = batch.subarray(data + strip, data + kl);
      data += kl + vl;
      lens += 8;
    }
    return out;
  }

  #open(): NativeIterator {
    if (this.#native === undefined) throw notOpen();
    return this.#native;
  }

  /**
   * Up to `max` keys (after moving to the first key `>= seek`, when given; each without its
   * first `strip` bytes, e.g. a common prefix) if they can be read
   * without a disk read, else `null` — the seek has been taken into account either way, so
   * `read` continues from there. `[]` at the end.
   */
  readSync(max: number, seek?: Uint8Array, strip = 0): Buffer[] | null {
    // Keys only, usually short: a batch counts as one point read per 100 keys read (one is
    // claimed before, the rest charged once the batch's size is known).
    if (!fastAllowed(1)) {
      if (seek !== undefined) this.#pendingSeek = seek;
      this.#refused = true;
      return null;
    }
    return this.#here(max, seek, strip);
  }

  #here(max: number, seek: Uint8Array | undefined, strip: number): Buffer[] | null {
    let batch: Buffer | null;
    try {
      batch = this.#open().nextBatchSync(max, BATCH_BYTES, seek);
    } catch (e) {
      throw fromNative(e);
    }
    if (batch === null) return null;
    const keys = KeyCursor.#keys(batch, strip);
    charge(Math.ceil(keys.length / 100) - 1);
    return keys;
  }

  #pendingSeek: Uint8Array | undefined;
  /** The last `readSync` was refused by the turn's budget (not by a block missing from memory). */
  #refused = false;

  /**
   * Up to `max` keys, read on the thread pool; after a `readSync` refused by the turn's
   * budget, on the calling thread on the next turn (the pool only if a block is not in
   * memory). `[]` at the end.
   */
  async read(max: number, seek?: Uint8Array, strip = 0): Promise<Buffer[]> {
    let s = seek ?? this.#pendingSeek;
    this.#pendingSeek = undefined;
    if (this.#refused) {
      this.#refused = false;
      await nextTurn();
      if (fastAllowed(1)) {
        const here = this.#here(max, s, strip);
        if (here !== null) return here;
        // Not in memory: the native cursor took the seek into account.
        s = undefined;
      }
    }
    const native = this.#open();
    try {
      return KeyCursor.#keys(await this.#run(() => native.nextBatch(max, BATCH_BYTES, s)), strip);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** @internal Ends the cursor because its database is closing. */
  _closeByDb(): void {
    this.#native?.close();
    this.#native = undefined;
  }

  close(): void {
    if (this.#native === undefined) return;
    this._closeByDb();
    this.#onClose(this);
  }
}
