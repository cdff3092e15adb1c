/**
 * Feature flags (stored in the default instance, `ts/features`): list, read, and create or
 * update with optimistic locking — an update names the `version` it last read, and a stale
 * one gets 409 with nothing written.
 */
import type { FastifyInstance } from 'fastify';

import type { Feature } from '../../features';
import type { AppContext } from '../context';
import { badRequest, HttpError, notFound } from '../errors';
import { cursorSchema, errors, pageQuery, Schema } from '../schemas';

const idParam: Schema = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' };

const featureSchema: Schema = {
  type: 'object',
  required: ['id', 'enabled', 'version', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    enabled: { type: 'boolean' },
    version: { type: 'integer' },
    description: { type: 'string' },
    data: { type: 'object', additionalProperties: true },
    updatedAt: { type: 'string' },
  },
};

function cursorOf(id: string): string {
  return 'f1.' + Buffer.from(id, 'utf8').toString('base64url');
}

/** The id to continue after, or `undefined` for the first page. */
function fromCursor(c: string): string | undefined {
  const m = /^f1\.([A-Za-z0-9_-]*)$/.exec(c);
  if (c === '') return undefined;
  if (!m) throw badRequest('cursor is malformed');
  const id = Buffer.from(m[1] as string, 'base64url').toString('utf8');
  return id === '' ? undefined : id;
}

export async function featureRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const { ctx } = opts;
  const tags = ['features'];

  app.get(
    '/features',
    {
      schema: {
        tags,
        summary: 'Feature flags, in id order (paged)',
        querystring: { type: 'object', properties: pageQuery(ctx.settings.maxPage, '^(f1\\.[A-Za-z0-9_-]*)?$') },
        response: { 200: { type: 'object', required: ['items', 'cursor'], properties: { items: { type: 'array', items: featureSchema }, cursor: cursorSchema } }, ...errors() },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; cursor?: string };
      const after = q.cursor === undefined ? undefined : fromCursor(q.cursor);
      const page = await ctx.features.list({ limit: q.limit, ...(after === undefined ? {} : { after }) });
      return { items: page.items, cursor: page.next === null ? null : cursorOf(page.next) };
    },
  );

  app.get(
    '/features/:id',
    { schema: { tags, summary: 'One feature flag', params: { type: 'object', required: ['id'], properties: { id: idParam } }, response: { 200: featureSchema, ...errors(404) } } },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const f = await ctx.features.get(id);
      if (f === undefined) throw notFound('STRATA_NOT_FOUND', `no feature flag ${JSON.stringify(id)}`);
      return f;
    },
  );

  app.post(
    '/features/:id',
    {
      schema: {
        tags,
        summary: 'Create (version absent or 0) or update (version = the version last read) a flag; 409 when the version is stale',
        params: { type: 'object', required: ['id'], properties: { id: idParam } },
        body: {
          type: 'object',
          required: ['enabled'],
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            version: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            description: { type: 'string', maxLength: 4096 },
            data: { type: 'object', additionalProperties: true },
          },
        },
        response: { 200: featureSchema, 201: featureSchema, ...errors(409, 413) },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const body = req.body as { enabled: boolean; version?: number; description?: string; data?: Record<string, unknown> };
      if (body.data !== undefined) {
        let size: number;
        try {
          size = Buffer.byteLength(JSON.stringify(body.data));
        } catch {
          throw badRequest('data cannot be stored (nested too deep)');
        }
        if (size > ctx.settings.maxValueSize) throw new HttpError(413, 'STRATA_TOO_LARGE', `data exceeds max_value_size (${ctx.settings.maxValueSize} bytes)`);
      }
      const r = await ctx.features.set(id, body);
      if (!r.ok) {
        const now = (r.current as Feature | undefined)?.version ?? 0;
        throw new HttpError(409, 'STRATA_CONFLICT', `feature flag ${JSON.stringify(id)} is at version ${now}, not ${body.version ?? 0}: read it again and retry`);
      }
      reply.code(r.created ? 201 : 200);
      return r.feature;
    },
  );
}
