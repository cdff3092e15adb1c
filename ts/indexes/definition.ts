/**
 * Index definitions: their types, validation and canonical form, and the path grammar of
 * `json_path` / `bson_path` extractors (`compilePath`; `ts/indexes/extract.ts` evaluates it).
 *
 * Canonical form (what `normalizeIndexDefinition` returns): a fresh plain object with keys in
 * the order `name, type, extractor, scope, unique, sparse`; `scope` only when given, `unique`
 * and `sparse` always present as booleans; the extractor's keys in the order `kind, path |
 * paths | name`; paths rewritten in canonical syntax (`$['a']` and `$["a"]` become `$.a`).
 * Two equivalent definitions therefore give the same `JSON.stringify`.
 */
import { describe, quote } from '../encodings';
import { invalidArgument } from '../errors';

/** How a posting list is used: exact matches, ranges (and prefixes), or words of text. */
export type IndexType = 'equality' | 'range' | 'text';

/** Where the terms of a record come from. */
export type Extractor =
  | { kind: 'raw' }
  | { kind: 'json_path'; path: string }
  | { kind: 'json_path'; paths: string[] }
  | { kind: 'bson_path'; path: string }
  | { kind: 'bson_path'; paths: string[] }
  | { kind: 'custom'; name: string };

/** An index definition, as stored in the registry and loaded from `indexes.json` / `indexes.toml`. */
export interface IndexDefinition {
  /** 1–128 characters of `[A-Za-z0-9_.-]`. */
  name: string;
  type: IndexType;
  extractor: Extractor;
  /** Only keys starting with this prefix (in the database's key encoding) are indexed. */
  scope?: string;
  /** At most one record per term (not for text indexes). */
  unique?: boolean;
  /** Records where every path is missing are not indexed (default: indexed as `null`). */
  sparse?: boolean;
}

/** Index types. */
export const INDEX_TYPES: readonly IndexType[] = ['equality', 'range', 'text'];
/** Extractor kinds. */
export const EXTRACTOR_KINDS: readonly Extractor['kind'][] = ['raw', 'json_path', 'bson_path', 'custom'];
/** Longest index (and custom extractor) name. */
export const MAX_INDEX_NAME_LENGTH = 128;
/** Fewest and most paths of a compound index. */
export const MIN_COMPOUND_PATHS = 2;
export const MAX_COMPOUND_PATHS = 8;
/** Longest path, in characters. */
export const MAX_PATH_LENGTH = 1024;
/** Longest scope, in UTF-8 bytes (the engine's key limit). */
export const MAX_SCOPE_BYTES = 65536;

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const TOP_KEYS = ['name', 'type', 'extractor', 'scope', 'unique', 'sparse'];

// ---- paths -------------------------------------------------------------------------------

/** One step of a path. */
export type PathSegment =
  | { kind: 'member'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' };

/** A parsed path. `source` is what was given, `canonical` the normal spelling. */
export interface CompiledPath {
  readonly source: string;
  readonly canonical: string;
  readonly segments: readonly PathSegment[];
}

/** Member names that can be written after a dot: a letter, `_` or `$`, then letters, digits, `_`, `$`. */
const DOT_NAME_RE = /^[\p{L}\p{Nl}_$][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$]*$/u;
const DOT_NAME_CHAR = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$]/u;

function quoteName(name: string): string {
  let out = "'";
  for (const ch of name) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + "'";
}

function formatSegments(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const s of segments) {
    if (s.kind === 'member') out += DOT_NAME_RE.test(s.name) ? `.${s.name}` : `[${quoteName(s.name)}]`;
    else if (s.kind === 'index') out += `[${s.index}]`;
    else out += '[*]';
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses a path: `$` (the whole value), then any of `.name`, `['name']` / `["name"]` (escapes
 * `\\ \' \" \/ \b \f \n \r \t \uXXXX`), `[0]` (an array element), `[*]` (every element of an
 * array). Nothing else (no whitespace, filters, slices, negative indexes, `..` or `.*`).
 * Throws `STRATA_INVALID_ARGUMENT` prefixed with `what`.
 */
export function compilePath(path: string, what = 'path'): CompiledPath {
  if (typeof path !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(path)}`);
  const bad = (at: number, why: string): never => {
    throw invalidArgument(`${what}: ${why} at offset ${at} in ${quote(path)}`);
  };
  if (path.length === 0) throw invalidArgument(`${what} must not be empty (use '$' for the whole value)`);
  if (path.length > MAX_PATH_LENGTH) throw invalidArgument(`${what} is longer than ${MAX_PATH_LENGTH} characters`);
  if (path[0] !== '$') bad(0, "a path starts with '$'");
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const start = i + 1;
      if (path[start] === '.') bad(i, "recursive descent '..' is not supported");
      if (path[start] === '*') bad(start, "'.*' is not supported (use '[*]' for the elements of an array)");
      let j = start;
      while (j < path.length) {
        const cp = path.codePointAt(j) as number;
        const ch = String.fromCodePoint(cp);
        if (!DOT_NAME_CHAR.test(ch)) break;
        j += ch.length;
      }
      const name = path.slice(start, j);
      if (name.length === 0) bad(start, "expected a member name after '.' (use ['...'] for other names)");
      if (!DOT_NAME_RE.test(name)) bad(start, `member name ${quote(name)} must be written ['${name}']`);
      segments.push({ kind: 'member', name });
      i = j;
    } else if (c === '[') {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        let j = i + 2;
        let name = '';
        for (;;) {
          if (j >= path.length) bad(i, 'unterminated quoted name');
          const ch = path[j] as string;
          if (ch === q) break;
          if (ch === '\\') {
            const e = path[j + 1];
            if (e === undefined) bad(j, 'unterminated escape');
            if (e === 'u') {
              const hex = path.slice(j + 2, j + 6);
              if (!/^[0-9A-Fa-f]{4}$/.test(hex)) bad(j, 'expected four hex digits after \\u');
              name += String.fromCharCode(parseInt(hex, 16));
              j += 6;
            } else {
              const r = SIMPLE_ESCAPES[e as string];
              if (r === undefined) bad(j, `unknown escape \\${e as string}`);
              name += r as string;
              j += 2;
            }
          } else {
            name += ch;
            j++;
          }
        }
        if (path[j + 1] !== ']') bad(j + 1, "expected ']' after the quoted name");
        segments.push({ kind: 'member', name });
        i = j + 2;
      } else if (q === '*') {
        if (path[i + 2] !== ']') bad(i + 2, "expected ']' after '[*'");
        segments.push({ kind: 'wildcard' });
        i += 3;
      } else {
        const m = /^\[(-?)([0-9]+)\]/.exec(path.slice(i));
        if (m === null) bad(i, "expected [index], [*], ['name'] or [\"name\"]");
        const [all, minus, digits] = m as RegExpExecArray;
        if (minus) bad(i + 1, 'negative array indexes are not supported');
        if ((digits as string).length > 1 && (digits as string)[0] === '0') bad(i + 1, 'array index with a leading zero');
        const index = Number(digits);
        if (!Number.isSafeInteger(index) || index > 0xffffffff) bad(i + 1, 'array index too large');
        segments.push({ kind: 'index', index });
        i += (all as string).length;
      }
    } else {
      bad(i, `unexpected ${quote(c)} (expected '.' or '[')`);
    }
  }
  return { source: path, canonical: formatSegments(segments), segments };
}

// ---- definitions -------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw invalidArgument(`${what}: unknown key ${quote(k)} (expected ${allowed.map((a) => quote(a)).join(', ')})`);
    }
  }
}

function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(v)}`);
  if (v.length === 0 || v.length > MAX_INDEX_NAME_LENGTH) {
    throw invalidArgument(`${what} must be 1-${MAX_INDEX_NAME_LENGTH} characters long, got ${v.length}`);
  }
  if (!NAME_RE.test(v)) throw invalidArgument(`${what}: ${quote(v)} may only contain A-Z, a-z, 0-9, '_', '.' and '-'`);
  return v;
}

function checkBoolean(v: unknown, what: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidArgument(`${what} must be a boolean, got ${describe(v)}`);
  return v;
}

function normalizeExtractor(v: unknown, what: string): Extractor {
  if (!isPlainObject(v)) throw invalidArgument(`${what} must be an object, got ${describe(v)}`);
  const kind = v.kind;
  if (kind === undefined) throw invalidArgument(`${what}.kind is required (one of ${EXTRACTOR_KINDS.join(', ')})`);
  switch (kind) {
    case 'raw':
      checkKeys(v, ['kind'], what);
      return { kind: 'raw' };
    case 'custom':
      checkKeys(v, ['kind', 'name'], what);
      return { kind: 'custom', name: checkName(v.name, `${what}.name`) };
    case 'json_path':
    case 'bson_path': {
      const k = kind === 'json_path' ? 'json_path' : 'bson_path';
      checkKeys(v, ['kind', 'path', 'paths'], what);
      if (v.path !== undefined && v.paths !== undefined) throw invalidArgument(`${what}: give either path or paths, not both`);
      if (v.path !== undefined) {
        const path = compilePath(v.path as string, `${what}.path`).canonical;
        // Spelled twice so that each branch is one member of the Extractor union.
        return k === 'json_path' ? { kind: k, path } : { kind: k, path };
      }
      if (v.paths === undefined) throw invalidArgument(`${what}: path (or paths, for a compound index) is required`);
      const paths = v.paths;
      if (!Array.isArray(paths)) throw invalidArgument(`${what}.paths must be an array of paths, got ${describe(paths)}`);
      if (paths.length < MIN_COMPOUND_PATHS || paths.length > MAX_COMPOUND_PATHS) {
        throw invalidArgument(
          `${what}.paths must hold ${MIN_COMPOUND_PATHS}-${MAX_COMPOUND_PATHS} paths, got ${paths.length}` +
            (paths.length === 1 ? ' (use path for a single one)' : ''),
        );
      }
      const out: string[] = [];
      paths.forEach((p: unknown, i) => {
        const c = compilePath(p as string, `${what}.paths[${i}]`).canonical;
        const dup = out.indexOf(c);
        if (dup >= 0) throw invalidArgument(`${what}.paths[${i}]: ${quote(c)} repeats paths[${dup}]`);
        out.push(c);
      });
      return k === 'json_path' ? { kind: k, paths: out } : { kind: k, paths: out };
    }
    default:
      throw invalidArgument(`${what}.kind: unknown extractor kind ${quote(kind)} (expected one of ${EXTRACTOR_KINDS.join(', ')})`);
  }
}

/**
 * Validates an index definition (from code, the registry or a config file) and returns its
 * canonical form. Every error is `STRATA_INVALID_ARGUMENT` and names the field, prefixed with
 * `what` (e.g. `indexes[2]` gives `indexes[2].extractor.path: ...`).
 */
export function normalizeIndexDefinition(def: unknown, what = 'index'): IndexDefinition {
  if (!isPlainObject(def)) throw invalidArgument(`${what} must be an object, got ${describe(def)}`);
  checkKeys(def, TOP_KEYS, what);
  const name = checkName(def.name, `${what}.name`);
  const type = def.type;
  if (type === undefined) throw invalidArgument(`${what}.type is required (one of ${INDEX_TYPES.join(', ')})`);
  if (typeof type !== 'string' || !(INDEX_TYPES as readonly string[]).includes(type)) {
    throw invalidArgument(`${what}.type: unknown index type ${quote(type)} (expected one of ${INDEX_TYPES.join(', ')})`);
  }
  if (def.extractor === undefined) throw invalidArgument(`${what}.extractor is required`);
  const extractor = normalizeExtractor(def.extractor, `${what}.extractor`);
  let scope: string | undefined;
  if (def.scope !== undefined) {
    if (typeof def.scope !== 'string') throw invalidArgument(`${what}.scope must be a string, got ${describe(def.scope)}`);
    if (def.scope.length === 0) throw invalidArgument(`${what}.scope must not be empty (omit it to index every key)`);
    if (Buffer.byteLength(def.scope, 'utf8') > MAX_SCOPE_BYTES) {
      throw invalidArgument(`${what}.scope is longer than ${MAX_SCOPE_BYTES} bytes`);
    }
    scope = def.scope;
  }
  const unique = checkBoolean(def.unique, `${what}.unique`);
  const sparse = checkBoolean(def.sparse, `${what}.sparse`);
  if (type === 'text') {
    if ('paths' in extractor) throw invalidArgument(`${what}.extractor.paths: a text index takes a single path, not a compound one`);
    if (unique) throw invalidArgument(`${what}.unique: a text index cannot be unique`);
  }
  const out: IndexDefinition = { name, type: type as IndexType, extractor };
  if (scope !== undefined) out.scope = scope;
  out.unique = unique;
  out.sparse = sparse;
  return out;
}

/** True when two definitions are equivalent (equal canonical forms). Throws if either is invalid. */
export function sameDefinition(a: IndexDefinition, b: IndexDefinition): boolean {
  return JSON.stringify(normalizeIndexDefinition(a, 'a')) === JSON.stringify(normalizeIndexDefinition(b, 'b'));
}
