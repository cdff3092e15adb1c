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

/**
 * One instance's operations of one kind, tallied as they finish and read at scrape time. A few
 * field increments per operation instead of prom-client's labelled `inc` and `observe` (a
 * labels object, label validation and a hash string per call).
 */
interface OpTally {
  readonly instance: string;
  readonly op: OpKind;
  /** `strata_operations_total` by result. */
  ok: number;
  error: number;
  /**
   * `strata_operation_duration_seconds` since the histogram's last `reset()`: count, sum and
   * per-bucket counts (not cumulative: `buckets[i]` counts the observations in
   * `(LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]`; one above the last bound only `count`).
   */
  count: number;
  sum: number;
  readonly buckets: Float64Array;
  /** In the histogram's series (observed since its last `reset()`). */
  listed: boolean;
}

/** An attached database: its `instance` label and its tallies. */
interface Attached {
  readonly instance: string;
  readonly ops: Map<OpKind, OpTally>;
  /** `strata_operations_total`'s series of this instance, in the order they first moved. */
  readonly results: Array<readonly [OpTally, 'ok' | 'error']>;
}

type SeriesValue = { labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; metricName: string; exemplar: null | undefined };
type HistogramData = Awaited<ReturnType<Histogram<'instance' | 'op'>['get']>>;

/**
 * `strata_operation_duration_seconds`: a prom-client `Histogram` whose series are read from
 * the tallies at scrape time instead of from its own `observe` calls (never called: what they
 * recorded would not be exported).
 * Its output — `getMetricsAsJSON()` and the exposition text — is prom-client's own for the
 * same observations: the same values, series in the order they were first observed, gone on
 * `reset()` or when their database detaches (`__test__/metrics.spec.ts` compares the two).
 */
class TalliedHistogram extends Histogram<'instance' | 'op'> {
  readonly #name: string;
  readonly #help: string;
  /** The tallies with a series, in the order of their first observation since `reset()` (prom-client's order). */
  #series: OpTally[] = [];

  constructor(config: { name: string; help: string; labelNames: ['instance', 'op']; buckets: number[]; registers: Registry[] }) {
    super(config);
    this.#name = config.name;
    this.#help = config.help;
  }

  /** Notes that `t`, just observed, has a series (the caller checked `!t.listed`). */
  list(t: OpTally): void {
    t.listed = true;
    this.#series.push(t);
  }

  /** Drops the series of a detached instance. */
  drop(instance: string): void {
    this.#series = this.#series.filter((t) => t.instance !== instance);
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (!(#series in this)) return;
    for (const t of this.#series) {
      t.count = 0;
      t.sum = 0;
      t.buckets.fill(0);
      t.listed = false;
    }
    this.#series = [];
  }

  /** The series as prom-client's Histogram makes them: labels `le`, shared labels `instance` and `op`. */
  #values(): SeriesValue[] {
    const out: SeriesValue[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const t of this.#series) {
      const sharedLabels = { instance: t.instance, op: t.op };
      let acc = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        acc += t.buckets[i] as number;
        out.push({ labels: { le: LATENCY_BUCKETS[i] as number }, sharedLabels, value: acc, metricName: bucket, exemplar: null });
      }
      out.push({ labels: { le: '+Inf' }, sharedLabels, value: t.count, metricName: bucket, exemplar: null });
      out.push({ labels: {}, sharedLabels, value: t.sum, metricName: `${this.#name}_sum`, exemplar: undefined });
      out.push({ labels: {}, sharedLabels, value: t.count, metricName: `${this.#name}_count`, exemplar: undefined });
    }
    return out;
  }

  /** What the registry formats as text (prom-client's Registry calls it when a metric has it, else `get()`). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: SeriesValue[]; aggregator: string }> {
    return { name: this.#name, help: this.#help, type: 'histogram', values: this.#values(), aggregator: 'sum' };
  }

  override async get(): Promise<HistogramData> {
    const values = this.#values().map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    // prom-client's type has no `le` among the labels its own values carry.
    return { name: this.#name, help: this.#help, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramData;
  }
}

/** The metrics of one registry and the databases attached to it. */
class StrataMetrics {
  readonly sources = new Map<string, MetricsSource>();
  readonly #byDb = new Map<object, Attached>();
  /** The attached databases by instance, in the order they were attached (`strata_operations_total`'s order). */
  readonly #attached = new Map<string, Attached>();
  readonly ops: Counter<'instance' | 'op' | 'result'>;
  readonly latency: TalliedHistogram;
  readonly partials: Counter<'instance' | 'reason'>;
  #scrape: Promise<Map<string, Scrape>> | undefined;
  readonly #onOp = (m: unknown): void => {
    const msg = m as OpMessage;
    const a = this.#byDb.get(msg.db);
    if (a === undefined) return;
    let t = a.ops.get(msg.op);
    if (t === undefined) {
      t = { instance: a.instance, op: msg.op, ok: 0, error: 0, count: 0, sum: 0, buckets: new Float64Array(LATENCY_BUCKETS.length), listed: false };
      a.ops.set(msg.op, t);
    }
    if (msg.ok) {
      if (t.ok++ === 0) a.results.push([t, 'ok']);
    } else if (t.error++ === 0) a.results.push([t, 'error']);
    const s = msg.ms / 1000;
    t.count++;
    t.sum += s;
    // The first bound >= s (prom-client's `findBound`); above the last one only the count moves.
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (s <= (LATENCY_BUCKETS[i] as number)) {
        (t.buckets[i] as number)++;
        break;
      }
    }
    if (!t.listed) this.latency.list(t);
    if (msg.partial !== undefined && msg.partial !== false) this.partials.inc({ instance: a.instance, reason: msg.partial });
  };

  constructor(registry: Registry) {
    const registers = [registry];
    const attached = this.#attached;
    this.ops = new Counter({
      name: 'strata_operations_total',
      help: 'Operations completed, by kind and result (iterator: iterators closed).',
      labelNames: ['instance', 'op', 'result'],
      registers,
      collect() {
        this.reset();
        for (const a of attached.values()) {
          for (const [t, result] of a.results) this.inc({ instance: a.instance, op: t.op, result }, t[result]);
        }
      },
    });
    this.latency = new TalliedHistogram({
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
    const a: Attached = { instance, ops: new Map(), results: [] };
    this.#byDb.set(db, a);
    this.#attached.set(instance, a);
    // Subscribed only while a database is attached: with no subscriber, Db does not time anything.
    if (this.sources.size === 1) dc.subscribe(OP_CHANNEL, this.#onOp);
  }

  remove(db: MetricsSource, instance: string): void {
    if (this.sources.get(instance) !== db) return;
    this.sources.delete(instance);
    // Its operation series go with its tallies.
    this.#byDb.delete(db);
    this.#attached.delete(instance);
    this.latency.drop(instance);
    if (this.sources.size === 0) dc.unsubscribe(OP_CHANNEL, this.#onOp);
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
