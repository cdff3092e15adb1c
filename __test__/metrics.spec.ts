/**
 * Prometheus metrics (`collectMetrics`, `metricsHandler`): the series appear, counters move
 * by exactly the operations made, histograms count them, engine gauges match `db.stats()`,
 * and two databases in one registry are told apart by `instance`.
 */
import * as dc from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { Counter, Histogram, Registry, RegistryContentType } from 'prom-client';

import { collectMetrics, IndexDefinition, LATENCY_BUCKETS, metricsHandler, OP_CHANNEL, Query } from '../ts/index';
import { opChannel, OpMessage } from '../ts/diagnostics';
import { fresh } from './helpers';

const CITY: IndexDefinition = { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } };
const AGE: IndexDefinition = { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } };

type Labels = Record<string, string>;

async function series(registry: Registry, name: string): Promise<{ labels: Labels; value: number; metricName?: string }[]> {
  const all = await registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  return m.values.map((v) => ({ labels: v.labels as Labels, value: v.value, metricName: (v as { metricName?: string }).metricName }));
}

async function value(registry: Registry, name: string, labels: Labels, metricName = name): Promise<number | undefined> {
  const vs = await series(registry, name);
  const hit = vs.find((v) => (v.metricName ?? name) === metricName && Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value;
}

const ops = (r: Registry, instance: string, op: string, result = 'ok'): Promise<number | undefined> =>
  value(r, 'strata_operations_total', { instance, op, result });
const timings = (r: Registry, instance: string, op: string): Promise<number | undefined> =>
  value(r, 'strata_operation_duration_seconds', { instance, op }, 'strata_operation_duration_seconds_count');

test.serial('operation counters and histograms move by exactly the operations made', async (t) => {
  const registry = new Registry();
  const db = await fresh();
  t.false(opChannel.hasSubscribers, 'nothing subscribes before collectMetrics');
  const detach = collectMetrics(db, registry, { instance: 'a' });
  for (let i = 0; i < 5; i++) await db.put(`k${i}`, `v${i}`);
  for (let i = 0; i < 3; i++) await db.get(`k${i}`);
  await db.get('missing');
  await db.del('k4');
  await db.del('k3');
  await db.batch([{ type: 'put', key: 'b1', value: 'x' }, { type: 'del', key: 'k0' }]);
  await db.batch().put('b2', 'y').write();
  await db.getMany(['k1', 'k2']);
  await db.iterator().all();
  for await (const k of db.keys({ limit: 2 })) t.truthy(k);
  await t.throwsAsync(() => db.get(undefined as unknown as string));

  t.is(await ops(registry, 'a', 'put'), 5);
  t.is(await timings(registry, 'a', 'put'), 5);
  t.is(await ops(registry, 'a', 'get'), 4);
  t.is(await ops(registry, 'a', 'get', 'error'), 1);
  t.is(await timings(registry, 'a', 'get'), 5, 'the failed get is timed too');
  t.is(await ops(registry, 'a', 'del'), 2);
  t.is(await ops(registry, 'a', 'batch'), 2, 'an array batch and a chained batch');
  t.is(await timings(registry, 'a', 'batch'), 2);
  t.is(await ops(registry, 'a', 'getMany'), 1);
  t.is(await ops(registry, 'a', 'iterator'), 2, 'two iterators closed');
  t.is(await timings(registry, 'a', 'iterator'), 2);
  const sum = await value(registry, 'strata_operation_duration_seconds', { instance: 'a', op: 'put' }, 'strata_operation_duration_seconds_sum');
  t.true(sum !== undefined && sum >= 0);

  t.true(opChannel.hasSubscribers);
  detach();
  t.false(opChannel.hasSubscribers, 'no database attached: nothing is timed');
  await db.put('after', 'detach');
  t.is(await ops(registry, 'a', 'put'), undefined, 'detached: the series are gone and nothing is counted');
  await db.close();
});

test.serial('the operation counter and latency histogram export what prom-client fed the same operations exports, through reset and detach', async (t) => {
  const registry = new Registry();
  const db = await fresh();
  const other = await fresh();
  const detach = [collectMetrics(db, registry, { instance: 'h' }), collectMetrics(other, registry, { instance: 'h2' })];
  // The same messages into prom-client's own Histogram, and into the counter as it was kept
  // before the tallies (counts by instance in attach order, then by op and result in the order
  // they first moved, copied into a Counter at scrape time).
  const reference = new Registry();
  const hist = 'strata_operation_duration_seconds';
  const total = 'strata_operations_total';
  const plain = new Histogram({
    name: hist,
    help: 'Operation latency from the call to the settling of its promise (iterator: from creation to close).',
    labelNames: ['instance', 'op'],
    buckets: [...LATENCY_BUCKETS],
    registers: [reference],
  });
  const counts = new Map<string, Map<string, number>>([
    ['h', new Map()],
    ['h2', new Map()],
  ]);
  new Counter({
    name: total,
    help: 'Operations completed, by kind and result (iterator: iterators closed).',
    labelNames: ['instance', 'op', 'result'],
    registers: [reference],
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
  const instanceOf = new Map<object, string>([
    [db, 'h'],
    [other, 'h2'],
  ]);
  const feed = (m: unknown): void => {
    const msg = m as OpMessage;
    const instance = instanceOf.get(msg.db);
    if (instance === undefined) return;
    const byOp = counts.get(instance);
    const key = `${msg.op}:${msg.ok ? 'ok' : 'error'}`;
    byOp?.set(key, (byOp.get(key) ?? 0) + 1);
    plain.observe({ instance, op: msg.op }, msg.ms / 1000);
  };
  const same = async (what: string): Promise<void> => {
    const mine = await registry.getMetricsAsJSON();
    const theirs = await reference.getMetricsAsJSON();
    for (const name of [hist, total]) {
      t.deepEqual(
        mine.find((m) => m.name === name),
        theirs.find((m) => m.name === name),
        `${what}: ${name} as JSON`,
      );
      t.is(await registry.getSingleMetricAsString(name), await reference.getSingleMetricAsString(name), `${what}: ${name} as text`);
    }
  };
  dc.subscribe(OP_CHANNEL, feed);
  try {
    // The instance attached second moves first; a get fails before any succeeds; timings over
    // several buckets: cached gets, a big batch, iterators held open for a while.
    await other.put('o', '1');
    await t.throwsAsync(() => db.get(undefined as unknown as string));
    for (let i = 0; i < 20; i++) await db.put(`k${i}`, `v${i}`);
    for (let i = 0; i < 50; i++) await db.get(`k${i % 25}`);
    await db.batch(Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: `b${i}`, value: 'x'.repeat(50) })));
    for (const ms of [1, 15, 60]) {
      const it = db.iterator();
      await sleep(ms);
      await it.close();
    }
    await other.get('o');
    // Timings on every bound (a bound is inclusive: `le`), and past the last one (+Inf only).
    for (const b of LATENCY_BUCKETS) {
      t.is((b * 1000) / 1000, b);
      opChannel.publish({ db, op: 'getMany', ms: b * 1000, ok: true } satisfies OpMessage);
    }
    opChannel.publish({ db, op: 'getMany', ms: 60_000, ok: false } satisfies OpMessage);
    await same('after the operations');
    const bucket = async (le: number | string): Promise<number | undefined> =>
      (await series(registry, hist)).find((v) => v.metricName === `${hist}_bucket` && v.labels.instance === 'h' && v.labels.op === 'getMany' && (v.labels.le as unknown) === le)?.value;
    t.is(await bucket(0.00001), 1, 'a timing on a bound is in its bucket');
    t.is(await bucket(10), LATENCY_BUCKETS.length);
    t.is(await bucket('+Inf'), LATENCY_BUCKETS.length + 1);
    const theirs = (await reference.getMetricsAsJSON()).find((m) => m.name === hist);
    const buckets = new Set(theirs?.values.filter((v) => (v as { metricName?: string }).metricName === `${hist}_bucket` && v.value > 0).map((v) => v.labels.le));
    t.true(buckets.size > 5, 'the timings fall in several buckets');
    const text = await registry.getSingleMetricAsString(total);
    t.true(text.indexOf('instance="h"') < text.indexOf('instance="h2"'), 'the counter in attach order');
    t.true(text.indexOf('op="get",result="error"') < text.indexOf('op="put",result="ok"'), 'then in the order the series first moved');

    // resetMetrics() empties the histogram (its series come back as they are observed again);
    // the counter is rebuilt from the counts at every scrape.
    registry.resetMetrics();
    reference.resetMetrics();
    await same('after resetMetrics()');
    await db.del('k1');
    await other.put('p', '2');
    await db.get('k2');
    await same('observed again after resetMetrics()');

    // A detached database's series go, and its operations are not counted any more.
    detach[1]?.();
    instanceOf.delete(other);
    counts.delete('h2');
    for (const op of ['get', 'getMany', 'put', 'del', 'batch', 'iterator', 'query']) plain.remove({ instance: 'h2', op });
    await other.put('q', '3');
    await db.put('r', '4');
    await same('after a detach');
    t.false((await registry.getSingleMetricAsString(hist)).includes('h2'));

    // Default labels and the OpenMetrics format.
    registry.setDefaultLabels({ host: 'x' });
    reference.setDefaultLabels({ host: 'x' });
    await same('with default labels');
    // (prom-client's types bind a registry to the content type it was made with.)
    for (const r of [registry, reference]) (r as unknown as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    await same('as OpenMetrics');
  } finally {
    dc.unsubscribe(OP_CHANNEL, feed);
    detach.forEach((d) => d());
    await db.close();
    await other.close();
  }
});

test('engine gauges and counters match db.stats() at scrape time', async (t) => {
  const registry = new Registry();
  const db = await fresh({ memtableSize: 64 * 1024 });
  collectMetrics(db, registry, { instance: 'e' });
  for (let round = 0; round < 3; round++) {
    await db.batch(Array.from({ length: 200 }, (_, i) => ({ type: 'put' as const, key: `r${round}:${String(i).padStart(4, '0')}`, value: 'x'.repeat(100) })));
    await db.flush();
  }
  const before = await db.stats();
  t.is(await value(registry, 'strata_flushes_total', { instance: 'e' }), before.flushes);
  t.is(await value(registry, 'strata_level_files', { instance: 'e', level: '0' }), before.levels[0]?.files);
  await db.compactRange();
  for (let i = 0; i < 50; i++) await db.get(`r1:${String(i).padStart(4, '0')}`);
  await db.get('absent-key');
  const s = await db.stats();
  const want: [string, number][] = [
    ['strata_flushes_total', s.flushes],
    ['strata_flush_bytes_total', s.flushBytes],
    ['strata_compactions_total', s.compactions],
    ['strata_compaction_read_bytes_total', s.compactionBytesRead],
    ['strata_compaction_written_bytes_total', s.compactionBytesWritten],
    ['strata_user_written_bytes_total', s.userBytesWritten],
    ['strata_wal_written_bytes_total', s.walBytesWritten],
    ['strata_block_cache_hits_total', s.blockCacheHits],
    ['strata_block_cache_misses_total', s.blockCacheMisses],
    ['strata_bloom_checks_total', s.bloomChecks],
    ['strata_bloom_negatives_total', s.bloomNegatives],
    ['strata_write_stalls_total', s.writeStalls],
    ['strata_write_stall_seconds_total', s.writeStallMicros / 1e6],
    ['strata_memtable_bytes', s.memtableBytes],
    ['strata_immutable_memtables', s.immutableMemtables],
    ['strata_wal_bytes', s.walBytes],
    ['strata_pending_compaction_bytes', s.pendingCompactionBytes],
    ['strata_write_amplification', s.writeAmplification],
    ['strata_read_only', 0],
  ];
  for (const [name, v] of want) t.is(await value(registry, name, { instance: 'e' }), v, name);
  t.true(s.compactions > before.compactions);
  t.true(s.blockCacheHits + s.blockCacheMisses > 0, 'the gets read blocks');
  for (const [i, l] of s.levels.entries()) {
    t.is(await value(registry, 'strata_level_files', { instance: 'e', level: String(i) }), l.files, `L${i} files`);
    t.is(await value(registry, 'strata_level_bytes', { instance: 'e', level: String(i) }), l.bytes, `L${i} bytes`);
  }
  await db.close();
  t.is(await value(registry, 'strata_flushes_total', { instance: 'e' }), undefined, 'a closed database has no engine series');
});

test('queries are counted and timed, partial pages counted by reason, index entries exported', async (t) => {
  const registry = new Registry();
  const db = await fresh<string, { city: string; age: number }>({ valueEncoding: 'json', indexes: [CITY, AGE] });
  collectMetrics(db, registry, { instance: 'q' });
  await db.batch(Array.from({ length: 600 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: { city: i % 50 === 0 ? 'rare' : 'common', age: i % 100 } })));
  const q: Query = { and: [{ index: 'city', eq: 'rare' }, { index: 'age', gte: 0, lt: 100 }] };
  let pages = 0;
  let partials = 0;
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit: 1000, cursor, maxPostingsScanned: 50, values: false });
    pages++;
    if (page.partial !== false) partials++;
    cursor = page.cursor;
  } while (cursor !== null && pages < 1000);
  t.true(partials > 0);
  t.is(await ops(registry, 'q', 'query'), pages);
  t.is(await timings(registry, 'q', 'query'), pages);
  t.is(await value(registry, 'strata_query_partials_total', { instance: 'q', reason: 'maxPostingsScanned' }), partials);
  t.is(await ops(registry, 'q', 'batch'), 1);
  const infos = await db.listIndexes();
  for (const info of infos) {
    t.is(await value(registry, 'strata_index_entries', { instance: 'q', index: info.name }), info.entries);
    t.is(await value(registry, 'strata_index_building', { instance: 'q', index: info.name }), 0);
  }
  t.true((infos.find((i) => i.name === 'city')?.entries ?? 0) > 0);
  await db.close();
});

test('two databases in one registry are told apart by instance; the handler serves the text format', async (t) => {
  const registry = new Registry();
  const a = await fresh();
  const b = await fresh();
  collectMetrics(a, registry, { instance: 'alpha' });
  collectMetrics(b, registry);
  t.throws(() => collectMetrics(b, registry, { instance: 'alpha' }), { message: /already/ });
  await a.put('x', '1');
  await a.put('y', '2');
  await b.put('x', '1');
  t.is(await ops(registry, 'alpha', 'put'), 2);
  t.is(await ops(registry, b.location, 'put'), 1, 'default instance: the directory');
  const res = await metricsHandler(registry)();
  t.regex(res.contentType, /^text\/plain/);
  t.regex(res.body, /strata_operations_total\{instance="alpha",op="put",result="ok"\} 2/);
  t.regex(res.body, /# TYPE strata_level_files gauge/);
  t.regex(res.body, /# TYPE strata_flushes_total counter/);
  t.regex(res.body, /strata_memtable_bytes\{instance="alpha"\} \d+/);
  await a.close();
  await b.close();
});
