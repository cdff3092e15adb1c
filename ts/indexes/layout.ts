/**
 * Where the index layer keeps its data: keys of the engine's system keyspace (relative to
 * the system prefix; see docs/format.md, "Postings and registry").
 *
 * ```
 * meta:     0x00 · "meta"                         → JSON { v, dbId, nextId }
 * posting:  0x01 · id u32 BE · term+ · primary key → empty value
 * registry: 0x02 · name (UTF-8)                   → JSON RegistryRecord
 * ```
 *
 * Terms are self-delimiting (`terms.ts`), so the primary key is the rest of a posting key.
 * Index ids are never reused: postings of a dropped or rebuilt index are unreachable even
 * before they are deleted.
 */
import type { BindingRange } from '../../binding';
import { successor } from '../codec';
import { StrataError } from '../errors';
import type { IndexDefinition } from './definition';
import { termEnd } from './terms';

/** Version of the meta and registry records. */
export const REGISTRY_VERSION = 1;

const POSTING = 0x01;
const REGISTRY = 0x02;

/** The meta record's key. */
export const META_KEY: Buffer = Buffer.from([0x00, 0x6d, 0x65, 0x74, 0x61]);
/** The range of every registry record. */
export const REGISTRY_RANGE: BindingRange = { system: true, gte: Buffer.from([REGISTRY]), lt: Buffer.from([REGISTRY + 1]) };
/** The range of every posting of every index. */
export const POSTINGS_RANGE: BindingRange = { system: true, gte: Buffer.from([POSTING]), lt: Buffer.from([POSTING + 1]) };

/** The meta record: one per database that has ever had an index. */
export interface MetaRecord {
  v: number;
  /** Random id of this database, bound into query cursors. */
  dbId: string;
  /** The next index id to hand out. */
  nextId: number;
}

/** Build state of an index. */
export type IndexState = 'building' | 'ready';

/** What the registry stores per index. */
export interface RegistryRecord {
  v: number;
  id: number;
  definition: IndexDefinition;
  state: IndexState;
  /** While building: the last primary key processed (base64), `null` before the first. */
  cursor: string | null;
  /** Records indexed by the build so far (while building) or in total by it (once ready). */
  built: number;
  /** Records the build skipped because their value yields no terms for this index. */
  skipped: number;
  createdAt: string;
  readyAt?: string;
}

/** `0x01 · id u32 BE`: the prefix of every posting of index `id`. */
export function postingPrefix(id: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = POSTING;
  b.writeUInt32BE(id, 1);
  return b;
}

/** The posting key of `(id, encoded term(s), primary key)`. */
export function postingKey(prefix: Buffer, term: Buffer, pk: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + term.length + pk.byteLength);
  prefix.copy(out, 0);
  term.copy(out, prefix.length);
  out.set(pk, prefix.length + term.length);
  return out;
}

/** The range of every posting of index `id`. */
export function indexRange(id: number): BindingRange {
  const p = postingPrefix(id);
  return { system: true, gte: p, lt: postingPrefix(id + 1) };
}

/** The range of the postings of index `id` whose encoded term(s) start with `termPrefix`. */
export function termPrefixRange(id: number, termPrefix: Buffer): BindingRange {
  const lo = Buffer.concat([postingPrefix(id), termPrefix]);
  const hi = successor(lo);
  return hi === undefined ? { system: true, gte: lo } : { system: true, gte: lo, lt: Buffer.from(hi) };
}

/** The primary key of a posting key of an index of `arity` terms per entry. */
export function postingPk(key: Buffer, arity: number): Buffer {
  let pos = 5;
  for (let i = 0; i < arity; i++) pos = termEnd(key, pos);
  return key.subarray(pos);
}

/** The encoded term(s) of a posting key. */
export function postingTerm(key: Buffer, arity: number): Buffer {
  let pos = 5;
  for (let i = 0; i < arity; i++) pos = termEnd(key, pos);
  return key.subarray(5, pos);
}

/** The index id of a posting key. */
export function postingId(key: Buffer): number {
  if (key.length < 5 || key[0] !== POSTING) throw new StrataError('STRATA_CORRUPTION', 'malformed posting key');
  return key.readUInt32BE(1);
}

/** A registry record's key. */
export function registryKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([REGISTRY]), Buffer.from(name, 'utf8')]);
}

/** Parses a stored JSON record; damage is `STRATA_CORRUPTION` naming what it was. */
export function parseRecord<T>(bytes: Buffer, what: string): T {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as { v?: unknown };
    if (v === null || typeof v !== 'object' || v.v !== REGISTRY_VERSION) {
      throw new Error(`unsupported version ${JSON.stringify(v?.v)}`);
    }
    return v as T;
  } catch (e) {
    throw new StrataError('STRATA_CORRUPTION', `${what} is damaged or of an unknown version: ${(e as Error).message}`, { cause: e });
  }
}

/** Serialises a record. */
export function recordBytes(r: MetaRecord | RegistryRecord): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}
