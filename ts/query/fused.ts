/**
 * A page (or the count) of a probed intersection in native calls (`scanProbe`): when a `ProbeStream` is
 * driven by one exact term, the engine scans the driver's postings from the page's start,
 * probes every candidate against the other sides' postings (`prefix · candidate`) and reads
 * the matches' records, all at one view per call, instead of a Buffer per candidate, a
 * packed probe batch and a record read crossing JavaScript. The answer is the one the
 * streams would give (the same candidates, the same probes, in primary-key order); it is
 * used only when no time or posting budget applies (those are kept by the streams). A count
 * (`db.count`, which has no budget) is the same calls at the count's snapshot, keys only.
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

/** The counters at the end of a `scanProbe` answer `a` (`t`: where they start). */
interface Tail {
  t: number;
  lastLen: number;
  n: number;
  scanned: number;
  probed: number;
  /** 0: the driver ended; 1: the matches asked for were found; 2: the postings asked for were scanned. */
  end: number;
}

/** A `scanProbe` answer and its counters. */
type Answer = { a: Buffer; tail: Tail } | undefined;

function answer(a: Buffer | null | undefined): Answer {
  if (a === undefined || a === null) return undefined;
  const t = a.length - 20;
  return { a, tail: { t, lastLen: a.readUInt32LE(t), n: a.readUInt32LE(t + 4), scanned: a.readUInt32LE(t + 8), probed: a.readUInt32LE(t + 12), end: a.readUInt32LE(t + 16) } };
}

/**
 * One `scanProbe` call (retried on the next turns while this turn's budget is spent and the
 * database is open: then a promise), or `undefined` when the engine cannot answer from memory
 * (or the database closed: the streams then fail as every read does). Retried until it runs,
 * not once: beside other work spending each turn's budget a second refusal is common, and
 * giving up would read the whole page or count again the streams' way.
 */
function scanProbe(
  db: KvDb<unknown, unknown>,
  driver: TermStream,
  seek: Buffer | undefined,
  shape: [number, number, number, number],
  sides: Buffer,
  snapshot: Snapshot | undefined,
): Answer | Promise<Answer> {
  const lower = driver.range.gte ?? Buffer.alloc(0);
  const a = db._scanProbeHere(lower, driver.range.lt, seek, shape, sides, snapshot);
  if (a !== undefined) return answer(a);
  return (async () => {
    let r: Buffer | null | undefined;
    do {
      await nextTurn();
      r = db._scanProbeHere(lower, driver.range.lt, seek, shape, sides, snapshot);
    } while (r === undefined && db.status === 'open');
    return answer(r);
  })();
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
  const keys: Buffer[] = [];
  const vals: (Buffer | null)[] = [];
  let seek: Buffer | undefined = from.length > 0 ? Buffer.concat([prefix, from]) : undefined;
  const out: ProbedPage = { keys, next: undefined, postingsScanned: 0, recordsRead: 0, seeks: 0 };
  // One match past the page says whether another page follows.
  const want = limit + 1;
  for (;;) {
    let r = scanProbe(db, driver, seek, [want - keys.length, MAX_SCANNED, prefix.length, values ? 0 : KEYS_ONLY], sides, snapshot);
    if (r instanceof Promise) r = await r;
    if (r === undefined) return undefined;
    const { a } = r;
    const { t, lastLen, n, scanned, probed, end } = r.tail;
    if (seek !== undefined) out.seeks++;
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

/**
 * The number of matches of `s` from the start, counted by `scanProbe` calls (keys only), or
 * `undefined` when the engine cannot answer from memory (count the streams' way then; nothing
 * of `s` was used). Every call reads at `snapshot`, so the count is of one view.
 */
export async function probedCount(db: KvDb<unknown, unknown>, s: ProbeStream, snapshot: Snapshot): Promise<number | undefined> {
  const f = fusable(s);
  if (f === undefined) return undefined;
  const { driver, sides } = f;
  let seek: Buffer | undefined;
  let count = 0;
  for (;;) {
    let r = scanProbe(db, driver, seek, [MAX_SCANNED, MAX_SCANNED, driver.prefix.length, KEYS_ONLY], sides, snapshot);
    if (r instanceof Promise) r = await r;
    if (r === undefined) return undefined;
    const { t, lastLen, n, scanned, probed, end } = r.tail;
    count += n;
    charge(Math.ceil((scanned + probed) / 100) - 1);
    // As many matches as postings scanned (1) or the call's postings scanned (2): more may follow.
    if (end === 0) return count;
    seek = Buffer.concat([driver.prefix, after(r.a.subarray(t - lastLen, t))]);
  }
}
