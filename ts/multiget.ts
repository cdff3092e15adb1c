/**
 * Many point reads in one native call (`readMany`): the values of a page of query results
 * and the existence of many postings. Keys cross as one packed buffer (`u32` LE length ·
 * bytes, repeated); the answer is one Buffer: an `i32` LE per key (the value's length, -1
 * when missing, -2 when the answer is not in memory), then the values back to back. The
 * read runs on the calling thread for the keys that are in memory; the others are read in
 * one call on the thread pool.
 */
import type { KvDb } from './database';
import type { Snapshot } from './snapshot';
import { charge, nextTurn } from './turns';

/** `readMany` flags (1 = cached only is set by the KV layer). */
const LENGTH_ONLY = 2;
const SYSTEM = 4;

const NOT_CACHED = -2;

/** Packs `prefix · key` for every key (the prefix may be empty). */
export function packKeys(keys: readonly Uint8Array[], prefix?: Uint8Array, from = 0, to = keys.length): Buffer {
  const p = prefix?.byteLength ?? 0;
  let size = 0;
  for (let i = from; i < to; i++) size += 4 + p + (keys[i] as Uint8Array).byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = from; i < to; i++) {
    const k = keys[i] as Uint8Array;
    out.writeUInt32LE(p + k.byteLength, at);
    at += 4;
    if (prefix !== undefined && p > 0) {
      out.set(prefix, at);
      at += p;
    }
    out.set(k, at);
    at += k.byteLength;
  }
  return out;
}

/** Packs `prefix_j · key_i` for every key and prefix, key-major, into one buffer (no per-key arrays). */
function packProduct(prefixes: readonly Buffer[], keys: readonly Uint8Array[]): Buffer {
  let plen = 0;
  for (const p of prefixes) plen += 4 + p.byteLength;
  let klen = 0;
  for (const k of keys) klen += k.byteLength;
  const out = Buffer.allocUnsafe(keys.length * plen + klen * prefixes.length);
  let at = 0;
  for (const k of keys) {
    for (const p of prefixes) {
      out.writeUInt32LE(p.byteLength + k.byteLength, at);
      at += 4;
      out.set(p, at);
      at += p.byteLength;
      out.set(k, at);
      at += k.byteLength;
    }
  }
  return out;
}

/**
 * Which of the system keys `prefix_j · key_i` exist (`prefixes` × `keys`, key-major:
 * answer `[i * prefixes.length + j]`), read at `snapshot`. Synchronous when everything was
 * in memory.
 */
export function systemKeysExist(
  db: KvDb<unknown, unknown>,
  prefixes: readonly Buffer[],
  keys: readonly Uint8Array[],
  snapshot: Snapshot | undefined,
): Uint8Array | Promise<Uint8Array> {
  const m = prefixes.length;
  const n = keys.length * m;
  const packed = m === 1 ? packKeys(keys, prefixes[0]) : packProduct(prefixes, keys);
  const out = new Uint8Array(n);
  const flags = SYSTEM | LENGTH_ONLY;
  // Keys are short: one budget unit per 100 lookups, like a batch of postings.
  const cost = Math.max(1, Math.ceil(n / 100));
  const here = db._readManyHere(packed, flags, cost, snapshot);
  if (here === undefined) {
    // This turn's budget is spent: the next turn, on the calling thread all the same.
    return nextTurn().then(() => {
      const again = db._readManyHere(packed, flags, cost, snapshot);
      return again === undefined ? pooled(db, packed, flags, snapshot, out, null) : existsFrom(db, packed, flags, snapshot, out, again);
    });
  }
  return existsFrom(db, packed, flags, snapshot, out, here);
}

/** Fills `out` from a cached-only answer; the keys it could not answer are read on the pool. */
function existsFrom(db: KvDb<unknown, unknown>, packed: Buffer, flags: number, snapshot: Snapshot | undefined, out: Uint8Array, here: Buffer): Uint8Array | Promise<Uint8Array> {
  const n = out.length;
  let missing: number[] | null = null;
  for (let i = 0; i < n; i++) {
    const s = here.readInt32LE(4 * i);
    if (s === NOT_CACHED) (missing ??= []).push(i);
    else out[i] = s >= 0 ? 1 : 0;
  }
  return missing === null ? out : pooled(db, packed, flags, snapshot, out, missing);
}

/** Reads the existence of the keys `missing` (all when `null`) of `packed` on the pool into `out`. */
function pooled(db: KvDb<unknown, unknown>, packed: Buffer, flags: number, snapshot: Snapshot | undefined, out: Uint8Array, missing: number[] | null): Promise<Uint8Array> {
  const rest = missing === null ? packed : repack(packed, missing);
  return db._readManyPool(rest, flags, snapshot).then((a) => {
    const m = missing ?? Array.from({ length: out.length }, (_, i) => i);
    m.forEach((i, j) => (out[i] = a.readInt32LE(4 * j) >= 0 ? 1 : 0));
    return out;
  });
}

/** The records `indices` of a packed key buffer, packed again. */
function repack(packed: Buffer, indices: readonly number[]): Buffer {
  const starts: number[] = [];
  for (let at = 0; at < packed.length; ) {
    starts.push(at);
    at += 4 + packed.readUInt32LE(at);
  }
  const parts = indices.map((i) => {
    const s = starts[i] as number;
    return packed.subarray(s, s + 4 + packed.readUInt32LE(s));
  });
  return Buffer.concat(parts);
}

/**
 * The values of the user keys `keys` at `snapshot` (`null` when missing): views into one
 * answer buffer. Synchronous when every record was in memory.
 */
export function readValues(db: KvDb<unknown, unknown>, keys: readonly Uint8Array[], snapshot: Snapshot | undefined): (Buffer | null)[] | Promise<(Buffer | null)[]> {
  const n = keys.length;
  const out: (Buffer | null)[] = new Array(n).fill(null);
  if (n === 0) return out;
  const packed = packKeys(keys);
  const here = db._readManyHere(packed, 0, n, snapshot);
  if (here === undefined) {
    // This turn's budget is spent: the next turn, on the calling thread all the same.
    return nextTurn().then(() => {
      const again = db._readManyHere(packed, 0, n, snapshot);
      return valuesFrom(db, packed, snapshot, out, again);
    });
  }
  return valuesFrom(db, packed, snapshot, out, here);
}

/** Fills `out` from a cached-only answer (`undefined`: none); the rest is read on the pool. */
function valuesFrom(db: KvDb<unknown, unknown>, packed: Buffer, snapshot: Snapshot | undefined, out: (Buffer | null)[], here: Buffer | undefined): (Buffer | null)[] | Promise<(Buffer | null)[]> {
  const n = out.length;
  const missing: number[] = [];
  if (here === undefined) for (let i = 0; i < n; i++) missing.push(i);
  else fill(here, n, out, missing, null);
  if (missing.length === 0) return out;
  const rest = missing.length === n ? packed : repack(packed, missing);
  return db._readManyPool(rest, 0, snapshot).then((a) => {
    fill(a, missing.length, out, undefined, missing);
    return out;
  });
}

/** Spreads an answer of `n` values into `out` (at `map[i]` or `i`); not-cached ones go to `missing`. */
function fill(answer: Buffer, n: number, out: (Buffer | null)[], missing: number[] | undefined, map: readonly number[] | null | undefined): void {
  let at = 4 * n;
  for (let i = 0; i < n; i++) {
    const s = answer.readInt32LE(4 * i);
    const slot = map ? (map[i] as number) : i;
    if (s >= 0) {
      out[slot] = answer.subarray(at, at + s);
      at += s;
    } else if (s === NOT_CACHED) missing?.push(slot);
    else out[slot] = null;
  }
}

/** `scanAndGet` flags. */
const KEYS_ONLY = 2;
const SCAN_SYSTEM = 4;

/**
 * A page read by `readPage`: the answer buffer and where each entry lies in it (no Buffer
 * per key or value: decoders read the ranges directly). Entry `i`'s record key is
 * `data[key[i], key[i + 1] - (value length))`, described by `keyStart`/`keyEnd`; its value
 * `data[valueStart[i], valueEnd[i])`, with `valueEnd[i] < 0` when there is no record.
 */
export interface Page {
  data: Buffer;
  n: number;
  keyStart: Int32Array;
  keyEnd: Int32Array;
  /** Absent when values were not asked for. */
  valueEnd?: Int32Array;
  more: boolean;
}

/**
 * The first `max` keys of the system range `[lower, upper)` (from the first key `>= seek`)
 * with the prefix of `strip` bytes taken off each, and the user records they name, read at
 * one view (`snapshot`, else the current state) in one native call on the calling thread
 * (on the next event-loop turn when this turn's budget is spent); `undefined` when that
 * cannot be done (the database is not open, or a block is not in memory): read the
 * streams' way then. Keys and values are views into one answer buffer.
 */
export function readPage(
  db: KvDb<unknown, unknown>,
  range: { gte?: Uint8Array; lt?: Uint8Array },
  seek: Uint8Array | undefined,
  max: number,
  strip: number,
  values: boolean,
  snapshot: Snapshot | undefined,
): Page | undefined | Promise<Page | undefined> {
  const lower = range.gte ?? Buffer.alloc(0);
  const flags = SCAN_SYSTEM | (values ? 0 : KEYS_ONLY);
  const read = (): Page | undefined | null => {
    const a = db._scanAndGetHere(lower, range.lt, seek, max, strip, flags, snapshot);
    return a === null || a === undefined ? (a as undefined | null) : unpackPage(a, values);
  };
  const here = read();
  if (here !== undefined) return here ?? undefined;
  return nextTurn().then(() => read() ?? undefined);
}

function unpackPage(a: Buffer, values: boolean): Page {
  const end = a.length - 8;
  const n = a.readUInt32LE(end);
  const more = a.readUInt32LE(end + 4) === 1;
  const keyStart = new Int32Array(n);
  const keyEnd = new Int32Array(n);
  const valueEnd = values ? new Int32Array(n) : undefined;
  let table = end - 8 * n;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const kl = a.readUInt32LE(table);
    const vl = a.readInt32LE(table + 4);
    table += 8;
    keyStart[i] = at;
    at += kl;
    keyEnd[i] = at;
    if (valueEnd !== undefined) valueEnd[i] = vl < 0 ? -1 : at + vl;
    if (vl > 0) at += vl;
  }
  // One point read per record, and per 100 keys (as the other calling-thread reads count).
  charge((values ? n : 0) + Math.ceil(n / 100) - 1);
  return valueEnd === undefined ? { data: a, n, keyStart, keyEnd, more } : { data: a, n, keyStart, keyEnd, valueEnd, more };
}
