/**
 * The collection RPCs: InsertOne, FindById, Find, UpdateOne, DeleteOne on
 * `db.collection(name)`, with documents, filters, updates and projections as Extended JSON
 * text (bson's EJSON). Documents keep their BSON types on the way in; they come back as
 * relaxed Extended JSON (64-bit integers beyond ±2^53 as `$numberLong`).
 */
import { EJSON } from 'bson';

import type { Collection, FindOptions } from '../../collections/collection';
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

async function collectionOf(ctx: Context, req: { instance: string; collection: string }): Promise<Collection> {
  const { db } = ctx.instance(req.instance);
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
  const bytes = Buffer.byteLength(req.documentJson, 'utf8');
  if (bytes > ctx.limits.maxValueBytes) {
    throw new ServerError('STRATA_LIMIT', `document_json is ${bytes} bytes, more than the server's limit of ${ctx.limits.maxValueBytes}`);
  }
  if (req.documentJson.length === 0) throw invalidArgument('document_json is required');
  const doc = parseEjson(req.documentJson, 'document_json') as Document;
  const coll = await collectionOf(ctx, req);
  const { insertedId } = await coll.insertOne(doc, syncOption(req));
  return { insertedId: typeof insertedId === 'string' ? insertedId : insertedId.toHexString(), insertedIdJson: EJSON.stringify(insertedId) };
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
