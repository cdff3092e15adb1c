/**
 * The key-value routes of the seeds, on the default instance (`/keys`, `/scan`) and on any
 * instance (`/db/{instance}/keys`, ...). Every list is paged with a key cursor.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { successor } from '../../codec';
import { Instance, toJson } from '../../instances';
import { AppContext, checkKey, checkValue, fromKeyCursor, instanceOf, keyCursor, ScopedOptions, STORED } from '../context';
import { notFound, tooLarge } from '../errors';
import { cursorSchema, errors, keySchema, pageQuery, params, Schema, valueOut, valueSchemaOf } from '../schemas';

interface Bounds {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
}

/** The byte range of `prefix`, `start` (inclusive), `end` (exclusive), continued after `cursor`. */
function bounds(ctx: AppContext, q: { prefix?: string; start?: string; end?: string; cursor?: string }): Bounds | undefined {
  let lower: Buffer | undefined;
  let upper: Buffer | undefined;
  const raise = (b: Buffer): void => {
    if (lower === undefined || Buffer.compare(b, lower) > 0) lower = b;
  };
  const cap = (b: Buffer): void => {
    if (upper === undefined || Buffer.compare(b, upper) < 0) upper = b;
  };
  if (q.prefix !== undefined && q.prefix !== '') {
    const p = Buffer.from(checkKey(ctx, q.prefix, 'prefix'), 'utf8');
    raise(p);
    const s = successor(p);
    if (s !== undefined) cap(s);
  }
  if (q.start !== undefined && q.start !== '') raise(Buffer.from(checkKey(ctx, q.start, 'start'), 'utf8'));
  if (q.end !== undefined && q.end !== '') cap(Buffer.from(checkKey(ctx, q.end, 'end'), 'utf8'));
  const r: Bounds = {};
  const after = q.cursor === undefined ? undefined : fromKeyCursor(q.cursor);
  if (after !== undefined) {
    if (lower === undefined || Buffer.compare(after, lower) >= 0) r.gt = after;
    else r.gte = lower;
  } else if (lower !== undefined) r.gte = lower;
  if (upper !== undefined) r.lt = upper;
  const lo = r.gt ?? r.gte;
  if (lo !== undefined && upper !== undefined && Buffer.compare(lo, upper) >= 0) return undefined;
  return r;
}

/** A write of a group, as `db.batch` takes it (the value already in the stored form). */
interface PutOp {
  type: 'put';
  key: string;
  value: Buffer;
  valueEncoding: 'buffer';
}

/** The writes of one group; `failed[i]` holds the error of write `i` once the group settled. */
interface Group {
  ops: PutOp[];
  /** Resolves (never rejects) once every write of the group is applied or failed. */
  settled: Promise<void>;
  failed: ({ error: unknown } | undefined)[] | undefined;
}

/**
 * Group commit of `POST /keys`: the writes whose requests arrive in one turn of the event loop
 * go to the database as one `db.batch` (one index-maintenance pass, one engine write) instead
 * of one `db.put` each. Each request is answered once its own write is applied, as with
 * `db.put`. A batch is all or nothing, so when a group fails (a unique index, a closed
 * database) every write of it is retried alone, in arrival order, and each request gets its
 * own answer. Per request this costs one operation object and one `await` of the group's
 * promise.
 */
const groups = new WeakMap<object, Group>();
const RESOLVED = Promise.resolve();

async function groupedPut(db: Instance['db'], key: string, value: Buffer, max: number): Promise<void> {
  let g = groups.get(db);
  if (g === undefined) {
    const group: Group = { ops: [], settled: RESOLVED, failed: undefined };
    group.settled = new Promise<void>((resolve) => {
      setImmediate(() => {
        if (groups.get(db) === group) groups.delete(db);
        void commit(db, group).then(resolve);
      });
    });
    groups.set(db, (g = group));
  }
  const i = g.ops.push({ type: 'put', key, value, valueEncoding: 'buffer' }) - 1;
  if (g.ops.length >= max) groups.delete(db);
  await g.settled;
  const f = g.failed?.[i];
  if (f !== undefined) throw f.error;
}

/** Writes a group; never rejects (the errors go to `g.failed`). */
async function commit(db: Instance['db'], g: Group): Promise<void> {
  const ops = g.ops;
  if (ops.length > 1) {
    try {
      await db.batch(ops);
      return;
    } catch {
      // Nothing of the batch was written: each write alone, below.
    }
  }
  const failed: ({ error: unknown } | undefined)[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as PutOp;
    try {
      await db.put(op.key, op.value, STORED);
    } catch (error) {
      failed[i] = { error };
      g.failed = failed;
    }
  }
}

const pageResponse = (item: Schema): Schema => ({
  type: 'object',
  required: ['items', 'cursor'],
  properties: { items: { type: 'array', items: item }, cursor: cursorSchema },
});

const entrySchema: Schema = { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string' }, value: valueOut } };

export async function kvRoutes(app: FastifyInstance, opts: ScopedOptions): Promise<void> {
  const { ctx, scoped } = opts;
  const s = ctx.settings;
  const tags = [scoped ? 'instance key-value' : 'key-value (default instance)'];
  const rangeQuery = {
    ...pageQuery(s.maxPage),
    prefix: { type: 'string', maxLength: s.maxKeySize },
    start: { type: 'string', maxLength: s.maxKeySize, description: 'First key (inclusive).' },
    end: { type: 'string', maxLength: s.maxKeySize, description: 'Last key (exclusive).' },
  };

  /** Up to `limit` keys (and values) of a range, and the cursor after them. */
  async function page(inst: Instance, b: Bounds | undefined, limit: number, values: boolean) {
    if (b === undefined) return { rows: [] as [Buffer, unknown][], cursor: null };
    const it = inst.db.iterator<Buffer, unknown>({ ...b, keyEncoding: 'buffer', values, limit: limit + 1 });
    try {
      const rows = await it.nextv(limit + 1);
      const more = rows.length > limit;
      const kept = rows.slice(0, limit);
      const last = kept[kept.length - 1];
      return { rows: kept, cursor: more && last ? keyCursor(last[0]) : null };
    } finally {
      await it.close();
    }
  }

  app.get(
    '/keys',
    {
      schema: {
        tags,
        summary: 'List keys (paged)',
        params: params(scoped),
        querystring: { type: 'object', properties: rangeQuery },
        response: { 200: pageResponse({ type: 'string' }), ...errors(404, 413) },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; cursor?: string; prefix?: string; start?: string; end?: string };
      const inst = instanceOf(ctx, req, scoped);
      const { rows, cursor } = await page(inst, bounds(ctx, q), q.limit, false);
      return { items: rows.map((r) => r[0].toString('utf8')), cursor };
    },
  );

  app.get(
    '/scan',
    {
      schema: {
        tags,
        summary: 'Keys and values of a range (paged)',
        params: params(scoped),
        querystring: { type: 'object', properties: rangeQuery },
        response: { 200: pageResponse(entrySchema), ...errors(404, 413) },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; cursor?: string; prefix?: string; start?: string; end?: string };
      const inst = instanceOf(ctx, req, scoped);
      const { rows, cursor } = await page(inst, bounds(ctx, q), q.limit, true);
      return { items: rows.map(([k, v]) => ({ key: k.toString('utf8'), value: toJson(inst.codec, v) })), cursor };
    },
  );

  const searchResponse: Schema = {
    type: 'object',
    required: ['items', 'cursor', 'scanned', 'partial'],
    properties: {
      items: { type: 'array', items: { type: 'string' } },
      cursor: cursorSchema,
      scanned: { type: 'integer', description: 'Keys read for this page.' },
      partial: { type: 'boolean', description: 'True when the page stopped at the scan budget: continue with the cursor.' },
    },
  };
  const searchQuery = { ...pageQuery(s.maxPage), q: { type: 'string', minLength: 1, maxLength: s.maxKeySize } };

  /** Keys starting with `q` (a range read). */
  async function prefixSearch(req: FastifyRequest, q: { q: string; limit: number; cursor?: string }) {
    const inst = instanceOf(ctx, req, scoped);
    const { rows, cursor } = await page(inst, bounds(ctx, { prefix: q.q, cursor: q.cursor }), q.limit, false);
    return { items: rows.map((r) => r[0].toString('utf8')), cursor, scanned: rows.length, partial: false };
  }

  /** Keys containing `q`: a key scan, at most `scan_budget` keys per page. */
  async function substringSearch(req: FastifyRequest, q: { q: string; limit: number; cursor?: string }) {
    const inst = instanceOf(ctx, req, scoped);
    const needle = Buffer.from(q.q, 'utf8');
    const b = bounds(ctx, { cursor: q.cursor }) ?? {};
    const it = inst.db.iterator<Buffer, unknown>({ ...b, keyEncoding: 'buffer', values: false });
    const items: string[] = [];
    let scanned = 0;
    let last: Buffer | undefined;
    let done = false;
    try {
      while (items.length < q.limit && scanned < s.scanBudget) {
        const rows = await it.nextv(Math.min(1000, s.scanBudget - scanned));
        if (rows.length === 0) {
          done = true;
          break;
        }
        for (const [k] of rows) {
          scanned++;
          last = k;
          if (k.includes(needle)) {
            items.push(k.toString('utf8'));
            if (items.length >= q.limit) break;
          }
        }
      }
    } finally {
      await it.close();
    }
    return { items, cursor: done || last === undefined ? null : keyCursor(last), scanned, partial: !done && items.length < q.limit };
  }

  app.get(
    '/keys/search',
    {
      schema: {
        tags,
        summary: 'Search keys by prefix (prefix=true, a range read) or substring (a budgeted key scan)',
        params: params(scoped),
        querystring: { type: 'object', required: ['q'], properties: { ...searchQuery, prefix: { type: 'boolean', default: true } } },
        response: { 200: searchResponse, ...errors(404, 413) },
      },
    },
    async (req) => {
      const q = req.query as { q: string; limit: number; cursor?: string; prefix: boolean };
      return q.prefix ? prefixSearch(req, q) : substringSearch(req, q);
    },
  );

  app.get(
    '/keys/search/prefix',
    {
      schema: {
        tags,
        summary: 'Keys starting with q (a range read, paged)',
        params: params(scoped),
        querystring: { type: 'object', required: ['q'], properties: searchQuery },
        response: { 200: searchResponse, ...errors(404, 413) },
      },
    },
    async (req) => prefixSearch(req, req.query as { q: string; limit: number; cursor?: string }),
  );

  app.get(
    '/keys/search/substring',
    {
      schema: {
        tags,
        summary: 'Keys containing q: a scan of the keys, at most scan_budget keys per page (partial: true means continue with the cursor)',
        params: params(scoped),
        querystring: { type: 'object', required: ['q'], properties: searchQuery },
        response: { 200: searchResponse, ...errors(404, 413) },
      },
    },
    async (req) => substringSearch(req, req.query as { q: string; limit: number; cursor?: string }),
  );

  app.get(
    '/keys/:key',
    {
      schema: {
        tags,
        summary: 'Read one key',
        params: params(scoped, { key: keySchema }),
        response: { 200: entrySchema, ...errors(404, 413) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, scoped);
      const key = checkKey(ctx, (req.params as { key: string }).key);
      const value = await inst.db.get(key);
      if (value === undefined) throw notFound('STRATA_KEY_NOT_FOUND', `no key ${JSON.stringify(key)}`);
      return { key, value: toJson(inst.codec, value) };
    },
  );

  const putBody: Schema = { type: 'object', required: ['key', 'value'], additionalProperties: false, properties: { key: keySchema, value: valueSchemaOf(scoped ? undefined : ctx.instances.default.codec) } };
  const okSchema: Schema = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' }, count: { type: 'integer' } } };

  app.post(
    '/keys',
    {
      schema: {
        tags,
        summary: 'Write one key',
        params: params(scoped),
        body: putBody,
        response: { 200: okSchema, ...errors(404, 413) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, scoped);
      const body = req.body as { key: string; value: unknown };
      const key = checkKey(ctx, body.key);
      await groupedPut(inst.db, key, checkValue(ctx, inst, body.value), s.maxBatch);
      return { ok: true };
    },
  );

  app.post(
    '/keys/batch',
    {
      schema: {
        tags,
        summary: 'Write many keys in one atomic batch',
        params: params(scoped),
        body: {
          type: 'object',
          required: ['items'],
          additionalProperties: false,
          properties: { items: { type: 'array', minItems: 1, items: putBody } },
        },
        response: { 200: okSchema, ...errors(404, 413) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, scoped);
      const items = (req.body as { items: { key: string; value: unknown }[] }).items;
      if (items.length > s.maxBatch) throw tooLarge(`batch of ${items.length} operations exceeds max_batch (${s.maxBatch})`);
      const ops = items.map((it, i) => ({
        type: 'put' as const,
        key: checkKey(ctx, it.key, `items[${i}].key`),
        value: checkValue(ctx, inst, it.value, `items[${i}].value`),
        ...STORED,
      }));
      await inst.db.batch(ops);
      return { ok: true, count: ops.length };
    },
  );

  app.delete(
    '/keys/batch',
    {
      schema: {
        tags,
        summary: 'Delete many keys in one atomic batch',
        params: params(scoped),
        body: {
          type: 'object',
          required: ['keys'],
          additionalProperties: false,
          properties: { keys: { type: 'array', minItems: 1, items: keySchema } },
        },
        response: { 200: okSchema, ...errors(404, 413) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, scoped);
      const keys = (req.body as { keys: string[] }).keys;
      if (keys.length > s.maxBatch) throw tooLarge(`batch of ${keys.length} operations exceeds max_batch (${s.maxBatch})`);
      const ops = keys.map((k, i) => ({ type: 'del' as const, key: checkKey(ctx, k, `keys[${i}]`) }));
      await inst.db.batch(ops);
      return { ok: true, count: ops.length };
    },
  );

  app.delete(
    '/keys/:key',
    {
      schema: {
        tags,
        summary: 'Delete one key (404 if it does not exist)',
        params: params(scoped, { key: keySchema }),
        response: { 200: okSchema, ...errors(404, 413) },
      },
    },
    async (req) => {
      const inst = instanceOf(ctx, req, scoped);
      const key = checkKey(ctx, (req.params as { key: string }).key);
      if (!(await inst.db.has(key))) throw notFound('STRATA_KEY_NOT_FOUND', `no key ${JSON.stringify(key)}`);
      await inst.db.del(key);
      return { ok: true };
    },
  );

}
