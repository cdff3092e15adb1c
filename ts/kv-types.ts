/**
 * The types of the key-value layer's API (`KvDb`, `ts/database.ts`): options, statistics,
 * verification and checkpoint results. Kept apart so that the class file holds behaviour;
 * `ts/database.ts` re-exports all of them.
 */
import type { BindingRange } from '../binding';
import type { RawOp } from './codec';
import type { EncodingName } from './encodings';
import type { EntryIterator, ItemIterator } from './iterator';
import type { Snapshot } from './snapshot';

/** Lifecycle states. */
export type DbStatus = 'opening' | 'open' | 'closing' | 'closed';

/** Keys accepted as input: the key type, or raw strings and bytes. */
export type KeyInput<K> = K | string | Uint8Array;
/** Values accepted as input. */
export type ValueInput<V> = V | string | Uint8Array;

/** Per-call encoding overrides. */
export interface EncodingOptions {
  keyEncoding?: EncodingName;
  valueEncoding?: EncodingName;
}

/** Options of `get`, `getSync`, `getMany` and `has`. */
export interface ReadOptions extends EncodingOptions {
  /** Read as of this snapshot. */
  snapshot?: Snapshot;
}

/** Options of `put`, `del`, `batch` and `clear`. */
export interface WriteOptions extends EncodingOptions {
  /** Durable before the promise resolves (default: the database's `sync` option). */
  sync?: boolean;
}

/** A key range; `prefix` is shorthand for `gte: prefix, lt: successor(prefix)`. */
export interface RangeOptions<K = string> {
  gt?: KeyInput<K>;
  gte?: KeyInput<K>;
  lt?: KeyInput<K>;
  lte?: KeyInput<K>;
  prefix?: KeyInput<K>;
  /** Largest key first. Default false. */
  reverse?: boolean;
  /** At most this many entries; `-1`/`Infinity`/absent means no limit. */
  limit?: number;
}

/** Options of `iterator`, `keys` and `values`. */
export interface IteratorOptions<K = string> extends RangeOptions<K>, EncodingOptions {
  /** Yield keys (default true; when false the key slot is `undefined`). */
  keys?: boolean;
  /** Yield values (default true; when false the value slot is `undefined`). */
  values?: boolean;
  /** Read as of this snapshot. */
  snapshot?: Snapshot;
}

/** One operation of an array batch. */
export type BatchOperation<K = string, V = string> =
  | ({ type: 'put'; key: KeyInput<K>; value: ValueInput<V> } & EncodingOptions)
  | ({ type: 'del'; key: KeyInput<K> } & EncodingOptions);

/** Files and bytes in one level. */
export interface LevelStats {
  files: number;
  bytes: number;
}

/** Engine statistics. */
export interface Stats {
  levels: LevelStats[];
  memtableBytes: number;
  immutableMemtables: number;
  walBytes: number;
  blockCacheHits: number;
  blockCacheMisses: number;
  blockCacheBytes: number;
  bloomNegatives: number;
  flushes: number;
  flushBytes: number;
  compactions: number;
  compactionBytesRead: number;
  compactionBytesWritten: number;
  userBytesWritten: number;
  /** (Flush + compaction bytes written) / user bytes written; WAL bytes not included. */
  writeAmplification: number;
  /** Bytes appended to WAL files. */
  walBytesWritten: number;
  /** Lookups that consulted a bloom filter (`bloomNegatives` of them were answered by it). */
  bloomChecks: number;
  /** Set when a background failure made the database read-only (writes reject with `STRATA_POISONED`). */
  readOnlyReason?: string;
  walSyncs: number;
  syncWrites: number;
  lastSequence: number;
  liveSnapshots: number;
  /** Writes that waited for a flush because too many immutable memtables were waiting. */
  writeStalls: number;
  /** Microseconds writes spent in those waits. */
  writeStallMicros: number;
  /** Estimated bytes compaction must still rewrite to bring every level within its target. */
  pendingCompactionBytes: number;
}

/** An approximate number of keys in a range, from index blocks and memtables (no data read). */
export interface ApproximateCount {
  /** Best guess; versions and tombstones not yet compacted away count too. */
  estimate: number;
  /** A true upper bound on the keys in the range now. */
  upper: number;
}

/**
 * @internal Installed by the index layer: every write and clear of the database goes
 * through it (so it can add the postings to the same atomic batch), in call order.
 */
export interface WriteHook {
  write(ops: RawOp[], sync: boolean): Promise<void>;
  clear(range: BindingRange, sync: boolean): Promise<void>;
}

/** One problem found by `db.verify()`. */
export interface VerifyProblem {
  /** Stable code, e.g. `STRATA_CORRUPTION` or `STRATA_IO_ERROR`. */
  code: string;
  /** Human-readable description (not stable). */
  message: string;
  /** The damaged file, when known. */
  file?: string;
  /** Byte offset of the damage in `file`, when known. */
  offset?: number;
  /** The index concerned, for problems found by the index check. */
  index?: string;
}

/** Result of `db.verify()`. */
export interface VerifyResult {
  /** True when no problem was found. */
  ok: boolean;
  problems: VerifyProblem[];
}

/** Result of `db.checkpoint()`. */
export interface CheckpointInfo {
  /** The checkpoint's directory (absolute). */
  location: string;
  /** Every write up to this sequence number is in the checkpoint, none after it. */
  sequence: number;
  /** SSTables in the checkpoint. */
  files: number;
  /** Of those, how many are hard links to the live files (the rest were copied). */
  linked: number;
  /** Total size of the SSTables in bytes. */
  bytes: number;
}

/** An entry iterator: `AsyncIterable<[K, V]>` plus `next`, `nextv`, `all`, `seek`, `close`. */
export type Iterator<K, V> = EntryIterator<K, V>;
/** A key or value iterator. */
export type KeyIterator<K> = ItemIterator<K>;
export type ValueIterator<V> = ItemIterator<V>;
