/**
 * A page of a probed intersection in native calls (`scanProbe`): when a `ProbeStream` is
 * driven by one exact term, the engine scans the driver's postings from the page's start,
 * probes every candidate against the other sides' postings (`prefix · candidate`) and reads
 * the matches' records, all at one view per call, instead of a Buffer per candidate, a
 * packed probe batch and a record read crossing JavaScript. The answer is the one the
 * streams would give (the same candidates, the same probes, in primary-key order); it is
 * used only when no time or posting budget applies (those are kept by the streams).
 */
import type { KvDb } from '../database';
import type { Snapshot } from '../snapshot';
import { charge, nextTurn } from '../turns';
import { ProbeStream, TermStream, after } from './streams';

/** Postings one call scans at most: a bound on the time the calling thread is held. */
const MAX_SCANNED = 4096;

/** `scanProbe` flags: 2 = keys only. */
const KEYS_ONLY = 2;

/** A page found by `probedPage`. */
export interface ProbedPage {
  keys: Buffer[];
  /** Absent when values were not asked for; `null`: no record. */
  values?: (Buffer | null)[];
  /** Where the next page starts, or `undefined` when no match follows. */
  next: Buffer | undefined;
  postingsScanned: number;
  recordsRead: number;
  seeks: number;
}

/** The driver term and packed sides of `s`, when its page can be read by `scanProbe`. */
export function fusable(s: ProbeStream): { driver: TermStream; sides: Buffer } | undefined {
  const driver = s.inner;
  if (!(driver instanceof TermStream) || driver.scanned > 0) return undefined;
  const parts: Buffer[] = [];
  const side = (prefixes: Buffer[], negated: boolean): void => {
    const head = Buffer.allocUnsafe(5);
    head.writeUInt8(negated ? 1 : 0, 0);
    head.writeUInt32LE(prefixes.length, 1);
    parts.push(head);
    for (const p of prefixes) {
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32LE(p.length, 0);
      parts.push(len, p);
    }
  };
  for (const m of s.must) side(m, false);
  for (const m of s.mustNot) side(m, true);
  return { driver, sides: Buffer.concat(parts) };
}

/**
 * Up to `limit` matches of `s` from `from` (and whether one more follows), or `undefined`
 * when the engine cannot answer from memory (read the streams' way then; nothing of `s` was
 * used). Each call reads at one view (`snapshot`, else the current state at the call); a
 * page of several calls is several consecutive key ranges, each read at its own view, as
 * pages are.
 */
export async function probedPage(
  db: KvDb<unknown, unknown>,
  s: ProbeStream,
  from: Buffer,
  limit: number,
  values: boolean,
  snapshot: Snapshot | undefined,
): Promise<ProbedPage | undefined> {
  const f = fusable(s);
  if (f === undefined) return undefined;
  const { driver, sides } = f;
  const prefix = driver.prefix;
  const lower = driver.range.gte ?? Buffer.alloc(0);
  const upper = driver.range.lt;
  const keys: Buffer[] = [];
  const vals: (Buffer | null)[] = [];
  let seek: Buffer | undefined = from.length > 0 ? Buffer.concat([prefix, from]) : undefined;
  const out: ProbedPage = { keys, next: undefined, postingsScanned: 0, recordsRead: 0, seeks: 0 };
  // One match past the page says whether another page follows.
  const want = limit + 1;
  for (;;) {
    const shape: [number, number, number, number] = [want - keys.length, MAX_SCANNED, prefix.length, values ? 0 : KEYS_ONLY];
    let a = db._scanProbeHere(lower, upper, seek, shape, sides, snapshot);
    if (a === undefined) {
      await nextTurn();
      a = db._scanProbeHere(lower, upper, seek, shape, sides, snapshot);
    }
    if (a === undefined || a === null) return undefined;
    if (seek !== undefined) out.seeks++;
    const t = a.length - 20;
    const lastLen = a.readUInt32LE(t);
    const n = a.readUInt32LE(t + 4);
    const scanned = a.readUInt32LE(t + 8);
    const probed = a.readUInt32LE(t + 12);
    const end = a.readUInt32LE(t + 16);
    out.postingsScanned += scanned + probed;
    if (values) out.recordsRead += n;
    let table = t - lastLen - 8 * n;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const kl = a.readUInt32LE(table);
      const vl = a.readInt32LE(table + 4);
      table += 8;
      keys.push(a.subarray(at, at + kl));
      at += kl;
      if (values) vals.push(vl < 0 ? null : a.subarray(at, at + vl));
      if (vl > 0) at += vl;
    }
    // One point read per record and per 100 postings or probes (as the other calling-thread reads count).
    charge((values ? n : 0) + Math.ceil((scanned + probed) / 100) - 1);
    if (end !== 2) break;
    const last = a.subarray(t - lastLen, t);
    seek = Buffer.concat([prefix, after(last)]);
  }
  if (keys.length > limit) {
    keys.length = limit;
    vals.length = Math.min(vals.length, limit);
    out.next = after(keys[limit - 1] as Buffer);
  }
  if (values) out.values = vals;
  return out;
}
