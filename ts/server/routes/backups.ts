/**
 * Backups over HTTP: `POST /backups` starts the next backup of an instance as a job (see
 * ./jobs.ts), `GET /backups` lists an instance's backups. They go to the incremental backup
 * directory `<backup_dir>/<instance>` of the server settings; a request never names a path.
 * Without `backup_dir` both answer 409 `STRATA_NOT_CONFIGURED`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';

import { listBackups } from '../../admin';
import type { Instance } from '../../instances';
import { HttpError } from '../errors';
import { errors, instanceParam, Schema } from '../schemas';
import { JobRouteOptions, jobSchema, namedInstance } from './jobs';

const backupInfo: Schema = {
  type: 'object',
  required: ['id', 'createdAt', 'sequence', 'files', 'bytes'],
  properties: { id: { type: 'integer' }, createdAt: { type: 'string' }, sequence: { type: 'integer' }, stratadb: { type: 'string' }, files: { type: 'integer' }, bytes: { type: 'integer' } },
};

const instanceQuery: Schema = { type: 'object', properties: { instance: instanceParam } };

export async function backupRoutes(app: FastifyInstance, opts: JobRouteOptions): Promise<void> {
  const { ctx, jobs } = opts;
  const tags = ['backups'];

  /** The backup directory of `inst` (instance names are `[A-Za-z0-9_-]`: no separators). */
  const dirOf = (inst: Instance): string => {
    const root = ctx.settings.backupDir;
    if (root === undefined) {
      throw new HttpError(409, 'STRATA_NOT_CONFIGURED', 'backups over HTTP need a backup directory: set backup_dir in [server] of lsm.toml or STRATA_SERVER_BACKUP_DIR');
    }
    return path.join(root, inst.name);
  };

  app.get(
    '/backups',
    {
      schema: {
        tags,
        summary: 'The backups of an instance (?instance=, default the default one) in the backup directory, oldest first',
        querystring: instanceQuery,
        response: {
          200: { type: 'object', required: ['instance', 'items'], properties: { instance: { type: 'string' }, items: { type: 'array', items: backupInfo } } },
          ...errors(404, 409),
        },
      },
    },
    async (req) => {
      const inst = namedInstance(ctx, (req.query as { instance?: string }).instance);
      const dir = dirOf(inst);
      const items = fs.existsSync(path.join(dir, 'meta')) ? await listBackups(dir) : [];
      return { instance: inst.name, items };
    },
  );

  app.post(
    '/backups',
    {
      schema: {
        tags,
        summary: 'Start the next backup of an instance (?instance=) into the backup directory, as a job (202; 409 while one runs or without backup_dir)',
        querystring: instanceQuery,
        response: { 202: jobSchema, ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const inst = namedInstance(ctx, (req.query as { instance?: string }).instance);
      const dir = dirOf(inst);
      const busy = jobs.running('backup', inst.name, inst.name);
      if (busy !== undefined) throw new HttpError(409, 'STRATA_CONFLICT', `a backup of instance ${JSON.stringify(inst.name)} is running (job ${busy.id})`);
      reply.code(202);
      return jobs.start('backup', inst.name, inst.name, async (report) => {
        const r = await inst.db.backup(dir, {
          onProgress: (p) => report({ phase: p.phase, done: p.files, total: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes }),
        });
        // The result without the server's path.
        const out: Record<string, unknown> = { ...r };
        delete out.location;
        return out;
      });
    },
  );
}
