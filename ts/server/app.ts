/**
 * The fastify application: settings → hooks (limits, auth) → route groups → OpenAPI. A thin
 * shell: every route calls the `Db` / instances API and turns errors into
 * `{ error: { code, message } }` (./errors.ts).
 */
import type { Duplex } from 'node:stream';
import Ajv from 'ajv';
import Fastify, { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Registry } from 'prom-client';

import { FeatureStore } from '../features';
import type { KvDb } from '../database';
import type { Instances } from '../instances';
import { collectMetrics, metricsHandler } from '../metrics';
import { registerAuth } from './auth';
import type { AppContext } from './context';
import { toHttp } from './errors';
import { registerLimits } from './limits';
import { OneLineLogController, requestIds, requestLogger } from './logging';
import { registerConsole } from './console';
import { JobRegistry } from './jobs';
import { adminRoutes } from './routes/admin';
import { backupRoutes } from './routes/backups';
import { featureRoutes } from './routes/features';
import { indexRoutes } from './routes/indexes';
import { jobRoutes } from './routes/jobs';
import { kvRoutes } from './routes/kv';
import { collectionRoutes } from './routes/collections';
import { queryRoutes } from './routes/query';
import { statsRoutes } from './routes/stats';
import type { ServerSettings } from './settings';

/** Options of `buildApp` beside the settings. */
export interface BuildAppOptions {
  /** A pino logger config or instance for fastify (default: JSON logs at `settings.logLevel`). */
  logger?: FastifyServerOptions['logger'];
}

/** The version of the HTTP API in `/openapi.json`. */
export const API_VERSION = '1.0.0';

type OpenApiDoc = { paths?: Record<string, Record<string, { parameters?: { name: string; in: string; schema?: Record<string, unknown> }[] }>> };

function withInstances(doc: OpenApiDoc, names: string[]): OpenApiDoc {
  const out = structuredClone(doc);
  for (const ops of Object.values(out.paths ?? {})) {
    for (const op of Object.values(ops)) {
      for (const p of op.parameters ?? []) {
        if (p.name === 'instance' && p.schema !== undefined) p.schema = { ...p.schema, enum: names };
      }
    }
  }
  return out;
}

/** Answers a malformed request or oversized headers (before fastify sees it) in the error format. */
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const big = err.code === 'HPE_HEADER_OVERFLOW';
  const status = big ? 431 : 400;
  const body = JSON.stringify({
    error: big ? { code: 'STRATA_TOO_LARGE', message: 'request headers (or URL) too large' } : { code: 'STRATA_BAD_REQUEST', message: 'malformed HTTP request' },
  });
  socket.end(
    `HTTP/1.1 ${status} ${big ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Builds the app (not listening: `app.listen()` or `app.inject()` for tests). */
export async function buildApp(instances: Instances, settings: ServerSettings, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: settings.logLevel },
    bodyLimit: settings.bodyLimit,
    requestIdHeader: 'x-request-id',
    // Per request: an id from a counter, a child logger only when a line is logged, one line
    // (`request completed`) at info (./logging.ts).
    genReqId: requestIds(),
    childLoggerFactory: requestLogger,
    logController: new OneLineLogController(),
    routerOptions: { maxParamLength: settings.maxKeySize * 3 + 16 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // `__proto__` keys are dropped from bodies (never assigned), not answered with an error.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // Room for a cursor and three keys of max_key_size, percent-encoded, in one query string.
    http: { maxHeaderSize: 64 * 1024 },
    clientErrorHandler: clientError,
    // Errors of the router (a path parameter too long, a bad percent-encoding) in the same format.
    frameworkErrors: (err, _req, reply) => {
      const e = toHttp(err);
      void (reply as unknown as FastifyReply).code(e.status).headers(e.headers).send(e.body);
    },
  });
  // Bodies are JSON and keep their types (`"key": 1` is a 400); path and query strings are
  // coerced to the declared types (`?limit=10`).
  const strict = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false, strict: false });
  const coercing = new Ajv({ removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  const ctx: AppContext = { instances, settings, features: new FeatureStore(instances.default.db as unknown as KvDb<unknown, unknown>) };

  registerLimits(app, settings);
  registerAuth(app, settings.authToken);

  app.setErrorHandler((err, req, reply) => {
    const e = toHttp(err);
    if (e.internal) req.log.error({ err }, 'request failed');
    else req.log.info({ code: e.body.error.code, status: e.status }, e.body.error.message);
    return reply.code(e.status).headers(e.headers).send(e.body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'STRATA_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'StrataDB', description: 'The HTTP API of `strata serve`: key-value, index queries, indexes, admin and feature flags per instance.', version: API_VERSION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(settings.authToken === undefined ? {} : { security: [{ bearer: [] }] }),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // The document names the instances this server has (an unknown one is still a 404).
  const names = instances.list().map((i) => i.name);
  app.get('/openapi.json', { schema: { hide: true } }, async () => withInstances(app.swagger() as OpenApiDoc, names));

  const scoped = { ctx, scoped: true };
  const unscoped = { ctx, scoped: false };
  await app.register(statsRoutes, unscoped);
  await app.register(kvRoutes, unscoped);
  await app.register(adminRoutes, { ctx });
  await app.register(featureRoutes, { ctx });
  const jobs = new JobRegistry();
  await app.register(jobRoutes, { ctx, jobs });
  await app.register(backupRoutes, { ctx, jobs });
  await app.register(statsRoutes, { ...scoped, prefix: '/db/:instance' });
  await app.register(kvRoutes, { ...scoped, prefix: '/db/:instance' });
  await app.register(queryRoutes, { ...scoped, prefix: '/db/:instance' });
  await app.register(indexRoutes, { ...scoped, prefix: '/db/:instance' });
  await app.register(collectionRoutes, { ...scoped, prefix: '/db/:instance' });

  // Prometheus metrics of every instance (README, "Metrics and logs"); behind the token like
  // every route but /health. Text, not JSON: left out of /openapi.json.
  const registry = new Registry();
  const detach = instances.list().map((i) => collectMetrics(i.db, registry, { instance: i.name }));
  app.addHook('onClose', async () => detach.forEach((d) => d()));
  const metrics = metricsHandler(registry);
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const m = await metrics();
    return reply.type(m.contentType).send(m.body);
  });
  registerConsole(app);
  await app.ready();
  return app;
}
