/**
 * Declarative indexes of a collection: `{ field, type, unique?, sparse? }` → index
 * definitions scoped to the collection's keys, and back (what the registry holds is the
 * truth: a collection reopened without declarations still knows its indexes).
 *
 * Each declared field gets **two** `bson_path` indexes, so that a filter matches a field's
 * value *or* any element of an array there (MongoDB's multikey semantics):
 *
 * | Index name | Path | Holds |
 * | --- | --- | --- |
 * | `{collection}.{field}` | `$.a.b` | the value (scalars; `null` when missing unless `sparse`) |
 * | `{collection}.{field}.-each` | `$.a.b[*]` | the elements of an array there (always sparse) |
 *
 * Text fields get `{collection}.{field}.-text` and `{collection}.{field}.-text-each`. A field
 * path that is not plain ASCII words (`[A-Za-z0-9_]`) is named by a hash (`-` and 16 hex
 * digits) instead of its spelling. Arrays are only looked into at the end of a path: in
 * `a.b`, an array at `a` is not traversed.
 */
import { createHash } from 'node:crypto';

import { describe, quote } from '../encodings';
import { invalidArgument } from '../errors';
import type { IndexDefinition, IndexType } from '../indexes/definition';
import type { PathSegment } from '../indexes/definition';
import { compilePath, normalizeIndexDefinition } from '../indexes/definition';
import type { IndexInfo } from '../indexes/registry';
import { keyPrefix } from './ids';

/** The index of one field, as a collection declares it. */
export interface FieldIndex {
  /** A dotted path: `'age'`, `'address.city'`. */
  field: string;
  /** `'equality'` (default: `$eq`, `$in`), `'range'` (also `$gt`/`$gte`/`$lt`/`$lte`) or `'text'` (`$text`). */
  type?: IndexType;
  /** No two documents may share a value (scalars with scalars, array elements with array elements). */
  unique?: boolean;
  /** Documents missing the field are not indexed (then `{ field: null }` matches explicit nulls only). */
  sparse?: boolean;
}

/** What a collection knows of one indexed field. */
export interface FieldInfo {
  field: string;
  type: IndexType;
  unique: boolean;
  sparse: boolean;
  /** Index names: the value index and the array-elements index. */
  value: string;
  each: string;
}

const WORD_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
const MAX_FIELD_LENGTH = 1024;

/** Splits and checks a dotted path (`what` names it in errors). */
export function parseField(field: unknown, what: string): string[] {
  if (typeof field !== 'string') throw invalidArgument(`${what} must be a dotted field path, got ${describe(field)}`);
  if (field.length === 0 || field.length > MAX_FIELD_LENGTH) throw invalidArgument(`${what} must be 1-${MAX_FIELD_LENGTH} characters long`);
  const segments = field.split('.');
  for (const s of segments) {
    if (s.length === 0) throw invalidArgument(`${what}: ${quote(field)} has an empty segment`);
    if (s.startsWith('$')) throw invalidArgument(`${what}: ${quote(field)}: a field name cannot start with '$' (unknown operator?)`);
    if (s === '__proto__') throw invalidArgument(`${what}: ${quote(field)}: '__proto__' is not allowed as a field name`);
  }
  return segments;
}

function jsonPath(segments: string[], each: boolean): string {
  const quoted = segments.map((s) => `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}']`);
  return `$${quoted.join('')}${each ? '[*]' : ''}`;
}

/** The index names of a field. */
export function indexNames(collection: string, field: string, text: boolean): { value: string; each: string } {
  const base = WORD_PATH.test(field) && collection.length + field.length + 16 <= 128 ? field : `-${createHash('sha256').update(field).digest('hex').slice(0, 16)}`;
  const value = `${collection}.${base}${text ? '.-text' : ''}`;
  return { value, each: `${value}${text ? '-each' : '.-each'}` };
}

/** The two index definitions of a field declaration, in canonical form. */
export function fieldDefinitions(collection: string, decl: unknown, what: string): { info: FieldInfo; defs: IndexDefinition[] } {
  if (decl === null || typeof decl !== 'object' || Array.isArray(decl)) throw invalidArgument(`${what} must be an object { field, type?, unique?, sparse? }, got ${describe(decl)}`);
  const d = decl as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!['field', 'type', 'unique', 'sparse'].includes(k)) throw invalidArgument(`${what}: unknown key ${quote(k)} (expected field, type, unique, sparse)`);
  }
  const segments = parseField(d.field, `${what}.field`);
  const field = segments.join('.');
  const type = d.type ?? 'equality';
  if (type !== 'equality' && type !== 'range' && type !== 'text') {
    throw invalidArgument(`${what}.type must be 'equality', 'range' or 'text', got ${quote(type)}`);
  }
  for (const k of ['unique', 'sparse'] as const) {
    if (d[k] !== undefined && typeof d[k] !== 'boolean') throw invalidArgument(`${what}.${k} must be a boolean, got ${describe(d[k])}`);
  }
  const unique = d.unique === true;
  const sparse = d.sparse === true;
  if (type === 'text' && unique) throw invalidArgument(`${what}: a text index cannot be unique`);
  const names = indexNames(collection, field, type === 'text');
  const scope = keyPrefix(collection);
  const defs = [
    normalizeIndexDefinition({ name: names.value, type, extractor: { kind: 'bson_path', path: jsonPath(segments, false) }, scope, unique, sparse }, what),
    normalizeIndexDefinition({ name: names.each, type, extractor: { kind: 'bson_path', path: jsonPath(segments, true) }, scope, unique, sparse: true }, what),
  ];
  return { info: { field, type, unique, sparse, value: names.value, each: names.each }, defs };
}

/** The indexed fields of a collection, from the registry's list (pairs that are both there and match). */
export interface CollectionFields {
  /** Equality and range fields. */
  fields: Map<string, FieldInfo>;
  /** Text fields. */
  text: FieldInfo[];
}

export function fieldsFromRegistry(collection: string, list: IndexInfo[]): CollectionFields {
  const byName = new Map(list.map((i) => [i.name, i.definition]));
  const out: CollectionFields = { fields: new Map(), text: [] };
  const scope = keyPrefix(collection);
  for (const info of list) {
    const def = info.definition;
    const ex = def.extractor;
    if (def.scope !== scope || ex.kind !== 'bson_path' || !('path' in ex) || !def.name.startsWith(`${collection}.`)) continue;
    if (def.name.endsWith('-each')) continue;
    const field = fieldOfPath(ex.path);
    if (field === undefined) continue;
    let pair: { info: FieldInfo; defs: IndexDefinition[] };
    try {
      pair = fieldDefinitions(collection, { field, type: def.type, unique: def.unique, sparse: def.sparse }, 'index');
    } catch {
      continue;
    }
    const [v, e] = pair.defs as [IndexDefinition, IndexDefinition];
    const ve = byName.get(v.name);
    const ee = byName.get(e.name);
    if (ve === undefined || ee === undefined || JSON.stringify(ve) !== JSON.stringify(v) || JSON.stringify(ee) !== JSON.stringify(e)) continue;
    if (pair.info.type === 'text') out.text.push(pair.info);
    else out.fields.set(field, pair.info);
  }
  return out;
}

/** `$.a['b c']` → `'a.b c'`; `undefined` for paths a declaration never gives. */
function fieldOfPath(path: string): string | undefined {
  let segs: readonly PathSegment[];
  try {
    segs = compilePath(path).segments;
  } catch {
    return undefined;
  }
  const names: string[] = [];
  for (const s of segs) {
    if (s.kind !== 'member') return undefined;
    names.push(s.name);
  }
  return names.length === 0 ? undefined : names.join('.');
}
