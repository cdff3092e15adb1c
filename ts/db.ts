/**
 * `Db`: the database `open()` returns — the key-value layer (`KvDb`, `ts/database.ts`) plus
 * secondary indexes and queries. This file only wires the layers together: the registry and
 * maintenance live in `ts/indexes`, the planner and executor in `ts/query`. It also times
 * the public operations for `ts/metrics` (only while the `stratadb:op` channel has a
 * subscriber) and runs the engine-event pump for the `logger` and `tracing` options
 * (`ts/telemetry`).
 */
import type { Readable, Writable } from 'node:stream';

import type { Tracer } from '@opentelemetry/api';

import { BackupOptions, BackupResult, backup } from './admin/backup';
import { ExportOptions, ExportResult, ImportOptions, ImportResult, exportRecords, importRecords } from './admin/exchange';
import { recoverImports } from './admin/import-journal';
import type { BatchPacker } from './codec';
import type { Collection, CollectionOptions } from './collections/collection';
import { openCollection } from './collections/collection';
import type { Document } from './collections/update';
import { IteratorOptions, KeyInput, KvDb, ReadOptions, ValueInput, VerifyResult, WriteOptions } from './database';
import { opChannel, timed, timedIterator } from './diagnostics';
import { describe } from './encodings';
import { StrataError, invalidArgument } from './errors';
import { checkIndexes } from './indexes/check';
import type { IndexDefinition } from './indexes/definition';
import { normalizeIndexDefinition } from './indexes/definition';
import type { CustomExtractor } from './indexes/extract';
import { BuildOptions, IndexInfo, IndexRegistry, readIndexesFile } from './indexes/registry';
import type { EntryIterator, ItemIterator } from './iterator';
import { normalizeOptions, OpenOptions } from './options';
import type { Query } from './query/ast';
import { CountEstimate, Explanation, QueryOptions, QueryResult, countQuery, explainQuery, runQuery } from './query/execute';
import type { Snapshot } from './snapshot';
import { EventListener, EventPump } from './telemetry/events';
import { EventLogger, LogLevel, logListener, resolveLogger } from './telemetry/logs';
import { resolveTracer, traceListener, withSpan } from './telemetry/traces';

/** Options of `open()`: the engine settings plus the index declarations. */
export interface DbOptions extends OpenOptions {
  /** Indexes to have: created and built when missing (`open` resolves once they are ready); a no-op when they exist. */
  indexes?: IndexDefinition[];
  /** A file of index declarations: `indexes.toml` (`[[index]]` tables) or `indexes.json` (an array). */
  indexesFile?: string;
  /** Custom extractors by name, for `{ kind: 'custom', name }` indexes: `(value, key) => term | term[] | undefined`. */
  extractors?: Record<string, CustomExtractor>;
  /**
   * Engine events (flushes, compactions, write stalls, recovery, background errors) as
   * structured log lines: a pino logger (or any logger with pino's `info`/`warn`/`error`),
   * or a level name for a pino logger on stdout. Default: none (nothing is logged).
   */
  logger?: EventLogger | LogLevel;
  /**
   * Spans for flushes and compactions (with their real times, from the engine's events):
   * `true` for the globally registered tracer provider, or a `Tracer`. Default off. Query
   * spans are always made through `@opentelemetry/api` (free when no SDK is registered).
   */
  tracing?: boolean | Tracer;
  /** How often engine events are drained for the logger and tracer, in ms (default 1000). */
  eventIntervalMs?: number;
}

/** An open StrataDB database. Create one with `open()`. */
export class Db<K = string, V = string> extends KvDb<K, V> {
  #registry: IndexRegistry | undefined;
  #pump: EventPump | undefined;
  #closed: Promise<void> | undefined;

  /** @internal Starts draining engine events into `listeners` (called by `open()`). */
  _startEvents(listeners: EventListener[], intervalMs?: number): void {
    this.#pump = new EventPump(this, listeners, intervalMs);
    this.#pump.poll();
  }

  /** @internal Drains the engine events now (a no-op without a logger or tracing). */
  _pollEvents(): void {
    this.#pump?.poll();
  }

  // ---- timed operations (published on `stratadb:op` only when someone listens) ----------

  // TypeScript cannot check an override of a generic method whose return type is NoInfer<R> (it
  // infers R from the base's return type, which NoInfer forbids): the signature is the base's.
  // @ts-expect-error TS2416, see above
  override get<R = V>(key: KeyInput<K>, opts?: ReadOptions): Promise<NoInfer<R> | undefined> {
    if (!opChannel.hasSubscribers) return super.get<R>(key, opts);
    return timed(this, 'get', () => super.get<R>(key, opts));
  }

  // @ts-expect-error TS2416 (NoInfer override, see get)
  override getMany<R = V>(keys: KeyInput<K>[], opts?: ReadOptions): Promise<(NoInfer<R> | undefined)[]> {
    if (!opChannel.hasSubscribers) return super.getMany<R>(keys, opts);
    return timed(this, 'getMany', () => super.getMany<R>(keys, opts));
  }

  override put(key: KeyInput<K>, value: ValueInput<V>, opts?: WriteOptions): Promise<void> {
    if (!opChannel.hasSubscribers) return super.put(key, value, opts);
    return timed(this, 'put', () => super.put(key, value, opts));
  }

  override del(key: KeyInput<K>, opts?: WriteOptions): Promise<void> {
    if (!opChannel.hasSubscribers) return super.del(key, opts);
    return timed(this, 'del', () => super.del(key, opts));
  }

  /** @internal Every batch (`db.batch(ops)` and chained batches) is written here: timed as `batch`. */
  override _writePacker(p: BatchPacker, sync: boolean): Promise<void> {
    if (!opChannel.hasSubscribers) return super._writePacker(p, sync);
    return timed(this, 'batch', () => super._writePacker(p, sync));
  }

  // @ts-expect-error TS2416 (NoInfer override, see get)
  override iterator<RK = K, RV = V>(opts?: IteratorOptions<K>): EntryIterator<NoInfer<RK>, NoInfer<RV>> {
    const it = super.iterator<RK, RV>(opts);
    return opChannel.hasSubscribers ? timedIterator(this, it) : it;
  }

  // @ts-expect-error TS2416 (NoInfer override, see get)
  override keys<RK = K>(opts?: IteratorOptions<K>): ItemIterator<NoInfer<RK>> {
    const it = super.keys<RK>(opts);
    return opChannel.hasSubscribers ? timedIterator(this, it) : it;
  }

  // @ts-expect-error TS2416 (NoInfer override, see get)
  override values<RV = V>(opts?: IteratorOptions<K>): ItemIterator<NoInfer<RV>> {
    const it = super.values<RV>(opts);
    return opChannel.hasSubscribers ? timedIterator(this, it) : it;
  }

  /** @internal Loads the index registry (called by `open()`). */
  async _initIndexes(customs: Record<string, CustomExtractor>, declared: IndexDefinition[]): Promise<void> {
    const registry = new IndexRegistry(this as unknown as KvDb<unknown, unknown>, customs);
    await registry.load();
    this.#registry = registry;
    await registry.declare(declared);
  }

  #reg(): IndexRegistry {
    if (this.#registry === undefined || this.status !== 'open') {
      throw new StrataError('STRATA_CLOSED', `database is ${this.status}`);
    }
    return this.#registry;
  }

  #ctx(): { db: KvDb<unknown, unknown>; registry: IndexRegistry } {
    return { db: this as unknown as KvDb<unknown, unknown>, registry: this.#reg() };
  }

  // ---- indexes --------------------------------------------------------------------------

  /**
   * Creates a secondary index and builds it from the existing records while writes go on.
   * Resolves when it is ready (at once with `{ background: true }`). The same name and
   * definition again is a no-op; the same name with another definition is
   * `STRATA_INVALID_ARGUMENT`.
   */
  async createIndex(def: IndexDefinition, opts?: BuildOptions): Promise<IndexInfo> {
    return this.#reg().create(def, opts);
  }

  /** Every index: definition, state (`building`/`ready`), approximate entries and bytes. */
  async listIndexes(): Promise<IndexInfo[]> {
    return this.#reg().list();
  }

  /** Drops an index and deletes its postings. `STRATA_NO_INDEX` if there is none of that name. */
  async dropIndex(name: string): Promise<void> {
    return this.#reg().drop(name);
  }

  /** Rebuilds an index from the records (a fresh build; queries wait for `ready`). */
  async rebuildIndex(name: string, opts?: BuildOptions): Promise<IndexInfo> {
    return this.#reg().rebuild(name, opts);
  }

  // ---- queries --------------------------------------------------------------------------

  /** One page of the records matching `q`, in primary-key order (see the README, "Queries"). */
  async query<RV = V>(q: Query, opts?: QueryOptions): Promise<QueryResult<K, RV>> {
    const run = (): Promise<QueryResult<K, RV>> =>
      withSpan(
        'stratadb.query',
        { 'db.system': 'stratadb', 'stratadb.location': this.location },
        () => runQuery<K, RV>(this.#ctx(), q, opts),
        (span, r) =>
          span.setAttributes({
            'stratadb.query.items': r.items.length,
            'stratadb.query.partial': r.partial === false ? 'false' : r.partial,
            'stratadb.query.more': r.cursor !== null,
            'stratadb.query.postings_scanned': r.stats.postingsScanned,
            'stratadb.query.records_read': r.stats.recordsRead,
            'stratadb.query.seeks': r.stats.seeks,
          }),
      );
    if (!opChannel.hasSubscribers) return run();
    return timed(this, 'query', run, (r) => ({ partial: r.partial }));
  }

  /** The exact number of matches, or with `{ estimate: true }` the planner's estimate. */
  count(q: Query, opts?: { snapshot?: Snapshot }): Promise<number>;
  count(q: Query, opts: { estimate: true; snapshot?: Snapshot }): Promise<CountEstimate>;
  async count(q: Query, opts?: { estimate?: boolean; snapshot?: Snapshot }): Promise<number | CountEstimate> {
    return countQuery(this.#ctx(), q, opts);
  }

  /** The plan the planner chooses, with estimates and (unless `analyze: false`) actual counts. */
  async explain(q: Query, opts?: { analyze?: boolean; snapshot?: Snapshot }): Promise<Explanation> {
    return explainQuery(this.#ctx(), q, opts);
  }

  // ---- backups --------------------------------------------------------------------------

  /**
   * Backs the database up while it runs (see `ts/admin/backup.ts`): into a backup directory
   * (incremental: unchanged SSTables are shared with earlier backups) or, for a target ending
   * in `.tar.gz`/`.tgz`, into one archive. Restore with `restore()`.
   */
  backup(target: string, opts?: BackupOptions): Promise<BackupResult> {
    return backup(this as unknown as KvDb<unknown, unknown>, target, opts);
  }

  /**
   * Streams the records (all, a `prefix` or a `range`) to `target` (a writable stream or a
   * file path) as NDJSON (default), a JSON array or CSV, at one snapshot; see
   * `ts/admin/exchange.ts` for the record model.
   */
  export(target: Writable | string, opts?: ExportOptions): Promise<ExportResult> {
    return exportRecords(this as unknown as KvDb<unknown, unknown>, target, opts);
  }

  /** Reads records from `source` (a readable stream or a file path) and writes them in atomic batches, maintaining the indexes. */
  import(source: Readable | string, opts?: ImportOptions): Promise<ImportResult> {
    return importRecords(this as unknown as KvDb<unknown, unknown>, source, opts);
  }

  // ---- collections ----------------------------------------------------------------------

  /**
   * A MongoDB-style collection of BSON documents at the keys `{name}:{id}` (see the README,
   * "Collections"). Declared `indexes` are created and built when missing; resolves once
   * they are ready.
   */
  async collection<TDoc extends Document = Document>(name: string, opts?: CollectionOptions): Promise<Collection<TDoc>> {
    return openCollection<TDoc>(this as unknown as Db<unknown, unknown>, name, opts);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Flushes the memtable to disk (and logs the flush at once when a logger is set). */
  override async flush(): Promise<void> {
    await super.flush();
    this._pollEvents();
  }

  /** Compacts `[start, end]` (and logs the compactions at once when a logger is set). */
  override async compactRange(start?: KeyInput<K>, end?: KeyInput<K>): Promise<void> {
    await super.compactRange(start, end);
    this._pollEvents();
  }

  /** Closes the database (see `KvDb.close`); the last engine events are logged. */
  override close(): Promise<void> {
    this.#closed ??= super.close().finally(() => {
      this.#pump?.stop();
      this.#pump = undefined;
    });
    return this.#closed;
  }

  /** Checks the files (see `KvDb.verify`) and every ready index against the records. */
  override async verify(): Promise<VerifyResult> {
    const base = await super.verify();
    const registry = this.#reg();
    await registry.maintainer.drain();
    const problems = [...base.problems, ...(await checkIndexes(this as unknown as KvDb<unknown, unknown>, registry))];
    return { ok: problems.length === 0, problems };
  }

  /** @internal Finishes queued index work and pauses builds (they resume at the next open) before closing. */
  protected override async _beforeClose(): Promise<void> {
    await this.#registry?.close();
  }
}

const INDEX_OPTIONS = ['indexes', 'indexesFile', 'extractors', 'logger', 'tracing', 'eventIntervalMs'] as const;

/** Opens (or creates) the database at `location`. */
export async function open<K = string, V = string>(location: string, options?: DbOptions): Promise<Db<K, V>> {
  if (typeof location !== 'string' || location.length === 0) {
    throw invalidArgument(`location must be a non-empty string, got ${describe(location)}`);
  }
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  const o: DbOptions = options ?? {};
  const kv: OpenOptions = { ...o };
  for (const k of INDEX_OPTIONS) delete (kv as Record<string, unknown>)[k];
  const customs = o.extractors ?? {};
  if (customs === null || typeof customs !== 'object' || Array.isArray(customs)) throw invalidArgument('extractors must be an object of functions');
  for (const [name, fn] of Object.entries(customs)) {
    if (typeof fn !== 'function') throw invalidArgument(`extractors.${name} must be a function, got ${describe(fn)}`);
  }
  const declared: IndexDefinition[] = [];
  if (o.indexes !== undefined) {
    if (!Array.isArray(o.indexes)) throw invalidArgument(`indexes must be an array of index definitions, got ${describe(o.indexes)}`);
    o.indexes.forEach((d, i) => declared.push(normalizeIndexDefinition(d, `indexes[${i}]`)));
  }
  if (o.indexesFile !== undefined) {
    if (typeof o.indexesFile !== 'string' || o.indexesFile.length === 0) throw invalidArgument('indexesFile must be a path');
    declared.push(...readIndexesFile(o.indexesFile));
  }
  let logger: EventLogger | undefined;
  let tracer: Tracer | undefined;
  try {
    logger = resolveLogger(o.logger);
    tracer = resolveTracer(o.tracing);
  } catch (e) {
    throw invalidArgument(e instanceof Error ? e.message : String(e));
  }
  const interval = o.eventIntervalMs;
  if (interval !== undefined && (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1)) {
    throw invalidArgument(`eventIntervalMs must be a positive integer, got ${describe(interval)}`);
  }
  const db = new Db<K, V>(location, normalizeOptions(kv));
  await db._ready();
  const listeners: EventListener[] = [];
  if (logger !== undefined) listeners.push(logListener(logger, db.location));
  if (tracer !== undefined) listeners.push(traceListener(tracer, db.location));
  if (listeners.length > 0) db._startEvents(listeners, interval);
  try {
    await db._initIndexes(customs, declared);
    // An import that a crash interrupted is rolled back (nothing half-imported is ever read
    // by the caller); a read-only open cannot write and leaves it to the next writable open.
    if (!db.options.readOnly) {
      const r = await recoverImports(db as unknown as KvDb<unknown, unknown>);
      if (r.rolledBack > 0) logger?.warn({ event: 'import_rolled_back', imports: r.rolledBack, keys: r.keys }, 'an interrupted import was rolled back');
    }
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return db;
}
