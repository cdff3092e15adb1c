/**
 * The one typed option schema. Options come from four sources, in increasing precedence:
 *
 *   profile defaults → `.env` file (cwd) → `STRATA_*` environment variables → explicit options
 *
 * `normalizeOptions()` merges and validates them into `NormalizedOptions`;
 * `toBindingOptions()` turns those into what the native binding takes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dotenv from 'dotenv';

import type { BindingOpenOptions } from '../binding';
import { EncodingName, describe, encodingNames } from './encodings';
import { invalidArgument } from './errors';

/** Compaction styles. */
export type CompactionStyle = 'leveled' | 'size-tiered';
/** Which SSTables are compressed with zstd (see `StrataSettings.zstd`). */
export type ZstdUse = 'off' | 'bottommost' | 'all';
/** WAL recovery modes. */
export type WalRecovery = 'tolerate-corrupted-tail' | 'point-in-time' | 'salvage';
/** Named option presets. */
export type ProfileName = 'balanced' | 'write-heavy' | 'read-heavy' | 'low-memory';

/** A size in bytes: a number, or a string such as `"4096"`, `"64KiB"`, `"32MiB"`, `"1GiB"`. */
export type Size = number | string;

/** Engine and API settings. Every field is optional; see the README for defaults. */
export interface StrataSettings {
  /** Create the database if it does not exist. Default `true`. */
  createIfMissing?: boolean;
  /** Fail with `STRATA_EXISTS` if the database already exists. Default `false`. */
  errorIfExists?: boolean;
  /**
   * Open without writing anything to disk: the WAL is replayed into memory only, no
   * compaction runs, a read-only directory works, and every write fails with
   * `STRATA_READ_ONLY`. Never creates the database. Default `false`.
   */
  readOnly?: boolean;
  /** Memtable size before it is flushed. Default 32 MiB. */
  memtableSize?: Size;
  /** SSTable data block size. Default 4096. */
  blockSize?: Size;
  /** Bloom filter bits per key (0 disables). Default 10. */
  bloomBitsPerKey?: number;
  /** LZ4 block compression. Default `true`. */
  compression?: boolean;
  /**
   * Which SSTables compress their blocks with zstd instead of LZ4: `'off'` (default),
   * `'bottommost'` (tables a compaction writes at the bottom of the tree, where most data
   * ends up) or `'all'` (flushes too). Smaller on disk; a block-cache miss decodes slower.
   * Needs `compression`. Tables it writes are format version 2, which builds before it cannot open.
   */
  zstd?: ZstdUse;
  /** zstd level, 1–19. Default 3. */
  zstdLevel?: number;
  /** Default durability of writes (fsync before acknowledging). Default `false`. */
  sync?: boolean;
  /** Block cache capacity. Default 32 MiB. */
  blockCacheSize?: Size;
  /** Read SSTables through memory maps. Default `true`. */
  useMmap?: boolean;
  /** Compaction style. Default `'leveled'`. */
  compactionStyle?: CompactionStyle;
  /** L0 files that trigger a compaction. Default 4. */
  l0CompactionTrigger?: number;
  /** L0 files at which writes stall. Default 20. */
  l0StopTrigger?: number;
  /** Size ratio between adjacent levels. Default 10. */
  levelSizeRatio?: number;
  /** Number of levels. Default 7. */
  numLevels?: number;
  /** Target total size of L1. Default 64 MiB. */
  baseLevelSize?: Size;
  /** Target size of one SSTable. Default 16 MiB. */
  targetFileSize?: Size;
  /** WAL recovery mode. Default `'tolerate-corrupted-tail'`. */
  walRecovery?: WalRecovery;
  /** Default key encoding. Default `'utf8'`. */
  keyEncoding?: EncodingName;
  /** Default value encoding. Default `'utf8'`. */
  valueEncoding?: EncodingName;
}

/** Options accepted by `open()`. */
export interface OpenOptions extends StrataSettings {
  /** Preset to start from. Default `'balanced'` (or `STRATA_PROFILE`). */
  profile?: ProfileName;
  /** Environment to read `STRATA_*` variables from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Path of the `.env` file to read, or `false` to skip it. Default `<cwd>/.env`. */
  envFile?: string | false;
}

/** Fully resolved settings, sizes in bytes. */
export interface NormalizedOptions {
  profile: ProfileName;
  createIfMissing: boolean;
  errorIfExists: boolean;
  readOnly: boolean;
  memtableSize: number;
  blockSize: number;
  bloomBitsPerKey: number;
  compression: boolean;
  zstd: ZstdUse;
  zstdLevel: number;
  sync: boolean;
  blockCacheSize: number;
  useMmap: boolean;
  compactionStyle: CompactionStyle;
  l0CompactionTrigger: number;
  l0StopTrigger: number;
  levelSizeRatio: number;
  numLevels: number;
  baseLevelSize: number;
  targetFileSize: number;
  walRecovery: WalRecovery;
  keyEncoding: EncodingName;
  valueEncoding: EncodingName;
  /** Where each setting came from: `'default'`, `'profile <name>'`, `'.env'`, `'env'` or `'options'`. */
  sources: Record<keyof StrataSettings, string>;
}

type Kind =
  | { type: 'bool' }
  | { type: 'size' }
  | { type: 'int' }
  | { type: 'enum'; values: readonly string[] };

interface Field {
  kind: Kind;
  env: string;
  default: unknown;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function field(key: string, kind: Kind, def: unknown): [string, Field] {
  const env = 'STRATA_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return [key, { kind, env, default: def }];
}

const BOOL: Kind = { type: 'bool' };
const SIZE: Kind = { type: 'size' };
const INT: Kind = { type: 'int' };

/** The schema: every setting, its kind, its environment variable and its default. */
export const schema: Readonly<Record<keyof StrataSettings, Field>> = Object.fromEntries([
  field('createIfMissing', BOOL, true),
  field('errorIfExists', BOOL, false),
  field('readOnly', BOOL, false),
  field('memtableSize', SIZE, 32 * MiB),
  field('blockSize', SIZE, 4096),
  field('bloomBitsPerKey', INT, 10),
  field('compression', BOOL, true),
  field('zstd', { type: 'enum', values: ['off', 'bottommost', 'all'] }, 'off'),
  field('zstdLevel', INT, 3),
  field('sync', BOOL, false),
  field('blockCacheSize', SIZE, 32 * MiB),
  field('useMmap', BOOL, true),
  field('compactionStyle', { type: 'enum', values: ['leveled', 'size-tiered'] }, 'leveled'),
  field('l0CompactionTrigger', INT, 4),
  field('l0StopTrigger', INT, 20),
  field('levelSizeRatio', INT, 10),
  field('numLevels', INT, 7),
  field('baseLevelSize', SIZE, 64 * MiB),
  field('targetFileSize', SIZE, 16 * MiB),
  field('walRecovery', { type: 'enum', values: ['tolerate-corrupted-tail', 'point-in-time', 'salvage'] }, 'tolerate-corrupted-tail'),
  field('keyEncoding', { type: 'enum', values: encodingNames }, 'utf8'),
  field('valueEncoding', { type: 'enum', values: encodingNames }, 'utf8'),
]) as Record<keyof StrataSettings, Field>;

const SETTING_KEYS = Object.keys(schema) as (keyof StrataSettings)[];
const PROFILE_ENV = 'STRATA_PROFILE';

/** Named presets. `balanced` is the defaults. */
export const profiles: Readonly<Record<ProfileName, Readonly<StrataSettings>>> = {
  balanced: {},
  'write-heavy': { memtableSize: 128 * MiB, compactionStyle: 'size-tiered', l0CompactionTrigger: 8 },
  'read-heavy': { blockCacheSize: 256 * MiB, bloomBitsPerKey: 14, compactionStyle: 'leveled' },
  'low-memory': { memtableSize: 4 * MiB, blockCacheSize: 4 * MiB, blockSize: 4096 },
};

const PROFILE_NAMES = Object.keys(profiles) as ProfileName[];

/** Parses a size: `4096`, `"4096"`, `"64KiB"`, `"32MiB"`, `"1GiB"` (also `K`/`KB`/`M`/`MB`/`G`/`GB`, all binary). */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? KiB : unit === 'm' ? MiB : unit === 'g' ? GiB : unit === 't' ? GiB * 1024 : 1;
  const bytes = n * mult;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function parseBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return undefined;
}

function parseInt_(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

/** Converts and checks one value; throws `STRATA_INVALID_ARGUMENT` naming the option and source. */
function coerce(key: string, raw: unknown, source: string, fromText: boolean): unknown {
  const f = (schema as Record<string, Field>)[key];
  if (f === undefined) throw invalidArgument(`unknown option ${JSON.stringify(key)} (from ${source})`);
  const bad = (expected: string): never => {
    throw invalidArgument(
      `option ${key} (from ${source}): expected ${expected}, got ${fromText ? JSON.stringify(raw) : describe(raw) + ' ' + safeString(raw)}`,
    );
  };
  switch (f.kind.type) {
    case 'bool': {
      const v = fromText ? parseBool(raw) : typeof raw === 'boolean' ? raw : undefined;
      return v ?? bad('a boolean');
    }
    case 'size': {
      const v = parseSize(raw);
      return v ?? bad('a size in bytes such as 4096, "64KiB", "32MiB" or "1GiB"');
    }
    case 'int': {
      const v = fromText ? parseInt_(raw) : typeof raw === 'number' ? parseInt_(raw) : undefined;
      return v ?? bad('a non-negative integer');
    }
    case 'enum': {
      const v = typeof raw === 'string' ? raw.trim() : raw;
      if (typeof v === 'string' && f.kind.values.includes(v)) return v;
      return bad(`one of ${f.kind.values.map((s) => `'${s}'`).join(', ')}`);
    }
  }
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function checkProfile(name: unknown, source: string): ProfileName {
  if (typeof name === 'string' && (PROFILE_NAMES as string[]).includes(name.trim())) return name.trim() as ProfileName;
  throw invalidArgument(
    `option profile (from ${source}): unknown profile ${safeString(name)} (expected one of ${PROFILE_NAMES.join(', ')})`,
  );
}

/** Prefixes of `STRATA_*` variables that belong to the test and benchmark tools, not to options. */
const RESERVED_PREFIXES = ['STRATA_SOAK_', 'STRATA_TEST_', 'STRATA_BENCH_', 'STRATA_CRASH_', 'STRATA_SERVER_'];

/** Unknown variable names already warned about (once per process each). */
const warnedUnknown = new Set<string>();

/**
 * Reads `STRATA_*` variables from `vars` as settings. An unknown `STRATA_*` name (a typo, or
 * another tool's `STRATA_API_KEY`) is warned about once per process — never fatal, since the
 * environment is shared with other programs — except the reserved tool prefixes, which are
 * skipped silently. A known name with a bad value is an error.
 */
function fromVariables(vars: Record<string, string | undefined>, source: string): Partial<Record<string, unknown>> {
  const byEnv = new Map(SETTING_KEYS.map((k) => [schema[k].env, k] as const));
  const out: Partial<Record<string, unknown>> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (!name.startsWith('STRATA_') || value === undefined || name === PROFILE_ENV) continue;
    if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) continue;
    const key = byEnv.get(name);
    if (key === undefined) {
      if (!warnedUnknown.has(name)) {
        warnedUnknown.add(name);
        process.emitWarning(`ignoring unknown variable ${name} (from ${source}): not a StrataDB setting (see the README's Options table)`, {
          code: 'STRATA_UNKNOWN_ENV',
        });
      }
      continue;
    }
    out[key] = coerce(key, value, `${source} ${name}`, true);
  }
  return out;
}

/**
 * Checks that an options object of a call (`get`, `put`, `iterator`, ...) names only options
 * that call knows: a typo such as `{ revers: true }` is a `STRATA_INVALID_ARGUMENT`, as it is
 * for `open()`. `undefined` and non-objects are left to the caller's own checks.
 */
export function checkKnownOptions(opts: unknown, known: readonly string[], what: string): void {
  if (opts === null || typeof opts !== 'object') return;
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) {
      throw invalidArgument(`unknown option ${JSON.stringify(key)} of ${what} (expected ${known.join(', ')})`);
    }
  }
}

/** The options each call takes (see `ReadOptions`, `WriteOptions`, `IteratorOptions`). */
export const callOptions = {
  read: ['keyEncoding', 'valueEncoding', 'snapshot'],
  write: ['keyEncoding', 'valueEncoding', 'sync'],
  range: ['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit'],
  iterator: ['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit', 'keyEncoding', 'valueEncoding', 'keys', 'values', 'snapshot'],
  clear: ['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit', 'keyEncoding', 'valueEncoding', 'sync'],
} as const;

/** Reads and parses a `.env` file without touching `process.env`. Missing file: empty. */
function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalidArgument(`cannot read ${file}`, e);
  }
  return dotenv.parse(text);
}

/**
 * Merges every source into one validated set of settings.
 * Throws `StrataError` (`STRATA_INVALID_ARGUMENT`) naming the bad option and its source.
 */
export function normalizeOptions(options: OpenOptions = {}): NormalizedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  const env = options.env ?? process.env;
  if (env === null || typeof env !== 'object') throw invalidArgument('option env must be an object');
  const envFile = options.envFile === undefined ? path.join(process.cwd(), '.env') : options.envFile;
  if (envFile !== false && typeof envFile !== 'string') throw invalidArgument('option envFile must be a path or false');
  const fileVars = envFile === false ? {} : readEnvFile(envFile);

  // The profile: explicit → env → .env → balanced.
  let profile: ProfileName = 'balanced';
  if (options.profile !== undefined) profile = checkProfile(options.profile, 'options');
  else if (env[PROFILE_ENV] !== undefined) profile = checkProfile(env[PROFILE_ENV], `env ${PROFILE_ENV}`);
  else if (fileVars[PROFILE_ENV] !== undefined) profile = checkProfile(fileVars[PROFILE_ENV], `.env ${PROFILE_ENV}`);

  const explicit: Partial<Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'profile' || key === 'env' || key === 'envFile' || value === undefined) continue;
    explicit[key] = coerce(key, value, 'options', false);
  }

  const layers: [string, Partial<Record<string, unknown>>][] = [
    [`profile ${profile}`, profiles[profile] as Partial<Record<string, unknown>>],
    ['.env', fromVariables(fileVars, '.env')],
    ['env', fromVariables(env, 'env')],
    ['options', explicit],
  ];
  const out: Record<string, unknown> = { profile };
  const sources: Record<string, string> = {};
  for (const key of SETTING_KEYS) {
    out[key] = schema[key].default;
    sources[key] = 'default';
    for (const [name, layer] of layers) {
      if (layer[key] !== undefined) {
        out[key] = layer[key];
        sources[key] = name;
      }
    }
  }
  out.sources = sources;
  return out as unknown as NormalizedOptions;
}

/** The settings the native binding takes. */
export function toBindingOptions(o: NormalizedOptions): BindingOpenOptions {
  return {
    createIfMissing: o.createIfMissing,
    errorIfExists: o.errorIfExists,
    readOnly: o.readOnly,
    memtableSize: o.memtableSize,
    blockSize: o.blockSize,
    bloomBitsPerKey: o.bloomBitsPerKey,
    compression: o.compression,
    zstd: o.zstd,
    zstdLevel: o.zstdLevel,
    sync: o.sync,
    blockCacheSize: o.blockCacheSize,
    useMmap: o.useMmap,
    compactionStyle: o.compactionStyle,
    l0CompactionTrigger: o.l0CompactionTrigger,
    l0StopTrigger: o.l0StopTrigger,
    levelSizeRatio: o.levelSizeRatio,
    numLevels: o.numLevels,
    baseLevelSize: o.baseLevelSize,
    targetFileSize: o.targetFileSize,
    walRecovery: o.walRecovery,
  };
}

/** Resolves the configuration `open()` would use, without opening anything. */
export function loadConfig(options: OpenOptions = {}): NormalizedOptions {
  return normalizeOptions(options);
}
