/**
 * Mongo-like collections of an instance (README, "Collections"), documents in Extended JSON:
 *
 *   POST   /db/{instance}/collections/{name}            insert one document (an object) or many (an array)
 *   GET    /db/{instance}/collections/{name}/{id}       the document, or 404
 *   POST   /db/{instance}/collections/{name}/find       { filter, limit, cursor, projection, timeout, max_postings_scanned }
 *   POST   /db/{instance}/collections/{name}/count      { filter }
 *   PUT    /db/{instance}/collections/{name}/{id}       replace the document (404 if absent)
 *   PATCH  /db/{instance}/collections/{name}/{id}       update operators: $set, $unset, $inc, $push, $pull (404 if absent)
 *   DELETE /db/{instance}/collections/{name}/{id}       delete it (404 if absent)
 *   POST   /db/{instance}/collections/{name}/delete     { filter }: delete every match
 *   GET    /db/{instance}/collections/{name}/indexes    the fields it indexes
 *   POST   /db/{instance}/collections/{name}/indexes    { indexes: [{ field, type? }] }: declare (builds them)
 *
 * Filters follow MongoDB's syntax and run on indexes only: a field without an index is
 * `STRATA_NO_INDEX` (400). The route only converts JSON; the collection does the rest.
 */
import type { FastifyInstance } from 'fastify';
import { EJSON } from 'bson';

import type { Collection } from '../../collections/collection';
import type { Filter, Update } from '../../collections/index';
import { toJson } from '../../instances';
import type { Instance } from '../../instances';
import { instanceOf, ScopedOptions } from '../context';
import { badRequest, notFound } from '../errors';
import { anyObject, cursorSchema, errors, params, Schema } from '../schemas';

const nameParam: Schema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Collection name.' };
const idParam: Schema = { type: 'string', minLength: 1, maxLength: 1024, description: 'Document id: a 24-hex ObjectId or a string.' };
const docSchema: Schema = { type: 'object', additionalProperties: true, description: 'A document in Extended JSON ({ "$oid": … }, { "$date": … }, …).' };

/** Rejects what Extended JSON lets through but no document may hold (an invalid `$date`). */
function checkParsed(v: unknown, what: string): void {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x instanceof Date) {
      if (Number.isNaN(x.getTime())) throw badRequest(`${what} holds an invalid date`);
    } else if (Array.isArray(x)) stack.push(...x);
    else if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) stack.push(...Object.values(x));
  }
}

/**
 * Extended JSON in: types such as ObjectId and Date become BSON values. Documents keep every
 * type exactly (canonical: `{ "$numberDouble": "1" }` stays a double); filters and updates
 * read numbers as numbers (relaxed), which is what their operators compare and add.
 */
function fromEjson<T>(v: unknown, what: string, relaxed = false): T {
  let out: unknown;
  try {
    out = EJSON.deserialize(v as Record<string, unknown>, { relaxed });
  } catch (e) {
    throw badRequest(`${what} is not valid Extended JSON: ${(e as Error).message}`);
  }
  checkParsed(out, what);
  return out as T;
}

export async function collectionRoutes(app: FastifyInstance, opts: ScopedOptions): Promise<void> {
  const { ctx } = opts;
  const tags = ['collections'];
  /** Open collections per instance: opening reads the registry once, not per request. */
  const open = new WeakMap<Instance, Map<string, Promise<Collection>>>();
  const collection = (inst: Instance, name: string): Promise<Collection> => {
    let m = open.get(inst);
    if (m === undefined) open.set(inst, (m = new Map()));
    let c = m.get(name);
    if (c === undefined) {
      c = inst.queryDb().collection(name);
      c.catch(() => m?.delete(name));
      m.set(name, c);
    }
    return c;
  };
  const target = (req: { params: unknown }): { inst: Instance; name: string; id?: string } => {
    const p = req.params as { name: string; id?: string };
    return { inst: instanceOf(ctx, req as never, true), name: p.name, ...(p.id === undefined ? {} : { id: p.id }) };
  };
  const out = (doc: unknown): unknown => toJson('bson', doc);
  const byName = params(true, { name: nameParam });
  const byId = params(true, { name: nameParam, id: idParam });

  app.post(
    '/collections/:name',
    {
      schema: {
        tags,
        summary: 'Insert one document (an object) or several (an array, all or nothing); ids are generated (ObjectId) unless given as _id',
        params: byName,
        body: { anyOf: [docSchema, { type: 'array', minItems: 1, maxItems: ctx.settings.maxBatch, items: docSchema }] },
        response: {
          200: { type: 'object', properties: { insertedId: {}, insertedIds: { type: 'array' }, insertedCount: { type: 'integer' } } },
          ...errors(404, 409, 413),
        },
      },
    },
    async (req) => {
      const { inst, name } = target(req);
      const c = await collection(inst, name);
      if (Array.isArray(req.body)) {
        const r = await c.insertMany(fromEjson(req.body, 'the documents'));
        return { insertedCount: r.insertedCount, insertedIds: r.insertedIds.map(out) };
      }
      const r = await c.insertOne(fromEjson(req.body, 'the document'));
      return { insertedId: out(r.insertedId) };
    },
  );

  app.get(
    '/collections/:name/:id',
    { schema: { tags, summary: 'One document by id', params: byId, response: { 200: docSchema, ...errors(404) } } },
    async (req) => {
      const { inst, name, id } = target(req);
      const doc = await (await collection(inst, name)).findById(id as string);
      if (doc === null) throw notFound('STRATA_NOT_FOUND', `no document ${JSON.stringify(id)} in collection ${JSON.stringify(name)}`);
      return out(doc);
    },
  );

  app.post(
    '/collections/:name/find',
    {
      schema: {
        tags,
        summary: 'One page of the documents matching a MongoDB-style filter (indexed fields only), in id order',
        params: byName,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            filter: anyObject,
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
            cursor: cursorSchema,
            projection: anyObject,
            timeout: { type: 'integer', minimum: 1, maximum: ctx.settings.requestTimeoutMs },
            max_postings_scanned: { type: 'integer', minimum: 1 },
          },
        },
        response: {
          200: { type: 'object', required: ['items', 'cursor', 'partial'], properties: { items: { type: 'array', items: docSchema }, cursor: cursorSchema, partial: { anyOf: [{ type: 'boolean' }, { type: 'string' }] } } },
          ...errors(404),
        },
      },
    },
    async (req) => {
      const { inst, name } = target(req);
      const b = (req.body ?? {}) as { filter?: unknown; limit?: number; cursor?: string | null; projection?: Record<string, 0 | 1>; timeout?: number; max_postings_scanned?: number };
      const r = await (await collection(inst, name)).find(fromEjson<Filter>(b.filter ?? {}, 'filter', true), {
        ...(b.limit === undefined ? {} : { limit: b.limit }),
        cursor: b.cursor ?? null,
        ...(b.projection === undefined ? {} : { projection: b.projection }),
        timeoutMs: b.timeout ?? ctx.settings.requestTimeoutMs,
        ...(b.max_postings_scanned === undefined ? {} : { maxPostingsScanned: b.max_postings_scanned }),
      });
      return { items: r.items.map(out), cursor: r.cursor, partial: r.partial };
    },
  );

  app.post(
    '/collections/:name/count',
    {
      schema: {
        tags,
        summary: 'The number of documents matching a filter (read from postings)',
        params: byName,
        body: { type: 'object', additionalProperties: false, properties: { filter: anyObject } },
        response: { 200: { type: 'object', required: ['count'], properties: { count: { type: 'integer' } } }, ...errors(404) },
      },
    },
    async (req) => {
      const { inst, name } = target(req);
      const b = (req.body ?? {}) as { filter?: unknown };
      return { count: await (await collection(inst, name)).count(fromEjson<Filter>(b.filter ?? {}, 'filter', true)) };
    },
  );

  const result: Schema = { type: 'object', properties: { matchedCount: { type: 'integer' }, modifiedCount: { type: 'integer' }, deletedCount: { type: 'integer' } } };

  app.put(
    '/collections/:name/:id',
    { schema: { tags, summary: 'Replace a document (its _id stays)', params: byId, body: docSchema, response: { 200: result, ...errors(404, 409, 413) } } },
    async (req) => {
      const { inst, name, id } = target(req);
      const r = await (await collection(inst, name)).replaceOne(id as string, fromEjson(req.body, 'the document'));
      if (r.matchedCount === 0) throw notFound('STRATA_NOT_FOUND', `no document ${JSON.stringify(id)} in collection ${JSON.stringify(name)}`);
      return r;
    },
  );

  app.patch(
    '/collections/:name/:id',
    {
      schema: {
        tags,
        summary: 'Apply update operators ($set, $unset, $inc, $push, $pull) to a document',
        params: byId,
        body: { type: 'object', minProperties: 1, additionalProperties: true },
        response: { 200: result, ...errors(404, 409, 413) },
      },
    },
    async (req) => {
      const { inst, name, id } = target(req);
      const r = await (await collection(inst, name)).updateOne(id as string, fromEjson<Update>(req.body, 'the update', true));
      if (r.matchedCount === 0) throw notFound('STRATA_NOT_FOUND', `no document ${JSON.stringify(id)} in collection ${JSON.stringify(name)}`);
      return r;
    },
  );

  app.delete(
    '/collections/:name/:id',
    { schema: { tags, summary: 'Delete a document', params: byId, response: { 200: result, ...errors(404) } } },
    async (req) => {
      const { inst, name, id } = target(req);
      const r = await (await collection(inst, name)).deleteOne(id as string);
      if (r.deletedCount === 0) throw notFound('STRATA_NOT_FOUND', `no document ${JSON.stringify(id)} in collection ${JSON.stringify(name)}`);
      return r;
    },
  );

  app.post(
    '/collections/:name/delete',
    {
      schema: {
        tags,
        summary: 'Delete every document matching a filter (indexed fields only)',
        params: byName,
        body: { type: 'object', required: ['filter'], additionalProperties: false, properties: { filter: anyObject } },
        response: { 200: result, ...errors(404) },
      },
    },
    async (req) => {
      const { inst, name } = target(req);
      const b = req.body as { filter: unknown };
      return (await collection(inst, name)).deleteMany(fromEjson<Filter>(b.filter, 'filter', true));
    },
  );

  const fieldSchema: Schema = { type: 'object', required: ['field'], additionalProperties: false, properties: { field: { type: 'string', minLength: 1 }, type: { enum: ['equality', 'range', 'text'] }, unique: { type: 'boolean' }, sparse: { type: 'boolean' } } };

  app.get(
    '/collections/:name/indexes',
    { schema: { tags, summary: 'The fields a collection indexes', params: byName, response: { 200: { type: 'object', required: ['indexes'], properties: { indexes: { type: 'array', items: anyObject } } }, ...errors(404) } } },
    async (req) => {
      const { inst, name } = target(req);
      return { indexes: (await collection(inst, name)).indexes() };
    },
  );

  app.post(
    '/collections/:name/indexes',
    {
      schema: {
        tags,
        summary: 'Declare indexed fields (created and built when missing; answered once they are ready)',
        params: byName,
        body: { type: 'object', required: ['indexes'], additionalProperties: false, properties: { indexes: { type: 'array', minItems: 1, maxItems: 64, items: fieldSchema } } },
        response: { 200: { type: 'object', required: ['indexes'], properties: { indexes: { type: 'array', items: anyObject } } }, ...errors(404) },
      },
    },
    async (req) => {
      const { inst, name } = target(req);
      const b = req.body as { indexes: { field: string; type?: 'equality' | 'range' | 'text'; unique?: boolean; sparse?: boolean }[] };
      const c = await inst.queryDb().collection(name, { indexes: b.indexes });
      open.get(inst)?.set(name, Promise.resolve(c));
      return { indexes: c.indexes() };
    },
  );
}
