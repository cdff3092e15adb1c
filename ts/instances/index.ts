/**
 * Named, isolated databases from `lsm.toml`: each instance is its own `Db` (own directory,
 * WAL, SSTables, compaction, recovery and options) with a codec and, unless `query = false`,
 * its index declarations.
 *
 * ```ts
 * const instances = await openInstances('lsm.toml');
 * const app = instances.get('app');         // { name, db, codec, query, ... }
 * await app.db.put('user:1', { name: 'ann' });
 * await instances.close();
 * ```
 */
import { Db, DbOptions, open } from '../db';
import { StrataError } from '../errors';
import type { IndexDefinition } from '../indexes/definition';
import type { IndexInfo, IndexProgress } from '../indexes/registry';
import { Codec, InstanceConfig, LsmConfig, readLsmConfig } from './config';

export { readLsmConfig, parseLsmConfig, INSTANCE_NAME, CODECS } from './config';
export type { Codec, InstanceConfig, LsmConfig } from './config';
export { bsonFromJson, fromJson, storedFromJson, toJson } from './codec';

/** The latest progress of an index build started through an instance. */
export interface BuildStatus extends IndexProgress {
  startedAt: string;
}

/** One open instance. */
export class Instance {
  readonly name: string;
  readonly codec: Codec;
  /** `false`: query and index operations are refused (`STRATA_INVALID_ARGUMENT` naming the instance). */
  readonly query: boolean;
  readonly dataDir: string;
  readonly config: InstanceConfig;
  readonly db: Db<string, unknown>;
  readonly #builds = new Map<string, BuildStatus>();

  constructor(config: InstanceConfig, db: Db<string, unknown>) {
    this.name = config.name;
    this.codec = config.codec;
    this.query = config.query;
    this.dataDir = config.dataDir;
    this.config = config;
    this.db = db;
  }

  /** The `Db`, for query and index operations; throws when the instance has `query = false`. */
  queryDb(): Db<string, unknown> {
    if (!this.query) {
      throw new StrataError('STRATA_INVALID_ARGUMENT', `instance ${JSON.stringify(this.name)} has query = false: it has no indexes and answers no queries`);
    }
    return this.db;
  }

  /**
   * Starts building (`create`) or rebuilding an index in the background; its progress is
   * `buildStatus(name)`. Resolves once the index is registered.
   */
  async startBuild(kind: 'create' | 'rebuild', nameOrDef: string | IndexDefinition): Promise<IndexInfo> {
    const db = this.queryDb();
    const name = typeof nameOrDef === 'string' ? nameOrDef : String((nameOrDef as { name?: unknown } | null)?.name);
    const status: BuildStatus = { index: name, state: 'building', processed: 0, total: 0, startedAt: new Date().toISOString() };
    const onProgress = (p: IndexProgress): void => {
      Object.assign(status, p);
      this.#builds.set(name, status);
    };
    const info =
      kind === 'create'
        ? await db.createIndex(nameOrDef as IndexDefinition, { background: true, onProgress })
        : await db.rebuildIndex(name, { background: true, onProgress });
    // A create of an index that exists already is a no-op: it keeps the status of the build that made it.
    if (info.state === 'building' || kind === 'rebuild') this.#builds.set(name, status);
    return info;
  }

  /** The progress of the last build started with `startBuild`, if any. */
  buildStatus(name: string): BuildStatus | undefined {
    return this.#builds.get(name);
  }

  /** Forgets the build status of a dropped index. */
  forgetBuild(name: string): void {
    this.#builds.delete(name);
  }
}

/** The instances of one `lsm.toml`. */
export class Instances {
  readonly config: LsmConfig;
  readonly #byName: Map<string, Instance>;
  /** The instance named `default`, else the first. */
  readonly default: Instance;

  constructor(config: LsmConfig, list: Instance[]) {
    this.config = config;
    this.#byName = new Map(list.map((i) => [i.name, i]));
    this.default = this.#byName.get('default') ?? (list[0] as Instance);
  }

  /** Every instance, in file order. */
  list(): Instance[] {
    return [...this.#byName.values()];
  }

  /** The instance of that name, or `undefined`. */
  find(name: string): Instance | undefined {
    return this.#byName.get(name);
  }

  /** The instance of that name; `STRATA_NOT_FOUND` if there is none. */
  get(name: string): Instance {
    const i = this.#byName.get(name);
    if (i === undefined) throw new StrataError('STRATA_NOT_FOUND', `no instance named ${JSON.stringify(name)}`);
    return i;
  }

  /** The `Db`s by name. */
  dbs(): Record<string, Db<string, unknown>> {
    return Object.fromEntries(this.list().map((i) => [i.name, i.db]));
  }

  /** Closes every database (all of them, even when one fails; the first failure is thrown). */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.list().map((i) => i.db.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Options of `openInstances`. */
export interface OpenInstancesOptions {
  /** Extra `open()` options for every instance (for example `extractors`, `env`, `envFile`). */
  dbOptions?: Omit<DbOptions, 'keyEncoding' | 'valueEncoding' | 'indexes' | 'indexesFile'>;
}

/**
 * Opens every instance of an `lsm.toml` (a path, or an already checked config). If one fails
 * to open, those already open are closed and the error is thrown, naming the instance.
 */
export async function openInstances(config: string | LsmConfig, opts: OpenInstancesOptions = {}): Promise<Instances> {
  const cfg = typeof config === 'string' ? readLsmConfig(config) : config;
  const opened: Instance[] = [];
  try {
    for (const ic of cfg.instances) {
      const options: DbOptions = { ...opts.dbOptions, ...ic.options };
      if (ic.query && ic.indexesFile !== undefined) options.indexesFile = ic.indexesFile;
      let db: Db<string, unknown>;
      try {
        db = await open<string, unknown>(ic.dataDir, options);
      } catch (e) {
        const err = e as StrataError;
        throw new StrataError(err.code ?? 'STRATA_INTERNAL', `instance ${JSON.stringify(ic.name)} (${cfg.where(`instance.${cfg.instances.indexOf(ic)}`)}): ${err.message}`, { cause: e });
      }
      opened.push(new Instance(ic, db));
      for (const c of ic.collections) {
        try {
          await db.collection(c.name, { indexes: c.indexes });
        } catch (e) {
          const err = e as StrataError;
          throw new StrataError(err.code ?? 'STRATA_INTERNAL', `${c.where}: collection ${JSON.stringify(c.name)} of instance ${JSON.stringify(ic.name)}: ${err.message}`, { cause: e });
        }
      }
    }
  } catch (e) {
    await Promise.allSettled(opened.map((i) => i.db.close()));
    throw e;
  }
  return new Instances(cfg, opened);
}
