/**
 * Index maintenance: every write of an indexed database passes through `IndexMaintainer`
 * (the KV layer's write hook), which adds the postings the write creates and removes the
 * postings of the values it replaces, in the same atomic engine batch as the records.
 *
 * Writes keep their call order. Each write is a task in one chain:
 *
 * 1. *At call time* (synchronously) the new terms are extracted, so a bad value rejects
 *    before anything is queued; every indexed key the write touches is registered in
 *    `#pending` as "last written by this task". A key that an earlier, unapplied task also
 *    writes takes that task's value as its old value; any other key's old value is read from
 *    the engine right away — no write to it is outstanding, so the engine has its latest
 *    value (after a pending `clear`, the read waits for the clear).
 * 2. *In chain order* the task diffs old and new terms per index, adds the posting deletes
 *    and puts to its batch and hands the batch to the KV layer, which applies batches in the
 *    order they are handed over. A write that adds a term to a `unique` index first waits
 *    until every earlier task is applied, then checks the postings.
 *
 * Reads of old values overlap with earlier tasks, so unawaited writes pipeline; correctness
 * never depends on timing. An index build (`registry.ts`) feeds chunks through the same
 * chain and skips keys written while the chunk was read (their writes maintained them).
 */
import { BatchPacker, RawOp } from '../codec';
import type { KvDb } from '../database';
import { printableKey } from '../encodings';
import { StrataError } from '../errors';
import { readValues } from '../multiget';
import type { BindingRange } from '../../binding';
import { cacheParses, compareBytes } from './extract';
import type { CompiledIndex } from './extract';
import { termPrefixRange, postingPk } from './layout';

/** Eight 0xff bytes: user keys may not start with them (the engine's system keyspace). */
const SYSTEM_PREFIX = Buffer.alloc(8, 0xff);
/** Largest encoded term(s) of one posting (keeps posting keys within the engine's limit). */
export const MAX_POSTING_TERM_BYTES = 4000;

/** An index the maintainer keeps up to date (building or ready). */
export interface LiveIndex {
  id: number;
  name: string;
  compiled: CompiledIndex;
  /** `postingPrefix(id)`. */
  prefix: Buffer;
  unique: boolean;
  /** Terms per posting: the number of paths of a compound index, else 1. */
  arity: number;
}

type Key = string;

/** What a task hands over: a batch, nothing, or the write of a batch it already handed over. */
type Submission = BatchPacker | null | { applied: Promise<void> };

const RESOLVED: Promise<void> = Promise.resolve();

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function keyOf(b: Uint8Array): Key {
  return asBuffer(b).toString('latin1');
}

const NO_TERMS: Buffer[] = [];
const NO_TERMS_PER_INDEX: Buffer[][] = [];

/** True when `key` is in the scope of one of `indexes`. */
function anyInScope(indexes: readonly LiveIndex[], key: Buffer): boolean {
  for (const ix of indexes) if (ix.compiled.inScope(key)) return true;
  return false;
}

interface Entry {
  key: Buffer;
  /** The value after this write (`null`: deleted). */
  final: Buffer | null;
  /** New terms per index of the task (distinct, unsorted until `diff` sorts them). */
  terms: Buffer[][];
  /** The earlier unapplied task that last wrote this key, whose value is the old value. */
  dep: Task | undefined;
  /** The value before this write, once known (`null`: absent). */
  old?: Buffer | null;
}

class Task {
  readonly seq: number;
  readonly entries: Map<Key, Entry>;
  failed = false;
  /** Settles once the batch is handed to the KV layer, or the task failed before that. */
  readonly submitted: Promise<void>;
  #resolve!: () => void;
  /** Settles once this task and every earlier one are applied or failed. */
  done: Promise<void> = Promise.resolve();

  constructor(seq: number, entries: Map<Key, Entry>) {
    this.seq = seq;
    this.entries = entries;
    this.submitted = new Promise<void>((r) => (this.#resolve = r));
  }

  markSubmitted(): void {
    this.#resolve();
  }

  /** The value this task leaves `k` with (its old value if it failed); `undefined` if unknown. */
  valueAfter(k: Key): Buffer | null | undefined {
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    return this.failed ? e.old : e.final;
  }
}

/** Distinct terms of `value` for `ix` (unsorted); a value that yields none (or fails) gives `[]`. */
function termsOrNone(ix: LiveIndex, key: Buffer, value: Buffer | null): Buffer[] {
  if (value === null || !ix.compiled.inScope(key)) return NO_TERMS;
  try {
    return ix.compiled.termSet(key, value);
  } catch {
    // Such a value was never indexed: its write was rejected, or the build skipped it.
    return NO_TERMS;
  }
}

/**
 * Adds to `p` the posting changes from `before` to `after` (both distinct, in any order;
 * sorted here, in place, when both are needed). With `full` (an index still building, whose
 * build may not have written `before`'s postings yet) every posting of `after` is put, not
 * only the new ones.
 */
function diff(p: BatchPacker, ix: LiveIndex, key: Buffer, before: Buffer[], after: Buffer[], full: boolean): void {
  if (before.length === 0) {
    // A new record (the common case of an ingest): every posting is put.
    for (const b of after) p.systemParts(false, ix.prefix, b, key);
    return;
  }
  if (before.length > 1) before.sort(compareBytes);
  if (after.length > 1) after.sort(compareBytes);
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    const c = a === undefined ? 1 : b === undefined ? -1 : compareBytes(a, b);
    if (c === 0) {
      if (full) p.systemParts(false, ix.prefix, b as Buffer, key);
      i++;
      j++;
    } else if (c < 0) {
      p.systemParts(true, ix.prefix, a as Buffer, key);
      i++;
    } else {
      p.systemParts(false, ix.prefix, b as Buffer, key);
      j++;
    }
  }
}

/** The write hook of an indexed database. */
export class IndexMaintainer {
  readonly #db: KvDb<unknown, unknown>;
  #indexes: LiveIndex[] = [];
  #seq = 0;
  #tail: Task | undefined;
  /** Indexed keys written by tasks not yet settled: the last such task per key. */
  readonly #pending = new Map<Key, Task>();
  /** A pending `clear`: old values are read after it. */
  #barrier: Task | undefined;
  /** Key sets of running index builds: every key written is added. */
  readonly #touched = new Set<Set<Key>>();
  /** Ids of indexes whose build has not finished: writes put all their postings. */
  readonly #building = new Set<number>();
  #installed = false;

  constructor(db: KvDb<unknown, unknown>) {
    this.#db = db;
  }

  /** The indexes maintained from now on (in call order of writes). */
  get indexes(): readonly LiveIndex[] {
    return this.#indexes;
  }

  #idle(): boolean {
    return this.#tail === undefined;
  }

  /** The hook is installed while there are indexes or queued tasks (so call order holds). */
  #syncHook(): void {
    const want = this.#indexes.length > 0 || !this.#idle();
    if (want === this.#installed) return;
    this.#installed = want;
    this.#db._setWriteHook(want ? this : undefined);
  }

  /**
   * Queues a task: `compute` runs after every earlier task was handed over, and returns the
   * batch to write (or the write of a batch already handed over). Resolves once the batch is
   * applied.
   */
  #enqueue(task: Task, compute: (prev: Task | undefined) => Promise<Submission>, sync: boolean): Promise<void> {
    const prev = this.#tail;
    this.#tail = task;
    this.#syncHook();
    const run = (async () => {
      if (prev !== undefined) await prev.submitted;
      let p: Submission;
      try {
        p = await compute(prev);
      } catch (e) {
        task.failed = true;
        task.markSubmitted();
        throw e;
      }
      const applied = p === null ? Promise.resolve() : p instanceof BatchPacker ? this.#db._submit(p, sync) : p.applied;
      task.markSubmitted();
      try {
        await applied;
      } catch (e) {
        task.failed = true;
        throw e;
      }
    })();
    const settle = (): void => undefined;
    task.done = Promise.all([prev?.done, run.then(settle, settle)]).then(settle);
    void task.done.then(() => {
      for (const k of task.entries.keys()) if (this.#pending.get(k) === task) this.#pending.delete(k);
      if (this.#barrier === task) this.#barrier = undefined;
      if (this.#tail === task) {
        this.#tail = undefined;
        this.#syncHook();
      }
    });
    return run;
  }

  // ---- the write hook -------------------------------------------------------------------

  write(ops: RawOp[], sync: boolean): Promise<void> {
    const indexes = this.#indexes;
    const full = indexes.map((ix) => this.#building.has(ix.id));
    const p = new BatchPacker();
    const entries = new Map<Key, Entry>();
    try {
      for (const op of ops) {
        const key = asBuffer(op.key);
        if (key.length >= 8 && key[0] === 0xff && key.subarray(0, 8).equals(SYSTEM_PREFIX)) {
          throw new StrataError('STRATA_INVALID_ARGUMENT', "keys starting with eight 0xff bytes are reserved for StrataDB's system keyspace");
        }
        const value = op.type === 'put' ? asBuffer(op.value as Uint8Array) : null;
        if (value === null) p.del(key);
        else p.put(key, value);
        if (!anyInScope(indexes, key)) continue;
        const k = keyOf(key);
        const e = entries.get(k);
        if (e !== undefined) e.final = value;
        else entries.set(k, { key, final: value, terms: NO_TERMS_PER_INDEX, dep: undefined });
      }
      cacheParses(true);
      for (const e of entries.values()) {
        const terms = new Array<Buffer[]>(indexes.length);
        for (let i = 0; i < indexes.length; i++) {
          const ix = indexes[i] as LiveIndex;
          if (e.final === null || !ix.compiled.inScope(e.key)) {
            terms[i] = NO_TERMS;
            continue;
          }
          const ts = ix.compiled.termSet(e.key, e.final);
          for (const t of ts) {
            if (t.length > MAX_POSTING_TERM_BYTES) {
              throw new StrataError(
                'STRATA_INVALID_ARGUMENT',
                `index '${ix.name}': the terms of key ${printableKey(e.key)} take ${t.length} bytes, more than the limit of ${MAX_POSTING_TERM_BYTES}`,
              );
            }
          }
          terms[i] = ts;
        }
        e.terms = terms;
      }
    } catch (e) {
      return Promise.reject(e);
    } finally {
      cacheParses(false);
    }
    if (entries.size === 0 && this.#idle()) return this.#db._submit(p, sync);

    const barrier = this.#barrier;
    const toRead: Entry[] = [];
    let deps = false;
    for (const [k, e] of entries) {
      const dep = this.#pending.get(k);
      if (dep !== undefined && (barrier === undefined || dep.seq > barrier.seq)) {
        e.dep = dep;
        deps = true;
      } else toRead.push(e);
    }
    const readKeys = toRead.map((e) => e.key);
    let reads: Promise<(Buffer | null)[]> | (Buffer | null)[] | undefined;
    if (toRead.length > 0) {
      if (barrier === undefined) {
        try {
          reads = readValues(this.#db, readKeys, undefined);
        } catch (e) {
          reads = Promise.reject(e);
        }
      } else reads = barrier.done.then(() => this.#db._getManyRaw(readKeys));
      if (!Array.isArray(reads)) reads.catch(() => undefined);
    }
    for (const t of this.#touched) for (const k of entries.keys()) t.add(k);
    const uniques = indexes.some((ix, i) => ix.unique && [...entries.values()].some((e) => (e.terms[i] as Buffer[]).length > 0));

    if (Array.isArray(reads) && !deps && !uniques && this.#idle()) {
      // Nothing is queued, so the old values just read are the latest: the batch is complete
      // now, and handed over without a task unless it has to wait for the thread pool.
      const values = reads;
      toRead.forEach((e, i) => (e.old = values[i] ?? null));
      this.#fill(p, indexes, full, entries);
      const applied = this.#db._submitNow(p, sync);
      if (applied === true) return RESOLVED;
      const task = new Task(++this.#seq, entries);
      for (const k of entries.keys()) this.#pending.set(k, task);
      return this.#enqueue(task, () => Promise.resolve({ applied }), sync);
    }

    const task = new Task(++this.#seq, entries);
    for (const k of entries.keys()) this.#pending.set(k, task);
    return this.#enqueue(
      task,
      async (prev) => {
        const values = reads === undefined ? [] : await reads;
        toRead.forEach((e, i) => (e.old = values[i] ?? null));
        for (const [k, e] of entries) {
          if (e.dep === undefined) continue;
          let v = e.dep.valueAfter(k);
          if (v === undefined) {
            // The earlier task failed before it knew its own old value: read it now.
            await prev?.done;
            v = (await this.#db._getManyRaw([e.key]))[0] ?? null;
          }
          e.old = v;
        }
        if (uniques) {
          await prev?.done;
          await this.#checkUnique(indexes, entries);
        }
        this.#fill(p, indexes, full, entries);
        return p;
      },
      sync,
    );
  }

  /** Adds to `p` the posting changes of every entry (old values known). */
  #fill(p: BatchPacker, indexes: LiveIndex[], full: boolean[], entries: Map<Key, Entry>): void {
    // Record by record, so that the indexes of a record share its old value's parse.
    cacheParses(true);
    try {
      for (const e of entries.values()) {
        const old = e.old ?? null;
        for (let i = 0; i < indexes.length; i++) {
          const ix = indexes[i] as LiveIndex;
          diff(p, ix, e.key, termsOrNone(ix, e.key, old), e.terms[i] as Buffer[], full[i] as boolean);
        }
      }
    } finally {
      cacheParses(false);
    }
  }

  /** Rejects with `STRATA_CONSTRAINT` if the write would give a unique term to two keys. */
  async #checkUnique(indexes: LiveIndex[], entries: Map<Key, Entry>): Promise<void> {
    for (let i = 0; i < indexes.length; i++) {
      const ix = indexes[i] as LiveIndex;
      if (!ix.unique) continue;
      const claimed = new Map<string, Key>();
      for (const [k, e] of entries) {
        const before = new Set(termsOrNone(ix, e.key, e.old ?? null).map((t) => t.toString('latin1')));
        for (const t of e.terms[i] as Buffer[]) {
          const ts = t.toString('latin1');
          const other = claimed.get(ts);
          if (other !== undefined && other !== k) throw this.#conflict(ix, e.key);
          claimed.set(ts, k);
          if (before.has(ts)) continue;
          const it = this.#db._rawIterator({ ...termPrefixRange(ix.id, t), limit: 2 });
          const holders = await it.all();
          for (const [postKey] of holders) {
            const holder = postingPk(postKey, ix.arity);
            const hk = keyOf(holder);
            if (hk === k) continue;
            const he = entries.get(hk);
            // Freed in this same batch: fine.
            if (he !== undefined && !(he.terms[i] as Buffer[]).some((x) => x.equals(t))) continue;
            throw this.#conflict(ix, e.key, holder);
          }
        }
      }
    }
  }

  #conflict(ix: LiveIndex, key: Buffer, holder?: Buffer): StrataError {
    const who = holder === undefined ? 'another key of the same write' : `key ${printableKey(holder)}`;
    return new StrataError('STRATA_CONSTRAINT', `unique index '${ix.name}': key ${printableKey(key)} has a term that ${who} already has; nothing was written`);
  }

  clear(range: BindingRange, sync: boolean): Promise<void> {
    const task = new Task(++this.#seq, new Map());
    this.#barrier = task;
    const indexes = this.#indexes;
    return this.#enqueue(
      task,
      async (prev) => {
        await prev?.done;
        const p = new BatchPacker();
        const it = this.#db._rawIterator(range);
        for (;;) {
          const chunk = await it.nextv(1000);
          if (chunk.length === 0) break;
          for (const [key, value] of chunk) {
            p.del(key);
            for (const ix of indexes) for (const t of termsOrNone(ix, key, value)) p.systemParts(true, ix.prefix, t, key);
          }
        }
        await it.close();
        return p.length === 0 ? null : p;
      },
      sync,
    );
  }

  // ---- used by the registry -------------------------------------------------------------

  /**
   * Queues a system write (registry records) and, synchronously, switches the set of
   * maintained indexes: writes called after this maintain `indexes`.
   */
  system(fill: (p: BatchPacker) => void, indexes?: LiveIndex[]): Promise<void> {
    if (indexes !== undefined) this.#indexes = indexes;
    const task = new Task(++this.#seq, new Map());
    const p = new BatchPacker();
    fill(p);
    return this.#enqueue(task, async () => p, true);
  }

  /** Resolves once every task queued so far is applied or failed. */
  drain(): Promise<void> {
    return this.#tail?.done ?? Promise.resolve();
  }

  /** Starts recording written keys; the set starts with the keys of unapplied writes. */
  track(): Set<Key> {
    const s = new Set<Key>(this.#pending.keys());
    this.#touched.add(s);
    return s;
  }

  untrack(s: Set<Key>): void {
    this.#touched.delete(s);
  }

  /**
   * Queues one chunk of an index build: postings for `records` except keys in `touched`
   * (written since the chunk was read: their writes maintained them), plus `fill`'s registry
   * update, in one batch; `fill` returns false when the index went away meanwhile (nothing is
   * written). A unique index rejects with `STRATA_CONSTRAINT` on a duplicate term. Resolves
   * to the records indexed and skipped.
   */
  buildChunk(
    ix: LiveIndex,
    records: [Buffer, Buffer][],
    touched: Set<Key>,
    fill: (p: BatchPacker, built: number, skipped: number) => boolean,
  ): Promise<{ built: number; skipped: number }> {
    const task = new Task(++this.#seq, new Map());
    let built = 0;
    let skipped = 0;
    return this.#enqueue(
      task,
      async (prev) => {
        if (ix.unique) await prev?.done;
        const p = new BatchPacker();
        const claimed = new Map<string, Key>();
        for (const [key, value] of records) {
          if (!ix.compiled.inScope(key)) continue;
          const k = keyOf(key);
          if (touched.has(k)) {
            built++;
            continue;
          }
          let ts: Buffer[];
          try {
            ts = ix.compiled.termSet(key, value);
          } catch {
            skipped++;
            continue;
          }
          if (ts.some((t) => t.length > MAX_POSTING_TERM_BYTES)) {
            skipped++;
            continue;
          }
          if (ix.unique) {
            for (const t of ts) {
              const other = claimed.get(t.toString('latin1'));
              if (other !== undefined && other !== k) throw this.#conflict(ix, key, Buffer.from(other, 'latin1'));
              claimed.set(t.toString('latin1'), k);
              const holders = await this.#db._rawIterator({ ...termPrefixRange(ix.id, t), limit: 2 }).all();
              for (const [postKey] of holders) {
                const holder = postingPk(postKey, ix.arity);
                if (!holder.equals(key)) throw this.#conflict(ix, key, holder);
              }
            }
          }
          for (const t of ts) p.systemParts(false, ix.prefix, t, key);
          built++;
        }
        return fill(p, built, skipped) ? p : null;
      },
      false,
    ).then(() => ({ built, skipped }));
  }

  /**
   * Marks an index as building (writes put all its postings) or, once its last build chunk
   * is applied, as complete (writes put only the postings that change).
   */
  setBuilding(id: number, building: boolean): void {
    if (building) this.#building.add(id);
    else this.#building.delete(id);
  }

  /** Uses `indexes` from now on without writing anything (at open, from the stored registry). */
  setIndexes(indexes: LiveIndex[]): void {
    this.#indexes = indexes;
    this.#syncHook();
  }
}
