/**
 * Documents in memory: validation of what is stored, the update operators (`$set`,
 * `$unset`, `$inc`, `$push`, `$pull`), replacement and projection. Everything here works on
 * one decoded document; nothing reads or writes the database.
 */
import { describe, quote } from '../encodings';
import { invalidArgument } from '../errors';
import type { FilterValue } from './filter';
import { termOf } from './filter';
import { parseField } from './fields';
import { Id, isObjectId, renderId } from './ids';

/** A stored document: a plain object (its values plain JSON or BSON values). */
export type Document = Record<string, unknown>;

/** A condition of `$pull`: a value (elements equal to it) or comparison operators. */
export type PullCondition = FilterValue | { $eq?: FilterValue; $ne?: FilterValue; $gt?: FilterValue; $gte?: FilterValue; $lt?: FilterValue; $lte?: FilterValue; $in?: FilterValue[]; $nin?: FilterValue[] };

/** The update operators (paths are dotted; `$unset` ignores its values). */
export interface Update {
  $set?: Record<string, unknown>;
  $unset?: Record<string, unknown>;
  $inc?: Record<string, number>;
  $push?: Record<string, unknown>;
  $pull?: Record<string, PullCondition>;
}

const UPDATE_OPS = ['$set', '$unset', '$inc', '$push', '$pull'] as const;
type UpdateOp = (typeof UPDATE_OPS)[number];

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function bsonType(v: object): string | undefined {
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

const MAX_DEPTH = 64;

/** Checks a value to be stored; returns a copy with `undefined` members dropped. */
export function checkValue(v: unknown, what: string, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw invalidArgument(`${what}: nested deeper than ${MAX_DEPTH} levels`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return v;
  if (Array.isArray(v)) {
    return v.map((x: unknown, i) => {
      if (x === undefined) throw invalidArgument(`${what}[${i}] is undefined (arrays cannot hold undefined)`);
      return checkValue(x, `${what}[${i}]`, depth + 1);
    });
  }
  if (v instanceof Date || v instanceof Uint8Array || v instanceof RegExp) return v;
  if (typeof v === 'object' && bsonType(v) !== undefined) return v;
  if (isPlainObject(v)) return checkObject(v, what, depth + 1);
  throw invalidArgument(`${what} cannot be stored (got ${describe(v)}${typeof v === 'object' ? ` ${String((v as object).constructor?.name ?? '')}` : ''})`);
}

function checkObject(o: Record<string, unknown>, what: string, depth: number): Document {
  const out: Document = {};
  for (const [k, x] of Object.entries(o)) {
    checkFieldName(k, what);
    if (x === undefined) continue;
    out[k] = checkValue(x, `${what}.${k}`, depth);
  }
  return out;
}

function checkFieldName(k: string, what: string): void {
  if (k.length === 0) throw invalidArgument(`${what}: a field name cannot be empty`);
  if (k.startsWith('$')) throw invalidArgument(`${what}: field name ${quote(k)} cannot start with '$'`);
  if (k.includes('.')) throw invalidArgument(`${what}: field name ${quote(k)} cannot contain '.' (dotted paths address nested fields)`);
  if (k === '__proto__') throw invalidArgument(`${what}: '__proto__' is not allowed as a field name`);
}

/** A document to store: checked, with `_id` first. */
export function withId(doc: unknown, id: Id, what: string): Document {
  if (!isPlainObject(doc)) throw invalidArgument(`${what} must be a plain object, got ${describe(doc)}`);
  const checked = checkObject(doc, what, 0);
  delete checked._id;
  return { _id: id, ...checked };
}

/** Two ids are the same document when they render the same. */
export function sameId(a: unknown, b: Id): boolean {
  return (typeof a === 'string' || isObjectId(a)) && renderId(a) === renderId(b);
}

// ---- updates -----------------------------------------------------------------------------

interface Step {
  op: UpdateOp;
  path: string[];
  arg: unknown;
  at: string;
}

/** Validates an update document into steps; `STRATA_INVALID_ARGUMENT` naming the bad part. */
export function parseUpdate(update: unknown): Step[] {
  if (!isPlainObject(update)) throw invalidArgument(`update must be an object of operators ($set, $unset, $inc, $push, $pull), got ${describe(update)}`);
  const keys = Object.keys(update);
  if (keys.length === 0) throw invalidArgument('update must hold at least one operator ($set, $unset, $inc, $push, $pull)');
  const steps: Step[] = [];
  for (const k of keys) {
    if (!(UPDATE_OPS as readonly string[]).includes(k)) {
      throw invalidArgument(k.startsWith('$') ? `update: unknown operator ${quote(k)}` : `update: ${quote(k)} is not an operator (use replaceOne to replace a document)`);
    }
    const op = k as UpdateOp;
    const body = update[k];
    if (!isPlainObject(body)) throw invalidArgument(`update.${op} must be an object of { path: value }, got ${describe(body)}`);
    for (const [p, arg] of Object.entries(body)) {
      const at = `update.${op}.${p}`;
      const path = parseField(p, at);
      if (path[0] === '_id') throw invalidArgument(`${at}: _id cannot be changed`);
      if (arg === undefined) throw invalidArgument(`${at} is undefined`);
      if (op === '$inc' && (typeof arg !== 'number' || !Number.isFinite(arg))) throw invalidArgument(`${at}: $inc needs a finite number, got ${typeof arg === 'number' ? String(arg) : describe(arg)}`);
      if (op === '$set') steps.push({ op, path, arg: checkValue(arg, at), at });
      else if (op === '$push') steps.push({ op, path, arg: pushItems(arg, at), at });
      else if (op === '$pull') steps.push({ op, path, arg: pullMatcher(arg, at), at });
      else steps.push({ op, path, arg, at });
    }
  }
  for (let i = 0; i < steps.length; i++) {
    for (let j = i + 1; j < steps.length; j++) {
      const a = (steps[i] as Step).path;
      const b = (steps[j] as Step).path;
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).every((s, x) => s === b[x])) {
        throw invalidArgument(`update: ${quote(a.join('.'))} and ${quote(b.join('.'))} conflict (one operator per path)`);
      }
    }
  }
  return steps;
}

function pushItems(arg: unknown, at: string): unknown[] {
  if (isPlainObject(arg) && Object.keys(arg).some((k) => k.startsWith('$'))) {
    for (const k of Object.keys(arg)) if (k !== '$each') throw invalidArgument(`${at}: ${quote(k)} is not supported with $push (only $each)`);
    if (!Array.isArray(arg.$each)) throw invalidArgument(`${at}.$each must be an array`);
    return checkValue(arg.$each, `${at}.$each`) as unknown[];
  }
  return [checkValue(arg, at)];
}

/** Compares two BSON-ish scalars as index terms do; `undefined` across types. */
function compareScalar(a: unknown, b: unknown): number | undefined {
  let ta: unknown;
  let tb: unknown;
  try {
    ta = termOf(a, 'value');
    tb = termOf(b, 'value');
  } catch {
    return undefined;
  }
  const rank = (t: unknown): number => (t === null ? 0 : typeof t === 'boolean' ? 1 : typeof t === 'number' ? 2 : typeof t === 'string' ? 3 : 4);
  if (rank(ta) !== rank(tb)) return undefined;
  if (ta === null) return 0;
  if (typeof ta === 'boolean' || typeof ta === 'number') return ta === tb ? 0 : (ta as number) < (tb as number) ? -1 : 1;
  if (typeof ta === 'string') return Buffer.compare(Buffer.from(ta, 'utf8'), Buffer.from(tb as string, 'utf8'));
  return Buffer.compare(ta as Uint8Array, tb as Uint8Array);
}

function pullMatcher(arg: unknown, at: string): (x: unknown) => boolean {
  if (isPlainObject(arg) && Object.keys(arg).some((k) => k.startsWith('$')) && !(Object.keys(arg).length === 1 && ['$oid', '$date'].includes(Object.keys(arg)[0] as string))) {
    const tests: ((x: unknown) => boolean)[] = [];
    for (const [op, v] of Object.entries(arg)) {
      const w = `${at}.${op}`;
      const eq = (x: unknown, t: unknown): boolean => compareScalar(x, t) === 0;
      switch (op) {
        case '$eq':
        case '$ne': {
          termOf(v, w);
          tests.push(op === '$eq' ? (x) => eq(x, v) : (x) => !eq(x, v));
          break;
        }
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte': {
          termOf(v, w);
          const ok = { $gt: (c: number) => c > 0, $gte: (c: number) => c >= 0, $lt: (c: number) => c < 0, $lte: (c: number) => c <= 0 }[op];
          tests.push((x) => {
            const c = compareScalar(x, v);
            return c !== undefined && ok(c);
          });
          break;
        }
        case '$in':
        case '$nin': {
          if (!Array.isArray(v)) throw invalidArgument(`${w} must be an array`);
          v.forEach((t, i) => termOf(t, `${w}[${i}]`));
          tests.push(op === '$in' ? (x) => v.some((t) => eq(x, t)) : (x) => !v.some((t) => eq(x, t)));
          break;
        }
        default:
          throw invalidArgument(`${at}: unknown or unsupported $pull operator ${quote(op)}`);
      }
    }
    return (x) => tests.every((t) => t(x));
  }
  termOf(arg, at);
  return (x) => compareScalar(x, arg) === 0;
}

function isContainer(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v);
}

/** Applies validated steps to a copy of `doc`; `STRATA_INVALID_ARGUMENT` when an operator cannot apply. */
export function applyUpdate(doc: Document, steps: Step[]): Document {
  const out = structuredCloneDoc(doc);
  for (const s of steps) {
    const parentPath = s.path.slice(0, -1);
    const last = s.path[s.path.length - 1] as string;
    const create = s.op === '$set' || s.op === '$inc' || s.op === '$push';
    let parent: unknown = out;
    for (const [i, seg] of parentPath.entries()) {
      if (!isContainer(parent)) {
        if (!create) {
          parent = undefined;
          break;
        }
        throw invalidArgument(`${s.at}: cannot create field '${seg}' in a non-object (at '${s.path.slice(0, i).join('.')}')`);
      }
      let next = parent[seg];
      if (next === undefined) {
        if (!create) {
          parent = undefined;
          break;
        }
        next = {};
        parent[seg] = next;
      }
      parent = next;
    }
    if (parent === undefined) continue;
    if (!isContainer(parent)) {
      if (!create) continue;
      throw invalidArgument(`${s.at}: cannot create field '${last}' in a non-object (at '${parentPath.join('.')}')`);
    }
    const cur = parent[last];
    switch (s.op) {
      case '$set':
        parent[last] = s.arg;
        break;
      case '$unset':
        delete parent[last];
        break;
      case '$inc': {
        if (cur === undefined) parent[last] = s.arg;
        else if (typeof cur !== 'number') throw invalidArgument(`${s.at}: $inc needs a number at '${s.path.join('.')}', found ${describe(cur)}`);
        else {
          const n = cur + (s.arg as number);
          if (!Number.isFinite(n)) throw invalidArgument(`${s.at}: $inc overflows to ${String(n)}`);
          parent[last] = n;
        }
        break;
      }
      case '$push': {
        if (cur === undefined) parent[last] = [...(s.arg as unknown[])];
        else if (!Array.isArray(cur)) throw invalidArgument(`${s.at}: $push needs an array at '${s.path.join('.')}', found ${describe(cur)}`);
        else cur.push(...(s.arg as unknown[]));
        break;
      }
      case '$pull': {
        if (cur === undefined) break;
        if (!Array.isArray(cur)) throw invalidArgument(`${s.at}: $pull needs an array at '${s.path.join('.')}', found ${describe(cur)}`);
        const test = s.arg as (x: unknown) => boolean;
        parent[last] = cur.filter((x) => !test(x));
        break;
      }
    }
  }
  return out;
}

/** A copy of the plain-object and array structure (BSON values are immutable and shared). */
function structuredCloneDoc(doc: Document): Document {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (isPlainObject(v)) {
      const o: Document = {};
      for (const [k, x] of Object.entries(v)) o[k] = copy(x);
      return o;
    }
    return v;
  };
  return copy(doc) as Document;
}

// ---- projection --------------------------------------------------------------------------

/** `{ a: 1, 'b.c': 1 }` (only these, and `_id` unless `_id: 0`) or `{ a: 0 }` (all but these). */
export type Projection = Record<string, 0 | 1 | boolean>;

/** A compiled projection. */
export type Projector = (doc: Document) => Document;

export function compileProjection(p: unknown): Projector | undefined {
  if (p === undefined) return undefined;
  if (!isPlainObject(p)) throw invalidArgument(`projection must be an object { field: 1 | 0 }, got ${describe(p)}`);
  const include: string[][] = [];
  const exclude: string[][] = [];
  let id: boolean | undefined;
  for (const [k, v] of Object.entries(p)) {
    if (v !== 0 && v !== 1 && v !== true && v !== false) throw invalidArgument(`projection.${k} must be 1, 0, true or false, got ${quote(v)}`);
    const path = parseField(k, `projection.${k}`);
    const on = v === 1 || v === true;
    if (k === '_id') id = on;
    else (on ? include : exclude).push(path);
  }
  if (include.length > 0 && exclude.length > 0) throw invalidArgument('projection cannot mix inclusion and exclusion (except for _id)');
  const all = [...include, ...exclude];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i] as string[];
      const b = all[j] as string[];
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).every((s, x) => s === b[x])) throw invalidArgument(`projection: ${quote(a.join('.'))} and ${quote(b.join('.'))} collide`);
    }
  }
  if (include.length > 0 || (id === true && exclude.length === 0)) {
    return (doc) => {
      const out: Document = {};
      if (id !== false && doc._id !== undefined) out._id = doc._id;
      for (const path of include) copyPath(doc, out, path);
      return out;
    };
  }
  return (doc) => {
    const out = structuredCloneDoc(doc);
    if (id === false) delete out._id;
    for (const path of exclude) {
      let cur: unknown = out;
      for (const seg of path.slice(0, -1)) cur = isPlainObject(cur) ? cur[seg] : undefined;
      if (isPlainObject(cur)) delete cur[path[path.length - 1] as string];
    }
    return out;
  };
}

function copyPath(from: Document, to: Document, path: string[]): void {
  let src: unknown = from;
  for (const seg of path) {
    if (!isPlainObject(src) || !Object.prototype.hasOwnProperty.call(src, seg)) return;
    src = src[seg];
  }
  let dst = to;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(dst[seg])) dst[seg] = {};
    dst = dst[seg] as Document;
  }
  dst[path[path.length - 1] as string] = structuredCloneDoc({ v: src }).v;
}
