/**
 * `lsm.toml`: the instances file, parsed with smol-toml and checked key by key. Every error
 * is `STRATA_INVALID_ARGUMENT` naming the file and line, so a bad config fails at start.
 *
 * ```toml
 * [server]                      # optional: settings of `strata serve` (ts/server/settings.ts)
 * port = 8080
 *
 * [[instance]]
 * name = "app"
 * data_dir = "./.lsm_app"       # relative to the directory of lsm.toml
 * memtable_max_size = 4194304   # the seeds' name of memtable_size
 * codec = "bson"                # raw | json | bson
 * query = true
 * indexes_file = "./indexes_app.toml"
 * ```
 *
 * Any StrataDB option may be set per instance in snake_case (`block_cache_size`, `sync`,
 * `profile`, ...). This module only reads and checks; `openInstances` opens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { COLLECTION_NAME_RE } from '../collections/ids';
import { invalidArgument, StrataError } from '../errors';
import { normalizeOptions, OpenOptions, schema, StrataSettings } from '../options';

// smol-toml is an ES module; Node 20.19+ loads it with require() (as ts/indexes/registry.ts does).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as { parse: (text: string) => unknown };

/** How an instance's values travel over HTTP and are stored. */
export type Codec = 'raw' | 'json' | 'bson';

/** One `[[instance.collection]]` table: `name`, and `indexes = [{ field, type?, unique?, sparse? }]`. */
export interface CollectionConfig {
  name: string;
  indexes: { field: string; type?: 'equality' | 'range' | 'text'; unique?: boolean; sparse?: boolean }[];
  /** `lsm.toml:N` of the table, for messages. */
  where: string;
}

export const CODECS: readonly Codec[] = ['raw', 'json', 'bson'];

/** One `[[instance]]` table, checked. */
export interface InstanceConfig {
  name: string;
  /** Absolute data directory. */
  dataDir: string;
  codec: Codec;
  /** `false`: no index declarations; query and index operations are refused. */
  query: boolean;
  /** Absolute path of the index declarations, when set. */
  indexesFile?: string;
  /** Engine options of this instance (camelCase, as `open()` takes them). */
  options: OpenOptions;
  /** `[[instance.collection]]` tables: collections declared (with their indexed fields) when the instance opens. */
  collections: CollectionConfig[];
  /** Line of the `[[instance]]` header, for messages. */
  line: number;
}

/** The whole file, checked. */
export interface LsmConfig {
  /** Absolute path of the file, or `'<inline>'`. */
  file: string;
  instances: InstanceConfig[];
  /** The `[server]` table as written (checked by the server's settings). */
  server: Record<string, unknown>;
  /** Where each key was written: `where('server', 'port')` → `"lsm.toml:3"`. */
  where(table: string, key?: string): string;
}

/** Instance names: used in URLs and messages, never as paths. */
export const INSTANCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const INSTANCE_KEYS = new Set(['name', 'data_dir', 'codec', 'query', 'indexes_file', 'collection', 'memtable_max_size']);
/** Options the codec decides: setting them beside `codec` would contradict it. */
const CODEC_OWNED = new Set(['keyEncoding', 'valueEncoding']);

function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Line numbers of `key = ...` per table, found by a light scan of the text. */
function scanLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let table = '';
  let instance = -1;
  /** Sub-tables seen so far in the current instance (`collection` → 2): numbered from 0. */
  let nested = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    let m: RegExpExecArray | null;
    if ((m = /^\[\[\s*([A-Za-z0-9_."-]+)\s*\]\]/.exec(line))) {
      const name = (m[1] as string).replace(/"/g, '');
      if (name === 'instance') {
        instance++;
        nested = new Map();
        table = `instance.${instance}`;
      } else if (name.startsWith('instance.')) {
        const sub = name.slice(9);
        const k = nested.get(sub) ?? 0;
        nested.set(sub, k + 1);
        table = `instance.${instance}.${sub}.${k}`;
      } else {
        table = name;
      }
      if (!lines.has(table)) lines.set(table, n);
    } else if ((m = /^\[\s*([A-Za-z0-9_."-]+)\s*\]/.exec(line))) {
      table = (m[1] as string).replace(/"/g, '');
      if (!lines.has(table)) lines.set(table, n);
    } else if ((m = /^("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=/.exec(line))) {
      const key = (m[1] as string).replace(/^["']|["']$/g, '');
      const id = `${table}|${key}`;
      if (!lines.has(id)) lines.set(id, n);
    }
  });
  return lines;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** Reads and checks `lsm.toml`. Throws `STRATA_INVALID_ARGUMENT` naming the line. */
export function readLsmConfig(file: string): LsmConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read config ${JSON.stringify(file)}: ${(e as Error).message}`, e);
  }
  return parseLsmConfig(text, abs);
}

/** Checks the text of an `lsm.toml`; `file` names it in messages and anchors relative paths. */
export function parseLsmConfig(text: string, file = '<inline>'): LsmConfig {
  const base = file === '<inline>' ? process.cwd() : path.dirname(file);
  const label = file === '<inline>' ? 'lsm.toml' : path.basename(file);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const pos = e as { line?: unknown; column?: unknown };
    const where = typeof pos.line === 'number' ? `${label}:${pos.line}:${String(pos.column)}` : label;
    const first = (e as Error).message.split('\n')[0] ?? '';
    throw invalidArgument(`${where}: ${first}`, e);
  }
  const lines = scanLines(text);
  const where = (table: string, key?: string): string => {
    const n = key === undefined ? lines.get(table) : (lines.get(`${table}|${key}`) ?? lines.get(table));
    return n === undefined ? label : `${label}:${n}`;
  };
  const fail = (table: string, key: string | undefined, message: string, cause?: unknown): never => {
    throw invalidArgument(`${where(table, key)}: ${message}`, cause);
  };

  for (const key of Object.keys(doc)) {
    if (key !== 'instance' && key !== 'server') fail(key, undefined, `unknown top-level key ${JSON.stringify(key)} (expected [server] or [[instance]] tables)`);
  }
  const server = doc.server ?? {};
  if (!isTable(server)) fail('', 'server', '[server] must be a table');
  const list = doc.instance;
  if (list === undefined) fail('', undefined, 'no [[instance]] table: at least one instance is needed');
  if (!Array.isArray(list)) fail('', 'instance', 'instance must be an array of tables ([[instance]])');

  const instances: InstanceConfig[] = [];
  const names = new Map<string, number>();
  const dirs = new Map<string, string>();
  (list as unknown[]).forEach((raw, i) => {
    const t = `instance.${i}`;
    if (!isTable(raw)) fail(t, undefined, `instance ${i + 1} must be a table`);
    const inst = raw as Record<string, unknown>;
    const str = (key: string): string => {
      const v = inst[key];
      if (typeof v !== 'string' || v.length === 0) fail(t, key, `${key} must be a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
      return v as string;
    };
    const name = str('name');
    if (!INSTANCE_NAME.test(name)) fail(t, 'name', `instance name ${JSON.stringify(name)} must be 1-64 characters of A-Z a-z 0-9 _ -`);
    if (names.has(name)) fail(t, 'name', `duplicate instance name ${JSON.stringify(name)} (first at line ${names.get(name)})`);
    names.set(name, lines.get(`${t}|name`) ?? 0);

    const dataDir = path.resolve(base, str('data_dir'));
    const prior = dirs.get(dataDir);
    if (prior !== undefined) fail(t, 'data_dir', `instances ${JSON.stringify(prior)} and ${JSON.stringify(name)} share the data_dir ${JSON.stringify(dataDir)}`);
    for (const [other, otherName] of dirs) {
      if (dataDir.startsWith(other + path.sep) || other.startsWith(dataDir + path.sep)) {
        fail(t, 'data_dir', `the data_dir of ${JSON.stringify(name)} and of ${JSON.stringify(otherName)} are nested (${JSON.stringify(dataDir)}, ${JSON.stringify(other)}): each instance needs its own directory`);
      }
    }
    dirs.set(dataDir, name);

    const codec = inst.codec ?? 'raw';
    if (typeof codec !== 'string' || !(CODECS as string[]).includes(codec)) {
      fail(t, 'codec', `codec must be one of raw, json, bson, got ${JSON.stringify(codec)}`);
    }
    const query = inst.query ?? true;
    if (typeof query !== 'boolean') fail(t, 'query', `query must be true or false, got ${JSON.stringify(query)}`);

    let indexesFile: string | undefined;
    if (inst.indexes_file !== undefined) {
      indexesFile = path.resolve(base, str('indexes_file'));
      if (query === false) fail(t, 'indexes_file', `instance ${JSON.stringify(name)} has query = false, so it cannot have an indexes_file`);
      if (!fs.existsSync(indexesFile)) fail(t, 'indexes_file', `indexes_file ${JSON.stringify(indexesFile)} does not exist`);
    }

    const tables = inst.collection ?? [];
    if (!Array.isArray(tables) || !tables.every(isTable)) fail(t, 'collection', 'collection must be an array of tables ([[instance.collection]])');
    const collections: CollectionConfig[] = [];
    const seenCollections = new Set<string>();
    (tables as Record<string, unknown>[]).forEach((c, k) => {
      const ct = `${t}.collection.${k}`;
      if (query === false) fail(ct, undefined, `instance ${JSON.stringify(name)} has query = false, so it cannot declare collections (they need indexes)`);
      for (const key of Object.keys(c)) if (key !== 'name' && key !== 'indexes') fail(ct, key, `unknown key ${JSON.stringify(key)} in [[instance.collection]] (expected name, indexes)`);
      const cname = c.name;
      if (typeof cname !== 'string' || !COLLECTION_NAME_RE.test(cname)) fail(ct, 'name', `collection name must be 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(cname) ?? 'nothing'}`);
      if (seenCollections.has(cname as string)) fail(ct, 'name', `collection ${JSON.stringify(cname)} is declared twice in instance ${JSON.stringify(name)}`);
      seenCollections.add(cname as string);
      const indexes = c.indexes ?? [];
      if (!Array.isArray(indexes) || !indexes.every(isTable)) fail(ct, 'indexes', 'indexes must be an array of tables: [{ field = "city" }, { field = "age", type = "range" }]');
      (indexes as Record<string, unknown>[]).forEach((ix, j) => {
        for (const key of Object.keys(ix)) if (!['field', 'type', 'unique', 'sparse'].includes(key)) fail(ct, 'indexes', `indexes[${j}]: unknown key ${JSON.stringify(key)} (expected field, type, unique, sparse)`);
        if (typeof ix.field !== 'string' || ix.field.length === 0) fail(ct, 'indexes', `indexes[${j}]: field must be a non-empty string`);
        if (ix.type !== undefined && !['equality', 'range', 'text'].includes(ix.type as string)) fail(ct, 'indexes', `indexes[${j}]: type must be equality, range or text, got ${JSON.stringify(ix.type)}`);
        for (const b of ['unique', 'sparse']) if (ix[b] !== undefined && typeof ix[b] !== 'boolean') fail(ct, 'indexes', `indexes[${j}]: ${b} must be true or false`);
      });
      collections.push({ name: cname as string, indexes: indexes as CollectionConfig['indexes'], where: where(ct) });
    });

    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(inst)) {
      if (INSTANCE_KEYS.has(key) && key !== 'memtable_max_size') continue;
      const opt = key === 'memtable_max_size' ? 'memtableSize' : camel(key);
      const known = opt === 'profile' || Object.prototype.hasOwnProperty.call(schema, opt);
      if (!known || key !== key.toLowerCase()) fail(t, key, `unknown key ${JSON.stringify(key)} in [[instance]] ${JSON.stringify(name)}`);
      if (CODEC_OWNED.has(opt)) fail(t, key, `${key} is decided by codec; remove it`);
      if (key !== 'memtable_max_size' && opt === 'memtableSize' && inst.memtable_max_size !== undefined) {
        fail(t, key, 'memtable_size and memtable_max_size are the same option; keep one');
      }
      try {
        // Checks the value alone (no environment), so the message can name this line.
        normalizeOptions({ [opt]: value, env: {}, envFile: false } as OpenOptions);
      } catch (e) {
        const msg = (e as StrataError).message.replace(/^option \w+ \(from options\): /, '');
        fail(t, key, `${key}: ${msg}`, e);
      }
      options[opt] = value;
    }
    options.valueEncoding = codec === 'raw' ? 'buffer' : codec;
    options.keyEncoding = 'utf8';
    instances.push({
      name,
      dataDir,
      codec: codec as Codec,
      query: query as boolean,
      ...(indexesFile === undefined ? {} : { indexesFile }),
      options: options as OpenOptions & StrataSettings,
      collections,
      line: lines.get(t) ?? 0,
    });
  });
  return { file, instances, server: server as Record<string, unknown>, where };
}
