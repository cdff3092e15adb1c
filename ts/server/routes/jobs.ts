/**
 * Jobs: long operations started over HTTP, with progress to poll (`GET /jobs/{id}`) or to
 * follow (`GET /jobs/{id}/events`: NDJSON, one `{ type, job }` event per line, the current
 * state first, until the job is done or failed). Index builds start here
 * (`POST /jobs/index-create`, `POST /jobs/index-rebuild`); backups in ./backups.ts.
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';

import type { IndexDefinition } from '../../indexes/definition';
import type { IndexInfo } from '../../indexes/registry';
import type { Instance } from '../../instances';
import type { AppContext } from '../context';
import { HttpError, notFound } from '../errors';
import type { JobEvent, JobProgress, JobRegistry } from '../jobs';
import { errors, instanceParam, Schema } from '../schemas';

const anyObject: Schema = { type: 'object', additionalProperties: true };

export const jobSchema: Schema = {
  type: 'object',
  required: ['id', 'kind', 'instance', 'target', 'state', 'progress', 'startedAt'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['backup', 'index-create', 'index-rebuild'] },
    instance: { type: 'string' },
    target: { type: 'string' },
    state: { type: 'string', enum: ['running', 'done', 'failed'] },
    progress: {
      type: 'object',
      required: ['phase', 'done', 'total'],
      properties: { phase: { type: 'string' }, done: { type: 'integer' }, total: { type: 'integer' }, bytes: { type: 'integer' }, totalBytes: { type: 'integer' } },
    },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    result: anyObject,
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const idParams: Schema = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } };
const nameSchema: Schema = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' };

/** Options of the jobs and backups route groups. */
export interface JobRouteOptions {
  ctx: AppContext;
  jobs: JobRegistry;
}

/** The instance named in a body or query (default: the default instance). */
export function namedInstance(ctx: AppContext, name: string | undefined): Instance {
  if (name === undefined) return ctx.instances.default;
  const i = ctx.instances.find(name);
  if (i === undefined) throw notFound('STRATA_NOT_FOUND', `no instance named ${JSON.stringify(name)}`);
  return i;
}

async function find(inst: Instance, name: string): Promise<IndexInfo | undefined> {
  return (await inst.queryDb().listIndexes()).find((i) => i.name === name);
}

/** Follows a build started with `startBuild` until the index is ready (or was dropped: failed). */
async function followBuild(inst: Instance, name: string, report: (p: JobProgress) => void): Promise<Record<string, unknown>> {
  for (;;) {
    const info = await find(inst, name);
    if (info === undefined) throw new HttpError(409, 'STRATA_CONSTRAINT', `the build of index ${JSON.stringify(name)} failed and the index was dropped`);
    const s = inst.buildStatus(name);
    if (s !== undefined) report({ phase: 'build', done: s.processed, total: s.total });
    if (info.state === 'ready') return { ...info };
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function jobRoutes(app: FastifyInstance, opts: JobRouteOptions): Promise<void> {
  const { ctx, jobs } = opts;
  const tags = ['jobs'];

  app.get(
    '/jobs',
    {
      schema: {
        tags,
        summary: 'Jobs of this server: running ones and the last 100 finished, newest first',
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: jobSchema } } }, ...errors() },
      },
    },
    async () => ({ items: jobs.list() }),
  );

  app.get(
    '/jobs/:id',
    { schema: { tags, summary: 'One job: its state and last progress event', params: idParams, response: { 200: jobSchema, ...errors(404) } } },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const job = jobs.get(id);
      if (job === undefined) throw notFound('STRATA_NOT_FOUND', `no job ${JSON.stringify(id)}`);
      return job;
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags,
        summary: 'The events of a job as NDJSON ({"type":"progress"|"done"|"failed","job":{...}} per line): its state now, then each event until it finishes',
        params: idParams,
        response: {
          200: { description: 'One JSON event per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const job = jobs.get(id);
      if (job === undefined) throw notFound('STRATA_NOT_FOUND', `no job ${JSON.stringify(id)}`);
      const out = new PassThrough();
      const line = (e: JobEvent): void => {
        out.write(`${JSON.stringify(e)}\n`);
        if (e.type !== 'progress') out.end();
      };
      if (job.state === 'running') {
        const stop = jobs.subscribe(id, line);
        out.on('close', stop);
        // The client went away (or the answer is complete): no more events for it.
        reply.raw.on('close', () => {
          stop();
          out.destroy();
        });
        line({ type: 'progress', job });
      } else {
        line({ type: job.state, job });
      }
      return reply.code(200).type('application/x-ndjson').header('cache-control', 'no-store').send(out);
    },
  );

  const started = { 202: jobSchema, ...errors(404, 409) };

  app.post(
    '/jobs/index-create',
    {
      schema: {
        tags,
        summary: 'Create an index in the background, as a job (202 with the job; its progress: the records indexed)',
        body: {
          type: 'object',
          required: ['name', 'type', 'extractor'],
          properties: { instance: instanceParam, name: nameSchema, type: { type: 'string' }, extractor: { type: 'object' } },
        },
        response: started,
      },
    },
    async (req, reply) => {
      const { instance, ...def } = req.body as IndexDefinition & { instance?: string };
      const inst = namedInstance(ctx, instance);
      await inst.startBuild('create', def);
      reply.code(202);
      return jobs.start('index-create', inst.name, def.name, (report) => followBuild(inst, def.name, report));
    },
  );

  app.post(
    '/jobs/index-rebuild',
    {
      schema: {
        tags,
        summary: 'Rebuild an index from the records in the background, as a job (202 with the job)',
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { instance: instanceParam, name: nameSchema } },
        response: started,
      },
    },
    async (req, reply) => {
      const { instance, name } = req.body as { instance?: string; name: string };
      const inst = namedInstance(ctx, instance);
      if ((await find(inst, name)) === undefined) throw notFound('STRATA_NOT_FOUND', `no index named ${JSON.stringify(name)}`);
      await inst.startBuild('rebuild', name);
      reply.code(202);
      return jobs.start('index-rebuild', inst.name, name, (report) => followBuild(inst, name, report));
    },
  );
}
