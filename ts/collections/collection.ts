/**
 * `Collection`: MongoDB-style documents over the KV and index layers. A document is a BSON
 * value at the key `{collection}:{id}`; filters compile to index queries (`filter.ts`),
 * updates apply in memory (`update.ts`) and are written through `Db` batches, which
 * maintain the postings in the same atomic write. Writes are ordered per document and per
 * collection (`locks.ts`).
 */
import { createHash } from 'node:crypto';

import { BSON, ObjectId } from 'bson';

import type { Db } from '../db';
import type { BatchOperation } from '../database';
import { describe, quote } from '../encodings';
import { StrataError, invalidArgument } from '../errors';
import type { IndexDefinition } from '../indexes/definition';
import { CollectionFields, FieldIndex, FieldInfo, fieldDefinitions, fieldsFromRegistry } from './fields';
import { Compiled, Filter, FilterCompiler } from './filter';
import { Id, IdInput, checkCollectionName, docKey, isObjectId, keyPrefix, toId } from './ids';
import { WriteLocks } from './locks';
import { Document, Projection, Projector, Update, applyUpdate, compileProjection, isPlainObject, parseUpdate, withId } from './update';

/** Options of `db.collection()`. */
export interface CollectionOptions {
  /** Indexes to have (created and built when missing; declaring the same again is a no-op). */
  indexes?: FieldIndex[];
}

/** A document as stored and returned: with its `_id`. */
export type WithId<T> = Omit<T, '_id'> & { _id: Id };
/** A document to insert: `_id` optional (an `ObjectId` is generated). */
export type OptionalId<T> = Omit<T, '_id'> & { _id?: IdInput };

/** Options of `find`. */
export interface FindOptions {
  /** Documents per page: 1–10,000 (default 100). */
  limit?: number;
  /** The `cursor` of the previous page (`null`/absent: the first page). */
  cursor?: string | null;
  /** Fields to return: `{ a: 1, 'b.c': 1 }` or `{ a: 0 }` (`_id` is returned unless `_id: 0`). */
  projection?: Projection;
  /** Stop the page after about this many milliseconds (`partial: 'timeout'`; the cursor continues). */
  timeoutMs?: number;
  /** Stop the page after reading about this many postings (`partial: 'maxPostingsScanned'`). */
  maxPostingsScanned?: number;
}

/** One page of `find`. */
export interface FindResult<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; `null` at the end. */
  cursor: string | null;
  /** `false`, or why the page stopped early. */
  partial: false | 'timeout' | 'maxPostingsScanned';
}

/** Options of the writes. */
export interface CollectionWriteOptions {
  /** Durable before the promise resolves (default: the database's `sync` option). */
  sync?: boolean;
}

export interface InsertOneResult {
  insertedId: Id;
}
export interface InsertManyResult {
  insertedCount: number;
  insertedIds: Id[];
}
export interface UpdateResult {
  /** Documents the id or filter matched (0 or 1). */
  matchedCount: number;
  /** Documents changed (0 when the update left the document as it was). */
  modifiedCount: number;
}
export interface DeleteResult {
  deletedCount: number;
}

const MAX_LIMIT = 10_000;
const DEFAULT_LIMIT = 100;
const DELETE_PAGE = 1000;
const BSON_READ = { promoteLongs: false } as const;

interface State {
  fields: CollectionFields;
  locks: WriteLocks;
}

/** Collection state per database (shared by every `Collection` object of one name). */
const states = new WeakMap<object, Map<string, State>>();

function stateOf(db: object, name: string): State {
  let m = states.get(db);
  if (m === undefined) states.set(db, (m = new Map()));
  let s = m.get(name);
  if (s === undefined) m.set(name, (s = { fields: { fields: new Map(), text: [] }, locks: new WriteLocks() }));
  return s;
}

/** The database a collection runs on (`Db` with any key and value types). */
type AnyDb = Db<unknown, unknown>;

/** Opens a collection: declares its indexes (resolving once they are ready) and loads what it has. */
export async function openCollection<TDoc extends Document>(db: AnyDb, name: unknown, opts?: CollectionOptions): Promise<Collection<TDoc>> {
  const coll = checkCollectionName(name);
  if (opts !== undefined && !isPlainObject(opts)) throw invalidArgument(`collection options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts ?? {})) if (k !== 'indexes') throw invalidArgument(`collection options: unknown option ${quote(k)} (expected indexes)`);
  const decls = opts?.indexes;
  const defs: IndexDefinition[] = [];
  if (decls !== undefined) {
    if (!Array.isArray(decls)) throw invalidArgument(`indexes must be an array of { field, type? }, got ${describe(decls)}`);
    const seen = new Map<string, number>();
    decls.forEach((d, i) => {
      const { info, defs: pair } = fieldDefinitions(coll, d, `indexes[${i}]`);
      const key = `${info.type === 'text' ? 'text' : 'value'}:${info.field}`;
      const prev = seen.get(key);
      if (prev !== undefined) throw invalidArgument(`indexes[${i}]: field '${info.field}' is declared twice (also indexes[${prev}])`);
      seen.set(key, i);
      defs.push(...pair);
    });
  }
  // Check every declaration against what exists before creating anything.
  const before = await db.listIndexes();
  const existing = new Map(before.map((i) => [i.name, i.definition]));
  for (const d of defs) {
    const e = existing.get(d.name);
    if (e !== undefined && JSON.stringify(e) !== JSON.stringify(d)) {
      throw invalidArgument(`collection '${coll}': index '${d.name}' exists with another definition (${JSON.stringify(e)}); drop it first (db.dropIndex)`);
    }
  }
  const missing = defs.filter((d) => !existing.has(d.name));
  for (const d of missing) await db.createIndex(d, { background: true });
  for (const d of defs) await db.createIndex(d);
  const state = stateOf(db, coll);
  state.fields = fieldsFromRegistry(coll, defs.length === 0 && missing.length === 0 ? before : await db.listIndexes());
  return new Collection<TDoc>(db, coll, state);
}

function positiveInt(v: unknown, what: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw invalidArgument(`${what} must be an integer from 1 to ${max}, got ${typeof v === 'number' ? String(v) : describe(v)}`);
  }
  return v;
}

function checkWriteOptions(opts: unknown): { sync?: boolean } {
  if (opts === undefined) return {};
  if (!isPlainObject(opts)) throw invalidArgument(`options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) if (k !== 'sync') throw invalidArgument(`options: unknown option ${quote(k)} (expected sync)`);
  if (opts.sync !== undefined && typeof opts.sync !== 'boolean') throw invalidArgument(`sync must be a boolean, got ${describe(opts.sync)}`);
  return opts.sync === undefined ? {} : { sync: opts.sync };
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** True for what `updateOne` & co. take as an id rather than a filter. */
function isIdArg(v: unknown): boolean {
  if (typeof v === 'string' || isObjectId(v)) return true;
  return isPlainObject(v) && Object.keys(v).length === 1 && Object.keys(v)[0] === '$oid';
}

/** A document stored at a key: its bytes and its decoded form. */
interface Stored {
  key: string;
  raw: Buffer;
  doc: Document;
}

/** A collection of documents. Get one with `await db.collection(name, { indexes })`. */
export class Collection<TDoc extends Document = Document> {
  readonly name: string;
  readonly #db: AnyDb;
  readonly #state: State;
  readonly #prefix: string;

  /** @internal Use `db.collection()`. */
  constructor(db: AnyDb, name: string, state: State) {
    this.#db = db;
    this.name = name;
    this.#state = state;
    this.#prefix = keyPrefix(name);
  }

  /** The indexed fields (as declared). */
  indexes(): FieldIndex[] {
    const f = this.#state.fields;
    const out = (i: FieldInfo): FieldIndex => ({ field: i.field, type: i.type, unique: i.unique, sparse: i.sparse });
    return [...[...f.fields.values()].map(out), ...f.text.map(out)].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  }

  // ---- encoding ---------------------------------------------------------------------------

  #encode(doc: Document, what: string): Buffer {
    try {
      return Buffer.from(BSON.serialize(doc, { ignoreUndefined: true }));
    } catch (e) {
      throw invalidArgument(`${what} cannot be encoded as BSON: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }

  #decode(raw: Buffer, key: string): Document {
    try {
      return BSON.deserialize(raw, BSON_READ) as Document;
    } catch (e) {
      throw invalidArgument(`the stored value of key ${quote(key)} is not a BSON document`, e);
    }
  }

  #compile(filter: unknown): Compiled {
    return new FilterCompiler(this.name, this.#state.fields).compile(filter);
  }

  // ---- reads ----------------------------------------------------------------------------

  async #read(key: string): Promise<Stored | undefined> {
    const raw = await this.#db.get<Buffer>(key, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    return raw === undefined ? undefined : { key, raw, doc: this.#decode(raw, key) };
  }

  /** The document with this id, or `null`. */
  async findById(id: IdInput): Promise<WithId<TDoc> | null> {
    const key = docKey(this.name, toId(id));
    const s = await this.#state.locks.after([key], () => this.#read(key));
    return s === undefined ? null : (s.doc as WithId<TDoc>);
  }

  /** One page of the documents matching `filter`, in key (id) order. */
  find(filter?: Filter, opts?: FindOptions & { projection?: undefined }): Promise<FindResult<WithId<TDoc>>>;
  find(filter: Filter | undefined, opts: FindOptions): Promise<FindResult<Partial<WithId<TDoc>>>>;
  async find(filter?: Filter, opts: FindOptions = {}): Promise<FindResult<Partial<WithId<TDoc>>>> {
    if (!isPlainObject(opts)) throw invalidArgument(`find options must be an object, got ${describe(opts)}`);
    for (const k of Object.keys(opts)) {
      if (!['limit', 'cursor', 'projection', 'timeoutMs', 'maxPostingsScanned'].includes(k)) throw invalidArgument(`find options: unknown option ${quote(k)}`);
    }
    const limit = positiveInt(opts.limit, 'limit', MAX_LIMIT) ?? DEFAULT_LIMIT;
    const project = compileProjection(opts.projection);
    const compiled = this.#compile(filter);
    const cursor = opts.cursor ?? null;
    if (cursor !== null && typeof cursor !== 'string') throw invalidArgument(`cursor must be a string from a previous page (or null), got ${describe(cursor)}`);
    const page = await this.#page(compiled, limit, cursor, opts);
    return { items: page.items.map((s) => this.#out(s.doc, project)), cursor: page.cursor, partial: page.partial };
  }

  /** The first document matching `filter` (in id order), or `null`. */
  async findOne(filter?: Filter, opts: { projection?: Projection } = {}): Promise<Partial<WithId<TDoc>> | null> {
    const r = await this.find(filter, { limit: 1, ...opts });
    return r.items[0] ?? null;
  }

  #out(doc: Document, project: Projector | undefined): Partial<WithId<TDoc>> {
    return (project === undefined ? doc : project(doc)) as Partial<WithId<TDoc>>;
  }

  async #page(
    compiled: Compiled,
    limit: number,
    cursor: string | null,
    opts: { timeoutMs?: number; maxPostingsScanned?: number; values?: boolean },
  ): Promise<{ items: Stored[]; cursor: string | null; partial: FindResult<unknown>['partial'] }> {
    if (compiled.kind === 'none') {
      if (cursor !== null) this.#unwrapCursor(cursor, 'none');
      return { items: [], cursor: null, partial: false };
    }
    if (compiled.kind === 'all') return this.#keyPage(limit, cursor === null ? undefined : this.#unwrapCursor(cursor, 'all'), opts.values !== false);
    const inner = cursor === null ? null : this.#unwrapCursor(cursor, 'query');
    const q: Parameters<AnyDb['query']>[1] = { limit, cursor: inner, keyEncoding: 'utf8', valueEncoding: 'buffer' };
    if (opts.timeoutMs !== undefined) q.timeoutMs = opts.timeoutMs;
    if (opts.maxPostingsScanned !== undefined) q.maxPostingsScanned = opts.maxPostingsScanned;
    if (opts.values === false) q.values = false;
    const r = await this.#db.query<Buffer>(compiled.query, q);
    const items = r.items.map((it) => {
      const key = it.key as string;
      const raw = it.value ?? Buffer.alloc(0);
      return { key, raw, doc: opts.values === false ? {} : this.#decode(raw, key) };
    });
    return { items, cursor: r.cursor === null ? null : `q.${r.cursor}`, partial: r.partial };
  }

  /** A page of the whole collection, by key. */
  async #keyPage(limit: number, after: string | undefined, values: boolean): Promise<{ items: Stored[]; cursor: string | null; partial: false }> {
    const it = this.#db.iterator<string, Buffer>({
      ...(after === undefined ? { gte: this.#prefix } : { gt: after }),
      lt: `${this.name};`,
      limit: limit + 1,
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
      values,
    });
    const rows = await it.all();
    const items = rows.slice(0, limit).map(([key, raw]) => ({ key, raw, doc: values ? this.#decode(raw, key) : {} }));
    const last = items[items.length - 1];
    const cursor = rows.length > limit && last !== undefined ? this.#keyCursor(last.key) : null;
    return { items, cursor, partial: false };
  }

  #keyCursor(key: string): string {
    const text = Buffer.from(JSON.stringify({ v: 1, c: this.name, k: key }), 'utf8').toString('base64url');
    return `k.${text}.${digest(`${this.name}\u0000${text}`)}`;
  }

  /** The inner cursor of a page cursor of this collection and this kind of filter. */
  #unwrapCursor(cursor: string, kind: 'all' | 'query' | 'none'): string {
    const bad = (why: string): StrataError => invalidArgument(`cursor is not valid: ${why}`);
    if (cursor.startsWith('q.')) {
      if (kind !== 'query') throw bad('it belongs to another filter');
      return cursor.slice(2);
    }
    if (!cursor.startsWith('k.')) throw bad('malformed');
    if (kind !== 'all') throw bad('it belongs to another filter');
    const rest = cursor.slice(2);
    const dot = rest.lastIndexOf('.');
    if (dot <= 0) throw bad('malformed');
    const text = rest.slice(0, dot);
    if (digest(`${this.name}\u0000${text}`) !== rest.slice(dot + 1)) throw bad('checksum mismatch (damaged, edited or of another collection)');
    let body: { v?: unknown; c?: unknown; k?: unknown };
    try {
      body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof body;
    } catch {
      throw bad('malformed');
    }
    if (body === null || typeof body !== 'object' || body.v !== 1 || body.c !== this.name || typeof body.k !== 'string' || !body.k.startsWith(this.#prefix)) throw bad('malformed');
    return body.k;
  }

  /** The number of documents matching `filter` (from postings; `{}` counts the collection's keys). */
  async count(filter?: Filter): Promise<number> {
    const compiled = this.#compile(filter);
    if (compiled.kind === 'none') return 0;
    if (compiled.kind === 'query') return this.#db.count(compiled.query);
    const it = this.#db.keys<Buffer>({ gte: this.#prefix, lt: `${this.name};`, keyEncoding: 'utf8' });
    let n = 0;
    try {
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) return n;
        n += batch.length;
      }
    } finally {
      await it.close();
    }
  }

  /** The first stored document matching a compiled filter. */
  async #first(compiled: Compiled): Promise<Stored | undefined> {
    return (await this.#page(compiled, 1, null, {})).items[0];
  }

  // ---- writes ---------------------------------------------------------------------------

  #write(ops: BatchOperation<unknown, unknown>[], opts: { sync?: boolean }): Promise<void> {
    return this.#db.batch(ops, opts);
  }

  #put(key: string, value: Buffer): BatchOperation<unknown, unknown> {
    return { type: 'put', key, value, keyEncoding: 'utf8', valueEncoding: 'buffer' };
  }

  #del(key: string): BatchOperation<unknown, unknown> {
    return { type: 'del', key, keyEncoding: 'utf8' };
  }

  #prepareInsert(doc: unknown, what: string): { id: Id; key: string; bytes: Buffer } {
    if (!isPlainObject(doc)) throw invalidArgument(`${what} must be a plain object, got ${describe(doc)}`);
    const id = doc._id === undefined ? new ObjectId() : toId(doc._id, `${what}._id`);
    const full = withId(doc, id, what);
    return { id, key: docKey(this.name, id), bytes: this.#encode(full, what) };
  }

  /** Inserts a document (`_id` generated when absent). `STRATA_CONSTRAINT` if the id exists. */
  insertOne(doc: OptionalId<TDoc>, opts?: CollectionWriteOptions): Promise<InsertOneResult> {
    try {
      const w = checkWriteOptions(opts);
      const p = this.#prepareInsert(doc, 'document');
      return this.#state.locks.keys([p.key], async () => {
        if (await this.#db.has(p.key, { keyEncoding: 'utf8' })) throw this.#duplicate(p.id);
        await this.#write([this.#put(p.key, p.bytes)], w);
        return { insertedId: p.id };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #duplicate(id: Id): StrataError {
    return new StrataError('STRATA_CONSTRAINT', `collection '${this.name}': a document with _id ${quote(typeof id === 'string' ? id : id.toHexString())} already exists`);
  }

  /** Inserts documents atomically: all of them, or (on any error) none. */
  insertMany(docs: OptionalId<TDoc>[], opts?: CollectionWriteOptions): Promise<InsertManyResult> {
    try {
      const w = checkWriteOptions(opts);
      if (!Array.isArray(docs)) throw invalidArgument(`documents must be an array, got ${describe(docs)}`);
      const prepared = docs.map((d, i) => this.#prepareInsert(d, `documents[${i}]`));
      const seen = new Set<string>();
      for (const p of prepared) {
        if (seen.has(p.key)) throw new StrataError('STRATA_CONSTRAINT', `collection '${this.name}': _id ${quote(p.key.slice(this.#prefix.length))} is given twice`);
        seen.add(p.key);
      }
      if (prepared.length === 0) return Promise.resolve({ insertedCount: 0, insertedIds: [] });
      const keys = prepared.map((p) => p.key);
      return this.#state.locks.keys(keys, async () => {
        const found = await this.#db.getMany<Buffer>(keys, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
        const dup = found.findIndex((v) => v !== undefined);
        if (dup >= 0) throw this.#duplicate((prepared[dup] as { id: Id }).id);
        await this.#write(
          prepared.map((p) => this.#put(p.key, p.bytes)),
          w,
        );
        return { insertedCount: prepared.length, insertedIds: prepared.map((p) => p.id) };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Runs `fn` on the document an id or a filter names, holding the lock that orders it:
   * the document's key for an id, the whole collection for a filter (so the document still
   * matches when it is changed).
   */
  #withTarget<T>(target: unknown, what: string, fn: (s: Stored | undefined) => Promise<T>): Promise<T> {
    if (isIdArg(target)) {
      const key = docKey(this.name, toId(target, what));
      return this.#state.locks.keys([key], async () => fn(await this.#read(key)));
    }
    if (!isPlainObject(target)) throw invalidArgument(`${what} must be an id (ObjectId, string, { $oid }) or a filter object, got ${describe(target)}`);
    const compiled = this.#compile(target);
    return this.#state.locks.collection(async () => fn(await this.#first(compiled)));
  }

  /** Applies update operators to the document an id or filter names (the first match, in id order). */
  updateOne(target: IdInput | Filter, update: Update, opts?: CollectionWriteOptions): Promise<UpdateResult> {
    try {
      const w = checkWriteOptions(opts);
      const steps = parseUpdate(update);
      return this.#withTarget(target, 'target', async (s) => {
        if (s === undefined) return { matchedCount: 0, modifiedCount: 0 };
        const next = applyUpdate(s.doc, steps);
        const bytes = this.#encode(next, 'the updated document');
        if (bytes.equals(s.raw)) return { matchedCount: 1, modifiedCount: 0 };
        await this.#write([this.#put(s.key, bytes)], w);
        return { matchedCount: 1, modifiedCount: 1 };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Replaces the document an id or filter names; its `_id` stays (a different `_id` is an error). */
  replaceOne(target: IdInput | Filter, replacement: OptionalId<TDoc>, opts?: CollectionWriteOptions): Promise<UpdateResult> {
    try {
      const w = checkWriteOptions(opts);
      if (!isPlainObject(replacement)) throw invalidArgument(`replacement must be a plain object, got ${describe(replacement)}`);
      const givenId = replacement._id === undefined ? undefined : toId(replacement._id, 'replacement._id');
      const checked = withId(replacement, givenId ?? 'placeholder', 'replacement');
      if (isIdArg(target) && givenId !== undefined && docKey(this.name, givenId) !== docKey(this.name, toId(target, 'target'))) {
        throw invalidArgument('replacement._id differs from the id of the document (an _id cannot change)');
      }
      return this.#withTarget(target, 'target', async (s) => {
        if (s === undefined) return { matchedCount: 0, modifiedCount: 0 };
        const id = s.doc._id as Id;
        if (givenId !== undefined && docKey(this.name, givenId) !== s.key) throw invalidArgument('replacement._id differs from the _id of the matched document (an _id cannot change)');
        const bytes = this.#encode({ ...checked, _id: id }, 'replacement');
        if (bytes.equals(s.raw)) return { matchedCount: 1, modifiedCount: 0 };
        await this.#write([this.#put(s.key, bytes)], w);
        return { matchedCount: 1, modifiedCount: 1 };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Deletes the document an id or filter names (the first match, in id order). */
  deleteOne(target: IdInput | Filter, opts?: CollectionWriteOptions): Promise<DeleteResult> {
    try {
      const w = checkWriteOptions(opts);
      return this.#withTarget(target, 'target', async (s) => {
        if (s === undefined) return { deletedCount: 0 };
        await this.#write([this.#del(s.key)], w);
        return { deletedCount: 1 };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Deletes every document matching `filter` (`{}`: all), a page of 1,000 per atomic batch. */
  deleteMany(filter: Filter, opts?: CollectionWriteOptions): Promise<DeleteResult> {
    try {
      const w = checkWriteOptions(opts);
      if (!isPlainObject(filter)) throw invalidArgument(`filter must be an object (use {} to delete every document), got ${describe(filter)}`);
      const compiled = this.#compile(filter);
      return this.#state.locks.collection(async () => {
        let deleted = 0;
        let cursor: string | null = null;
        do {
          const page: { items: Stored[]; cursor: string | null } = await this.#page(compiled, DELETE_PAGE, cursor, { values: false });
          if (page.items.length > 0) await this.#write(page.items.map((s) => this.#del(s.key)), w);
          deleted += page.items.length;
          cursor = page.cursor;
        } while (cursor !== null);
        return { deletedCount: deleted };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

