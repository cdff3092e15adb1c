/**
 * Point reads on the calling thread through the database's shared buffer (the KV layer's
 * `get`/`getSync`/`has`). The key is written into the buffer and only numbers cross: without
 * a snapshot `readAt(handle, keyLength, flags)`, a plain native function of a handle from
 * `readerOpen` (napi neither checks nor unwraps a `this`, `src/reader.rs`); with a snapshot
 * the `readHere` method. The value comes back in the same buffer and is copied into a new
 * Buffer for the caller; keys and values that do not fit take `getSync`/`getCached`.
 */
import type { NativeDatabase, NativeSnapshot } from '../binding';
import native = require('./native');

/** `readAt`/`readHere` flags. */
const CACHED_ONLY = 1;
const LENGTH_ONLY = 2;

/** The calling-thread reads of one open native database. */
export class PointReads {
  readonly #db: NativeDatabase;
  /** Registered with `setIo` by the owner (the cursors share it). */
  readonly #io: Buffer;
  /** The `readerOpen` handle, 0 until the first read without a snapshot. */
  #handle = 0;

  constructor(db: NativeDatabase, io: Buffer) {
    this.#db = db;
    this.#io = io;
  }

  /**
   * The value's length (the value in the buffer when it fits), -1 when missing, -2 with
   * `cachedOnly` when the answer is not in memory; `undefined` when the key does not fit.
   */
  lookup(k: Uint8Array, snapshot: NativeSnapshot | undefined, cachedOnly: boolean, lengthOnly: boolean): number | undefined {
    const io = this.#io;
    const n = k.byteLength;
    if (n > io.length) return undefined;
    io.set(k, 0);
    const flags = (cachedOnly ? CACHED_ONLY : 0) | (lengthOnly ? LENGTH_ONLY : 0);
    if (snapshot !== undefined) return this.#db.readHere(n, flags, snapshot);
    let h = this.#handle;
    if (h === 0) h = this.#handle = this.#db.readerOpen(io);
    return native.readAt(h, n, flags);
  }

  /** The value (a copy), `null` when missing, `undefined` with `cachedOnly` when not in memory. */
  read(k: Uint8Array, snapshot: NativeSnapshot | undefined, cachedOnly: boolean): Buffer | null | undefined {
    const n = this.lookup(k, snapshot, cachedOnly, false);
    if (n !== undefined) {
      if (n === -1) return null;
      if (n === -2) return undefined;
      const io = this.#io;
      if (n <= io.length) {
        const out = Buffer.allocUnsafe(n);
        io.copy(out, 0, 0, n);
        return out;
      }
    }
    return cachedOnly ? this.#db.getCached(k, snapshot) : this.#db.getSync(k, snapshot);
  }

  /** Releases the handle (the database is closing). */
  close(): void {
    if (this.#handle !== 0) this.#db.readerClose(this.#handle);
    this.#handle = 0;
  }
}
