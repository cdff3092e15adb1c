/**
 * `KvDb`: the key-value layer of the public database class (`Db` in `ts/db.ts` adds the
 * index and query methods on top). Public methods validate their arguments, apply
 * encodings and then make exactly one native call; all state about the lifecycle
 * (`opening → open → closing → closed`), pending operations, open iterators and snapshots
 * lives here. The index layer sees every write through one hook (`WriteHook`) and reads
 * raw bytes through the `_raw*` methods; nothing here knows about indexes.
 */
import * as path from 'node:path';

import type { BindingEvents, BindingRange, NativeDatabase, NativeIterator, NativeSnapshot } from '../binding';
import native = require('./native');
import { BatchPacker, encodeKey, encodeValue, successor } from './codec';
import { Encoding, encoding, describe, printableKey, quote } from './encodings';
import { StrataError, fromNative, invalidArgument } from './errors';
import { BaseIterator, BatchSource, EntryIterator, HandleCursor, ItemIterator, IteratorHost, KeyCursor } from './iterator';
import { NormalizedOptions, callOptions, checkKnownOptions, toBindingOptions } from './options';
import { PointReads } from './point-reads';
import { Snapshot } from './snapshot';
import { fastAllowed, nextTurn } from './turns';

/** The one settled promise every write finished on the calling thread returns. */
const RESOLVED: Promise<void> = Promise.resolve();
/** Size of the buffer the calling-thread reads exchange keys and values through. */
const IO_BUFFER_SIZE = 64 * 1024;

export type * from './kv-types';
import type {
  DbStatus,
  KeyInput,
  ValueInput,
  EncodingOptions,
  ReadOptions,
  WriteOptions,
  RangeOptions,
  IteratorOptions,
  BatchOperation,
  Stats,
  ApproximateCount,
  WriteHook,
  VerifyProblem,
  VerifyResult,
  CheckpointInfo,
} from './kv-types';

function checkObject(opts: unknown, what: string, known?: readonly string[], call?: string): void {
  if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts))) {
    throw invalidArgument(`${what} must be an object, got ${describe(opts)}`);
  }
  if (known !== undefined) checkKnownOptions(opts, known, call ?? what);
}

function checkBool(v: unknown, what: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw invalidArgument(`${what} must be a boolean, got ${describe(v)}`);
  return v;
}

/** The decoders of `_decoders` (`keyAt`/`valueAt`: decode a range of a buffer, when the codec can). */
interface Decoders {
  key: (b: Buffer) => unknown;
  value: (b: Buffer, key?: Uint8Array) => unknown;
  keyAt?: (b: Buffer, start: number, end: number) => unknown;
  valueAt?: (b: Buffer, start: number, end: number) => unknown;
}

/** A decoder that turns failures into `STRATA_INVALID_ARGUMENT` naming the key when known. */
function decoder<T>(enc: Encoding<unknown>): (b: Buffer, key?: Uint8Array) => T {
  return (b: Buffer, key?: Uint8Array) => {
    try {
      return enc.decode(b) as T;
    } catch (e) {
      const of = key === undefined ? 'stored bytes' : `the stored value of key ${printableKey(key)}`;
      throw invalidArgument(`${of} cannot be decoded with the '${enc.name}' encoding`, e);
    }
  };
}

/** The key-value layer of an open database (see `Db`). Create databases with `open()`. */
export class KvDb<K = string, V = string> {
  readonly location: string;
  readonly options: NormalizedOptions;
  #native: NativeDatabase | undefined;
  /** Key in, value out, for reads on the calling thread (`getInto`): no Buffer per call. */
  #io: Buffer = Buffer.allocUnsafeSlow(IO_BUFFER_SIZE);
  /** True once `#io` is registered with the native database (`setIo`, for `readHere`). */
  #ioRegistered = false;
  #reads: PointReads | undefined;
  #status: DbStatus = 'opening';
  #opening: Promise<void>;
  #closing: Promise<void> | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #iterators = new Set<BaseIterator<unknown>>();
  readonly #cursors = new Set<KeyCursor>();
  readonly #snapshots = new Set<Snapshot>();
  readonly #keyEnc: Encoding<unknown>;
  readonly #valueEnc: Encoding<unknown>;
  /** `decoder(#valueEnc)`, made once. */
  readonly #dv: (b: Buffer, key?: Uint8Array) => unknown;
  readonly #host: IteratorHost;
  /** The host of the index layer's raw iterators: they may still read while closing. */
  readonly #internalHost: IteratorHost;
  #hook: WriteHook | undefined;
  /** Writes (and clears) running on the thread pool. */
  #poolWrites = 0;
  /** Writes made while one runs on the pool, coalesced into the next pool write. */
  #queued:
    | { parts: Buffer[]; sync: boolean; waiters: { resolve: () => void; reject: (e: unknown) => void }[]; settled: Promise<void> }
    | undefined;

  /** @internal Use `open()`. */
  constructor(location: string, options: NormalizedOptions) {
    this.location = location;
    this.options = options;
    this.#keyEnc = encoding(options.keyEncoding, 'keyEncoding');
    this.#valueEnc = encoding(options.valueEncoding, 'valueEncoding');
    this.#dv = decoder(this.#valueEnc);
    const forget = (it: BaseIterator<unknown>): void => {
      this.#iterators.delete(it);
    };
    this.#host = { run: (op) => this.#run(op), forget, usable: () => this.#usable(false) };
    this.#internalHost = { run: (op) => this.#run(op, true), forget, usable: () => this.#usable(true) };
    this.#opening = (async () => {
      try {
        this.#native = await native.NativeDatabase.open(location, toBindingOptions(options));
        this.#status = 'open';
      } catch (e) {
        this.#status = 'closed';
        throw fromNative(e);
      }
    })();
    this.#opening.catch(() => undefined);
  }

  /** @internal Resolves once open (rejects if opening failed). */
  _ready(): Promise<void> {
    return this.#opening;
  }

  /** `'opening' | 'open' | 'closing' | 'closed'`. */
  get status(): DbStatus {
    return this.#status;
  }

  // ---- plumbing -------------------------------------------------------------------------

  #keyEncoding(opts: EncodingOptions | undefined): Encoding<unknown> {
    return opts?.keyEncoding === undefined ? this.#keyEnc : encoding(opts.keyEncoding, 'keyEncoding');
  }

  /** The value decoder of a call: the database's own (made once) unless `opts` names another. */
  #decoderOf<R>(opts: EncodingOptions | undefined): (b: Buffer, key?: Uint8Array) => R {
    if (opts?.valueEncoding === undefined) return this.#dv as (b: Buffer, key?: Uint8Array) => R;
    return decoder<R>(encoding(opts.valueEncoding, 'valueEncoding'));
  }

  #valueEncoding(opts: EncodingOptions | undefined): Encoding<unknown> {
    return opts?.valueEncoding === undefined ? this.#valueEnc : encoding(opts.valueEncoding, 'valueEncoding');
  }

  #closedError(): StrataError {
    return new StrataError('STRATA_CLOSED', `database is ${this.#status === 'closing' ? 'closing' : 'closed'}`);
  }

  /**
   * Runs one native operation while open, tracked as pending so `close()` waits for it.
   * `internal` operations (the index layer finishing queued work) may also run while closing.
   */
  async #run<R>(op: () => Promise<R>, internal = false): Promise<R> {
    if (this.#status === 'opening') await this.#opening;
    if (!this.#usable(internal)) throw this.#closedError();
    const p = op();
    this.#admit(p);
    try {
      return await p;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Counts `p` as a pending operation until it settles (`close()` waits for those). */
  #admit(p: Promise<unknown>): void {
    const tracked = p.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.add(tracked);
    void tracked.then(() => this.#pending.delete(tracked));
  }

  #usable(internal: boolean): boolean {
    return this.#status === 'open' || (internal && this.#status === 'closing');
  }

  #nativeSync(internal = false): NativeDatabase {
    if (!this.#usable(internal) || this.#native === undefined) throw this.#closedError();
    return this.#native;
  }

  /** The write hook, after checking that the database accepts new writes. */
  #hooked(): WriteHook | undefined {
    if (this.#hook !== undefined && this.#status !== 'open' && this.#status !== 'opening') throw this.#closedError();
    return this.#hook;
  }

  #db(): NativeDatabase {
    // Only called inside #run, after the status check.
    return this.#native as NativeDatabase;
  }

  /** The calling-thread point reads (`ts/point-reads.ts`), made on first use. */
  #readsOf(native: NativeDatabase): PointReads {
    return (this.#reads ??= new PointReads(native, this.#ioOf(native)));
  }

  /** `#io`, registered with the native database (`setIo`) on first use. */
  #ioOf(native: NativeDatabase): Buffer {
    if (!this.#ioRegistered) {
      native.setIo(this.#io);
      this.#ioRegistered = true;
    }
    return this.#io;
  }

  #snapshotOf(opts: ReadOptions | IteratorOptions<K> | undefined) {
    const s = opts?.snapshot;
    if (s === undefined) return undefined;
    if (!(s instanceof Snapshot)) throw invalidArgument(`snapshot must be a Snapshot from db.snapshot(), got ${describe(s)}`);
    const n = s._native();
    // A snapshot closed by the database's close is the close's error, not a bad argument.
    if (n === undefined) throw this.#status === 'open' ? invalidArgument('snapshot is closed') : this.#closedError();
    return n;
  }

  #sync(opts: WriteOptions | undefined, known: readonly string[] = callOptions.write): boolean {
    checkObject(opts, 'options', known, 'a write');
    return checkBool(opts?.sync, 'sync') ?? this.options.sync;
  }

  // ---- reads ----------------------------------------------------------------------------

  /**
   * The value of `key`, or `undefined` when it is missing. Answered on the calling thread
   * when the answer is in memory (memtable, block cache); otherwise read on the thread pool.
   */
  get<R = V>(key: KeyInput<K>, opts?: ReadOptions): Promise<NoInfer<R> | undefined> {
    try {
      checkObject(opts, 'options', callOptions.read, 'a read');
      const k = encodeKey(key, this.#keyEncoding(opts));
      return this.#getEncoded(k, this.#snapshotOf(opts), this.#decoderOf<R>(opts));
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /**
   * `get` of an encoded key: on the calling thread when the answer is in memory; when this
   * turn's budget is spent (`fastAllowed`), after the event loop turned (a `setImmediate`,
   * not a pool job); otherwise on the thread pool.
   */
  #getEncoded<R>(k: Uint8Array, snapshot: NativeSnapshot | undefined, dv: (b: Buffer, key?: Uint8Array) => R): Promise<R | undefined> {
    try {
      if (this.#status === 'open') {
        if (!fastAllowed()) return nextTurn().then(() => this.#getEncoded(k, snapshot, dv));
        const v = this.#readsOf(this.#native as NativeDatabase).read(k, snapshot, true);
        if (v !== undefined) return Promise.resolve(v === null ? undefined : dv(v, k));
      }
      return this.#run(() => this.#db().get(k, snapshot)).then((v) => (v === null ? undefined : dv(v, k)));
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /** Like `get`, on the calling thread. Throws instead of rejecting. */
  getSync<R = V>(key: KeyInput<K>, opts?: ReadOptions): NoInfer<R> | undefined {
    checkObject(opts, 'options', callOptions.read, 'a read');
    const k = encodeKey(key, this.#keyEncoding(opts));
    const snapshot = this.#snapshotOf(opts);
    const dv = this.#decoderOf<R>(opts);
    let v: Buffer | null;
    try {
      v = this.#readsOf(this.#nativeSync()).read(k, snapshot, false) as Buffer | null;
    } catch (e) {
      throw fromNative(e);
    }
    return v === null ? undefined : dv(v, k);
  }

  /** Values of many keys, read at one consistent view (`undefined` for missing keys). */
  async getMany<R = V>(keys: KeyInput<K>[], opts?: ReadOptions): Promise<(NoInfer<R> | undefined)[]> {
    checkObject(opts, 'options', callOptions.read, 'a read');
    if (!Array.isArray(keys)) throw invalidArgument(`keys must be an array, got ${describe(keys)}`);
    const ke = this.#keyEncoding(opts);
    const ks = keys.map((k, i) => encodeKey(k, ke, `keys[${i}]`));
    const snapshot = this.#snapshotOf(opts);
    const dv = decoder<R>(this.#valueEncoding(opts));
    const vs = await this.#run(() => this.#db().getMany(ks, snapshot));
    return vs.map((v, i) => (v === null ? undefined : dv(v, ks[i])));
  }

  /** True when `key` exists. */
  has(key: KeyInput<K>, opts?: ReadOptions): Promise<boolean> {
    try {
      checkObject(opts, 'options', callOptions.read, 'a read');
      return this.#hasEncoded(encodeKey(key, this.#keyEncoding(opts)), this.#snapshotOf(opts));
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /** `has` of an encoded key, served like `#getEncoded`; only the answer crosses back. */
  #hasEncoded(k: Uint8Array, snapshot: NativeSnapshot | undefined): Promise<boolean> {
    try {
      if (this.#status === 'open') {
        if (!fastAllowed()) return nextTurn().then(() => this.#hasEncoded(k, snapshot));
        const n = this.#readsOf(this.#native as NativeDatabase).lookup(k, snapshot, true, true);
        if (n !== undefined && n !== -2) return Promise.resolve(n >= 0);
      }
      return this.#run(() => this.#db().get(k, snapshot)).then((v) => v !== null);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  // ---- writes ---------------------------------------------------------------------------

  /**
   * Writes one key. Without `sync` the write is done on the calling thread when it cannot
   * block (see `#tryFast`); the promise is then already resolved.
   */
  put(key: KeyInput<K>, value: ValueInput<V>, opts?: WriteOptions): Promise<void> {
    try {
      const sync = this.#sync(opts);
      const k = encodeKey(key, this.#keyEncoding(opts));
      const v = encodeValue(value, this.#valueEncoding(opts));
      const hook = this.#hooked();
      if (hook !== undefined) return hook.write([{ type: 'put', key: k, value: v }], sync);
      if (this.#canTryFast(sync) && (this.#native as NativeDatabase).tryPut(k, v)) return RESOLVED;
      const p = new BatchPacker();
      p.put(k, v);
      return this.#writeAsync(p.pack(), sync);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /** Deletes one key (deleting a missing key is fine). */
  del(key: KeyInput<K>, opts?: WriteOptions): Promise<void> {
    try {
      const sync = this.#sync(opts);
      const k = encodeKey(key, this.#keyEncoding(opts));
      const hook = this.#hooked();
      if (hook !== undefined) return hook.write([{ type: 'del', key: k }], sync);
      if (this.#canTryFast(sync) && (this.#native as NativeDatabase).tryDel(k)) return RESOLVED;
      const p = new BatchPacker();
      p.del(k);
      return this.#writeAsync(p.pack(), sync);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /**
   * True when a write may be tried on the calling thread: not `sync`, open, no write of this
   * database is on the thread pool (so writes are applied in the order they were made), and
   * the event-loop budget of this turn allows it (`ts/turns.ts`).
   */
  #canTryFast(sync: boolean): boolean {
    return !sync && this.#status === 'open' && this.#poolWrites === 0 && fastAllowed();
  }

  /** Writes a packed batch: on the calling thread when it cannot block, else on the pool. */
  #writePacked(packed: Buffer, sync: boolean, internal = false): Promise<void> {
    try {
      if (this.#canTryFast(sync) && (this.#native as NativeDatabase).tryWrite(packed)) return RESOLVED;
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
    return this.#writeAsync(packed, sync, internal);
  }

  /**
   * Writes a packed batch on the thread pool (durable first when `sync`). At most one write
   * of this database is on the pool at a time, so writes apply in the order they were made;
   * the writes made meanwhile are coalesced into one batch (one WAL record, and one fsync if
   * any of them asked for `sync`), submitted when the running one finishes.
   */
  #writeAsync(packed: Buffer, sync: boolean, internal = false): Promise<void> {
    if (this.#poolWrites === 0) {
      try {
        return this.#startPoolWrite(packed, sync, (op) => this.#run(op, internal));
      } catch (e) {
        return Promise.reject(fromNative(e));
      }
    }
    if (!this.#usable(internal)) return Promise.reject(this.#closedError());
    let q = this.#queued;
    if (q === undefined) {
      const waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
      const settled = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
      q = this.#queued = { parts: [], sync: false, waiters, settled };
      // Admitted now: close() waits for it.
      this.#admit(settled);
    }
    q.parts.push(packed);
    q.sync ||= sync;
    const waiters = q.waiters;
    return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
  }

  #startPoolWrite(packed: Buffer, sync: boolean, run: (op: () => Promise<void>) => Promise<void>): Promise<void> {
    this.#poolWrites++;
    const p = run(() => this.#db().write(packed, sync));
    const done = (): void => this.#poolWriteDone();
    p.then(done, done);
    return p;
  }

  /** A pool write (or clear) finished: submits the writes queued meanwhile, if any. */
  #poolWriteDone(): void {
    this.#poolWrites--;
    const q = this.#queued;
    if (q === undefined || this.#poolWrites > 0) return;
    this.#queued = undefined;
    const all = q.parts.length === 1 ? (q.parts[0] as Buffer) : Buffer.concat(q.parts);
    // Already admitted when queued, so it runs even if close() has begun.
    this.#startPoolWrite(all, q.sync, (op) => op().catch((e: unknown) => Promise.reject(fromNative(e)))).then(
      () => q.waiters.forEach((w) => w.resolve()),
      (e: unknown) => q.waiters.forEach((w) => w.reject(e)),
    );
  }

  /** Applies `ops` atomically; with no arguments returns a chained batch. */
  batch(): ChainedBatch<K, V>;
  batch(ops: BatchOperation<K, V>[], opts?: WriteOptions): Promise<void>;
  batch(ops?: BatchOperation<K, V>[], opts?: WriteOptions): ChainedBatch<K, V> | Promise<void> {
    if (ops === undefined && opts === undefined) return new ChainedBatch<K, V>(this);
    return (async () => {
      const sync = this.#sync(opts);
      if (!Array.isArray(ops)) throw invalidArgument(`batch operations must be an array, got ${describe(ops)}`);
      const p = new BatchPacker();
      ops.forEach((op, i) => this._addOp(p, op, opts, `operations[${i}]`));
      if (p.length === 0) return;
      await this._writePacker(p, sync);
    })();
  }

  /** @internal Validates and encodes one batch operation into `p`. */
  _addOp(p: BatchPacker, op: unknown, defaults: EncodingOptions | undefined, what: string): void {
    if (op === null || typeof op !== 'object') throw invalidArgument(`${what} must be an object, got ${describe(op)}`);
    const o = op as { type?: unknown; key?: unknown; value?: unknown } & EncodingOptions;
    const enc = { keyEncoding: o.keyEncoding ?? defaults?.keyEncoding, valueEncoding: o.valueEncoding ?? defaults?.valueEncoding };
    if (o.type === 'put') {
      p.put(encodeKey(o.key, this.#keyEncoding(enc), `${what}.key`), encodeValue(o.value, this.#valueEncoding(enc), `${what}.value`));
    } else if (o.type === 'del') {
      p.del(encodeKey(o.key, this.#keyEncoding(enc), `${what}.key`));
    } else {
      throw invalidArgument(`${what}.type must be 'put' or 'del', got ${quote(o.type)}`);
    }
  }

  /** @internal Writes the user operations of `p` (through the write hook when one is installed). */
  _writePacker(p: BatchPacker, sync: boolean): Promise<void> {
    const hook = this.#hooked();
    if (hook !== undefined) return hook.write(p.userOps(), sync);
    return this.#writePacked(p.pack(), sync);
  }

  /** @internal Writes `p` (user and system operations) as one atomic batch, bypassing the hook. */
  _submit(p: BatchPacker, sync: boolean): Promise<void> {
    const r = this._submitNow(p, sync);
    return r === true ? RESOLVED : r;
  }

  /** @internal `_submit`, telling whether the batch was applied on the calling thread (`true`). */
  _submitNow(p: BatchPacker, sync: boolean): true | Promise<void> {
    if (p.length === 0) return true;
    const packed = p.pack();
    try {
      if (this.#canTryFast(sync) && (this.#native as NativeDatabase).tryWrite(packed)) return true;
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
    return this.#writeAsync(packed, sync, true);
  }

  /** @internal Called by `close()` once new operations are refused, before pending ones are awaited. */
  protected async _beforeClose(): Promise<void> {}

  /** @internal Installs (or removes) the write hook of the index layer. */
  _setWriteHook(hook: WriteHook | undefined): void {
    this.#hook = hook;
  }

  /** @internal */
  _syncOption(opts: WriteOptions | undefined): boolean {
    return this.#sync(opts);
  }

  /** Deletes every key in the range atomically. */
  async clear(range: RangeOptions<K> & WriteOptions = {}): Promise<void> {
    checkObject(range, 'range', callOptions.clear, 'clear()');
    const sync = this.#sync(range, callOptions.clear);
    const r = this.#range(range, this.#keyEncoding(range));
    if (r === undefined) return;
    const hook = this.#hooked();
    if (hook !== undefined) return hook.clear(r, sync);
    await this._clearRaw(r, sync);
  }

  /** @internal Deletes every key of an encoded range (user or, with `system`, system keys), bypassing the hook. */
  async _clearRaw(r: BindingRange, sync: boolean): Promise<number> {
    this.#poolWrites++;
    try {
      return await this.#run(() => this.#db().clear(r, sync), true);
    } finally {
      this.#poolWriteDone();
    }
  }

  // ---- iteration ------------------------------------------------------------------------

  /** Encodes range options; `undefined` when the range is certainly empty. */
  #range(opts: RangeOptions<K>, ke: Encoding<unknown>): BindingRange | undefined {
    const r: BindingRange = {};
    const bound = (name: 'gt' | 'gte' | 'lt' | 'lte' | 'prefix'): Uint8Array | undefined =>
      opts[name] === undefined ? undefined : encodeKey(opts[name], ke, name);
    const gt = bound('gt');
    const gte = bound('gte');
    const lt = bound('lt');
    const lte = bound('lte');
    const prefix = bound('prefix');
    if (gt && gte) throw invalidArgument('range: gt and gte are mutually exclusive');
    if (lt && lte) throw invalidArgument('range: lt and lte are mutually exclusive');
    if (prefix && (gt || gte || lt || lte)) throw invalidArgument('range: prefix cannot be combined with gt/gte/lt/lte');
    if (prefix) {
      r.gte = prefix;
      const upper = successor(prefix);
      if (upper) r.lt = upper;
    } else {
      if (gt) r.gt = gt;
      if (gte) r.gte = gte;
      if (lt) r.lt = lt;
      if (lte) r.lte = lte;
    }
    const reverse = checkBool(opts.reverse, 'reverse');
    if (reverse !== undefined) r.reverse = reverse;
    if (opts.limit !== undefined) {
      const l = opts.limit;
      if (typeof l !== 'number' || Number.isNaN(l) || (Number.isFinite(l) && (!Number.isInteger(l) || l < -1))) {
        throw invalidArgument(`limit must be a non-negative integer, -1 or Infinity, got ${String(l)}`);
      }
      if (l === 0) return undefined;
      if (Number.isFinite(l) && l > 0) r.limit = l;
    }
    const lower = r.gt ?? r.gte;
    const upper = r.lt ?? r.lte;
    if (lower && upper) {
      const c = Buffer.compare(lower, upper);
      if (c > 0 || (c === 0 && (r.gt !== undefined || r.lt !== undefined))) return undefined;
    }
    return r;
  }

  /** A native iterator over an encoded range for the index layer (allowed while closing). */
  #rawNative(range: BindingRange, snapshot: Snapshot | undefined): NativeIterator {
    const s = this.#snapshotOf({ snapshot });
    try {
      return this.#nativeSync(true).iterator(range, s);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * @internal An iterator over raw keys and values of an encoded range (`range.system`:
   * the system keyspace, keys relative to its prefix). Seek targets are raw bytes.
   */
  _rawIterator(range: BindingRange, snapshot?: Snapshot): EntryIterator<Buffer, Buffer> {
    const n = this.#rawNative(range, snapshot);
    const raw = (b: Buffer): Buffer => b;
    const target = (t: unknown): Uint8Array => {
      if (!(t instanceof Uint8Array)) throw invalidArgument(`seek target must be a Uint8Array, got ${describe(t)}`);
      return t;
    };
    return this.#track(new EntryIterator<Buffer, Buffer>(this.#internalHost, n, target, raw, raw));
  }

  /** @internal A cursor over the keys of an encoded range (see `KeyCursor`); close it when done. */
  _keyCursor(range: BindingRange, snapshot?: Snapshot): KeyCursor {
    const n = this.#rawNative(range, snapshot);
    const c = new KeyCursor(n, (op) => this.#run(op, true), (x) => this.#cursors.delete(x));
    this.#cursors.add(c);
    return c;
  }

  /** @internal Raw values of raw user keys at one view (`null` when missing). */
  _getManyRaw(keys: Uint8Array[], snapshot?: Snapshot): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    const s = this.#snapshotOf({ snapshot });
    return this.#run(() => this.#db().getMany(keys, s), true);
  }

  /**
   * @internal Many point reads in one native call on the calling thread, cached only (keys
   * packed as `u32` LE length · bytes; see `ts/multiget.ts` for the flags and the answer's
   * layout); `undefined` when the event-loop budget for `cost` reads is spent.
   */
  _readManyHere(packed: Uint8Array, flags: number, cost: number, snapshot?: Snapshot): Buffer | undefined {
    const native = this.#native;
    if (this.#status !== 'open' || native === undefined || !fastAllowed(cost)) return undefined;
    try {
      return native.readMany(packed, flags | 1, this.#snapshotOf({ snapshot }));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * @internal The first `max` keys of a range `[lower, upper)` and the user records they name,
   * at one view, in one native call on the calling thread (see `readPage` in
   * `ts/multiget.ts` for the flags and the answer's layout); `null` when a disk read is
   * needed, `undefined` when the turn's budget is spent or the database is not open.
   */
  _scanAndGetHere(lower: Uint8Array, upper: Uint8Array | undefined, seek: Uint8Array | undefined, max: number, strip: number, flags: number, snapshot?: Snapshot): Buffer | null | undefined {
    const native = this.#native;
    if (this.#status !== 'open' || native === undefined || !fastAllowed(1)) return undefined;
    try {
      return native.scanAndGet(lower, upper, seek, max, strip, flags, this.#snapshotOf({ snapshot }));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** @internal `_scanAndGetHere` of a driver's postings probed against other sides (`scanProbe`, `ts/query/fused.ts`). */
  _scanProbeHere(lower: Uint8Array, upper: Uint8Array | undefined, seek: Uint8Array | undefined, shape: [number, number, number, number], sides: Uint8Array, snapshot?: Snapshot): Buffer | null | undefined {
    const native = this.#native;
    if (this.#status !== 'open' || native === undefined || !fastAllowed(1)) return undefined;
    try {
      return native.scanProbe(lower, upper, seek, shape[0], shape[1], shape[2], shape[3], sides, this.#snapshotOf({ snapshot }));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** @internal `_readManyHere` on the thread pool, every key answered. */
  _readManyPool(packed: Uint8Array, flags: number, snapshot?: Snapshot): Promise<Buffer> {
    const s = this.#snapshotOf({ snapshot });
    return this.#run(() => this.#db().readManyAsync(packed, flags & ~1, s), true);
  }

  /** @internal The approximate count of an encoded range (user or system keys). */
  _approximateCount(range: BindingRange): ApproximateCount {
    try {
      return this.#nativeSync(true).approximateCount(range);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** @internal The database's key and value decoders, or those `opts` names (they throw `STRATA_INVALID_ARGUMENT`). */
  _decoders(opts?: EncodingOptions): Decoders {
    const ke = this.#keyEncoding(opts);
    const ve = this.#valueEncoding(opts);
    const dk = decoder(ke);
    // The range forms are unchecked (they throw the codec's error): decode again with `value` to name the key.
    return { key: (b) => dk(b), value: decoder(ve), keyAt: ke.decodeRange, valueAt: ve.decodeRange };
  }

  /** @internal Encodes a value with the default (or `opts`') value encoding; checks its size. */
  _encodeValue(value: unknown, opts?: EncodingOptions, what = 'value'): Uint8Array {
    return encodeValue(value, this.#valueEncoding(opts), what);
  }

  /** @internal Encodes a key with the default key encoding. */
  _encodeKey(key: unknown, what = 'key'): Uint8Array {
    return encodeKey(key, this.#keyEnc, what);
  }

  /**
   * The approximate number of keys in a range, from the SSTables' index blocks and the
   * memtables: no data block is read, so it is cheap at any size. `estimate` counts
   * versions and tombstones not yet compacted away; `upper` is a true upper bound.
   */
  approximateCount(range: RangeOptions<K> = {}): ApproximateCount {
    checkObject(range, 'range', callOptions.range, 'approximateCount()');
    const r = this.#range({ ...range, limit: undefined, reverse: undefined }, this.#keyEncoding(undefined));
    if (r === undefined) return { estimate: 0, upper: 0 };
    if (this.#status !== 'open') throw this.#closedError();
    return this._approximateCount(r);
  }

  #openNative(opts: IteratorOptions<K> | undefined, ke: Encoding<unknown>): BatchSource | undefined {
    checkObject(opts, 'options', callOptions.iterator, 'an iterator');
    const o = opts ?? {};
    const range = this.#range(o, ke);
    const snapshot = this.#snapshotOf(o);
    const db = this.#nativeSync();
    if (range === undefined) return undefined;
    try {
      return HandleCursor.open(db, this.#ioOf(db), range, snapshot, this.#usable(false)) ?? db.iterator(range, snapshot);
    } catch (e) {
      throw fromNative(e);
    }
  }

  #track<T extends BaseIterator<unknown>>(it: T): T {
    this.#iterators.add(it);
    return it;
  }

  /** An iterator over `[key, value]` entries in the range. */
  iterator<RK = K, RV = V>(opts?: IteratorOptions<K>): EntryIterator<NoInfer<RK>, NoInfer<RV>> {
    const ke = this.#keyEncoding(opts);
    const ve = this.#valueEncoding(opts);
    const wantKeys = checkBool(opts?.keys, 'keys') ?? true;
    const wantValues = checkBool(opts?.values, 'values') ?? true;
    const n = this.#openNative(opts, ke);
    const dk = decoder<RK>(ke);
    const dv = decoder<RV>(ve);
    return this.#track(
      new EntryIterator<RK, RV>(
        this.#host,
        n,
        (t) => encodeKey(t, ke, 'seek target'),
        wantKeys ? (k) => dk(k) : () => undefined as RK,
        wantValues ? (v, k) => dv(v, k) : () => undefined as RV,
      ),
    );
  }

  /** An iterator over keys in the range. */
  keys<RK = K>(opts?: IteratorOptions<K>): ItemIterator<NoInfer<RK>> {
    const ke = this.#keyEncoding(opts);
    const n = this.#openNative(opts, ke);
    const dk = decoder<RK>(ke);
    return this.#track(new ItemIterator<RK>(this.#host, n, (t) => encodeKey(t, ke, 'seek target'), (k) => dk(k)));
  }

  /** An iterator over values in the range. */
  values<RV = V>(opts?: IteratorOptions<K>): ItemIterator<NoInfer<RV>> {
    const ke = this.#keyEncoding(opts);
    const dv = decoder<RV>(this.#valueEncoding(opts));
    const n = this.#openNative(opts, ke);
    return this.#track(new ItemIterator<RV>(this.#host, n, (t) => encodeKey(t, ke, 'seek target'), (k, v) => dv(v, k)));
  }

  // ---- snapshots and maintenance --------------------------------------------------------

  /** A consistent read view; release it with `snapshot.close()`. */
  snapshot(): Snapshot {
    let n;
    try {
      n = this.#nativeSync().snapshot();
    } catch (e) {
      throw fromNative(e);
    }
    const s = new Snapshot(n, (x) => this.#snapshots.delete(x));
    this.#snapshots.add(s);
    return s;
  }

  /** Compacts `[start, end]` (the whole key space when both are omitted). */
  async compactRange(start?: KeyInput<K>, end?: KeyInput<K>): Promise<void> {
    const ke = this.#keyEnc;
    const s = start === undefined ? undefined : encodeKey(start, ke, 'start');
    const e = end === undefined ? undefined : encodeKey(end, ke, 'end');
    await this.#run(() => this.#db().compactRange(s, e));
  }

  /** Flushes the memtable to disk. */
  async flush(): Promise<void> {
    await this.#run(() => this.#db().flush());
  }

  /** Engine statistics. */
  async stats(): Promise<Stats> {
    return this.#run(async () => {
      const s = this.#db().stats();
      return { ...s, levels: s.levels.map((l) => ({ files: l.files, bytes: l.bytes })) };
    });
  }

  /**
   * @internal Up to `max` engine events (flushes, compactions, stalls, recovery, failures)
   * since the last call, oldest first (see `ts/telemetry/events.ts`). Works while closing
   * and after close, so the last events are not lost; empty before open.
   */
  _drainEvents(max: number): BindingEvents {
    const n = this.#native;
    if (n === undefined) return { events: [], dropped: 0 };
    try {
      return n.drainEvents(max);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Reads every block of every live SSTable and WAL and checks every checksum and ordering
   * invariant, off the JS thread. Damage is reported in the result, not thrown.
   */
  async verify(): Promise<VerifyResult> {
    const found = await this.#run(() => this.#db().verify());
    const problems = found.map((p) => {
      const out: VerifyProblem = { code: p.code, message: p.message };
      if (p.file != null) out.file = p.file;
      if (p.offset != null) out.offset = p.offset;
      return out;
    });
    return { ok: problems.length === 0, problems };
  }

  /**
   * Writes an openable copy of the database to `target` (a directory that does not exist
   * or is empty) while reads and writes go on: every write acknowledged before the call is
   * in it, and it holds exactly the writes up to `sequence`. The SSTables are hard links
   * where the file system allows (a checkpoint on the same file system costs almost no space
   * until the live files are compacted away), copies otherwise. The directory appears only
   * once complete; a crash leaves at most `<target>.checkpoint-tmp`, which the next
   * checkpoint to that target removes.
   */
  async checkpoint(target: string): Promise<CheckpointInfo> {
    if (typeof target !== 'string' || target.length === 0) throw invalidArgument(`checkpoint target must be a non-empty path, got ${describe(target)}`);
    const location = path.resolve(target);
    const r = await this.#run(() => this.#db().checkpoint(location));
    return { location, sequence: r.sequence, files: r.files, linked: r.linked, bytes: r.bytes };
  }

  /**
   * Closes the database: waits for pending operations, ends open iterators (their next read
   * rejects with `STRATA_ITERATOR_NOT_OPEN`), releases snapshots, then closes the engine.
   * Idempotent; later calls on the database reject with `STRATA_CLOSED`.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      if (this.#status === 'opening') {
        try {
          await this.#opening;
        } catch {
          return;
        }
      }
      if (this.#status === 'closed') return;
      this.#status = 'closing';
      // Queued index work finishes first (it may still read and write: `internal`).
      await this._beforeClose().catch(() => undefined);
      while (this.#pending.size > 0) await Promise.all([...this.#pending]);
      for (const it of this.#iterators) it._closeByDb();
      this.#iterators.clear();
      for (const c of this.#cursors) c._closeByDb();
      this.#cursors.clear();
      for (const s of this.#snapshots) s._release();
      this.#snapshots.clear();
      this.#reads?.close();
      try {
        await (this.#native as NativeDatabase).close();
      } catch (e) {
        throw fromNative(e);
      } finally {
        this.#status = 'closed';
      }
    })();
    return this.#closing;
  }
}

/** A batch built step by step: `db.batch().put(k, v).del(k2).write()`. */
export class ChainedBatch<K = string, V = string> {
  readonly #db: KvDb<K, V>;
  readonly #packer = new BatchPacker();
  #open = true;

  /** @internal */
  constructor(db: KvDb<K, V>) {
    this.#db = db;
  }

  #check(): void {
    if (!this.#open) throw invalidArgument('batch is not open (already written or closed)');
  }

  /** Number of queued operations. */
  get length(): number {
    return this.#packer.length;
  }

  /** Queues a put. Throws `STRATA_INVALID_ARGUMENT` on a bad key or value. */
  put(key: KeyInput<K>, value: ValueInput<V>, opts?: EncodingOptions): this {
    this.#check();
    this.#db._addOp(this.#packer, { type: 'put', key, value, ...opts }, undefined, 'put');
    return this;
  }

  /** Queues a delete. */
  del(key: KeyInput<K>, opts?: EncodingOptions): this {
    this.#check();
    this.#db._addOp(this.#packer, { type: 'del', key, ...opts }, undefined, 'del');
    return this;
  }

  /** Drops every queued operation. */
  clear(): this {
    this.#check();
    this.#packer.clear();
    return this;
  }

  /** Applies the queued operations atomically, then closes the batch. */
  async write(opts?: WriteOptions): Promise<void> {
    this.#check();
    const sync = this.#db._syncOption(opts);
    this.#open = false;
    if (this.#packer.length === 0) return;
    const p = this.#packer.take();
    await this.#db._writePacker(p, sync);
  }

  /** Discards the batch. Idempotent. */
  async close(): Promise<void> {
    this.#open = false;
    this.#packer.clear();
  }
}
