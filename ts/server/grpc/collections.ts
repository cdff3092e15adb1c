/**
 * The collection RPCs: InsertOne, InsertMany, FindById, Find, CountDocuments, UpdateOne,
 * ReplaceOne, DeleteOne, DeleteMany, ListCollectionIndexes, DeclareCollectionIndexes on
 * `db.collection(name)`, with documents, filters, updates and projections as Extended JSON
 * text (bson's EJSON). Documents keep their BSON types on the way in; they come back as
 * relaxed Extended JSON (64-bit integers beyond ±2^53 as `$numberLong`).
 */
import { EJSON } from 'bson';

import type { Collection, FindOptions } from '../../collections/collection';
import type { FieldIndex } from '../../collections/fields';
import type { Filter } from '../../collections/filter';
import type { Document, Projection, Update } from '../../collections/update';
import { invalidArgument } from '../../errors';
import { Context, syncOption } from './context';
import { ServerError } from './errors';
import { parseEjson, parseOperands, relaxedEjson } from './values';

interface Target {
  instance: string;
  collection: string;
  id?: string;
  filterJson?: string;
  target?: 'id' | 'filterJson';
  sync?: boolean;
}
interface InsertOneRequest {
  instance: string;
  collection: string;
  documentJson: string;
  sync?: boolean;
}
interface FindByIdRequest {
  instance: string;
  collection: string;
  id: string;
}
interface FindRequest {
  instance: string;
  collection: string;
  filterJson: string;
  limit: number;
  cursor: string;
  projectionJson: string;
  timeoutMs: number;
  maxPostingsScanned: number;
}
interface UpdateOneRequest extends Target {
  updateJson: string;
}
interface ReplaceOneRequest extends Target {
  documentJson: string;
}
interface InsertManyRequest {
  instance: string;
  collection: string;
  documentsJson: string[];
  sync?: boolean;
}
interface FilterRequest {
  instance: string;
  collection: string;
  filterJson: string;
  sync?: boolean;
}
/** A `FieldIndex` message (proto3: empty type is the default, equality). */
interface WireFieldIndex {
  field: string;
  type: string;
  unique: boolean;
  sparse: boolean;
}
interface DeclareRequest {
  instance: string;
  collection: string;
  indexes: WireFieldIndex[];
}

/** Rejects a text over the value limit (`STRATA_LIMIT`), then parses it as a document. */
function documentOf(ctx: Context, text: string, what: string): Document {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > ctx.limits.maxValueBytes) {
    throw new ServerError('STRATA_LIMIT', `${what} is ${bytes} bytes, more than the server's limit of ${ctx.limits.maxValueBytes}`);
  }
  if (text.length === 0) throw invalidArgument(`${what} is required`);
  return parseEjson(text, what) as Document;
}

function idText(id: unknown): { id: string; json: string } {
  return { id: typeof id === 'string' ? id : (id as { toHexString(): string }).toHexString(), json: EJSON.stringify(id) };
}

async function collectionOf(ctx: Context, req: { instance: string; collection: string }): Promise<Collection> {
  const { db } = ctx.queryInstance(req.instance);
  return db.collection(req.collection);
}

function idOf(id: string): string {
  if (id.length === 0) throw invalidArgument('id is required (a string, or an ObjectId as its 24 hex digits)');
  return id;
}

function targetOf(req: Target): string | Filter {
  if (req.target === 'id') return idOf(req.id ?? '');
  if (req.target === 'filterJson') return parseOperands(req.filterJson ?? '', 'filter_json', 'filter') as Filter;
  throw invalidArgument('target is required: set id or filter_json');
}

export async function insertOne(ctx: Context, req: InsertOneRequest): Promise<{ insertedId: string; insertedIdJson: string }> {
  const doc = documentOf(ctx, req.documentJson, 'document_json');
  const coll = await collectionOf(ctx, req);
  const { insertedId } = await coll.insertOne(doc, syncOption(req));
  const { id, json } = idText(insertedId);
  return { insertedId: id, insertedIdJson: json };
}

export async function insertMany(ctx: Context, req: InsertManyRequest): Promise<{ insertedCount: number; insertedIds: string[]; insertedIdsJson: string[] }> {
  const n = req.documentsJson.length;
  if (n === 0) throw invalidArgument('documents_json is required: one or more documents');
  if (n > ctx.limits.maxBatchOps) throw new ServerError('STRATA_LIMIT', `documents_json holds ${n} documents, more than the server's limit of ${ctx.limits.maxBatchOps}`);
  const docs = req.documentsJson.map((text, i) => documentOf(ctx, text, `documents_json[${i}]`));
  const coll = await collectionOf(ctx, req);
  const r = await coll.insertMany(docs, syncOption(req));
  const ids = r.insertedIds.map(idText);
  return { insertedCount: r.insertedCount, insertedIds: ids.map((x) => x.id), insertedIdsJson: ids.map((x) => x.json) };
}
export async function findById(ctx: Context, req: FindByIdRequest): Promise<{ found: boolean; documentJson: string }> {
  const coll = await collectionOf(ctx, req);
  const doc = await coll.findById(idOf(req.id));
  return doc === null ? { found: false, documentJson: '' } : { found: true, documentJson: relaxedEjson(doc) };
}

export async function find(ctx: Context, req: FindRequest): Promise<{ documentsJson: string[]; cursor: string; partial: string }> {
  const coll = await collectionOf(ctx, req);
  const filter = req.filterJson === '' ? {} : (parseOperands(req.filterJson, 'filter_json', 'filter') as Filter);
  const opts: FindOptions = {};
  if (req.limit !== 0) opts.limit = req.limit;
  if (req.cursor !== '') opts.cursor = req.cursor;
  if (req.projectionJson !== '') opts.projection = parseOperands(req.projectionJson, 'projection_json', 'update') as Projection;
  if (req.timeoutMs !== 0) opts.timeoutMs = req.timeoutMs;
  if (req.maxPostingsScanned !== 0) opts.maxPostingsScanned = req.maxPostingsScanned;
  const page = await coll.find(filter, opts);
  return { documentsJson: page.items.map((d) => relaxedEjson(d)), cursor: page.cursor ?? '', partial: page.partial === false ? '' : page.partial };
}

export async function updateOne(ctx: Context, req: UpdateOneRequest): Promise<{ matchedCount: number; modifiedCount: number }> {
  const target = targetOf(req);
  if (req.updateJson.length === 0) throw invalidArgument('update_json is required: update operators such as {"$set": {"a": 1}}');
  const bytes = Buffer.byteLength(req.updateJson, 'utf8');
  if (bytes > ctx.limits.maxValueBytes) {
    throw new ServerError('STRATA_LIMIT', `update_json is ${bytes} bytes, more than the server's limit of ${ctx.limits.maxValueBytes}`);
  }
  const update = parseOperands(req.updateJson, 'update_json', 'update') as Update;
  const coll = await collectionOf(ctx, req);
  return coll.updateOne(target, update, syncOption(req));
}

export async function deleteOne(ctx: Context, req: Target): Promise<{ deletedCount: number }> {
  const target = targetOf(req);
  const coll = await collectionOf(ctx, req);
  return coll.deleteOne(target, syncOption(req));
}

export async function replaceOne(ctx: Context, req: ReplaceOneRequest): Promise<{ matchedCount: number; modifiedCount: number }> {
  const target = targetOf(req);
  const doc = documentOf(ctx, req.documentJson, 'document_json');
  const coll = await collectionOf(ctx, req);
  return coll.replaceOne(target, doc, syncOption(req));
}

function filterOf(text: string): Filter {
  return text === '' ? {} : (parseOperands(text, 'filter_json', 'filter') as Filter);
}

export async function deleteMany(ctx: Context, req: FilterRequest): Promise<{ deletedCount: number }> {
  if (req.filterJson === '') throw invalidArgument('filter_json is required: a filter, or {} to delete every document');
  const filter = filterOf(req.filterJson);
  const coll = await collectionOf(ctx, req);
  return coll.deleteMany(filter, syncOption(req));
}

export async function countDocuments(ctx: Context, req: FilterRequest): Promise<{ count: number }> {
  const filter = filterOf(req.filterJson);
  const coll = await collectionOf(ctx, req);
  return { count: await coll.count(filter) };
}

function wireIndexes(list: FieldIndex[]): { indexes: WireFieldIndex[] } {
  return { indexes: list.map((i) => ({ field: i.field, type: i.type ?? 'equality', unique: i.unique === true, sparse: i.sparse === true })) };
}

export async function listCollectionIndexes(ctx: Context, req: { instance: string; collection: string }): Promise<{ indexes: WireFieldIndex[] }> {
  return wireIndexes((await collectionOf(ctx, req)).indexes());
}

const INDEX_TYPES = new Set(['equality', 'range', 'text']);

export async function declareCollectionIndexes(ctx: Context, req: DeclareRequest): Promise<{ indexes: WireFieldIndex[] }> {
  if (req.indexes.length === 0) throw invalidArgument('indexes is required: one or more { field, type? }');
  if (req.indexes.length > 64) throw invalidArgument(`indexes holds ${req.indexes.length} fields, at most 64 may be declared at once`);
  const decls = req.indexes.map((i, n): FieldIndex => {
    if (i.field === '') throw invalidArgument(`indexes[${n}].field is required`);
    if (i.type !== '' && !INDEX_TYPES.has(i.type)) throw invalidArgument(`indexes[${n}].type must be equality, range or text (empty: equality), got ${JSON.stringify(i.type)}`);
    const d: FieldIndex = { field: i.field };
    if (i.type !== '') d.type = i.type as FieldIndex['type'];
    if (i.unique) d.unique = true;
    if (i.sparse) d.sparse = true;
    return d;
  });
  const { db } = ctx.queryInstance(req.instance);
  return wireIndexes((await db.collection(req.collection, { indexes: decls })).indexes());
}
