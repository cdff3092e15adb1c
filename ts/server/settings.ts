/**
 * Settings of the HTTP server, with their sources in increasing precedence:
 *
 *   defaults → `.env` (cwd) → `STRATA_SERVER_*` variables → `[server]` of lsm.toml → `serve()` options
 *
 * (the same order as the database options: files and variables below what is written for
 * this run). Every key is checked; an unknown key or bad value is `STRATA_INVALID_ARGUMENT`
 * naming it and where it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dotenv from 'dotenv';

import { invalidArgument } from '../errors';
import { parseSize } from '../options';

/** Log levels of pino. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every server setting, resolved. */
export interface ServerSettings {
  /** Address to bind. Default `127.0.0.1`; a non-loopback address needs `authToken`. */
  host: string;
  /** Port; 0 picks a free one. Default 8080. */
  port: number;
  /** Bearer token every route but `/health` requires, when set. */
  authToken?: string;
  /** When set, the gRPC service (`proto/stratadb.proto`) listens on this port too (same host and token). */
  grpcPort?: number;
  /** PEM files (certificate chain, private key): set both to serve gRPC over TLS. Relative to lsm.toml's folder. */
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  /** pino level. Default `info`. */
  logLevel: LogLevel;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit: number;
  /** Most operations in one batch request. Default 1000. */
  maxBatch: number;
  /** Largest key in bytes (UTF-8). Default 1024. */
  maxKeySize: number;
  /** Largest value in bytes, as stored. Default 512 KiB. */
  maxValueSize: number;
  /** A request that has not been answered after this many ms gets 503. Default 30000. */
  requestTimeoutMs: number;
  /** Most open connections (more are refused by the socket). Default 1024. */
  maxConnections: number;
  /** Most requests being handled at once; more get 429. Default 512. */
  maxInFlight: number;
  /** Most keys a substring search reads for one page. Default 10000. */
  scanBudget: number;
  /** Largest page of a list. Default 1000. */
  maxPage: number;
  /** Worker processes: 1 (one process owns a database directory). */
  workers: number;
  /**
   * Where backups started over HTTP (`POST /jobs/backup`) go: one incremental backup directory
   * per instance, `<backupDir>/<instance>`. Unset: such backups are refused (409). A request
   * never names a path.
   */
  backupDir?: string;
}

type Kind = 'string' | 'port' | 'size' | 'int' | 'level' | 'path';

interface Field {
  kind: Kind;
  env: string;
  toml: string;
}

function f(kind: Kind, env: string, toml: string): Field {
  return { kind, env: `STRATA_SERVER_${env}`, toml };
}

const FIELDS: Record<keyof ServerSettings, Field> = {
  host: f('string', 'HOST', 'host'),
  port: f('port', 'PORT', 'port'),
  authToken: f('string', 'TOKEN', 'auth_token'),
  grpcPort: f('port', 'GRPC_PORT', 'grpc_port'),
  grpcTlsCert: f('string', 'GRPC_TLS_CERT', 'grpc_tls_cert'),
  grpcTlsKey: f('string', 'GRPC_TLS_KEY', 'grpc_tls_key'),
  logLevel: f('level', 'LOG_LEVEL', 'log_level'),
  bodyLimit: f('size', 'BODY_LIMIT', 'body_limit'),
  maxBatch: f('int', 'MAX_BATCH', 'max_batch'),
  maxKeySize: f('size', 'MAX_KEY_SIZE', 'max_key_size'),
  maxValueSize: f('size', 'MAX_VALUE_SIZE', 'max_value_size'),
  requestTimeoutMs: f('int', 'REQUEST_TIMEOUT_MS', 'request_timeout_ms'),
  maxConnections: f('int', 'MAX_CONNECTIONS', 'max_connections'),
  maxInFlight: f('int', 'MAX_IN_FLIGHT', 'max_in_flight'),
  scanBudget: f('int', 'SCAN_BUDGET', 'scan_budget'),
  maxPage: f('int', 'MAX_PAGE', 'max_page'),
  workers: f('int', 'WORKERS', 'workers'),
  backupDir: f('path', 'BACKUP_DIR', 'backup_dir'),
};

/** The defaults. */
export const SERVER_DEFAULTS: Readonly<ServerSettings> = {
  host: '127.0.0.1',
  port: 8080,
  logLevel: 'info',
  bodyLimit: 1024 * 1024,
  maxBatch: 1000,
  maxKeySize: 1024,
  maxValueSize: 512 * 1024,
  requestTimeoutMs: 30_000,
  maxConnections: 1024,
  maxInFlight: 512,
  scanBudget: 10_000,
  maxPage: 1000,
  workers: 1,
};

/** The environment variable of each setting (for `.env.example` and the README). */
export const SERVER_ENV: Readonly<Record<keyof ServerSettings, string>> = Object.fromEntries(
  Object.entries(FIELDS).map(([k, v]) => [k, v.env]),
) as Record<keyof ServerSettings, string>;

/** `STRATA_SERVER_CONFIG`: the lsm.toml `serve()` reads when no `config` is given. */
export const CONFIG_ENV = 'STRATA_SERVER_CONFIG';

function coerce(key: keyof ServerSettings, raw: unknown, source: string): unknown {
  const kind = FIELDS[key].kind;
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const bad = (expected: string): never => {
    throw invalidArgument(`server setting ${FIELDS[key].toml} (from ${source}): expected ${expected}, got ${JSON.stringify(raw) ?? String(raw)}`);
  };
  switch (kind) {
    case 'string':
    case 'path':
      return typeof text === 'string' && text.length > 0 ? text : bad('a non-empty string');
    case 'level':
      return typeof text === 'string' && (LOG_LEVELS as string[]).includes(text) ? text : bad(`one of ${LOG_LEVELS.join(', ')}`);
    case 'size': {
      const n = parseSize(text);
      return n !== undefined && n > 0 ? n : bad('a size such as 1048576 or "1MiB"');
    }
    case 'port':
    case 'int': {
      const n = typeof text === 'number' ? text : typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN;
      const min = kind === 'port' ? 0 : 1;
      const max = kind === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
      return Number.isSafeInteger(n) && n >= min && n <= max ? n : bad(kind === 'port' ? 'a port 0-65535' : 'a positive integer');
    }
  }
}

/** Sources of `resolveServerSettings`. */
export interface SettingsSources {
  /** The `[server]` table of lsm.toml, and how to name where a key was written. */
  toml?: Record<string, unknown>;
  where?: (key: string) => string;
  /** Explicit settings (the `serve()` options / CLI flags). */
  explicit?: Partial<ServerSettings>;
  /** Variables to read instead of `process.env`. */
  env?: Record<string, string | undefined>;
  /** `.env` path, or `false` to skip. Default `<cwd>/.env`. */
  envFile?: string | false;
  /** The directory a relative path of `toml` is resolved against (lsm.toml's); other sources: the working directory. */
  baseDir?: string;
}

/** Reads `.env` (without touching `process.env`); missing file: empty. */
export function readDotEnv(file: string | false | undefined): Record<string, string> {
  const p = file === undefined ? path.join(process.cwd(), '.env') : file;
  if (p === false) return {};
  try {
    return dotenv.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalidArgument(`cannot read ${p}`, e);
  }
}

function fromVariables(vars: Record<string, string | undefined>, source: string): Partial<Record<keyof ServerSettings, unknown>> {
  const byEnv = new Map(Object.entries(FIELDS).map(([k, v]) => [v.env, k as keyof ServerSettings]));
  const out: Partial<Record<keyof ServerSettings, unknown>> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (!name.startsWith('STRATA_SERVER_') || value === undefined || name === CONFIG_ENV) continue;
    const key = byEnv.get(name);
    if (key === undefined) throw invalidArgument(`unknown server setting ${name} (from ${source})`);
    out[key] = coerce(key, value, `${source} ${name}`);
  }
  return out;
}

/** Merges and checks every source. */
export function resolveServerSettings(src: SettingsSources = {}): ServerSettings {
  const byToml = new Map(Object.entries(FIELDS).map(([k, v]) => [v.toml, k as keyof ServerSettings]));
  const toml: Partial<Record<keyof ServerSettings, unknown>> = {};
  for (const [name, value] of Object.entries(src.toml ?? {})) {
    const where = src.where?.(name) ?? 'lsm.toml';
    const key = byToml.get(name);
    if (key === undefined) throw invalidArgument(`${where}: unknown key ${JSON.stringify(name)} in [server]`);
    const v = coerce(key, value, where);
    toml[key] = FIELDS[key].kind === 'path' ? path.resolve(src.baseDir ?? process.cwd(), v as string) : v;
  }
  const explicit: Partial<Record<keyof ServerSettings, unknown>> = {};
  for (const [name, value] of Object.entries(src.explicit ?? {})) {
    if (value === undefined) continue;
    if (!(name in FIELDS)) throw invalidArgument(`unknown server setting ${JSON.stringify(name)} (from options)`);
    explicit[name as keyof ServerSettings] = coerce(name as keyof ServerSettings, value, 'options');
  }
  const layers = [fromVariables(readDotEnv(src.envFile), '.env'), fromVariables(src.env ?? process.env, 'env'), toml, explicit];
  const out: Record<string, unknown> = { ...SERVER_DEFAULTS };
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  const s = out as unknown as ServerSettings;
  if (s.backupDir !== undefined) s.backupDir = path.resolve(s.backupDir);
  if (s.workers !== 1) throw invalidArgument(`server setting workers must be 1: one process owns a database directory (got ${s.workers})`);
  if (s.maxValueSize > s.bodyLimit) s.maxValueSize = s.bodyLimit;
  return s;
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
