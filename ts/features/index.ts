/**
 * Feature flags stored in a database, with optimistic locking: each flag has a `version`
 * that every update must name; an update naming a stale version writes nothing and returns
 * `{ ok: false, current }` (the server answers 409).
 *
 * Flags live in the engine's system keyspace (docs/format.md, "Feature flags"), so they
 * never show in user iteration: `0x03 · id (UTF-8)` → JSON `{ v: 1, id, enabled, version,
 * description?, data?, updatedAt }`, written with `sync: true`. One process owns a
 * database, so updates of one flag are serialised in this process (a promise chain per id):
 * read, compare the version, write.
 */
import { BatchPacker, successor } from '../codec';
import type { KvDb } from '../database';
import { invalidArgument, StrataError } from '../errors';

const FEATURES = 0x03;
const RECORD_VERSION = 1;

/** Flag ids: 1-128 characters of `A-Z a-z 0-9 _ . : -`. */
export const FEATURE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A stored flag. */
export interface Feature {
  id: string;
  enabled: boolean;
  /** 1 after creation, +1 per update. */
  version: number;
  description?: string;
  /** Free JSON the application attaches (rules, percentages, ...). */
  data?: Record<string, unknown>;
  updatedAt: string;
}

/** An update: `version` is the version the writer last read (absent or 0: create only). */
export interface FeatureUpdate {
  enabled: boolean;
  version?: number;
  description?: string;
  data?: Record<string, unknown>;
}

/** The outcome of `set`. */
export type SetResult = { ok: true; feature: Feature; created: boolean } | { ok: false; current: Feature | undefined };

function key(id: string): Buffer {
  return Buffer.concat([Buffer.from([FEATURES]), Buffer.from(id, 'utf8')]);
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !FEATURE_ID.test(id)) throw invalidArgument(`feature id ${JSON.stringify(id)} must be 1-128 characters of A-Z a-z 0-9 _ . : -`);
}

function parse(bytes: Buffer): Feature {
  try {
    const r = JSON.parse(bytes.toString('utf8')) as Feature & { v?: number };
    if (r.v !== RECORD_VERSION) throw new Error(`unsupported version ${JSON.stringify(r.v)}`);
    const { v: _v, ...f } = r;
    return f;
  } catch (e) {
    throw new StrataError('STRATA_CORRUPTION', `feature flag record is damaged: ${(e as Error).message}`, { cause: e });
  }
}

/** The feature flags of one database. */
export class FeatureStore {
  readonly #db: KvDb<unknown, unknown>;
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(db: KvDb<unknown, unknown>) {
    this.#db = db;
  }

  /** The flag, or `undefined`. */
  async get(id: string): Promise<Feature | undefined> {
    checkId(id);
    const k = key(id);
    const rows = await this.#db._rawIterator({ system: true, gte: k, lte: k }).all();
    const row = rows[0];
    return row === undefined ? undefined : parse(row[1]);
  }

  /** Up to `limit` flags after `after` (an id), in id order; `next` is the id to continue after, or `null`. */
  async list(opts: { after?: string; limit?: number } = {}): Promise<{ items: Feature[]; next: string | null }> {
    const limit = opts.limit ?? 100;
    const lo = Buffer.from([FEATURES]);
    const hi = successor(lo) as Buffer;
    const range = opts.after === undefined ? { system: true, gte: lo, lt: hi } : { system: true, gt: key(opts.after), lt: hi };
    const it = this.#db._rawIterator(range);
    try {
      const rows = await it.nextv(limit + 1);
      const items = rows.slice(0, limit).map((r) => parse(r[1]));
      return { items, next: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null };
    } finally {
      await it.close();
    }
  }

  /**
   * Creates or updates a flag if `update.version` is its current version (absent or 0 for
   * a flag that does not exist yet); otherwise nothing is written and the current flag is
   * returned with `ok: false`.
   */
  set(id: string, update: FeatureUpdate): Promise<SetResult> {
    checkId(id);
    const prev = this.#chains.get(id) ?? Promise.resolve();
    const next = prev.then(
      () => this.#set(id, update),
      () => this.#set(id, update),
    );
    this.#chains.set(id, next);
    const cleanup = (): void => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  async #set(id: string, u: FeatureUpdate): Promise<SetResult> {
    const current = await this.get(id);
    const expected = u.version ?? 0;
    if ((current?.version ?? 0) !== expected) return { ok: false, current };
    const feature: Feature = {
      id,
      enabled: u.enabled,
      version: expected + 1,
      ...(u.description === undefined ? {} : { description: u.description }),
      ...(u.data === undefined ? {} : { data: u.data }),
      updatedAt: new Date().toISOString(),
    };
    const p = new BatchPacker();
    p.putSystem(key(id), Buffer.from(JSON.stringify({ v: RECORD_VERSION, ...feature }), 'utf8'));
    await this.#db._submit(p, true);
    return { ok: true, feature, created: current === undefined };
  }
}
