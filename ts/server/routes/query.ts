/**
 * Index queries of an instance: `POST /db/{instance}/query` (one page, with `cursor`,
 * `limit`, `timeout`, `max_postings_scanned`), `/count` and `/explain`. The query language
 * is the `Db`'s (README, "The query language"); it is checked there.
 */
import type { FastifyInstance } from 'fastify';

import type { Query } from '../../query/ast';
import { toJson } from '../../instances';
import { instanceOf, ScopedOptions } from '../context';
import { cursorSchema, errors, params, Schema, valueOut } from '../schemas';

const querySchema: Schema = { type: 'object', description: 'A query: { index, eq | in | gt/gte/lt/lte | prefix | match | matchAny } or { and | or | not }.' };

export async function queryRoutes(app: FastifyInstance, opts: ScopedOptions): Promise<void> {
  const { ctx } = opts;
  const tags = ['query'];

  app.post(
    '/query',
    {
      schema: {
        tags,
        summary: 'One page of the records matching an index query, in key order',
        params: params(true),
        body: {
          type: 'object',
          required: ['query'],
          additionalProperties: false,
          properties: {
            query: querySchema,
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
            cursor: cursorSchema,
            timeout: { type: 'integer', minimum: 1, maximum: ctx.settings.requestTimeoutMs, description: 'Stop after about this many ms (partial: "timeout").' },
            max_postings_scanned: { type: 'integer', minimum: 1, description: 'Stop after about this many postings (partial: "maxPostingsScanned").' },
            values: { type: 'boolean', default: true },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'cursor', 'partial', 'stats'],
            properties: {
              items: { type: 'array', items: { type: 'object', required: ['key'], properties: { key: { type: 'string' }, value: valueOut } } },
              cursor: cursorSchema,
              partial: { anyOf: [{ type: 'boolean' }, { type: 'string' }] },
              stats: { type: 'object', additionalProperties: true },
            },
          },
          ...errors(404),
        },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, true);
      const b = req.body as { query: Query; limit: number; cursor?: string | null; timeout?: number; max_postings_scanned?: number; values: boolean };
      const res = await inst.queryDb().query<unknown>(b.query, {
        limit: b.limit,
        cursor: b.cursor ?? null,
        values: b.values,
        timeoutMs: b.timeout ?? ctx.settings.requestTimeoutMs,
        ...(b.max_postings_scanned === undefined ? {} : { maxPostingsScanned: b.max_postings_scanned }),
      });
      return {
        items: res.items.map((it) => (b.values ? { key: it.key, value: toJson(inst.codec, it.value) } : { key: it.key })),
        cursor: res.cursor,
        partial: res.partial,
        stats: res.stats,
      };
    },
  );

  app.post(
    '/count',
    {
      schema: {
        tags,
        summary: 'The exact number of matches (read from postings), or with estimate: true the planner estimate',
        params: params(true),
        body: { type: 'object', required: ['query'], additionalProperties: false, properties: { query: querySchema, estimate: { type: 'boolean', default: false } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(404) },
      },
    },
    async (req) => {
      const db = instanceOf(ctx, req, true).queryDb();
      const b = req.body as { query: Query; estimate: boolean };
      return b.estimate ? db.count(b.query, { estimate: true }) : { count: await db.count(b.query) };
    },
  );

  app.post(
    '/explain',
    {
      schema: {
        tags,
        summary: 'The plan of a query, with estimates and (unless analyze: false) actual counts',
        params: params(true),
        body: { type: 'object', required: ['query'], additionalProperties: false, properties: { query: querySchema, analyze: { type: 'boolean', default: true } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(404) },
      },
    },
    async (req) => {
      const b = req.body as { query: Query; analyze: boolean };
      return instanceOf(ctx, req, true).queryDb().explain(b.query, { analyze: b.analyze });
    },
  );
}
