/**
 * Administration: compaction, verification and compaction status, of one instance
 * (`?instance=`) or of all; and the list of instances.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Instance } from '../../instances';
import type { AppContext } from '../context';
import { notFound } from '../errors';
import { errors, instanceParam, Schema } from '../schemas';

const instanceQuery: Schema = { type: 'object', properties: { instance: instanceParam } };
const anyObject: Schema = { type: 'object', additionalProperties: true };

export async function adminRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const { ctx } = opts;
  const tags = ['admin'];
  /** Instances with a compaction requested through this server and not finished. */
  const compacting = new Set<string>();

  const chosen = (req: FastifyRequest): Instance[] => {
    const name = (req.query as { instance?: string }).instance;
    if (name === undefined) return ctx.instances.list();
    const i = ctx.instances.find(name);
    if (i === undefined) throw notFound('STRATA_NOT_FOUND', `no instance named ${JSON.stringify(name)}`);
    return [i];
  };

  app.get(
    '/admin/instances',
    {
      schema: {
        tags,
        summary: 'The instances of lsm.toml',
        response: {
          200: {
            type: 'object',
            required: ['items', 'default'],
            properties: {
              default: { type: 'string' },
              items: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, codec: { type: 'string' }, query: { type: 'boolean' }, status: { type: 'string' } } },
              },
            },
          },
          ...errors(),
        },
      },
    },
    async () => ({
      default: ctx.instances.default.name,
      items: ctx.instances.list().map((i) => ({ name: i.name, codec: i.codec, query: i.query, status: i.db.status })),
    }),
  );

  app.post(
    '/admin/compact',
    {
      schema: {
        tags,
        summary: 'Compact the whole key range of one instance (?instance=) or of all; answers when done',
        querystring: instanceQuery,
        response: { 200: { type: 'object', required: ['compacted'], properties: { compacted: { type: 'array', items: { type: 'string' } } } }, ...errors(404) },
      },
    },
    async (req) => {
      const list = chosen(req);
      for (const i of list) {
        compacting.add(i.name);
        try {
          await i.db.compactRange();
        } finally {
          compacting.delete(i.name);
        }
      }
      return { compacted: list.map((i) => i.name) };
    },
  );

  app.post(
    '/admin/verify',
    {
      schema: {
        tags,
        summary: 'Check every checksum of every live file and every index against the records',
        querystring: instanceQuery,
        response: {
          200: { type: 'object', required: ['ok', 'instances'], properties: { ok: { type: 'boolean' }, instances: { type: 'object', additionalProperties: anyObject } } },
          ...errors(404),
        },
      },
    },
    async (req) => {
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const i of chosen(req)) {
        const r = await i.db.verify();
        ok &&= r.ok;
        out[i.name] = r;
      }
      return { ok, instances: out };
    },
  );

  app.get(
    '/admin/compaction/status',
    {
      schema: {
        tags,
        summary: 'Compaction counters and level shape per instance',
        querystring: instanceQuery,
        response: { 200: { type: 'object', required: ['instances'], properties: { instances: { type: 'object', additionalProperties: anyObject } } }, ...errors(404) },
      },
    },
    async (req) => {
      const out: Record<string, unknown> = {};
      for (const i of chosen(req)) {
        const s = await i.db.stats();
        out[i.name] = {
          running: compacting.has(i.name),
          compactionStyle: i.db.options.compactionStyle,
          compactions: s.compactions,
          compactionBytesRead: s.compactionBytesRead,
          compactionBytesWritten: s.compactionBytesWritten,
          writeAmplification: s.writeAmplification,
          l0Files: s.levels[0]?.files ?? 0,
          l0CompactionTrigger: i.db.options.l0CompactionTrigger,
          levels: s.levels,
          immutableMemtables: s.immutableMemtables,
        };
      }
      return { instances: out };
    },
  );
}
