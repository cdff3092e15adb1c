/**
 * Health and statistics: `/health` (no auth), and per instance `/stats`, `/stats/memory`,
 * `/stats/disk` (the default instance, or under `/db/{instance}`), `/stats_all`.
 */
import type { FastifyInstance } from 'fastify';

import type { Stats } from '../../database';
import type { Instance } from '../../instances';
import { instanceOf, ScopedOptions } from '../context';
import { errors, params, Schema } from '../schemas';

const statsSchema: Schema = { type: 'object', additionalProperties: true };

function memory(s: Stats): Record<string, number> {
  const m = process.memoryUsage();
  return {
    memtableBytes: s.memtableBytes,
    immutableMemtables: s.immutableMemtables,
    blockCacheBytes: s.blockCacheBytes,
    processRss: m.rss,
    processHeapUsed: m.heapUsed,
  };
}

function disk(s: Stats): Record<string, unknown> {
  const sstableBytes = s.levels.reduce((n, l) => n + l.bytes, 0);
  const sstableFiles = s.levels.reduce((n, l) => n + l.files, 0);
  return { levels: s.levels, sstableFiles, sstableBytes, walBytes: s.walBytes, totalBytes: sstableBytes + s.walBytes };
}

async function statsOf(i: Instance): Promise<Record<string, unknown>> {
  return { instance: i.name, codec: i.codec, query: i.query, status: i.db.status, ...(await i.db.stats()) };
}

export async function statsRoutes(app: FastifyInstance, opts: ScopedOptions): Promise<void> {
  const { ctx, scoped } = opts;
  const tags = ['stats'];

  if (!scoped) {
    app.get(
      '/health',
      {
        schema: {
          tags,
          summary: 'Liveness (no token needed)',
          security: [],
          response: {
            200: { type: 'object', required: ['status'], properties: { status: { type: 'string' }, instances: { type: 'integer' } } },
            ...errors(),
          },
        },
      },
      async () => ({ status: 'ok', instances: ctx.instances.list().length }),
    );

    app.get(
      '/stats_all',
      {
        schema: {
          tags,
          summary: 'Statistics of every instance',
          response: { 200: { type: 'object', required: ['instances'], properties: { instances: { type: 'object', additionalProperties: statsSchema } } }, ...errors() },
        },
      },
      async () => {
        const out: Record<string, unknown> = {};
        for (const i of ctx.instances.list()) out[i.name] = await statsOf(i);
        return { instances: out };
      },
    );
  }

  app.get(
    '/stats',
    { schema: { tags, summary: 'Engine statistics of the instance', params: params(scoped), response: { 200: statsSchema, ...errors(404) } } },
    async (req) => statsOf(instanceOf(ctx, req, scoped)),
  );

  app.get(
    '/stats/memory',
    { schema: { tags, summary: 'Memory use: memtables, block cache, process', params: params(scoped), response: { 200: statsSchema, ...errors(404) } } },
    async (req) => memory(await instanceOf(ctx, req, scoped).db.stats()),
  );

  app.get(
    '/stats/disk',
    { schema: { tags, summary: 'Disk use: SSTables per level and WAL', params: params(scoped), response: { 200: statsSchema, ...errors(404) } } },
    async (req) => disk(await instanceOf(ctx, req, scoped).db.stats()),
  );
}
