/**
 * The index registry: definitions and build state, stored in the database itself (system
 * keyspace, `layout.ts`), loaded at open, changed by `createIndex` / `dropIndex` /
 * `rebuildIndex`, and the online build that fills a new index while writes go on.
 *
 * A build reads the records in scope in key order, a chunk at a time, and writes their
 * postings together with its progress (the last key done) in one batch through the
 * maintainer's chain; writes made meanwhile maintain the index themselves. After a crash the
 * build resumes from the stored progress at the next open. Queries on an index that is not
 * ready fail with `STRATA_INDEX_BUILDING`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { BindingRange } from '../../binding';
import { successor } from '../codec';
import type { KvDb } from '../database';
import { StrataError, invalidArgument } from '../errors';
import { IndexDefinition, normalizeIndexDefinition, sameDefinition } from './definition';
import { CustomExtractor, compileIndex } from './extract';
import {
  IndexState,
  META_KEY,
  MetaRecord,
  POSTINGS_RANGE,
  REGISTRY_RANGE,
  REGISTRY_VERSION,
  RegistryRecord,
  indexRange,
  parseRecord,
  postingId,
  postingPrefix,
  recordBytes,
  registryKey,
} from './layout';
import { IndexMaintainer, LiveIndex } from './maintain';

// smol-toml ships CommonJS under its "require" condition, but only ESM type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as { parse: (text: string) => unknown };

/** Records read per build chunk. */
const BUILD_CHUNK = 1000;

/** What `listIndexes()` reports per index. */
export interface IndexInfo {
  name: string;
  definition: IndexDefinition;
  state: IndexState;
  /** Approximate number of postings (from the engine's approximate count). */
  entries: number;
  /** Approximate bytes of the postings (their average size, sampled, times `entries`; uncompressed). */
  bytes: number;
  /** Records indexed by the build (while building: so far). */
  built: number;
  /** Records the build skipped because their value yields no terms (e.g. not JSON). */
  skipped: number;
  createdAt: string;
  readyAt?: string;
}

/** A progress event of an index build. */
export interface IndexProgress {
  index: string;
  state: IndexState;
  /** Records looked at so far. */
  processed: number;
  /** Approximate records in the index's scope when the build started. */
  total: number;
}

/** Options of `createIndex` and `rebuildIndex`. */
export interface BuildOptions {
  /** Called after each chunk of the build (and once when it is ready). */
  onProgress?: (p: IndexProgress) => void;
  /** Resolve as soon as the index is registered; it builds in the background. Default false. */
  background?: boolean;
}

interface Slot {
  record: RegistryRecord;
  live: LiveIndex;
  /** Settles when the build of this id is over (ready, failed or abandoned). */
  built: Promise<void>;
  listeners: Set<(p: IndexProgress) => void>;
}

function toLive(record: RegistryRecord, customs: Record<string, CustomExtractor>, db: KvDb<unknown, unknown>): LiveIndex {
  const dec = db._decoders();
  const def = record.definition;
  const compiled = compileIndex(def, { customs, decodeKey: dec.key, decodeValue: dec.value });
  const ex = def.extractor as { paths?: string[] };
  return {
    id: record.id,
    name: def.name,
    compiled,
    prefix: postingPrefix(record.id),
    unique: def.unique === true,
    arity: Array.isArray(ex.paths) ? ex.paths.length : 1,
  };
}

/** Reads `indexes.toml` (`[[index]]` tables) or `indexes.json` (an array of definitions). */
export function readIndexesFile(file: string): IndexDefinition[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`indexesFile: cannot read ${JSON.stringify(file)}: ${(e as Error).message}`, e);
  }
  let list: unknown;
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === '.toml') {
      const doc = parseToml(text) as Record<string, unknown>;
      const extra = Object.keys(doc).filter((k) => k !== 'index');
      if (extra.length > 0) throw new Error(`unknown top-level key ${JSON.stringify(extra[0])} (expected [[index]] tables)`);
      list = doc.index ?? [];
    } else if (ext === '.json') {
      list = JSON.parse(text) as unknown;
    } else {
      throw new Error(`unknown file type ${JSON.stringify(ext)} (expected .toml or .json)`);
    }
  } catch (e) {
    throw invalidArgument(`indexesFile ${JSON.stringify(file)}: ${(e as Error).message}`, e);
  }
  if (!Array.isArray(list)) throw invalidArgument(`indexesFile ${JSON.stringify(file)}: expected an array of index definitions`);
  return list.map((d, i) => normalizeIndexDefinition(d, `${path.basename(file)}: index[${i}]`));
}

/** The registry of one open database. */
export class IndexRegistry {
  readonly #db: KvDb<unknown, unknown>;
  readonly #customs: Record<string, CustomExtractor>;
  readonly maintainer: IndexMaintainer;
  #meta: MetaRecord | undefined;
  readonly #slots = new Map<string, Slot>();
  /** Builds run one at a time, in this chain. */
  #builds: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(db: KvDb<unknown, unknown>, customs: Record<string, CustomExtractor>) {
    this.#db = db;
    this.#customs = customs;
    this.maintainer = new IndexMaintainer(db);
  }

  /** The id bound into query cursors (`''` until the first index is created). */
  get dbId(): string {
    return this.#meta?.dbId ?? '';
  }

  /** Loads the stored registry, resumes unfinished builds, removes orphaned postings. */
  async load(): Promise<void> {
    const meta = await this.#db._rawIterator({ system: true, gte: META_KEY, lte: META_KEY }).all();
    if (meta.length > 0) {
      const m = parseRecord<MetaRecord>((meta[0] as [Buffer, Buffer])[1], 'the index meta record');
      if (typeof m.dbId !== 'string' || !Number.isInteger(m.nextId) || m.nextId < 1 || m.nextId > 0xffffffff) {
        throw new StrataError('STRATA_CORRUPTION', 'the index meta record is damaged: bad dbId or nextId');
      }
      this.#meta = m;
    }
    const rows = await this.#db._rawIterator(REGISTRY_RANGE).all();
    for (const [key, value] of rows) {
      const name = key.subarray(1).toString('utf8');
      const what = `the registry record of index '${name}'`;
      const record = parseRecord<RegistryRecord>(value, what);
      try {
        record.definition = normalizeIndexDefinition(record.definition, `stored index '${name}'`);
        checkRecord(record, name);
      } catch (e) {
        throw new StrataError('STRATA_CORRUPTION', `${what} is damaged: ${(e as Error).message}`, { cause: e });
      }
      const ex = record.definition.extractor;
      if (ex.kind === 'custom' && !Object.prototype.hasOwnProperty.call(this.#customs, ex.name)) {
        throw invalidArgument(
          `index '${name}' uses the custom extractor '${ex.name}', which is not registered: pass extractors: { ${ex.name}: fn } to open() (writes could not keep the index up to date without it)`,
        );
      }
      this.#slots.set(name, { record, live: toLive(record, this.#customs, this.#db), built: Promise.resolve(), listeners: new Set() });
      if (record.state === 'building') this.maintainer.setBuilding(record.id, true);
    }
    this.maintainer.setIndexes(this.#liveList());
    // Read-only: nothing is resumed or cleaned up (both write); queries on a building index
    // keep saying so.
    if (this.#db.options.readOnly) return;
    for (const slot of this.#slots.values()) if (slot.record.state === 'building') this.#startBuild(slot);
    void this.#removeOrphans().catch(() => undefined);
  }

  #liveList(): LiveIndex[] {
    return [...this.#slots.values()].map((s) => s.live);
  }

  /** Deletes postings of ids no index has (left by a drop or rebuild interrupted by a crash). */
  async #removeOrphans(): Promise<void> {
    // Ids from this open on are never orphans (their registry records may not be applied yet).
    const limit = this.#meta?.nextId ?? 1;
    const it = this.#db._rawIterator(POSTINGS_RANGE);
    try {
      for (;;) {
        const next = await it.next();
        if (next === undefined || this.#closed) return;
        const id = postingId(next[0]);
        if (id >= limit) return;
        const live = [...this.#slots.values()].some((s) => s.record.id === id);
        if (!live) await this.#db._clearRaw(indexRange(id), false);
        it.seek(postingPrefix(id + 1));
      }
    } finally {
      await it.close();
    }
  }

  /** The slot of a ready or building index, for the query layer. */
  get(name: string): { record: RegistryRecord; live: LiveIndex } | undefined {
    return this.#slots.get(name);
  }

  /** Every index, in name order. */
  names(): string[] {
    return [...this.#slots.keys()].sort();
  }

  /** Info of an index; `bytes` from the size of its first postings (up to 64) times the estimate. */
  async #info(slot: Slot): Promise<IndexInfo> {
    const r = slot.record;
    const range = indexRange(r.id);
    const count = this.#db._approximateCount(range);
    let bytes = 0;
    if (count.estimate > 0) {
      const cursor = this.#db._keyCursor(range);
      try {
        const sample = cursor.readSync(64) ?? (await cursor.read(64));
        if (sample.length > 0) {
          // Each posting is its key plus the system prefix, a zero-length value and the trailer.
          const avg = sample.reduce((n, k) => n + k.length, 0) / sample.length + 8 + 1 + 8;
          bytes = Math.round(avg * count.estimate);
        }
      } finally {
        cursor.close();
      }
    }
    const out: IndexInfo = {
      name: r.definition.name,
      definition: r.definition,
      state: r.state,
      entries: count.estimate,
      bytes,
      built: r.built,
      skipped: r.skipped,
      createdAt: r.createdAt,
    };
    if (r.readyAt !== undefined) out.readyAt = r.readyAt;
    return out;
  }

  list(): Promise<IndexInfo[]> {
    return Promise.all(this.names().map((n) => this.#info(this.#slots.get(n) as Slot)));
  }

  /**
   * Registers an index (a no-op when one of the same name and definition exists; the same
   * name with another definition is `STRATA_INVALID_ARGUMENT`) and builds it. Resolves when
   * it is ready, or at once with `background`.
   */
  async create(input: unknown, opts: BuildOptions = {}): Promise<IndexInfo> {
    const def = normalizeIndexDefinition(input, 'index');
    const onProgress = checkBuildOptions(opts);
    const ex = def.extractor;
    if (ex.kind === 'custom' && !Object.prototype.hasOwnProperty.call(this.#customs, ex.name)) {
      throw invalidArgument(`index '${def.name}': custom extractor '${ex.name}' is not registered (pass extractors: { ${ex.name}: fn } to open())`);
    }
    const existing = this.#slots.get(def.name);
    if (existing !== undefined) {
      if (!sameDefinition(existing.record.definition, def)) {
        throw invalidArgument(
          `index '${def.name}' already exists with another definition (${JSON.stringify(existing.record.definition)}); drop it first or use rebuildIndex`,
        );
      }
      return this.#await(existing, onProgress, opts.background === true);
    }
    return this.#register(def, onProgress, opts.background === true);
  }

  async #register(def: IndexDefinition, onProgress: ((p: IndexProgress) => void) | undefined, background: boolean): Promise<IndexInfo> {
    const meta: MetaRecord = this.#meta ?? { v: REGISTRY_VERSION, dbId: randomBytes(12).toString('hex'), nextId: 1 };
    const id = meta.nextId;
    this.#meta = { ...meta, nextId: id + 1 };
    const record: RegistryRecord = {
      v: REGISTRY_VERSION,
      id,
      definition: def,
      state: 'building',
      cursor: null,
      built: 0,
      skipped: 0,
      createdAt: new Date().toISOString(),
    };
    const slot: Slot = { record, live: toLive(record, this.#customs, this.#db), built: Promise.resolve(), listeners: new Set() };
    const previous = this.#slots.get(def.name);
    this.#slots.set(def.name, slot);
    this.maintainer.setBuilding(id, true);
    const newMeta = this.#meta;
    const registered = this.maintainer.system((p) => {
      p.putSystem(META_KEY, recordBytes(newMeta));
      p.putSystem(registryKey(def.name), recordBytes(record));
    }, this.#liveList());
    if (onProgress !== undefined) slot.listeners.add(onProgress);
    try {
      await registered;
    } catch (e) {
      if (this.#slots.get(def.name) === slot) {
        if (previous === undefined) this.#slots.delete(def.name);
        else this.#slots.set(def.name, previous);
        this.maintainer.setIndexes(this.#liveList());
      }
      throw e;
    }
    this.#startBuild(slot);
    return this.#await(slot, undefined, background);
  }

  async #await(slot: Slot, onProgress: ((p: IndexProgress) => void) | undefined, background: boolean): Promise<IndexInfo> {
    if (!background && slot.record.state === 'building') {
      if (onProgress !== undefined) slot.listeners.add(onProgress);
      try {
        await slot.built;
      } finally {
        if (onProgress !== undefined) slot.listeners.delete(onProgress);
      }
      const now = this.#slots.get(slot.record.definition.name);
      if (this.#closed) {
        throw new StrataError('STRATA_CLOSED', `the database was closed before index '${slot.record.definition.name}' was built (the build resumes at the next open)`);
      }
      if (now !== slot || (slot.record.state as IndexState) !== 'ready') {
        throw new StrataError('STRATA_INDEX_BUILDING', `index '${slot.record.definition.name}' was dropped or rebuilt before its build finished`);
      }
    }
    return this.#info(slot);
  }

  #startBuild(slot: Slot): void {
    const run = this.#builds.then(() => this.#build(slot));
    slot.built = run;
    this.#builds = run.catch(() => undefined);
  }

  #current(slot: Slot): boolean {
    return !this.#closed && this.#slots.get(slot.record.definition.name) === slot;
  }

  async #build(slot: Slot): Promise<void> {
    const def = slot.record.definition;
    const scope: BindingRange = {};
    if (def.scope !== undefined) {
      const lo = Buffer.from(def.scope, 'utf8');
      scope.gte = lo;
      const hi = successor(lo);
      if (hi !== undefined) scope.lt = hi;
    }
    const total = this.#db._approximateCount(scope).estimate;
    let processed = slot.record.built + slot.record.skipped;
    const emit = (): void => {
      const p: IndexProgress = { index: def.name, state: slot.record.state, processed, total: Math.max(total, processed) };
      for (const l of slot.listeners) {
        try {
          l(p);
        } catch {
          // A listener's failure is its own.
        }
      }
    };
    while (this.#current(slot) && slot.record.state === 'building') {
      const cursor = slot.record.cursor === null ? undefined : Buffer.from(slot.record.cursor, 'base64');
      const range: BindingRange = { ...scope };
      if (cursor !== undefined) {
        delete range.gte;
        range.gt = cursor;
      }
      const touched = this.maintainer.track();
      let chunk: [Buffer, Buffer][];
      try {
        const it = this.#db._rawIterator(range);
        chunk = await it.nextv(BUILD_CHUNK);
        await it.close();
      } catch (e) {
        this.maintainer.untrack(touched);
        if (!this.#current(slot)) return;
        throw e;
      }
      const done = chunk.length < BUILD_CHUNK;
      const last = chunk.length > 0 ? (chunk[chunk.length - 1] as [Buffer, Buffer])[0] : cursor;
      let next: RegistryRecord | undefined;
      try {
        await this.maintainer.buildChunk(slot.live, chunk, touched, (p, built, skipped) => {
          if (!this.#current(slot)) return false;
          next = {
            ...slot.record,
            cursor: last === undefined ? null : last.toString('base64'),
            built: slot.record.built + built,
            skipped: slot.record.skipped + skipped,
          };
          if (done) {
            next.state = 'ready';
            next.cursor = null;
            next.readyAt = new Date().toISOString();
          }
          p.putSystem(registryKey(def.name), recordBytes(next));
          return true;
        });
      } catch (e) {
        this.maintainer.untrack(touched);
        if (e instanceof StrataError && e.code === 'STRATA_CONSTRAINT' && this.#current(slot)) {
          await this.drop(def.name).catch(() => undefined);
          throw new StrataError('STRATA_CONSTRAINT', `${e.message} — the unique index '${def.name}' cannot be built and was dropped`, { cause: e });
        }
        throw e;
      }
      this.maintainer.untrack(touched);
      if (next === undefined) return;
      slot.record = next;
      if (next.state === 'ready') this.maintainer.setBuilding(next.id, false);
      processed += chunk.length;
      emit();
    }
  }

  /** Drops an index: its registry record at once, its postings right after. */
  async drop(name: unknown): Promise<void> {
    if (typeof name !== 'string') throw invalidArgument(`index name must be a string, got ${typeof name}`);
    const slot = this.#slots.get(name);
    if (slot === undefined) throw new StrataError('STRATA_NO_INDEX', `no index named '${name}'`);
    this.#slots.delete(name);
    await this.maintainer.system((p) => p.delSystem(registryKey(name)), this.#liveList());
    await this.maintainer.drain();
    await this.#db._clearRaw(indexRange(slot.record.id), false);
  }

  /** Rebuilds an index from the records: a new id, then a build; the old postings are deleted. */
  async rebuild(name: unknown, opts: BuildOptions = {}): Promise<IndexInfo> {
    if (typeof name !== 'string') throw invalidArgument(`index name must be a string, got ${typeof name}`);
    const onProgress = checkBuildOptions(opts);
    const slot = this.#slots.get(name);
    if (slot === undefined) throw new StrataError('STRATA_NO_INDEX', `no index named '${name}'`);
    const oldId = slot.record.id;
    const info = this.#register(slot.record.definition, onProgress, true);
    await info;
    await this.maintainer.drain();
    await this.#db._clearRaw(indexRange(oldId), false);
    const now = this.#slots.get(name) as Slot;
    return this.#await(now, undefined, opts.background === true);
  }

  /** Declares indexes at open: creates the missing ones; resolves when all are ready. */
  async declare(defs: IndexDefinition[]): Promise<void> {
    const seen = new Set<string>();
    for (const d of defs) {
      if (seen.has(d.name)) throw invalidArgument(`indexes: the index '${d.name}' is declared twice`);
      seen.add(d.name);
    }
    for (const d of defs) await this.create(d, { background: true });
    for (const d of defs) await this.create(d);
  }

  /** Resolves once every build queued so far is over. */
  async idle(): Promise<void> {
    await this.#builds;
  }

  /** Stops builds (they resume at the next open) and waits for queued writes. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.maintainer.drain();
    await this.#builds;
  }
}

/** Checks the fields of a stored registry record (throws a plain Error naming the bad one). */
function checkRecord(r: RegistryRecord, name: string): void {
  if (r.definition.name !== name) throw new Error(`it names index '${r.definition.name}'`);
  if (!Number.isInteger(r.id) || r.id < 1 || r.id > 0xffffffff) throw new Error('bad id');
  if (r.state !== 'building' && r.state !== 'ready') throw new Error('bad state');
  if (r.cursor !== null && typeof r.cursor !== 'string') throw new Error('bad cursor');
  if (!Number.isSafeInteger(r.built) || !Number.isSafeInteger(r.skipped) || r.built < 0 || r.skipped < 0) throw new Error('bad counts');
  if (typeof r.createdAt !== 'string') throw new Error('bad createdAt');
}

function checkBuildOptions(opts: unknown): ((p: IndexProgress) => void) | undefined {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('options must be an object');
  const o = opts as BuildOptions;
  for (const k of Object.keys(o)) {
    if (k !== 'onProgress' && k !== 'background') throw invalidArgument(`options: unknown option ${JSON.stringify(k)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgument('options.onProgress must be a function');
  if (o.background !== undefined && typeof o.background !== 'boolean') throw invalidArgument('options.background must be a boolean');
  return o.onProgress;
}

