/**
 * The gRPC service (`proto/stratadb.proto`, loaded with @grpc/proto-loader, served with
 * @grpc/grpc-js): the KV, query and collection operations of the `Db`s it is given, one
 * per instance name. A thin shell: each RPC is a call of the `Db` (see `kv.ts`,
 * `query.ts`, `collections.ts`); this file checks the settings, binds, and shuts down.
 *
 * ```ts
 * const server = await startGrpc({ app: db }, { port: 50051 });
 * // ...
 * await server.close(); // the databases stay open: they belong to the caller
 * ```
 */
import * as path from 'node:path';
import * as tls from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { Db } from '../../db';
import { describe, quote } from '../../encodings';
import { StrataError, invalidArgument } from '../../errors';
import * as collections from './collections';
import { Auth, Context, DEFAULT_LIMITS, GrpcEvent, GrpcLimits, Instance, MalformedRequest, streaming, unary } from './context';
import * as kv from './kv';
import * as queries from './query';
import { Codec, codecOf } from './values';

export type { GrpcEvent, GrpcLimits } from './context';
export { DEFAULT_LIMITS } from './context';
export { CODE_KEY, ServerError } from './errors';
export type { ServerCode } from './errors';
export type { Codec } from './values';
export { codecOf } from './values';

/** The `.proto` file the server loads (shipped in the package). */
export const PROTO_PATH = path.join(__dirname, '..', '..', '..', 'proto', 'stratadb.proto');

/** The fully qualified name of the service. */
export const SERVICE_NAME = 'stratadb.v1.Strata';

/** How proto-loader reads the `.proto` (the handlers' request shapes depend on it). */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

/** Settings of `startGrpc`. */
export interface GrpcSettings {
  /** Address to bind (default `127.0.0.1`). Anything but a loopback address needs `token`. */
  host?: string;
  /** Port (default 50051; 0: any free port, see the returned `port`). */
  port?: number;
  /** When set, every call but Health needs the metadata `authorization: Bearer <token>`. */
  token?: string;
  /** Limits; each defaults to `DEFAULT_LIMITS`. */
  limits?: Partial<GrpcLimits>;
  /** Called for errors sent and for Scan flow control (logs, metrics); exceptions are ignored. */
  onEvent?: (event: GrpcEvent) => void;
  /** The codec of an instance when it is not its database's `valueEncoding` (see `codecOf`). */
  codecs?: Record<string, Codec>;
  /** Instances served for key-value calls only (lsm.toml's `query = false`): query and collection calls are INVALID_ARGUMENT. */
  kvOnly?: string[];
  /** Serve TLS with this PEM certificate (chain) and private key instead of plaintext HTTP/2. */
  tls?: { cert: Buffer | string; key: Buffer | string };
}

/** A running server. */
export interface GrpcServer {
  /** The port it listens on. */
  port: number;
  /** Stops accepting calls, waits up to `shutdownTimeoutMs` for those in flight, then cancels them. Idempotent. */
  close(): Promise<void>;
}

const SETTINGS = new Set(['host', 'port', 'token', 'limits', 'onEvent', 'codecs', 'tls', 'kvOnly']);

/** True for `localhost`, `::1` and 127.0.0.0/8. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

function checkLimits(given: unknown): GrpcLimits {
  if (given === undefined) return { ...DEFAULT_LIMITS };
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw invalidArgument(`limits must be an object, got ${describe(given)}`);
  const out: GrpcLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(given)) {
    if (!(k in DEFAULT_LIMITS)) throw invalidArgument(`limits: unknown limit ${quote(k)} (expected ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalidArgument(`limits.${k} must be a positive integer, got ${quote(v)}`);
    out[k as keyof GrpcLimits] = v;
  }
  if (out.scanBatchSize > out.maxScanBatch) throw invalidArgument(`limits.scanBatchSize (${out.scanBatchSize}) is larger than limits.maxScanBatch (${out.maxScanBatch})`);
  return out;
}

const CODECS = new Set(['raw', 'json', 'bson']);

function checkInstances(given: unknown, codecs: unknown): Instance[] {
  if (codecs !== undefined && (codecs === null || typeof codecs !== 'object' || Array.isArray(codecs))) throw invalidArgument(`codecs must be an object of instance name → codec, got ${describe(codecs)}`);
  const chosen = new Map(Object.entries((codecs ?? {}) as Record<string, unknown>));
  const entries: [string, unknown][] =
    given instanceof Map ? [...(given as Map<unknown, unknown>).entries()].map(([k, v]) => [k as string, v]) : given !== null && typeof given === 'object' ? Object.entries(given) : [];
  if (entries.length === 0) throw invalidArgument('startGrpc needs at least one instance: a Map or an object of name → Db');
  const list = entries.map(([name, db]): Instance => {
    if (typeof name !== 'string' || name.length === 0) throw invalidArgument(`instance names must be non-empty strings, got ${quote(name)}`);
    if (!(db instanceof Db)) throw invalidArgument(`instance ${quote(name)} must be a Db from open(), got ${describe(db)}`);
    const codec = chosen.get(name) ?? codecOf(db.options.valueEncoding);
    chosen.delete(name);
    if (typeof codec !== 'string' || !CODECS.has(codec)) throw invalidArgument(`codecs.${name} must be 'raw', 'json' or 'bson', got ${quote(codec)}`);
    return { name, db: db as Db<unknown, unknown>, codec: codec as Codec };
  });
  const unknown = [...chosen.keys()][0];
  if (unknown !== undefined) throw invalidArgument(`codecs: no instance named ${quote(unknown)}`);
  return list;
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

/** Plaintext without `tls`; else TLS with its certificate and key (checked to be PEM first). */
function credentialsOf(given: unknown): grpc.ServerCredentials {
  if (given === undefined) return grpc.ServerCredentials.createInsecure();
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw invalidArgument(`tls must be { cert, key } (PEM), got ${describe(given)}`);
  const pem = (k: 'cert' | 'key'): Buffer => {
    const v = (given as Record<string, unknown>)[k];
    const buf = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.isBuffer(v) ? v : undefined;
    if (buf === undefined || !PEM.test(buf.toString('latin1'))) throw invalidArgument(`tls.${k} must be PEM text (a string or Buffer holding -----BEGIN ...-----), got ${describe(v)}`);
    return buf;
  };
  const cert = pem('cert');
  const key = pem('key');
  try {
    // Node's TLS checks that the key is readable and matches the certificate, before anything binds.
    tls.createSecureContext({ cert, key });
  } catch (e) {
    throw invalidArgument(`tls: the certificate or key is not usable: ${(e as Error).message}`, e);
  }
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
}

/** Loads the service definition from `PROTO_PATH`. */
export function loadService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  return def[SERVICE_NAME] as grpc.ServiceDefinition;
}

/** `def` with request decoders that give a `MalformedRequest` instead of throwing. */
function tolerant(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    out[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return m.requestDeserialize(bytes);
        } catch (e) {
          return new MalformedRequest(e instanceof Error ? e.message : String(e));
        }
      },
    };
  }
  return out;
}

/**
 * Serves `instances` (name → `Db`; the first is the default of requests that name none)
 * over gRPC. Resolves once bound. The databases stay open when the server closes.
 */
export async function startGrpc(instances: Map<string, Db<unknown, unknown>> | Record<string, Db<unknown, unknown>>, settings: GrpcSettings = {}): Promise<GrpcServer> {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw invalidArgument(`settings must be an object, got ${describe(settings)}`);
  for (const k of Object.keys(settings)) if (!SETTINGS.has(k)) throw invalidArgument(`settings: unknown setting ${quote(k)} (expected ${[...SETTINGS].join(', ')})`);
  const list = checkInstances(instances, settings.codecs);
  const host = settings.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw invalidArgument(`host must be a non-empty string, got ${quote(host)}`);
  const port = settings.port ?? 50051;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument(`port must be an integer from 0 to 65535, got ${quote(port)}`);
  const token = settings.token;
  if (token !== undefined && (typeof token !== 'string' || token.length === 0 || /\s/.test(token))) throw invalidArgument('token must be a non-empty string without spaces');
  if (token === undefined && !isLoopback(host)) {
    throw invalidArgument(`refusing to serve gRPC on the non-loopback address ${quote(host)} without a token (set the server token, or bind 127.0.0.1)`);
  }
  const limits = checkLimits(settings.limits);
  const onEvent = settings.onEvent;
  if (onEvent !== undefined && typeof onEvent !== 'function') throw invalidArgument(`onEvent must be a function, got ${describe(onEvent)}`);

  const credentials = credentialsOf(settings.tls);

  const byName = new Map(list.map((i) => [i.name, i]));
  const kvOnly = settings.kvOnly ?? [];
  if (!Array.isArray(kvOnly)) throw invalidArgument(`kvOnly must be an array of instance names, got ${describe(kvOnly)}`);
  for (const n of kvOnly) if (typeof n !== 'string' || !byName.has(n)) throw invalidArgument(`kvOnly: no instance named ${quote(n)}`);
  const noQuery = new Set<string>(kvOnly);
  const ctx: Context = {
    queryInstance(name: string): Instance {
      const inst = this.instance(name);
      if (noQuery.has(inst.name)) {
        throw invalidArgument(`instance ${JSON.stringify(inst.name)} has query = false: it has no indexes and answers no queries or collection calls`);
      }
      return inst;
    },
    instance(name: string): Instance {
      const inst = name === '' ? list[0] : byName.get(name);
      if (inst === undefined) {
        const shown = name.length > 100 ? `${JSON.stringify(name.slice(0, 100))}…` : JSON.stringify(name);
        throw new StrataError('STRATA_NOT_FOUND', `no instance named ${shown} (this server has ${list.map((i) => i.name).join(', ')})`);
      }
      return inst;
    },
    limits,
    emit(e: GrpcEvent): void {
      try {
        onEvent?.(e);
      } catch {
        // A failing hook must not fail the call.
      }
    },
  };
  const auth = new Auth(token);
  const u = <Req, Res>(method: string, fn: (ctx: Context, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> => unary<Req, Res>(ctx, auth, method, (req) => fn(ctx, req));
  const open = new Auth(undefined);

  const impl: grpc.UntypedServiceImplementation = {
    Health: unary(ctx, open, 'Health', () => Promise.resolve({ status: 'ok' })),
    Get: u('Get', kv.get),
    Put: u('Put', kv.put),
    Delete: u('Delete', kv.del),
    Batch: u('Batch', kv.batch),
    Scan: streaming<kv.ScanRequest, kv.ScanBatch>(ctx, auth, 'Scan', (req, call) => kv.scan(ctx, req, call)),
    Query: u('Query', queries.query),
    Count: u('Count', queries.count),
    Explain: u('Explain', queries.explain),
    InsertOne: u('InsertOne', collections.insertOne),
    FindById: u('FindById', collections.findById),
    Find: u('Find', collections.find),
    UpdateOne: u('UpdateOne', collections.updateOne),
    DeleteOne: u('DeleteOne', collections.deleteOne),
    InsertMany: u('InsertMany', collections.insertMany),
    ReplaceOne: u('ReplaceOne', collections.replaceOne),
    DeleteMany: u('DeleteMany', collections.deleteMany),
    CountDocuments: u('CountDocuments', collections.countDocuments),
    ListCollectionIndexes: u('ListCollectionIndexes', collections.listCollectionIndexes),
    DeclareCollectionIndexes: u('DeclareCollectionIndexes', collections.declareCollectionIndexes),
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
  });
  server.addService(tolerant(loadService()), impl);
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, p) => {
      if (err) reject(new StrataError('STRATA_IO_ERROR', `cannot listen on ${address}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, limits.shutdownTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
