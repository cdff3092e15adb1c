/**
 * The randomized differential test of collections: random documents (nested fields, arrays,
 * numbers, strings, booleans, nulls, missing fields) under random inserts, updates with
 * every operator, replacements and deletes (by id and by filter, many unawaited at once),
 * reopens midway, and random filters with every operator, paged with random limits and
 * projections — every answer compared with a brute-force model of MongoDB's semantics as
 * the README states them (arrays matched element-wise at the end of a path, type-bracketed
 * comparisons, missing = null). `verify()` must stay clean.
 *
 * `STRATA_TEST_COLLECTION_CASES` (default 6) sets the cases; `STRATA_TEST_SEED` replays one.
 */
import test, { ExecutionContext } from 'ava';
import { EJSON, ObjectId } from 'bson';

import { Collection, Db, ErrorCode, Filter, FieldIndex, StrataError, open } from '../ts/index';
import { mulberry32, tmpPath } from './helpers';

type Doc = Record<string, unknown>;
type Scalar = null | boolean | number | string;

const WORDS = ['sun', 'moon', 'são', 'café', 'river', 'stone', 'zoë', 'sky'];
const STRS = ['a', 'b', 'c', 'Porto', 'Paris', 'é'];
const CITIES = ['Porto', 'Lima', 'Oslo', 'Roma'];
const fold = (w: string): string => w.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').normalize('NFC');

const INDEXES: FieldIndex[] = [
  { field: 'n', type: 'range' },
  { field: 's', type: 'range' },
  { field: 'b' },
  { field: 'nested.city' },
  { field: 'nested.zip', type: 'range' },
  { field: 'tags' },
  { field: 'bio', type: 'text' },
];
const EQ_FIELDS = ['n', 's', 'b', 'nested.city', 'nested.zip', 'tags'];
const RANGE_FIELDS = ['n', 's', 'nested.zip'];

// ---- the model's semantics ---------------------------------------------------------------

const isObj = (v: unknown): v is Doc => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof ObjectId);

/** The value at a dotted path, stepping into plain objects only (`undefined`: missing). */
function get(doc: Doc, path: string): unknown {
  let cur: unknown = doc;
  for (const seg of path.split('.')) {
    if (!isObj(cur) || !Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

const isScalar = (v: unknown): v is Scalar => v === null || ['boolean', 'number', 'string'].includes(typeof v);
const rank = (v: Scalar): number => (v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : 3);

function cmp(a: Scalar, b: Scalar): number {
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
}

/** True when `v` satisfies `op bound` (bounds compare with their own type only). */
function sat(v: Scalar, op: string, bound: Scalar): boolean {
  if (rank(v) !== rank(bound)) return false;
  const c = cmp(v, bound);
  return op === '$eq' ? c === 0 : op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0;
}

/** The scalars a field offers to a condition: the value (missing = null), or an array's scalar elements. */
function candidates(doc: Doc, field: string): { scalar?: Scalar; elements?: Scalar[] } {
  const v = get(doc, field);
  if (v === undefined) return { scalar: null };
  if (Array.isArray(v)) return { elements: v.filter(isScalar) };
  if (isScalar(v)) return { scalar: v };
  return {};
}

function fieldEq(doc: Doc, field: string, t: Scalar): boolean {
  const c = candidates(doc, field);
  if (c.elements) return c.elements.some((e) => sat(e, '$eq', t));
  return c.scalar !== undefined && sat(c.scalar, '$eq', t);
}

function fieldRange(doc: Doc, field: string, bounds: [string, Scalar][]): boolean {
  const c = candidates(doc, field);
  if (c.elements) return bounds.every(([op, b]) => (c.elements as Scalar[]).some((e) => sat(e, op, b)));
  return c.scalar !== undefined && bounds.every(([op, b]) => sat(c.scalar as Scalar, op, b));
}

function textWords(doc: Doc): Set<string> {
  const v = get(doc, 'bio');
  const out = new Set<string>();
  const add = (s: unknown): void => {
    if (typeof s === 'string') for (const w of s.split(' ')) if (w) out.add(fold(w));
  };
  if (Array.isArray(v)) v.forEach(add);
  else add(v);
  return out;
}

function matchConditions(doc: Doc, field: string, ops: Record<string, unknown>): boolean {
  const bounds: [string, Scalar][] = [];
  for (const [op, x] of Object.entries(ops)) {
    if (op === '$eq' && !fieldEq(doc, field, x as Scalar)) return false;
    if (op === '$ne' && fieldEq(doc, field, x as Scalar)) return false;
    if (op === '$in' && !(x as Scalar[]).some((t) => fieldEq(doc, field, t))) return false;
    if (op === '$nin' && (x as Scalar[]).some((t) => fieldEq(doc, field, t))) return false;
    if (op === '$not' && matchConditions(doc, field, x as Record<string, unknown>)) return false;
    if (['$gt', '$gte', '$lt', '$lte'].includes(op)) bounds.push([op, x as Scalar]);
  }
  return bounds.length === 0 || fieldRange(doc, field, bounds);
}

function matches(doc: Doc, f: Filter): boolean {
  for (const [k, v] of Object.entries(f)) {
    if (k === '$and' && !(v as Filter[]).every((g) => matches(doc, g))) return false;
    if (k === '$or' && !(v as Filter[]).some((g) => matches(doc, g))) return false;
    if (k === '$text') {
      const have = textWords(doc);
      if (!(v as { $search: string }).$search.split(' ').some((w) => w && have.has(fold(w)))) return false;
    }
    if (k.startsWith('$')) continue;
    if (isObj(v)) {
      if (!matchConditions(doc, k, v)) return false;
    } else if (!fieldEq(doc, k, v as Scalar)) return false;
  }
  return true;
}

/** Whether a filter is accepted: every conjunction needs a positive condition (or none at all). */
function positive(f: Filter): 'pos' | 'neg' | 'empty' | 'bad' {
  let pos = false;
  let neg = false;
  for (const [k, v] of Object.entries(f)) {
    if (k === '$text') pos = true;
    else if (k === '$or') {
      if ((v as Filter[]).some((g) => positive(g) !== 'pos')) return 'bad';
      pos = true;
    } else if (k === '$and') {
      for (const g of v as Filter[]) {
        const p = positive(g);
        if (p === 'bad') return 'bad';
        if (p === 'pos') pos = true;
        if (p === 'neg') neg = true;
      }
    } else if (isObj(v)) {
      for (const op of Object.keys(v)) {
        if (op === '$ne' || op === '$nin' || op === '$not') neg = true;
        else pos = true;
      }
    } else pos = true;
  }
  return pos ? 'pos' : neg ? 'neg' : 'empty';
}

// ---- the model's updates -----------------------------------------------------------------

class Invalid extends Error {}

function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) as T;
  return v;
}

function pullTest(cond: unknown): (x: unknown) => boolean {
  if (isObj(cond)) {
    return (x) =>
      isScalar(x) &&
      Object.entries(cond).every(([op, b]) => (op === '$in' ? (b as Scalar[]).some((t) => sat(x, '$eq', t)) : sat(x, op, b as Scalar)));
  }
  return (x) => isScalar(x) && sat(x, '$eq', cond as Scalar);
}

/** Two operators on one path (or a path and its prefix): rejected whatever the document. */
function conflicting(update: Record<string, Record<string, unknown>>): boolean {
  try {
    modelUpdate({}, update);
    return false;
  } catch (e) {
    return e instanceof Invalid && e.message === 'conflict';
  }
}

function modelUpdate(doc: Doc, update: Record<string, Record<string, unknown>>): Doc {
  const paths = Object.values(update).flatMap((o) => Object.keys(o).map((p) => p.split('.')));
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const a = paths[i] as string[];
      const b = paths[j] as string[];
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).join('.') === b.slice(0, n).join('.')) throw new Invalid('conflict');
    }
  }
  const out = clone(doc);
  for (const [op, body] of Object.entries(update)) {
    for (const [p, arg] of Object.entries(body)) {
      const segs = p.split('.');
      const creates = op !== '$unset' && op !== '$pull';
      let parent: unknown = out;
      let gone = false;
      for (const seg of segs.slice(0, -1)) {
        if (!isObj(parent)) throw new Invalid('not an object');
        if (parent[seg] === undefined) {
          if (!creates) {
            gone = true;
            break;
          }
          parent[seg] = {};
        }
        parent = parent[seg];
      }
      if (gone) continue;
      if (!isObj(parent)) {
        if (!creates) continue;
        throw new Invalid('not an object');
      }
      const last = segs[segs.length - 1] as string;
      const cur = parent[last];
      if (op === '$set') parent[last] = clone(arg);
      else if (op === '$unset') delete parent[last];
      else if (op === '$inc') {
        if (cur === undefined) parent[last] = arg;
        else if (typeof cur !== 'number') throw new Invalid('$inc');
        else parent[last] = cur + (arg as number);
      } else if (op === '$push') {
        const items = isObj(arg) ? (arg.$each as unknown[]) : [arg];
        if (cur === undefined) parent[last] = clone(items);
        else if (!Array.isArray(cur)) throw new Invalid('$push');
        else cur.push(...clone(items));
      } else if (op === '$pull') {
        if (cur === undefined) continue;
        if (!Array.isArray(cur)) throw new Invalid('$pull');
        const tst = pullTest(arg);
        parent[last] = cur.filter((x) => !tst(x));
      }
    }
  }
  return out;
}

// ---- the test ----------------------------------------------------------------------------

const CASES = Number(process.env.STRATA_TEST_COLLECTION_CASES ?? 6);
const SEED = process.env.STRATA_TEST_SEED === undefined ? undefined : Number(process.env.STRATA_TEST_SEED);

const render = (id: unknown): string => (id instanceof ObjectId ? id.toHexString() : String(id));
const show = (d: unknown): string => EJSON.stringify(d, { relaxed: true });
const byKey = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

type Op = { name: string; run: () => Promise<unknown>; model: () => { ok: unknown } | { code: ErrorCode } };

const tally = { nonEmpty: 0, rejectedFilters: 0, rejectedWrites: 0, modified: 0 };

async function runCase(t: ExecutionContext, seed: number, steps: number): Promise<{ finds: number; writes: number }> {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const location = tmpPath();
  const openDb = (): Promise<Db> => open(location, { env: {}, envFile: false, memtableSize: 64 * 1024 });
  let db = await openDb();
  let coll: Collection = await db.collection('c', { indexes: INDEXES });
  const model = new Map<string, Doc>();
  let finds = 0;
  let writes = 0;

  const num = (): number => (rnd() < 0.85 ? int(21) - 10 : Math.round(rnd() * 1000) / 100);
  const scalar = (): Scalar => pick<() => Scalar>([num, () => pick(STRS), () => rnd() < 0.5, () => null])();
  const value = (field: string): unknown => {
    const r = rnd();
    if (field === 'tags') return r < 0.7 ? Array.from({ length: int(4) }, () => pick(STRS)) : r < 0.85 ? pick(STRS) : scalar();
    if (field === 'bio') {
      const text = (): string => Array.from({ length: 1 + int(3) }, () => pick(WORDS)).join(' ');
      return r < 0.7 ? text() : r < 0.85 ? [text(), text()] : num();
    }
    if (field === 'nested') {
      if (r < 0.1) return num();
      if (r < 0.2) return [{ city: pick(CITIES) }];
      const o: Doc = {};
      if (rnd() < 0.8) o.city = rnd() < 0.9 ? pick(CITIES) : null;
      if (rnd() < 0.8) o.zip = rnd() < 0.8 ? num() : [num(), num()];
      return o;
    }
    if (r < 0.15) return Array.from({ length: int(3) }, scalar);
    if (field === 'n') return r < 0.8 ? num() : scalar();
    if (field === 's') return r < 0.8 ? pick(STRS) : scalar();
    if (field === 'b') return r < 0.8 ? rnd() < 0.5 : scalar();
    return scalar();
  };
  const FIELDS = ['n', 's', 'b', 'nested', 'tags', 'bio', 'other'];
  const doc = (): Doc => {
    const d: Doc = {};
    for (const f of FIELDS) if (rnd() < 0.75) d[f] = value(f);
    return d;
  };
  const idPool = (): string => `d${String(int(30)).padStart(2, '0')}`;
  const termFor = (field: string): Scalar => {
    if (field === 'nested.city') return rnd() < 0.85 ? pick(CITIES) : null;
    if (field === 's' || field === 'tags') return rnd() < 0.8 ? pick(STRS) : scalar();
    if (field === 'b') return rnd() < 0.8 ? rnd() < 0.5 : scalar();
    return rnd() < 0.85 ? num() : scalar();
  };
  const condition = (field: string, depth: number): Record<string, unknown> | Scalar => {
    const range = RANGE_FIELDS.includes(field);
    switch (int(range ? 9 : 6)) {
      case 0:
        return termFor(field);
      case 1:
        return { $eq: termFor(field) };
      case 2:
        return { $ne: termFor(field) };
      case 3:
        return { $in: Array.from({ length: 1 + int(3) }, () => termFor(field)) };
      case 4:
        return { $nin: Array.from({ length: 1 + int(2) }, () => termFor(field)) };
      case 5:
        if (depth > 0) return termFor(field);
        return { $not: rnd() < 0.5 || !range ? { $in: [termFor(field), termFor(field)] } : { $gte: termFor(field) } };
      default: {
        const c: Record<string, unknown> = {};
        const lo = termFor(field);
        if (rnd() < 0.7) c[rnd() < 0.5 ? '$gt' : '$gte'] = lo;
        if (rnd() < 0.6 || Object.keys(c).length === 0) c[rnd() < 0.5 ? '$lt' : '$lte'] = typeof lo === 'number' && rnd() < 0.8 ? lo + int(8) : termFor(field);
        if (rnd() < 0.15) c.$ne = termFor(field);
        return c;
      }
    }
  };
  const filter = (depth = 0): Filter => {
    const f: Filter = {};
    const n = 1 + int(depth === 0 ? 3 : 2);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (depth < 2 && r < 0.12) f.$or = Array.from({ length: 1 + int(3) }, () => filter(depth + 1));
      else if (depth < 2 && r < 0.2) f.$and = Array.from({ length: 1 + int(2) }, () => filter(depth + 1));
      else if (r < 0.28) f.$text = { $search: `${pick(WORDS)}${rnd() < 0.5 ? ` ${pick(WORDS)}` : ''}` };
      else {
        const field = pick(EQ_FIELDS);
        f[field] = condition(field, depth) as Filter[string];
      }
    }
    return f;
  };
  const simpleFilter = (): Filter => {
    const field = pick(EQ_FIELDS);
    return rnd() < 0.1 ? {} : { [field]: termFor(field) };
  };
  const modelMatches = (f: Filter): string[] =>
    [...model.entries()]
      .filter(([, d]) => matches(d, f))
      .map(([k]) => k)
      .sort(byKey);

  const UPDATE_PATHS = ['n', 's', 'b', 'nested.city', 'nested.zip', 'tags', 'bio', 'other', 'nested', 'deep.x.y', 'list'];
  const update = (): Record<string, Record<string, unknown>> => {
    const u: Record<string, Record<string, unknown>> = {};
    const ops = ['$set', '$unset', '$inc', '$push', '$pull'];
    const k = 1 + int(2);
    for (let i = 0; i < k; i++) {
      const op = pick(ops);
      const path = pick(UPDATE_PATHS);
      const body = (u[op] ??= {});
      const top = path.split('.')[0] as string;
      if (op === '$set') body[path] = value(FIELDS.includes(top) && !path.includes('.') ? top : 'other');
      else if (op === '$unset') body[path] = '';
      else if (op === '$inc') body[path] = int(7) - 3 + (rnd() < 0.2 ? 0.5 : 0);
      else if (op === '$push') body[path] = rnd() < 0.3 ? { $each: [pick(STRS), num()] } : rnd() < 0.5 ? pick(STRS) : num();
      else body[path] = rnd() < 0.4 ? { $in: [pick(STRS), pick(STRS)] } : rnd() < 0.5 ? { $gte: int(10) - 5 } : pick(STRS);
    }
    return u;
  };

  const keyOf = (id: unknown): string => `c:${render(id)}`;
  const expectErr = (code: ErrorCode): { code: ErrorCode } => ({ code });

  const makeOp = (): Op => {
    const r = rnd();
    if (r < 0.25) {
      const given = rnd() < 0.8;
      const d = doc();
      if (given) d._id = idPool();
      let generated: unknown;
      return {
        name: 'insertOne',
        run: async () => {
          const res = await coll.insertOne(d);
          generated = res.insertedId;
          return res.insertedId;
        },
        model: () => {
          const id = given ? d._id : generated;
          if (id === undefined) return expectErr('STRATA_INTERNAL');
          const k = keyOf(id);
          if (model.has(k)) return expectErr('STRATA_CONSTRAINT');
          const { _id, ...rest } = d;
          void _id;
          model.set(k, { _id: id, ...clone(rest) });
          return { ok: render(id) };
        },
      };
    }
    if (r < 0.32) {
      const ds = Array.from({ length: 1 + int(3) }, () => ({ ...doc(), _id: idPool() }));
      return {
        name: 'insertMany',
        run: async () => (await coll.insertMany(ds)).insertedCount,
        model: () => {
          const ks = ds.map((d) => keyOf(d._id));
          if (new Set(ks).size !== ks.length || ks.some((k) => model.has(k))) return expectErr('STRATA_CONSTRAINT');
          ds.forEach((d, i) => {
            const { _id, ...rest } = d;
            model.set(ks[i] as string, { _id, ...clone(rest) });
          });
          return { ok: ds.length };
        },
      };
    }
    if (r < 0.6) {
      const byId = rnd() < 0.75;
      const id = idPool();
      const f = simpleFilter();
      const u = update();
      return {
        name: `updateOne ${show(byId ? id : f)} ${show(u)}`,
        run: async () => coll.updateOne(byId ? id : f, u),
        model: () => {
          if (conflicting(u)) return expectErr('STRATA_INVALID_ARGUMENT');
          const k = byId ? keyOf(id) : modelMatches(f)[0];
          const cur = k === undefined ? undefined : model.get(k);
          if (k === undefined || cur === undefined) return { ok: { matchedCount: 0, modifiedCount: 0 } };
          try {
            const next = modelUpdate(cur, u);
            const changed = show(next) !== show(cur);
            if (changed) tally.modified++;
            model.set(k, next);
            return { ok: { matchedCount: 1, modifiedCount: changed ? 1 : 0 } };
          } catch (e) {
            if (e instanceof Invalid) return expectErr('STRATA_INVALID_ARGUMENT');
            throw e;
          }
        },
      };
    }
    if (r < 0.7) {
      const byId = rnd() < 0.7;
      const id = idPool();
      const f = simpleFilter();
      const d = doc();
      return {
        name: 'replaceOne',
        run: async () => coll.replaceOne(byId ? id : f, d),
        model: () => {
          const k = byId ? keyOf(id) : modelMatches(f)[0];
          const cur = k === undefined ? undefined : model.get(k);
          if (k === undefined || cur === undefined) return { ok: { matchedCount: 0, modifiedCount: 0 } };
          const next = { _id: cur._id, ...clone(d) };
          const changed = show(next) !== show(cur);
          model.set(k, next);
          return { ok: { matchedCount: 1, modifiedCount: changed ? 1 : 0 } };
        },
      };
    }
    if (r < 0.82) {
      const byId = rnd() < 0.7;
      const id = idPool();
      const f = simpleFilter();
      return {
        name: 'deleteOne',
        run: async () => (await coll.deleteOne(byId ? id : f)).deletedCount,
        model: () => {
          const k = byId ? keyOf(id) : modelMatches(f)[0];
          if (k === undefined || !model.has(k)) return { ok: 0 };
          model.delete(k);
          return { ok: 1 };
        },
      };
    }
    if (r < 0.87) {
      const f = rnd() < 0.05 ? {} : filter();
      const valid = positive(f) !== 'bad' && positive(f) !== 'neg';
      return {
        name: `deleteMany ${show(f)}`,
        run: async () => (await coll.deleteMany(f)).deletedCount,
        model: () => {
          if (!valid) return expectErr('STRATA_INVALID_ARGUMENT');
          const ks = modelMatches(f);
          for (const k of ks) model.delete(k);
          return { ok: ks.length };
        },
      };
    }
    const id = idPool();
    return {
      name: 'findById',
      run: async () => {
        const d = await coll.findById(id);
        return d === null ? null : show(d);
      },
      model: () => {
        const d = model.get(keyOf(id));
        return { ok: d === undefined ? null : show(d) };
      },
    };
  };

  const checkOp = (op: Op, res: PromiseSettledResult<unknown>): void => {
    const want = op.model();
    if ('code' in want) {
      tally.rejectedWrites++;
      if (res.status === 'fulfilled') t.fail(`seed ${seed}: ${op.name} should fail with ${want.code}, got ${show(res.value)}`);
      else t.is((res.reason as StrataError).code, want.code, `seed ${seed}: ${op.name}: ${String(res.reason)}`);
    } else if (res.status === 'rejected') {
      t.fail(`seed ${seed}: ${op.name} failed: ${String(res.reason)}`);
    } else {
      t.deepEqual(res.value instanceof ObjectId ? render(res.value) : res.value, want.ok, `seed ${seed}: ${op.name}`);
    }
  };

  const checkFind = async (f: Filter): Promise<void> => {
    finds++;
    const p = positive(f);
    const PROJECTIONS: Record<string, 0 | 1>[] = [{ n: 1 }, { 'nested.city': 1, b: 1 }, { tags: 0, 'nested.zip': 0 }, { _id: 0, s: 1 }];
    const projection = rnd() < 0.3 ? pick(PROJECTIONS) : undefined;
    if (p === 'bad' || p === 'neg') {
      const e = await t.throwsAsync(() => coll.find(f));
      t.is((e as StrataError).code, 'STRATA_INVALID_ARGUMENT', `seed ${seed}: ${show(f)}: ${String(e)}`);
      tally.rejectedFilters++;
      return;
    }
    const want = modelMatches(f);
    if (want.length > 0) tally.nonEmpty++;
    const got: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const limit = 1 + int(7);
      const page: { items: Doc[]; cursor: string | null } = projection === undefined ? await coll.find(f, { limit, cursor }) : await coll.find(f, { limit, cursor, projection });
      t.true(page.items.length <= limit);
      if (projection === undefined) {
        for (const d of page.items) {
          const k = keyOf(d._id);
          got.push(k);
          t.is(show(d), show(model.get(k)), `seed ${seed}: ${show(f)}: document ${k}`);
        }
      } else {
        const offset = got.length;
        for (const [i, d] of page.items.entries()) {
          const k = want[offset + i];
          got.push(k ?? '?');
          if (k !== undefined) t.is(show(d), show(project(model.get(k) as Doc, projection)), `seed ${seed}: projection ${show(projection)}`);
        }
      }
      cursor = page.cursor;
      if (++pages > 200) t.fail('too many pages');
    } while (cursor !== null && pages <= 200);
    t.deepEqual(got, want, `seed ${seed}: find ${show(f)}`);
    t.is(await coll.count(f), want.length, `seed ${seed}: count ${show(f)}`);
  };

  for (let step = 0; step < steps; step++) {
    const r = rnd();
    if (r < 0.5) {
      // A burst of unawaited writes, checked in call order.
      const ops = Array.from({ length: 1 + int(8) }, makeOp);
      const results = await Promise.allSettled(ops.map((o) => o.run()));
      ops.forEach((o, i) => checkOp(o, results[i] as PromiseSettledResult<unknown>));
      writes += ops.length;
    } else if (r < 0.95) {
      await checkFind(rnd() < 0.05 ? {} : filter());
    } else {
      await db.close();
      db = await openDb();
      coll = rnd() < 0.5 ? await db.collection('c') : await db.collection('c', { indexes: INDEXES });
      t.is(coll.indexes().length, INDEXES.length);
    }
  }
  await checkFind({});
  const v = await db.verify();
  t.true(v.ok, `seed ${seed}: ${JSON.stringify(v.problems.slice(0, 3))}`);
  await db.close();
  return { finds, writes };
}

/** The projection rule of the README, written independently. */
function project(doc: Doc, p: Record<string, number>): Doc {
  const inc = Object.entries(p).filter(([k, v]) => k !== '_id' && v === 1);
  if (inc.length > 0) {
    const out: Doc = {};
    if (p._id !== 0) out._id = doc._id;
    for (const [path] of inc) {
      const segs = path.split('.');
      let src: unknown = doc;
      let ok = true;
      for (const s of segs) {
        if (!isObj(src) || !(s in src)) {
          ok = false;
          break;
        }
        src = src[s];
      }
      if (!ok) continue;
      let dst = out;
      for (const s of segs.slice(0, -1)) dst = (dst[s] ??= {}) as Doc;
      dst[segs[segs.length - 1] as string] = clone(src);
    }
    return out;
  }
  const out = clone(doc);
  if (p._id === 0) delete out._id;
  for (const [path] of Object.entries(p).filter(([k]) => k !== '_id')) {
    const segs = path.split('.');
    let cur: unknown = out;
    for (const s of segs.slice(0, -1)) cur = isObj(cur) ? cur[s] : undefined;
    if (isObj(cur)) delete cur[segs[segs.length - 1] as string];
  }
  return out;
}

test('collections agree with a brute-force model (random documents, updates, filters, paging, reopen)', async (t) => {
  const seeds = SEED === undefined ? Array.from({ length: CASES }, (_, i) => 0xc011 + i * 7919) : [SEED];
  let finds = 0;
  let writes = 0;
  for (const seed of seeds) {
    const r = await runCase(t, seed, 120);
    finds += r.finds;
    writes += r.writes;
  }
  t.log(`${seeds.length} cases, ${writes} writes, ${finds} finds; ${JSON.stringify(tally)}`);
  t.true(finds > 0 && writes > 0);
});
