/**
 * The undo journal of an import (docs/format.md, "Import journal"): an import either lands
 * whole or not at all. Before each batch of records is written, the values it overwrites
 * (or their absence) are written to the system keyspace; the WAL is one ordered log, so a
 * batch is never durable without the journal entries written before it. When the import
 * ends, a `committed` header is written and the journal deleted. A bad record, an abort or a
 * crash (found at the next `open`) rolls the import back: the journal is replayed newest
 * first, one recorded batch at a time, through `db.batch`, so indexes are maintained; each
 * batch's entries are deleted after it is undone — a rollback that is itself interrupted
 * resumes, and undoing a batch twice writes the same old values twice.
 */
import { randomBytes } from 'node:crypto';

import type { KvDb } from '../database';
import { StrataError } from '../errors';
import { BatchPacker, successor } from '../codec';
import { readValues } from '../multiget';

/** System subspace of import journals (the index layer owns 0x00–0x02, feature flags 0x03). */
export const IMPORT_JOURNAL = 0x04;
/** Version of the journal's header record and entries. */
export const JOURNAL_VERSION = 1;

const HEADER = 0x00;
const ENTRY = 0x01;
const ABSENT = 0x00;
const PRESENT = 0x01;

type Db = KvDb<unknown, unknown>;
type RawOp = { type: 'put'; key: Buffer; value: Buffer; keyEncoding: 'buffer'; valueEncoding: 'buffer' } | { type: 'del'; key: Buffer; keyEncoding: 'buffer' };

interface HeaderRecord {
  v: number;
  state: 'running' | 'committed';
  startedAt: string;
}

function headerKey(id: Buffer): Buffer {
  return Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([HEADER])]);
}

function entryKey(id: Buffer, batch: number, index: number): Buffer {
  const k = Buffer.alloc(1 + id.length + 1 + 8);
  k[0] = IMPORT_JOURNAL;
  id.copy(k, 1);
  k[1 + id.length] = ENTRY;
  k.writeUInt32BE(batch, 2 + id.length);
  k.writeUInt32BE(index, 6 + id.length);
  return k;
}

/** `flag · u32 BE key length · key · old value`. */
function entryValue(key: Buffer, old: Buffer | null): Buffer {
  const head = Buffer.alloc(5);
  head[0] = old === null ? ABSENT : PRESENT;
  head.writeUInt32BE(key.length, 1);
  return Buffer.concat(old === null ? [head, key] : [head, key, old]);
}

function corrupt(what: string): StrataError {
  return new StrataError('STRATA_CORRUPTION', `import journal: ${what}`);
}

function parseEntry(v: Buffer): RawOp {
  if (v.length < 5) throw corrupt(`entry of ${v.length} bytes is too short`);
  const flag = v[0];
  const len = v.readUInt32BE(1);
  if (5 + len > v.length) throw corrupt(`entry names a key of ${len} bytes in ${v.length - 5}`);
  const key = Buffer.from(v.subarray(5, 5 + len));
  if (flag === ABSENT) {
    if (v.length !== 5 + len) throw corrupt('entry of an absent value carries a value');
    return { type: 'del', key, keyEncoding: 'buffer' };
  }
  if (flag !== PRESENT) throw corrupt(`entry flag ${String(flag)} is neither 0 nor 1`);
  return { type: 'put', key, value: Buffer.from(v.subarray(5 + len)), keyEncoding: 'buffer', valueEncoding: 'buffer' };
}

function parseHeader(v: Buffer): HeaderRecord {
  let r: unknown;
  try {
    r = JSON.parse(v.toString('utf8'));
  } catch (e) {
    throw corrupt(`header is not JSON: ${(e as Error).message}`);
  }
  const h = r as Partial<HeaderRecord> | null;
  if (h === null || typeof h !== 'object' || h.v !== JOURNAL_VERSION) throw corrupt(`header has unknown version ${JSON.stringify((h as { v?: unknown } | null)?.v)}`);
  if (h.state !== 'running' && h.state !== 'committed') throw corrupt(`header state ${JSON.stringify(h.state)}`);
  return h as HeaderRecord;
}

/** One running import's journal. */
export class ImportJournal {
  readonly #db: Db;
  readonly #id: Buffer;
  readonly #startedAt = new Date().toISOString();
  #batch = 0;

  private constructor(db: Db, id: Buffer) {
    this.#db = db;
    this.#id = id;
  }

  /** Starts a journal (its `running` header is written first). */
  static async begin(db: Db): Promise<ImportJournal> {
    const j = new ImportJournal(db, randomBytes(8));
    await j.#writeHeader('running', false);
    return j;
  }

  async #writeHeader(state: HeaderRecord['state'], sync: boolean): Promise<void> {
    const p = new BatchPacker();
    p.putSystem(headerKey(this.#id), Buffer.from(JSON.stringify({ v: JOURNAL_VERSION, state, startedAt: this.#startedAt })));
    await this.#db._submit(p, sync);
  }

  /** Records what the puts of `keys` will overwrite; call it before writing them. */
  async record(keys: Buffer[]): Promise<void> {
    // Cached or resident values are read on the calling thread, the rest in one pool call.
    const old = await readValues(this.#db, keys, undefined);
    const p = new BatchPacker();
    if (this.#batch > 0xffff_ffff) throw new StrataError('STRATA_INVALID_ARGUMENT', 'an atomic import holds at most 2^32 batches: use a larger batchSize');
    const batch = this.#batch++;
    keys.forEach((k, i) => p.putSystem(entryKey(this.#id, batch, i), entryValue(k, old[i] ?? null)));
    await this.#db._submit(p, false);
  }

  /** The import landed: mark it committed (durably, with `sync`), then delete the journal. */
  async commit(sync: boolean): Promise<void> {
    await this.#writeHeader('committed', sync);
    await drop(this.#db, this.#id);
  }

  /** Undoes every batch recorded so far; returns the number of keys restored. */
  rollback(): Promise<number> {
    return rollback(this.#db, this.#id);
  }
}

function journalRange(id: Buffer): { system: true; gte: Buffer; lt: Buffer } {
  const lo = Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id]);
  return { system: true, gte: lo, lt: successor(lo) as Buffer };
}

async function drop(db: Db, id: Buffer): Promise<void> {
  await db._clearRaw(journalRange(id), false);
}

async function rollback(db: Db, id: Buffer): Promise<number> {
  const lo = Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([ENTRY])]);
  const range = { system: true, gte: lo, lt: successor(lo) as Buffer };
  let restored = 0;
  for (;;) {
    // The newest recorded batch, undone whole in one batch: after each step the database is
    // exactly as it was before that import batch (so a unique index never sees a state that
    // did not exist), and its entries go, so the next step starts at what is left.
    const it = db._rawIterator({ ...range, reverse: true, limit: 1 });
    let newest: [Buffer, Buffer] | undefined;
    try {
      newest = (await it.nextv(1))[0];
    } finally {
      await it.close();
    }
    if (newest === undefined) break;
    if (newest[0].length !== lo.length + 8) throw corrupt(`entry key of ${newest[0].length} bytes`);
    const prefix = newest[0].subarray(0, lo.length + 4);
    const batch = { system: true, gte: prefix, lt: successor(prefix) as Buffer };
    const rows = (await db._rawIterator(batch).all()) as [Buffer, Buffer][];
    const ops = rows.map(([, v]) => parseEntry(v));
    try {
      await db.batch(ops as never);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code === 'STRATA_INVALID_ARGUMENT' || err.code === 'STRATA_CONSTRAINT') throw corrupt(`an old value cannot be restored: ${err.message ?? String(e)}`);
      throw e;
    }
    await db._clearRaw(batch, false);
    restored += rows.length;
  }
  await drop(db, id);
  return restored;
}

/**
 * Finishes the journals an earlier process left (run by `open`): a `running` import is rolled
 * back, a `committed` one only deleted. Returns how many imports were rolled back.
 */
export async function recoverImports(db: Db): Promise<{ rolledBack: number; keys: number }> {
  const lo = Buffer.from([IMPORT_JOURNAL]);
  const out = { rolledBack: 0, keys: 0 };
  for (;;) {
    const it = db._rawIterator({ system: true, gte: lo, lt: successor(lo) as Buffer });
    let row: [Buffer, Buffer] | undefined;
    try {
      row = (await it.nextv(1))[0];
    } finally {
      await it.close();
    }
    if (row === undefined) return out;
    // Keys are relative to the system prefix: 0x04 · id (8) · 0x00 (header) or 0x01 · … (entry).
    // The header sorts first; entries without one are rolled back as if it said `running`.
    const [key, value] = row;
    if (key.length < 10) throw corrupt(`key of ${key.length} bytes`);
    const id = Buffer.from(key.subarray(1, 9));
    const state = key.length === 10 && key[9] === HEADER ? parseHeader(value).state : 'running';
    if (state === 'committed') {
      await drop(db, id);
    } else {
      out.keys += await rollback(db, id);
      out.rolledBack++;
    }
  }
}
