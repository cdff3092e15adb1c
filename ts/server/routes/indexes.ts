/**
 * Secondary indexes of an instance: list, create (built online, in the background),
 * show (with build progress), drop, rebuild. `?wait=true` answers once the index is ready.
 */
import type { FastifyInstance } from 'fastify';

import type { IndexDefinition } from '../../indexes/definition';
import type { IndexInfo } from '../../indexes/registry';
import type { Instance } from '../../instances';
import { instanceOf, ScopedOptions } from '../context';
import { HttpError, notFound } from '../errors';
import { errors, params, Schema } from '../schemas';

const nameParam: Schema = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' };

const progressSchema: Schema = {
  type: ['object', 'null'],
  properties: {
    state: { type: 'string' },
    processed: { type: 'integer' },
    total: { type: 'integer' },
    startedAt: { type: 'string' },
  },
};

const infoSchema: Schema = {
  type: 'object',
  required: ['name', 'definition', 'state'],
  properties: {
    name: { type: 'string' },
    definition: { type: 'object', additionalProperties: true },
    state: { type: 'string', enum: ['building', 'ready'] },
    entries: { type: 'number' },
    bytes: { type: 'number' },
    built: { type: 'integer' },
    skipped: { type: 'integer' },
    createdAt: { type: 'string' },
    readyAt: { type: 'string' },
    progress: progressSchema,
  },
};

function withProgress(inst: Instance, info: IndexInfo): IndexInfo & { progress: unknown } {
  const p = inst.buildStatus(info.name);
  return { ...info, progress: p === undefined ? null : { state: info.state, processed: p.processed, total: p.total, startedAt: p.startedAt } };
}

async function find(inst: Instance, name: string): Promise<IndexInfo | undefined> {
  return (await inst.queryDb().listIndexes()).find((i) => i.name === name);
}

/** Waits until the index is ready (polling its state); a build that fails drops it: 409. */
async function untilReady(inst: Instance, name: string, deadline: number): Promise<IndexInfo> {
  for (;;) {
    const info = await find(inst, name);
    if (info === undefined) throw new HttpError(409, 'STRATA_CONSTRAINT', `the build of index ${JSON.stringify(name)} failed and the index was dropped`);
    if (info.state === 'ready') return info;
    if (Date.now() > deadline) return info;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function indexRoutes(app: FastifyInstance, opts: ScopedOptions): Promise<void> {
  const { ctx } = opts;
  const tags = ['indexes'];
  const waitQuery: Schema = { type: 'object', properties: { wait: { type: 'boolean', default: false, description: 'Answer once the index is ready.' } } };
  const deadline = (): number => Date.now() + ctx.settings.requestTimeoutMs - 500;

  app.get(
    '/indexes',
    {
      schema: {
        tags,
        summary: 'Every index with its state and build progress',
        params: params(true),
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: infoSchema } } }, ...errors(404) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, true);
      return { items: (await inst.queryDb().listIndexes()).map((i) => withProgress(inst, i)) };
    },
  );

  app.post(
    '/indexes',
    {
      schema: {
        tags,
        summary: 'Create an index (built online from the existing records; 202 while it builds)',
        params: params(true),
        querystring: waitQuery,
        body: { type: 'object', required: ['name', 'type', 'extractor'], properties: { name: nameParam, type: { type: 'string' }, extractor: { type: 'object' } } },
        response: { 200: infoSchema, 202: infoSchema, ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const inst = instanceOf(ctx, req, true);
      const def = req.body as IndexDefinition;
      let info = await inst.startBuild('create', def);
      if ((req.query as { wait: boolean }).wait) info = await untilReady(inst, def.name, deadline());
      reply.code(info.state === 'ready' ? 200 : 202);
      return withProgress(inst, info);
    },
  );

  app.get(
    '/indexes/:name',
    {
      schema: { tags, summary: 'One index, with its build progress', params: params(true, { name: nameParam }), response: { 200: infoSchema, ...errors(404) } },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, true);
      const name = (req.params as { name: string }).name;
      const info = await find(inst, name);
      if (info === undefined) throw notFound('STRATA_NOT_FOUND', `no index named ${JSON.stringify(name)}`);
      return withProgress(inst, info);
    },
  );

  app.delete(
    '/indexes/:name',
    {
      schema: {
        tags,
        summary: 'Drop an index and its postings',
        params: params(true, { name: nameParam }),
        response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...errors(404) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, true);
      const name = (req.params as { name: string }).name;
      if ((await find(inst, name)) === undefined) throw notFound('STRATA_NOT_FOUND', `no index named ${JSON.stringify(name)}`);
      await inst.queryDb().dropIndex(name);
      inst.forgetBuild(name);
      return { ok: true };
    },
  );

  app.post(
    '/indexes/:name/rebuild',
    {
      schema: {
        tags,
        summary: 'Rebuild an index from the records (202 while it builds; progress in GET /indexes/{name})',
        params: params(true, { name: nameParam }),
        querystring: waitQuery,
        response: { 200: infoSchema, 202: infoSchema, ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const inst = instanceOf(ctx, req, true);
      const name = (req.params as { name: string }).name;
      if ((await find(inst, name)) === undefined) throw notFound('STRATA_NOT_FOUND', `no index named ${JSON.stringify(name)}`);
      let info = await inst.startBuild('rebuild', name);
      if ((req.query as { wait: boolean }).wait) info = await untilReady(inst, name, deadline());
      reply.code(info.state === 'ready' ? 200 : 202);
      return withProgress(inst, info);
    },
  );
}
