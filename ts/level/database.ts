/**
 * `StrataLevel`: an `abstract-level` 3 database backed by the StrataDB engine, constructed
 * like `ClassicLevel`: `new StrataLevel(location, options)`.
 *
 * abstract-level's public methods validate, encode and manage the lifecycle (deferred open,
 * resources, events, hooks, sublevels); each private `_impl` here converts its arguments
 * and makes one native call. There is no storage logic in JavaScript: no cache of data, no
 * merging of iterators. Errors carry abstract-level's `LEVEL_*` codes with the StrataDB
 * error as `cause` (see `./errors`).
 */
import { AbstractLevel } from 'abstract-level';
import type { AbstractDatabaseOptions, AbstractOpenOptions } from 'abstract-level';
import type { BindingRange, NativeDatabase } from '../../binding';
import native = require('../native');
import { BatchPacker, MAX_KEY_SIZE, MAX_VALUE_SIZE } from '../codec';
import { OpenOptions, StrataSettings, normalizeOptions, schema, toBindingOptions } from '../options';
import { StrataError } from '../errors';
import { REGISTRY_RANGE } from '../indexes/layout';
import { LevelError, toLevelError } from './errors';
import {
  PrivateIteratorOptions,
  StrataLevelIterator,
  StrataLevelKeyIterator,
  StrataLevelValueIterator,
  fromBytes,
  toBytes,
} from './iterator';
import { StrataLevelSnapshot, nativeSnapshot } from './snapshot';

/** What the engine stores natively: bytes, handed out as Buffers, views or UTF-8 strings. */
export type StrataLevelFormat = string | Buffer | Uint8Array;

/**
 * Options of the constructor and of `open()`: abstract-level's (`keyEncoding`,
 * `valueEncoding`, `createIfMissing`, `errorIfExists`, `passive`) plus every StrataDB
 * engine setting (`memtableSize`, `compression`, `sync`, `profile`, ...; see the README),
 * resolved the way `open()` of the core API resolves them (profile, `.env`, `STRATA_*`).
 */
export interface StrataLevelOptions<K = string, V = string>
  extends AbstractDatabaseOptions<K, V>,
    Omit<OpenOptions, 'keyEncoding' | 'valueEncoding'> {}

/** What the engine supports, in level-supports' manifest terms. */
export const MANIFEST = Object.freeze({
  implicitSnapshots: true,
  explicitSnapshots: true,
  has: true,
  getSync: true,
  seek: true,
  permanence: true,
  createIfMissing: true,
  errorIfExists: true,
  deferredOpen: true,
  encodings: Object.freeze({ buffer: true, view: true, utf8: true }),
  signals: Object.freeze({ iterators: true }),
  additionalMethods: Object.freeze({ compactRange: true, flush: true, stats: true }),
  events: Object.freeze({}),
});

const SETTINGS = new Set<string>(Object.keys(schema).filter((k) => k !== 'keyEncoding' && k !== 'valueEncoding'));
const CONFIG = new Set<string>(['profile', 'env', 'envFile']);

/** The StrataDB settings among `open()`'s options (abstract-level's own are left out). */
function engineSettings(options: Record<string, unknown>): OpenOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if ((SETTINGS.has(k) || CONFIG.has(k)) && v !== undefined) out[k] = v;
  }
  return out as OpenOptions;
}

interface FormatOptions {
  keyEncoding?: string;
  valueEncoding?: string;
  snapshot?: unknown;
  sync?: boolean;
}

interface PrivateRangeOptions extends FormatOptions {
  gt?: unknown;
  gte?: unknown;
  lt?: unknown;
  lte?: unknown;
  reverse?: boolean;
  limit?: number;
}

interface PrivateOperation {
  type: 'put' | 'del';
  key: unknown;
  value?: unknown;
}

function keyBytes(key: unknown): Uint8Array {
  const b = toBytes(key);
  if (b.byteLength > MAX_KEY_SIZE) {
    throw new LevelError(`Key of ${b.byteLength} bytes exceeds the limit of ${MAX_KEY_SIZE} bytes`, {
      code: 'LEVEL_INVALID_KEY',
    });
  }
  return b;
}

function valueBytes(value: unknown): Uint8Array {
  const b = toBytes(value);
  if (b.byteLength > MAX_VALUE_SIZE) {
    throw new LevelError(`Value of ${b.byteLength} bytes exceeds the limit of ${MAX_VALUE_SIZE} bytes`, {
      code: 'LEVEL_INVALID_VALUE',
    });
  }
  return b;
}

/** abstract-level range options (already encoded) → the binding's range. */
function bindingRange(o: PrivateRangeOptions): BindingRange {
  const r: BindingRange = { reverse: o.reverse === true };
  // Nullish bounds mean "no bound"; empty ones are real bounds (the empty key exists).
  if (o.gt !== undefined && o.gt !== null) r.gt = keyBytes(o.gt);
  if (o.gte !== undefined && o.gte !== null) r.gte = keyBytes(o.gte);
  if (o.lt !== undefined && o.lt !== null) r.lt = keyBytes(o.lt);
  if (o.lte !== undefined && o.lte !== null) r.lte = keyBytes(o.lte);
  // abstract-level: gte wins over gt, lte over lt.
  if (r.gt !== undefined && r.gte !== undefined) delete r.gt;
  if (r.lt !== undefined && r.lte !== undefined) delete r.lt;
  const limit = o.limit;
  if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 0) r.limit = limit;
  return r;
}

/** An abstract-level database on the StrataDB engine. */
export class StrataLevel<K = string, V = string> extends AbstractLevel<StrataLevelFormat, K, V> {
  /** The directory of the database. */
  readonly location: string;
  #native: NativeDatabase | undefined;
  #sync = false;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(location: string, options?: StrataLevelOptions<K, V>) {
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string");
    }
    super(MANIFEST as never, options as AbstractDatabaseOptions<K, V>);
    this.location = location;
  }

  // ---- plumbing ----------------------------------------------------------------------

  /** The open native database; abstract-level only calls a `_impl` while open. */
  #db(): NativeDatabase {
    const db = this.#native;
    if (db === undefined) throw new LevelError('Database is not open', { code: 'LEVEL_DATABASE_NOT_OPEN' });
    return db;
  }

  /** Runs one native call, tracked so `_close` lets it finish first. */
  async #run<R>(op: () => Promise<R>, invalid?: string): Promise<R> {
    let p: Promise<R>;
    try {
      p = op();
    } catch (e) {
      throw e instanceof LevelError || e instanceof TypeError ? e : toLevelError(e, invalid);
    }
    this.#pending.add(p);
    try {
      return await p;
    } catch (e) {
      throw toLevelError(e, invalid);
    } finally {
      this.#pending.delete(p);
    }
  }

  #syncOf(options: FormatOptions | undefined): boolean {
    return typeof options?.sync === 'boolean' ? options.sync : this.#sync;
  }

  // ---- lifecycle ---------------------------------------------------------------------

  async _open(options: AbstractOpenOptions & Record<string, unknown>): Promise<void> {
    const settings = normalizeOptions(engineSettings(options));
    this.#sync = settings.sync;
    let db: NativeDatabase;
    try {
      db = await native.NativeDatabase.open(this.location, toBindingOptions(settings));
    } catch (e) {
      throw toLevelError(e);
    }
    // Writes through StrataLevel do not maintain secondary indexes: refuse a database that has some.
    const it = db.iterator({ ...REGISTRY_RANGE, limit: 1 });
    let indexed: boolean;
    try {
      const batch = await it.nextBatch(1, 4096);
      indexed = batch.readUInt32LE(batch.length - 4) > 0;
    } finally {
      it.close();
    }
    if (indexed) {
      await db.close();
      throw toLevelError(
        new StrataError(
          'STRATA_INVALID_ARGUMENT',
          `${this.location} has secondary indexes, which StrataLevel would not keep up to date: open it with open() instead`,
        ),
      );
    }
    this.#native = db;
  }

  async _close(): Promise<void> {
    const db = this.#native;
    if (db === undefined) return;
    // Operations already handed to the engine finish before it closes.
    await Promise.allSettled([...this.#pending]);
    this.#native = undefined;
    try {
      await db.close();
    } catch (e) {
      throw toLevelError(e);
    }
  }

  // ---- reads -------------------------------------------------------------------------

  async _get(key: unknown, options: FormatOptions): Promise<unknown> {
    const k = keyBytes(key);
    const snapshot = nativeSnapshot(options);
    const v = await this.#run(() => this.#db().get(k, snapshot), 'LEVEL_INVALID_KEY');
    return v === null ? undefined : fromBytes(options.valueEncoding)(v);
  }

  _getSync(key: unknown, options: FormatOptions): unknown {
    const k = keyBytes(key);
    const snapshot = nativeSnapshot(options);
    let v: Buffer | null;
    try {
      v = this.#db().getSync(k, snapshot);
    } catch (e) {
      throw e instanceof LevelError ? e : toLevelError(e, 'LEVEL_INVALID_KEY');
    }
    return v === null ? undefined : fromBytes(options.valueEncoding)(v);
  }

  async _getMany(keys: unknown[], options: FormatOptions): Promise<unknown[]> {
    const ks = keys.map(keyBytes);
    const snapshot = nativeSnapshot(options);
    const vs = await this.#run(() => this.#db().getMany(ks, snapshot), 'LEVEL_INVALID_KEY');
    const decode = fromBytes(options.valueEncoding);
    return vs.map((v) => (v === null ? undefined : decode(v)));
  }

  async _has(key: unknown, options: FormatOptions): Promise<boolean> {
    const k = keyBytes(key);
    const snapshot = nativeSnapshot(options);
    return (await this.#run(() => this.#db().get(k, snapshot), 'LEVEL_INVALID_KEY')) !== null;
  }

  async _hasMany(keys: unknown[], options: FormatOptions): Promise<boolean[]> {
    const ks = keys.map(keyBytes);
    const snapshot = nativeSnapshot(options);
    const vs = await this.#run(() => this.#db().getMany(ks, snapshot), 'LEVEL_INVALID_KEY');
    return vs.map((v) => v !== null);
  }

  // ---- writes ------------------------------------------------------------------------

  async _put(key: unknown, value: unknown, options: FormatOptions): Promise<void> {
    const p = new BatchPacker();
    p.put(keyBytes(key), valueBytes(value));
    const packed = p.pack();
    const sync = this.#syncOf(options);
    await this.#run(() => this.#db().write(packed, sync));
  }

  async _del(key: unknown, options: FormatOptions): Promise<void> {
    const p = new BatchPacker();
    p.del(keyBytes(key));
    const packed = p.pack();
    const sync = this.#syncOf(options);
    await this.#run(() => this.#db().write(packed, sync), 'LEVEL_INVALID_KEY');
  }

  async _batch(operations: PrivateOperation[], options: FormatOptions): Promise<void> {
    const p = new BatchPacker();
    for (const op of operations) {
      if (op.type === 'put') p.put(keyBytes(op.key), valueBytes(op.value));
      else p.del(keyBytes(op.key));
    }
    const packed = p.pack();
    const sync = this.#syncOf(options);
    await this.#run(() => this.#db().write(packed, sync));
  }

  async _clear(options: PrivateRangeOptions): Promise<void> {
    const range = bindingRange(options);
    const snapshot = nativeSnapshot(options);
    const sync = this.#syncOf(options);
    await this.#run(() => this.#db().clear(range, sync, snapshot), 'LEVEL_INVALID_KEY');
  }

  // ---- iterators and snapshots -------------------------------------------------------

  #nativeIterator(options: PrivateIteratorOptions) {
    const range = bindingRange(options);
    // The limit is applied here, not by the engine, so read-ahead discarded by seek()
    // does not count against it.
    delete range.limit;
    const snapshot = nativeSnapshot(options);
    try {
      return this.#db().iterator(range, snapshot);
    } catch (e) {
      throw e instanceof LevelError ? e : toLevelError(e, 'LEVEL_INVALID_KEY');
    }
  }

  _iterator(options: PrivateIteratorOptions): StrataLevelIterator {
    return new StrataLevelIterator(this, options, this.#nativeIterator(options));
  }

  _keys(options: PrivateIteratorOptions): StrataLevelKeyIterator {
    return new StrataLevelKeyIterator(this, options, this.#nativeIterator(options));
  }

  _values(options: PrivateIteratorOptions): StrataLevelValueIterator {
    return new StrataLevelValueIterator(this, options, this.#nativeIterator(options));
  }

  _snapshot(options: { owner: unknown }): StrataLevelSnapshot {
    try {
      return new StrataLevelSnapshot(options, this.#db().snapshot());
    } catch (e) {
      throw e instanceof LevelError ? e : toLevelError(e);
    }
  }

  // ---- additional methods ------------------------------------------------------------

  /** Compacts the keys in `[start, end]` (all keys when both are omitted) down the levels. */
  async compactRange(start?: string | Uint8Array, end?: string | Uint8Array): Promise<void> {
    if (this.status === 'opening') return this.deferAsync(() => this.compactRange(start, end));
    this.#assertOpen();
    const s = start === undefined ? undefined : keyBytes(start);
    const e = end === undefined ? undefined : keyBytes(end);
    await this.#run(() => this.#db().compactRange(s, e), 'LEVEL_INVALID_KEY');
  }

  /** Writes the memtable to an SSTable. */
  async flush(): Promise<void> {
    if (this.status === 'opening') return this.deferAsync(() => this.flush());
    this.#assertOpen();
    await this.#run(() => this.#db().flush());
  }

  /** Engine statistics (levels, cache, bloom filter, compaction counters). */
  stats(): ReturnType<NativeDatabase['stats']> {
    this.#assertOpen();
    try {
      return this.#db().stats();
    } catch (e) {
      throw toLevelError(e);
    }
  }

  #assertOpen(): void {
    if (this.status !== 'open') throw new LevelError('Database is not open', { code: 'LEVEL_DATABASE_NOT_OPEN' });
  }
}

export type { StrataSettings };
