/**
 * Traces through @opentelemetry/api: a span per query; with `tracing: true`, one span per
 * flush and compaction made from the engine's events with their real times; nothing
 * recorded while no SDK is registered. Serial: the global tracer provider is process-wide.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import test from 'ava';

import { IndexDefinition, TRACER_NAME } from '../ts/index';
import { fresh } from './helpers';

const CITY: IndexDefinition = { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } };

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const ms = (s: ReadableSpan, which: 'startTime' | 'endTime'): number => s[which][0] * 1000 + s[which][1] / 1e6;

test.serial('without a registered SDK, queries, flushes and compactions record nothing', async (t) => {
  const db = await fresh<string, { city: string }>({ valueEncoding: 'json', indexes: [CITY], tracing: true });
  await db.put('a', { city: 'x' });
  t.is((await db.query({ index: 'city', eq: 'x' })).items.length, 1);
  await db.flush();
  await db.compactRange();
  t.false(trace.getTracer(TRACER_NAME).startSpan('probe').isRecording(), 'no SDK: non-recording spans');
  await db.close();
  t.is(exporter.getFinishedSpans().length, 0);
});

test.serial('with an SDK: a span per query with its attributes, and flush and compaction spans with real durations', async (t) => {
  t.true(trace.setGlobalTracerProvider(provider));
  const db = await fresh<string, { city: string }>({ valueEncoding: 'json', indexes: [CITY], tracing: true });
  await db.batch(Array.from({ length: 20 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: { city: i % 2 === 0 ? 'even' : 'odd' } })));
  const page = await db.query({ index: 'city', eq: 'even' }, { values: false });
  const queries = exporter.getFinishedSpans().filter((s) => s.name === 'stratadb.query');
  t.is(queries.length, 1);
  const q = queries[0] as ReadableSpan;
  t.is(q.instrumentationScope.name, TRACER_NAME);
  t.like(q.attributes, {
    'db.system': 'stratadb',
    'stratadb.location': db.location,
    'stratadb.query.items': page.items.length,
    'stratadb.query.partial': 'false',
    'stratadb.query.postings_scanned': page.stats.postingsScanned,
  });
  await t.throwsAsync(() => db.query({ index: 'nope', eq: 1 }));
  const failed = exporter.getFinishedSpans().filter((s) => s.name === 'stratadb.query')[1];
  t.is(failed?.status.code, 2, 'an error status on a failed query');

  await db.flush();
  const flushes = exporter.getFinishedSpans().filter((s) => s.name === 'stratadb.flush');
  t.is(flushes.length, 1);
  const f = flushes[0] as ReadableSpan;
  const stats = await db.stats();
  t.like(f.attributes, { 'stratadb.bytes': stats.flushBytes, 'db.system': 'stratadb' });
  t.true(ms(f, 'endTime') >= ms(f, 'startTime'));

  await db.put('k0', { city: 'odd' });
  await db.compactRange();
  const compactions = exporter.getFinishedSpans().filter((s) => s.name === 'stratadb.compaction');
  const after = await db.stats();
  t.is(compactions.length, after.compactions);
  t.true(compactions.length >= 1);
  t.is(
    compactions.reduce((n, s) => n + (s.attributes['stratadb.bytes_written'] as number), 0),
    after.compactionBytesWritten,
  );
  for (const c of compactions) {
    t.true(Array.isArray(c.attributes['stratadb.inputs']));
    t.true(ms(c, 'endTime') >= ms(c, 'startTime'));
  }
  await db.close();
});

test.serial('without tracing: true, queries are traced but flushes are not', async (t) => {
  exporter.reset();
  const db = await fresh<string, { city: string }>({ valueEncoding: 'json', indexes: [CITY] });
  await db.put('a', { city: 'x' });
  await db.query({ index: 'city', eq: 'x' });
  await db.flush();
  t.deepEqual(
    exporter.getFinishedSpans().map((s) => s.name),
    ['stratadb.query'],
  );
  await db.close();
});
