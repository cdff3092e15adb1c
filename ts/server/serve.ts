/**
 * `serve()`: reads lsm.toml, resolves the server settings, refuses an unsafe bind, opens
 * every instance, listens, and on SIGTERM/SIGINT stops accepting, finishes the requests in
 * flight, closes every database and exits 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { FastifyInstance, FastifyServerOptions } from 'fastify';

import type { Db } from '../db';
import { invalidArgument } from '../errors';
import { Instances, openInstances, readLsmConfig } from '../instances';
import { buildApp } from './app';
import { GrpcServer, startGrpc } from './grpc';
import { CONFIG_ENV, isLoopback, LogLevel, resolveServerSettings, ServerSettings } from './settings';

/** Options of `serve()`: each overrides the same setting of lsm.toml, `STRATA_SERVER_*` and `.env`. */
export interface ServeOptions {
  /** Path of lsm.toml. Default `STRATA_SERVER_CONFIG`, else `./lsm.toml`. */
  config?: string;
  host?: string;
  port?: number;
  /** Bearer token (`auth_token`, `STRATA_SERVER_TOKEN`). */
  token?: string;
  logLevel?: LogLevel;
  /** Any other setting (limits ...), as in `ServerSettings`. */
  settings?: Partial<ServerSettings>;
  /** Variables to read instead of `process.env` (server settings and database options). */
  env?: Record<string, string | undefined>;
  /** `.env` to read, or `false`. Default `<cwd>/.env`. */
  envFile?: string | false;
  /** Install SIGTERM/SIGINT handlers that close everything and exit 0. Default true. */
  handleSignals?: boolean;
  /** A pino logger config or instance (default: JSON at the configured level). */
  logger?: FastifyServerOptions['logger'];
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`. */
  url: string;
  host: string;
  port: number;
  app: FastifyInstance;
  instances: Instances;
  settings: ServerSettings;
  /** The gRPC port, when `grpc_port` is set. */
  grpcPort?: number;
  /** Stops accepting, finishes requests in flight, closes every database. Idempotent. */
  close(): Promise<void>;
}

/** The PEM files of `grpc_tls_cert` / `grpc_tls_key` (both or neither), relative to lsm.toml's folder. */
function readGrpcTls(settings: ServerSettings, configFile: string): { cert: Buffer; key: Buffer } | undefined {
  const { grpcTlsCert: cert, grpcTlsKey: key } = settings;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw invalidArgument('server settings grpc_tls_cert and grpc_tls_key go together: set both (PEM files) or neither');
  if (settings.grpcPort === undefined) throw invalidArgument('server settings grpc_tls_cert and grpc_tls_key need grpc_port');
  const base = configFile === '<inline>' ? process.cwd() : path.dirname(configFile);
  const read = (file: string, what: string): Buffer => {
    const p = path.resolve(base, file);
    try {
      return fs.readFileSync(p);
    } catch (e) {
      throw invalidArgument(`server setting ${what}: cannot read ${p}: ${(e as Error).message}`, e);
    }
  };
  return { cert: read(cert, 'grpc_tls_cert'), key: read(key, 'grpc_tls_key') };
}

/** Starts the HTTP server of an lsm.toml. A bad config or an unsafe bind rejects before anything opens. */
export async function serve(opts: ServeOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const file = opts.config ?? env[CONFIG_ENV] ?? 'lsm.toml';
  const cfg = readLsmConfig(file);
  const settings = resolveServerSettings({
    toml: cfg.server,
    where: (k) => cfg.where('server', k),
    baseDir: path.dirname(path.resolve(cfg.file)),
    explicit: { ...opts.settings, host: opts.host, port: opts.port, authToken: opts.token, logLevel: opts.logLevel },
    env,
    envFile: opts.envFile,
  });
  if (!isLoopback(settings.host) && settings.authToken === undefined) {
    throw invalidArgument(
      `refusing to listen on ${settings.host} without a token: set auth_token in [server] or STRATA_SERVER_TOKEN (or bind 127.0.0.1)`,
    );
  }
  const grpcTls = readGrpcTls(settings, cfg.file);
  const instances = await openInstances(cfg, {
    dbOptions: { ...(opts.env === undefined ? {} : { env: opts.env }), ...(opts.envFile === undefined ? {} : { envFile: opts.envFile }) },
  });
  let app: FastifyInstance;
  try {
    app = await buildApp(instances, settings, { logger: opts.logger });
    await app.listen({ host: settings.host, port: settings.port });
  } catch (e) {
    await instances.close().catch(() => undefined);
    throw e;
  }
  app.server.maxConnections = settings.maxConnections;
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : settings.port;
  const host = settings.host;
  let grpc: GrpcServer | undefined;
  if (settings.grpcPort !== undefined) {
    try {
      grpc = await startGrpc(Object.fromEntries(instances.list().map((i) => [i.name, i.db as Db<unknown, unknown>])), {
        host,
        port: settings.grpcPort,
        ...(settings.authToken === undefined ? {} : { token: settings.authToken }),
        ...(grpcTls === undefined ? {} : { tls: grpcTls }),
        codecs: Object.fromEntries(instances.list().map((i) => [i.name, i.codec])),
        kvOnly: instances.list().filter((i) => !i.query).map((i) => i.name),
        limits: {
          maxMessageBytes: settings.bodyLimit,
          maxKeyBytes: settings.maxKeySize,
          maxValueBytes: settings.maxValueSize,
          maxBatchOps: settings.maxBatch,
          requestTimeoutMs: settings.requestTimeoutMs,
        },
        onEvent: (e) => (e.type === 'error' && e.status === 13 ? app.log.error(e, 'grpc call failed') : app.log.debug(e, 'grpc')),
      });
    } catch (e) {
      await app.close().catch(() => undefined);
      await instances.close().catch(() => undefined);
      throw e;
    }
    app.log.info({ port: grpc.port }, 'grpc listening');
  }

  let closing: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    app.log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        app.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const handle = opts.handleSignals !== false;
  const running: RunningServer = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    app,
    instances,
    settings,
    ...(grpc === undefined ? {} : { grpcPort: grpc.port }),
    close() {
      closing ??= (async () => {
        if (handle) {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
        // A keep-alive connection that served a request in flight turns idle only after `close()`
        // began: close such connections as they turn idle, not after keepAliveTimeout.
        const idle = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await grpc?.close();
          await app.close();
        } finally {
          clearInterval(idle);
          await instances.close();
        }
        app.log.info('closed');
      })();
      return closing;
    },
  };
  if (handle) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  app.log.info({ url: running.url, instances: instances.list().map((i) => i.name) }, 'listening');
  return running;
}
