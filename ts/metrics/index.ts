/**
 * Prometheus metrics (prom-client) for StrataDB databases.
 *
 * `collectMetrics(db, registry, { instance })` registers StrataDB's metrics in `registry`
 * (once per registry) and adds `db` to them under the label `instance` (default: its
 * directory), so several databases share one registry and are told apart by that label.
 *
 * - Engine figures (levels, memtable, WAL, flushes, compactions, cache, bloom filter, stalls)
 *   are read from `db.stats()` when the registry is scraped (collect callbacks; one
 *   `stats()` per database per scrape), and index figures from `db.listIndexes()`.
 * - Operation counters and latency histograms come from the `stratadb:op` diagnostics
 *   channel (`ts/diagnostics.ts`), which `Db` publishes on only while someone subscribes: a
 *   database with no metrics attached pays nothing.
 *
 * The names and what they mean are in `docs/operations.md`.
 */
import * as dc from 'node:diagnostics_channel';

import { Counter, Gauge, Histogram, Registry, register as defaultRegistry } from 'prom-client';

import type { Stats } from '../database';
import { OP_CHANNEL, OpKind, OpMessage } from '../diagnostics';
import type { IndexInfo } from '../indexes/registry';

/** What `collectMetrics` needs from a database (a `Db` has it; `listIndexes` is optional). */
export interface MetricsSource {
  readonly location: string;
  stats(): Promise<Stats>;
  listIndexes?(): Promise<IndexInfo[]>;
}

/** Options of `collectMetrics`. */
export interface CollectOptions {
  /** The value of the `instance` label (default: the database's directory). */
  instance?: string;
}

/** Latency buckets in seconds: 10 µs to 10 s. */
export const LATENCY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

const OPS: readonly OpKind[] = ['get', 'getMany', 'put', 'del', 'batch', 'iterator', 'query'];

type StatCounter = readonly [name: string, help: string, value: (s: Stats) => number];

/** Engine counters, mirrored from `db.stats()` at scrape time. */
const STAT_COUNTERS: readonly StatCounter[] = [
  ['strata_flushes_total', 'Memtable flushes completed.', (s) => s.flushes],
  ['strata_flush_bytes_total', 'Bytes written by flushes (new L0 tables).', (s) => s.flushBytes],
  ['strata_compactions_total', 'Compactions completed (trivial moves included).', (s) => s.compactions],
  ['strata_compaction_read_bytes_total', 'Bytes read by compactions.', (s) => s.compactionBytesRead],
  ['strata_compaction_written_bytes_total', 'Bytes written by compactions.', (s) => s.compactionBytesWritten],
  ['strata_user_written_bytes_total', 'Bytes of keys and values written by users.', (s) => s.userBytesWritten],
  ['strata_wal_written_bytes_total', 'Bytes appended to WAL files.', (s) => s.walBytesWritten],
  ['strata_wal_syncs_total', 'WAL fsyncs performed (group commit shares them between sync writers).', (s) => s.walSyncs],
  ['strata_sync_writes_total', 'Writes that asked for sync.', (s) => s.syncWrites],
  ['strata_write_stalls_total', 'Writes that waited for a flush because too many immutable memtables were waiting.', (s) => s.writeStalls],
  ['strata_write_stall_seconds_total', 'Seconds writes spent stalled.', (s) => s.writeStallMicros / 1e6],
  ['strata_block_cache_hits_total', 'Block-cache lookups that found the block.', (s) => s.blockCacheHits],
  ['strata_block_cache_misses_total', 'Block-cache lookups that read the block from the file.', (s) => s.blockCacheMisses],
  ['strata_bloom_checks_total', 'Point lookups that consulted a bloom filter.', (s) => s.bloomChecks],
  ['strata_bloom_negatives_total', 'Point lookups a bloom filter answered "absent" (a data-block read avoided).', (s) => s.bloomNegatives],
];

/** Engine gauges, read from `db.stats()` at scrape time. */
const STAT_GAUGES: readonly StatCounter[] = [
  ['strata_memtable_bytes', 'Approximate bytes in the active memtable.', (s) => s.memtableBytes],
  ['strata_immutable_memtables', 'Immutable memtables waiting for flush.', (s) => s.immutableMemtables],
  ['strata_wal_bytes', 'Bytes in live WAL files.', (s) => s.walBytes],
  ['strata_pending_compaction_bytes', 'Estimated bytes compaction must rewrite to bring every level within its target.', (s) => s.pendingCompactionBytes],
  ['strata_write_amplification', '(Flush + compaction bytes written) / user bytes written.', (s) => s.writeAmplification],
  ['strata_block_cache_bytes', 'Bytes held by the block cache.', (s) => s.blockCacheBytes],
  ['strata_live_snapshots', 'Snapshots currently held (they keep old versions from compaction).', (s) => s.liveSnapshots],
  ['strata_last_sequence', 'The last sequence number assigned.', (s) => s.lastSequence],
  ['strata_read_only', '1 when a background failure made the database read-only.', (s) => (s.readOnlyReason === undefined ? 0 : 1)],
];

interface Scrape {
  stats?: Stats;
  indexes?: IndexInfo[];
}

/** The metrics of one registry and the databases attached to it. */
class StrataMetrics {
  readonly sources = new Map<string, MetricsSource>();
  readonly #byDb = new Map<object, string>();
  readonly ops: Counter<'instance' | 'op' | 'result'>;
  /** Operation counts by instance, then `op:result`; copied into `ops` at scrape time (a plain increment is cheaper than prom-client's labelled `inc`). */
  readonly #counts = new Map<string, Map<string, number>>();
  readonly latency: Histogram<'instance' | 'op'>;
  readonly partials: Counter<'instance' | 'reason'>;
  #scrape: Promise<Map<string, Scrape>> | undefined;
  readonly #onOp = (m: unknown): void => {
    const msg = m as OpMessage;
    const instance = this.#byDb.get(msg.db);
    if (instance === undefined) return;
    const counts = this.#counts.get(instance);
    if (counts !== undefined) {
      const key = msg.ok ? `${msg.op}:ok` : `${msg.op}:error`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    this.latency.observe({ instance, op: msg.op }, msg.ms / 1000);
    if (msg.partial !== undefined && msg.partial !== false) this.partials.inc({ instance, reason: msg.partial });
  };

  constructor(registry: Registry) {
    const registers = [registry];
    const counts = this.#counts;
    this.ops = new Counter({
      name: 'strata_operations_total',
      help: 'Operations completed, by kind and result (iterator: iterators closed).',
      labelNames: ['instance', 'op', 'result'],
      registers,
      collect() {
        this.reset();
        for (const [instance, byOp] of counts) {
          for (const [key, n] of byOp) {
            const [op = '', result = ''] = key.split(':');
            this.inc({ instance, op, result }, n);
          }
        }
      },
    });
    this.latency = new Histogram({
      name: 'strata_operation_duration_seconds',
      help: 'Operation latency from the call to the settling of its promise (iterator: from creation to close).',
      labelNames: ['instance', 'op'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.partials = new Counter({
      name: 'strata_query_partials_total',
      help: 'Query pages that stopped early (timeoutMs or maxPostingsScanned), by reason.',
      labelNames: ['instance', 'reason'],
      registers,
    });
    const self = this;
    for (const [name, help, value] of STAT_COUNTERS) {
      new Counter({
        name,
        help,
        labelNames: ['instance'],
        registers,
        async collect() {
          const all = await self.scrape();
          this.reset();
          for (const [instance, s] of all) if (s.stats) this.inc({ instance }, value(s.stats));
        },
      });
    }
    for (const [name, help, value] of STAT_GAUGES) {
      new Gauge({
        name,
        help,
        labelNames: ['instance'],
        registers,
        async collect() {
          const all = await self.scrape();
          this.reset();
          for (const [instance, s] of all) if (s.stats) this.set({ instance }, value(s.stats));
        },
      });
    }
    const perLevel = (name: string, help: string, value: (l: { files: number; bytes: number }) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['instance', 'level'],
        registers,
        async collect() {
          const all = await self.scrape();
          this.reset();
          for (const [instance, s] of all) s.stats?.levels.forEach((l, i) => this.set({ instance, level: String(i) }, value(l)));
        },
      });
    };
    perLevel('strata_level_files', 'SSTables per level.', (l) => l.files);
    perLevel('strata_level_bytes', 'Bytes of the SSTables per level.', (l) => l.bytes);
    const perIndex = (name: string, help: string, value: (i: IndexInfo) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['instance', 'index'],
        registers,
        async collect() {
          const all = await self.scrape();
          this.reset();
          for (const [instance, s] of all) for (const i of s.indexes ?? []) this.set({ instance, index: i.name }, value(i));
        },
      });
    };
    perIndex('strata_index_entries', 'Approximate postings of each secondary index.', (i) => i.entries);
    perIndex('strata_index_bytes', 'Approximate bytes of the postings of each secondary index (uncompressed).', (i) => i.bytes);
    perIndex('strata_index_building', '1 while the index is being built (queries on it wait).', (i) => (i.state === 'ready' ? 0 : 1));
  }

  /** The figures of every attached database, read once per scrape (all collect callbacks of one scrape run in one turn). */
  scrape(): Promise<Map<string, Scrape>> {
    if (this.#scrape === undefined) {
      this.#scrape = this.#read();
      queueMicrotask(() => (this.#scrape = undefined));
    }
    return this.#scrape;
  }

  async #read(): Promise<Map<string, Scrape>> {
    const out = new Map<string, Scrape>();
    await Promise.all(
      [...this.sources].map(async ([instance, db]) => {
        const s: Scrape = {};
        // A closed database has no figures: its series disappear until it is detached.
        s.stats = await db.stats().catch(() => undefined);
        if (s.stats !== undefined && typeof db.listIndexes === 'function') s.indexes = await db.listIndexes().catch(() => undefined);
        out.set(instance, s);
      }),
    );
    return out;
  }

  add(db: MetricsSource, instance: string): void {
    if (this.sources.has(instance)) throw new TypeError(`collectMetrics: instance '${instance}' is already in this registry`);
    this.sources.set(instance, db);
    this.#byDb.set(db, instance);
    this.#counts.set(instance, new Map());
    // Subscribed only while a database is attached: with no subscriber, Db does not time anything.
    if (this.sources.size === 1) dc.subscribe(OP_CHANNEL, this.#onOp);
  }

  remove(db: MetricsSource, instance: string): void {
    if (this.sources.get(instance) !== db) return;
    this.sources.delete(instance);
    this.#byDb.delete(db);
    this.#counts.delete(instance);
    if (this.sources.size === 0) dc.unsubscribe(OP_CHANNEL, this.#onOp);
    for (const op of OPS) {
      this.latency.remove({ instance, op });
    }
    for (const reason of ['timeout', 'maxPostingsScanned']) this.partials.remove({ instance, reason });
  }
}

const perRegistry = new WeakMap<Registry, StrataMetrics>();

/**
 * Adds `db`'s metrics to `registry` (default: prom-client's global registry), labelled
 * `instance` (default: the database's directory). Returns a function that removes them
 * again. Two databases with the same `instance` in one registry are an error.
 */
export function collectMetrics(db: MetricsSource, registry: Registry = defaultRegistry, opts: CollectOptions = {}): () => void {
  const instance = opts.instance ?? db.location;
  if (typeof instance !== 'string' || instance.length === 0) throw new TypeError('collectMetrics: instance must be a non-empty string');
  let m = perRegistry.get(registry);
  if (m === undefined) {
    m = new StrataMetrics(registry);
    perRegistry.set(registry, m);
  }
  m.add(db, instance);
  const metrics = m;
  return () => metrics.remove(db, instance);
}

/** What `metricsHandler` answers: the exposition text and its content type. */
export interface MetricsResponse {
  contentType: string;
  body: string;
}

/**
 * A handler for a `/metrics` route: `() => Promise<{ contentType, body }>`. With fastify:
 * `app.get('/metrics', async (_req, reply) => { const m = await handler(); reply.type(m.contentType); return m.body; })`.
 */
export function metricsHandler(registry: Registry = defaultRegistry): () => Promise<MetricsResponse> {
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}
