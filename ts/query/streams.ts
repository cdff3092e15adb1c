/**
 * Streams of primary keys in ascending order, read from posting lists, and the operators
 * that combine them without reading records:
 *
 * - `TermStream`: the postings of one exact term (already in primary-key order). Seeks that
 *   land inside the batch in memory are binary searches; others are one engine seek.
 * - `RangeStream`: the postings of a term range (many terms). It discovers the distinct
 *   terms by skipping from one to the next (one seek each) and merges their `TermStream`s;
 *   past `MAX_MERGED_TERMS` terms it reads the range once and sorts the keys instead.
 * - `UnionStream`: a merge of its children (deduplicated).
 * - `WindowStream`: an intersection of sides made of exact terms, read window by window
 *   beside the driver (sequential postings, compared in memory).
 * - `ProbeStream`: an intersection that looks up `term · candidate` for a batch of candidates.
 * - `AndStream`: leapfrog intersection, driven by the most selective child: every other
 *   child seeks to the candidate, and a larger answer becomes the next candidate. Negated
 *   children are probed with a seek per candidate.
 *
 * Every stream knows its lower bound (`lb`): no key below it will still be produced. After a
 * timeout or budget stop, the root's bound is where the next page resumes, so every page
 * makes progress.
 */
import type { BindingRange } from '../../binding';
import type { KvDb } from '../database';
import type { KeyCursor } from '../iterator';
import type { Snapshot } from '../snapshot';
import { successor } from '../codec';
import { postingTerm } from '../indexes/layout';
import { systemKeysExist } from '../multiget';

/** Terms a `RangeStream` merges before it falls back to read-and-sort. */
export const MAX_MERGED_TERMS = 64;

const ZERO = Buffer.from([0]);
const EMPTY: Buffer = Buffer.alloc(0);

/** The smallest key greater than `k`. */
export function after(k: Buffer): Buffer {
  return Buffer.concat([k, ZERO]);
}

function max(a: Buffer, b: Buffer): Buffer {
  return Buffer.compare(a, b) >= 0 ? a : b;
}

/** Thrown inside streams when a query must stop (timeout or budget). */
export class Stop extends Error {
  constructor(readonly reason: 'timeout' | 'maxPostingsScanned') {
    super(reason);
  }
}

/** Counters and limits shared by the streams of one query run. */
export class Budget {
  postingsScanned = 0;
  seeks = 0;
  /** Set by the executor: stopping is allowed once the root's bound passed the start. */
  canStop: () => boolean = () => true;

  constructor(
    readonly deadline: number | undefined,
    readonly maxPostings: number | undefined,
  ) {}

  /** Throws `Stop` when a limit is reached and stopping would make progress. */
  check(): void {
    if (this.maxPostings !== undefined && this.postingsScanned >= this.maxPostings && this.canStop()) throw new Stop('maxPostingsScanned');
    if (this.deadline !== undefined && Date.now() >= this.deadline && this.canStop()) throw new Stop('timeout');
  }
}

/** What streams need from the database. */
export interface Source {
  db: KvDb<unknown, unknown>;
  snapshot: Snapshot;
  budget: Budget;
  /** How many keys the reader expects to take (a page: limit + 1), a hint for batch sizes. */
  want?: number;
}

/** A stream's current key: known now, or once a read finishes. */
export type Head = Buffer | undefined | Promise<Buffer | undefined>;

/**
 * A stream of ascending, distinct primary keys. `head()` is synchronous when the answer is in
 * the batch in memory and a promise only when a read is needed; `seekTo` never reads (the
 * engine seek travels with the next read), so the leapfrog loops run without a promise per
 * step.
 */
export interface PkStream {
  /** The current key (the first not yet passed), or `undefined` at the end. */
  head(): Head;
  /** Moves to the first key `>= target` (never backwards). Passing the head `h` is `seekTo(after(h))`. */
  seekTo(target: Buffer): void;
  /** No key below this will be produced any more. */
  lb(): Buffer;
  /** Postings this stream (and its children) read. */
  readonly scanned: number;
  close(): Promise<void>;
}

/** The postings of one exact term: keys `prefix · pk`. */
export class TermStream implements PkStream {
  readonly #src: Source;
  readonly #prefix: Buffer;
  readonly #range: BindingRange;
  #cursor: KeyCursor | undefined;
  #buf: Buffer[] = [];
  #pos = 0;
  #ended = false;
  /** A seek not yet sent to the engine (it travels with the next read). */
  #seek: Buffer | undefined;
  #want = 32;
  #lb: Buffer;
  /** The pool read in flight, if any. */
  #pending: Promise<void> | undefined;
  scanned = 0;

  constructor(src: Source, range: BindingRange, prefix: Buffer, start: Buffer = EMPTY) {
    this.#src = src;
    this.#range = range;
    this.#prefix = prefix;
    this.#lb = start;
    if (start.length > 0) this.#seek = Buffer.concat([prefix, start]);
  }

  /** Sets the size of the next read (the reader knows it will take about `n` keys). */
  readFirst(n: number): void {
    if (this.#buf.length === 0 && !this.#ended) this.#want = Math.max(16, Math.min(n, 1000));
  }

  /** Takes a batch of primary keys (the cursor strips the prefix). */
  #take(keys: Buffer[]): void {
    this.scanned += keys.length;
    this.#src.budget.postingsScanned += keys.length;
    this.#buf = keys;
    this.#pos = 0;
    if (keys.length === 0) this.#ended = true;
    else this.#lb = max(this.#lb, keys[0] as Buffer);
  }

  /**
   * Reads the next batch: on the calling thread when it can (then `true`), else a promise.
   * One read at a time: while a pool read is in flight, callers get the same promise (a
   * second read would take the batch after it, and whichever landed last would replace the
   * other: keys lost).
   */
  #fill(): true | Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    this.#src.budget.check();
    this.#cursor ??= this.#src.db._keyCursor(this.#range, this.#src.snapshot);
    const seek = this.#seek;
    this.#seek = undefined;
    if (seek !== undefined) this.#src.budget.seeks++;
    const want = this.#want;
    this.#want = Math.min(want * 4, 1000);
    const n = this.#prefix.length;
    const here = this.#cursor.readSync(want, seek, n);
    if (here !== null) {
      this.#take(here);
      return true;
    }
    const p = this.#cursor.read(want, undefined, n).then(
      (keys) => {
        this.#pending = undefined;
        this.#take(keys);
        // Seeks made while the read was in flight were only recorded in the bound.
        if (this.#pos < this.#buf.length && Buffer.compare(this.#buf[this.#pos] as Buffer, this.#lb) < 0) this.#moveTo(this.#lb);
      },
      (e: unknown) => {
        this.#pending = undefined;
        throw e;
      },
    );
    this.#pending = p;
    return p;
  }

  head(): Head {
    if (this.#pos < this.#buf.length) return this.#buf[this.#pos];
    if (this.#ended) return undefined;
    const f = this.#fill();
    if (f === true) return this.#buf[this.#pos];
    // After the read the batch may still be behind a seek made meanwhile: ask again.
    return f.then(() => this.head());
  }

  seekTo(target: Buffer): void {
    if (Buffer.compare(target, this.#lb) <= 0) return;
    this.#lb = target;
    // A read in flight: the bound is applied to its batch when it lands.
    if (this.#pending === undefined) this.#moveTo(target);
  }

  /** Moves to the first key `>= target` in the batch, or arranges a seek with the next read. */
  #moveTo(target: Buffer): void {
    const buf = this.#buf;
    const n = buf.length;
    if (this.#pos >= n) {
      if (this.#ended) return;
    } else {
      // Usually the next key or a few keys on: look there before searching.
      if (Buffer.compare(buf[this.#pos] as Buffer, target) >= 0) return;
      if (this.#pos + 1 < n && Buffer.compare(buf[this.#pos + 1] as Buffer, target) >= 0) {
        this.#pos++;
        return;
      }
      if (Buffer.compare(buf[n - 1] as Buffer, target) >= 0) {
        let lo = this.#pos + 1;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (Buffer.compare(buf[mid] as Buffer, target) < 0) lo = mid + 1;
          else hi = mid;
        }
        this.#pos = lo;
        return;
      }
      if (this.#ended) {
        this.#pos = n;
        return;
      }
    }
    // Past the batch: the engine seeks with the next read, which starts small again.
    this.#seek = Buffer.concat([this.#prefix, target]);
    this.#buf = [];
    this.#pos = 0;
    this.#want = 32;
  }

  lb(): Buffer {
    return this.#lb;
  }

  /** The posting-key prefix of this term (`0x01 · id · term`). */
  get prefix(): Buffer {
    return this.#prefix;
  }

  /** The posting range of this term. */
  get range(): BindingRange {
    return this.#range;
  }

  /**
   * Passes and returns up to `n` keys from the batch in memory (reading the next batch
   * first when it is used up): `[]` at the end; a promise only when a read is needed.
   */
  take(n: number): Buffer[] | Promise<Buffer[]> {
    if (this.#pos >= this.#buf.length) {
      if (this.#ended) return [];
      // The caller says how many it wants: read that many (not the growing default).
      this.#want = Math.max(16, Math.min(n, 1000));
      const f = this.#fill();
      if (f !== true) return f.then(() => this.take(n));
      if (this.#pos >= this.#buf.length) return [];
    }
    const end = Math.min(this.#buf.length, this.#pos + n);
    const out = this.#buf.slice(this.#pos, end);
    this.#pos = end;
    this.#lb = max(this.#lb, after(out[out.length - 1] as Buffer));
    return out;
  }

  /** Calls `fn` with every key left (and passes them), a batch at a time. */
  async eachRest(fn: (pk: Buffer) => void): Promise<void> {
    this.#want = 1000;
    for (;;) {
      if (this.#pos >= this.#buf.length) {
        if (this.#ended) return;
        const f = this.#fill();
        if (f !== true) await f;
        continue;
      }
      for (let i = this.#pos; i < this.#buf.length; i++) fn(this.#buf[i] as Buffer);
      this.#lb = max(this.#lb, after(this.#buf[this.#buf.length - 1] as Buffer));
      this.#pos = this.#buf.length;
    }
  }

  /** Counts the keys left (and passes them). */
  async countRest(): Promise<number> {
    let n = 0;
    await this.eachRest(() => n++);
    return n;
  }

  async close(): Promise<void> {
    this.#cursor?.close();
  }
}

/**
 * A stream's answer to `head()` when it may need a read: a synchronous answer as it is; a
 * promise is remembered through `remember` until it settles (so that asking again while it
 * is in flight returns it instead of starting a second read) and then resolves to `again()`,
 * the head asked afresh (a seek may have passed the answer meanwhile).
 */
function settleOnce(h: Head, remember: (p: Promise<Buffer | undefined> | undefined) => void, again: () => Head): Head {
  if (!(h instanceof Promise)) return h;
  const p = h.then(
    () => {
      remember(undefined);
      return again();
    },
    (e: unknown) => {
      remember(undefined);
      throw e;
    },
  );
  remember(p);
  return p;
}

/** A sorted array of keys (the read-and-sort form of a wide range). */
class ArrayStream implements PkStream {
  #pos = 0;
  #lb: Buffer;
  constructor(
    readonly keys: Buffer[],
    readonly scanned: number,
    start: Buffer,
  ) {
    this.#lb = start;
    this.#skip(start);
  }
  #skip(target: Buffer): void {
    let lo = this.#pos;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid] as Buffer, target) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.#pos = lo;
  }
  head(): Head {
    return this.keys[this.#pos];
  }
  seekTo(target: Buffer): void {
    if (Buffer.compare(target, this.#lb) <= 0) return;
    this.#lb = target;
    this.#skip(target);
  }
  lb(): Buffer {
    return this.#lb;
  }
  async close(): Promise<void> {}
}

/** A merge of streams. */
export class UnionStream implements PkStream {
  constructor(readonly children: PkStream[]) {}

  get scanned(): number {
    return this.children.reduce((n, c) => n + c.scanned, 0);
  }

  head(): Head {
    let best: Buffer | undefined;
    let waits: Promise<unknown>[] | undefined;
    for (const c of this.children) {
      const h = c.head();
      if (h instanceof Promise) (waits ??= []).push(h);
      else if (h !== undefined && (best === undefined || Buffer.compare(h, best) < 0)) best = h;
    }
    if (waits === undefined) return best;
    return Promise.all(waits).then(() => this.head());
  }

  seekTo(target: Buffer): void {
    for (const c of this.children) c.seekTo(target);
  }

  lb(): Buffer {
    let out: Buffer | undefined;
    for (const c of this.children) {
      const b = c.lb();
      if (out === undefined || Buffer.compare(b, out) < 0) out = b;
    }
    return out ?? EMPTY;
  }

  async close(): Promise<void> {
    for (const c of this.children) await c.close();
  }
}

/** Leapfrog intersection of `children` (most selective first), minus the `not` streams. */
export class AndStream implements PkStream {
  #current: Buffer | undefined;
  #done = false;
  /** The search in flight, if any. */
  #pending: Promise<Buffer | undefined> | undefined;
  #closed = false;

  constructor(
    readonly children: PkStream[],
    readonly not: PkStream[],
  ) {}

  get scanned(): number {
    return [...this.children, ...this.not].reduce((n, c) => n + c.scanned, 0);
  }

  head(): Head {
    if (this.#current !== undefined || this.#done) return this.#current;
    // One search at a time (a reader may drop a promise and ask again).
    if (this.#pending !== undefined) return this.#pending;
    return settleOnce(this.#search(), (p) => (this.#pending = p), () => this.head());
  }

  /** The leapfrog loop: synchronous while every stream answers from memory. */
  #search(): Head {
    // A search left in flight by a reader that took the keys it had (a probe batch) may
    // resume after the query closed the streams: it stops there, without reading.
    if (this.#closed) return undefined;
    const [first, ...rest] = this.children as [PkStream, ...PkStream[]];
    for (;;) {
      let c = first.head();
      if (c instanceof Promise) return c.then(() => this.#search());
      if (c === undefined) {
        this.#done = true;
        return undefined;
      }
      let agreed = true;
      for (const s of rest) {
        s.seekTo(c);
        const h = s.head();
        if (h instanceof Promise) return h.then(() => this.#search());
        if (h === undefined) {
          this.#done = true;
          return undefined;
        }
        if (!h.equals(c)) {
          first.seekTo(h);
          agreed = false;
          break;
        }
      }
      if (!agreed) continue;
      let excluded = false;
      for (const n of this.not) {
        n.seekTo(c);
        const h = n.head();
        if (h instanceof Promise) return h.then(() => this.#search());
        if (h !== undefined && h.equals(c)) {
          excluded = true;
          break;
        }
      }
      if (excluded) {
        first.seekTo(after(c));
        continue;
      }
      this.#current = c;
      c = undefined;
      return this.#current;
    }
  }

  seekTo(target: Buffer): void {
    if (this.#current !== undefined && Buffer.compare(this.#current, target) >= 0) return;
    this.#current = undefined;
    (this.children[0] as PkStream).seekTo(target);
  }

  lb(): Buffer {
    let out: Buffer = EMPTY;
    for (const c of this.children) out = max(out, c.lb());
    if (this.#current !== undefined) out = max(out, this.#current);
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const c of [...this.children, ...this.not]) await c.close();
  }
}

/**
 * The postings of a term range `[lo, hi)` (posting-key bounds) of an index with `arity`
 * terms per posting: a merge of its terms, or read-and-sort past `MAX_MERGED_TERMS` terms.
 */
export async function openRange(src: Source, range: BindingRange, arity: number, start: Buffer): Promise<PkStream> {
  const terms: Buffer[] = [];
  const probe = src.db._keyCursor(range, src.snapshot);
  try {
    let seek: Buffer | undefined;
    for (;;) {
      // Discovery is planning: at most MAX_MERGED_TERMS + 1 seeks, not stopped by the budget.
      const got = probe.readSync(1, seek) ?? (await probe.read(1));
      src.budget.seeks++;
      const key = got[0];
      if (key === undefined) break;
      src.budget.postingsScanned++;
      if (terms.length === MAX_MERGED_TERMS) return await readAndSort(src, range, arity, start);
      const termPrefix = Buffer.from(key.subarray(0, 5 + postingTerm(key, arity).length));
      terms.push(termPrefix);
      seek = successor(termPrefix);
      if (seek === undefined) break;
    }
  } finally {
    probe.close();
  }
  return new UnionStream(
    terms.map((p) => {
      const hi = successor(p);
      const r: BindingRange = hi === undefined ? { system: true, gte: p } : { system: true, gte: p, lt: hi };
      return new TermStream(src, r, p, start);
    }),
  );
}

async function readAndSort(src: Source, range: BindingRange, arity: number, start: Buffer): Promise<PkStream> {
  const cursor = src.db._keyCursor(range, src.snapshot);
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  let scanned = 0;
  try {
    for (;;) {
      const batch = cursor.readSync(1000) ?? (await cursor.read(1000));
      if (batch.length === 0) break;
      scanned += batch.length;
      src.budget.postingsScanned += batch.length;
      for (const k of batch) {
        const pk = k.subarray(5 + postingTerm(k, arity).length);
        if (Buffer.compare(pk, start) < 0) continue;
        const id = pk.toString('latin1');
        if (seen.has(id)) continue;
        seen.add(id);
        keys.push(Buffer.from(pk));
      }
    }
  } finally {
    cursor.close();
  }
  keys.sort(Buffer.compare);
  return new ArrayStream(keys, scanned, start);
}

/**
 * Tells a stream that is read key by key to fill a page (a term, or a merge of terms) that
 * about `n` keys will be taken: its first read asks for that many at once (not 32, then 128).
 */
export function readFirst(s: PkStream, n: number): void {
  if (s instanceof TermStream) s.readFirst(n);
  else if (s instanceof UnionStream) {
    // Each of k terms supplies about n / k of a merge's first keys (a quarter more for skew).
    const each = Math.ceil((n / s.children.length) * 1.25);
    for (const c of s.children) if (c instanceof TermStream) c.readFirst(each);
  }
}

/** The exact terms a stream is made of (one, or a merge of terms), else `undefined`. */
export function termsOf(s: PkStream): TermStream[] | undefined {
  if (s instanceof TermStream) return [s];
  if (s instanceof UnionStream && s.children.length > 0 && s.children.every((c) => c instanceof TermStream)) return s.children as TermStream[];
  return undefined;
}

/**
 * Byte order of two keys, in JavaScript: for the short keys of postings a loop over the
 * bytes costs less than a native `Buffer.compare` call.
 */
export function compareKeys(a: Buffer, b: Buffer): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The sorted, distinct union of sorted lists (merged pairwise). */
export function mergeSorted(lists: Buffer[][]): Buffer[] {
  let ls = lists.filter((l) => l.length > 0);
  if (ls.length === 0) return [];
  while (ls.length > 1) {
    const next: Buffer[][] = [];
    for (let i = 0; i + 1 < ls.length; i += 2) next.push(merge2(ls[i] as Buffer[], ls[i + 1] as Buffer[]));
    if (ls.length % 2 === 1) next.push(ls[ls.length - 1] as Buffer[]);
    ls = next;
  }
  return ls[0] as Buffer[];
}

function merge2(a: Buffer[], b: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Buffer;
    const y = b[j] as Buffer;
    const c = compareKeys(x, y);
    if (c <= 0) {
      out.push(x);
      i++;
      if (c === 0) j++;
    } else {
      out.push(y);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++] as Buffer);
  while (j < b.length) out.push(b[j++] as Buffer);
  return out;
}

/** The keys of sorted `a` that are (`keep`) or are not (`!keep`) in sorted `b`. */
function filterSorted(a: Buffer[], b: Buffer[], keep: boolean): Buffer[] {
  const out: Buffer[] = [];
  let j = 0;
  for (const x of a) {
    let c = 1;
    while (j < b.length && (c = compareKeys(b[j] as Buffer, x)) < 0) j++;
    if (j >= b.length) c = 1;
    if ((c === 0) === keep) out.push(x);
  }
  return out;
}

/** One side of a `WindowStream`: the terms it is the union of, and its estimated postings. */
export interface WindowSide {
  terms: TermStream[];
  estimate: number;
}

/**
 * An intersection read window by window in primary-key order: the driver (the most
 * selective side) gives about `chunk` keys, which fix the window's upper end; every other
 * side reads its postings up to that end (sequential reads, no seek per candidate), and the
 * window's matches are the driver's keys found in every `must` side and in no `mustNot`
 * side, merged and compared in memory. A side of many terms (a range) costs one pass over
 * its postings in the window, not a merge step per candidate and term.
 *
 * Keys read past a window's end are kept for the next window (`#carry`). The bound (`lb`)
 * moves only when a window is complete: a stop (timeout, budget) inside a window resumes at
 * its start.
 */
export class WindowStream implements PkStream {
  readonly #src: Source;
  readonly #driver: TermStream[];
  readonly #driverEstimate: number;
  readonly #sides: { terms: TermStream[]; estimate: number; negated: boolean }[];
  /** Per term (driver terms first, then every side's): keys read and not yet windowed. */
  readonly #carry = new Map<TermStream, Buffer[]>();
  readonly #ended = new Set<TermStream>();
  #queue: Buffer[] = [];
  #qpos = 0;
  /** Every match below this has been queued. */
  #lo: Buffer;
  #done = false;
  #chunk = 128;
  #tried = 0;
  #passed = 0;
  #pending: Promise<Buffer | undefined> | undefined;
  /** A seek asked while a window was being read: applied once it is done. */
  #seekAfter: Buffer | undefined;
  #closed = false;

  constructor(src: Source, driver: WindowSide, must: WindowSide[], mustNot: WindowSide[], start: Buffer) {
    this.#src = src;
    // A page of `want` keys takes at least that many driver keys: start there (four times it,
    // as an intersection passes some of them), not with a window that is certain to be short.
    this.#chunk = Math.max(128, Math.min(2048, 4 * (src.want ?? 0)));
    this.#driver = driver.terms;
    this.#driverEstimate = Math.max(1, driver.estimate);
    this.#sides = [...must.map((s) => ({ ...s, negated: false })), ...mustNot.map((s) => ({ ...s, negated: true }))];
    this.#lo = start;
    for (const t of this.#all()) this.#carry.set(t, []);
  }

  #all(): TermStream[] {
    return [...this.#driver, ...this.#sides.flatMap((s) => s.terms)];
  }

  get scanned(): number {
    let n = 0;
    for (const t of this.#all()) n += t.scanned;
    return n;
  }

  head(): Head {
    if (this.#pending !== undefined) return this.#pending;
    if (this.#seekAfter !== undefined) {
      const target = this.#seekAfter;
      this.#seekAfter = undefined;
      this.seekTo(target);
    }
    if (this.#qpos < this.#queue.length) return this.#queue[this.#qpos];
    if (this.#done) return undefined;
    return settleOnce(this.#refill(), (p) => (this.#pending = p), () => this.head());
  }

  /** Passes and returns up to `n` keys (`[]` at the end). */
  take(n: number): Buffer[] | Promise<Buffer[]> {
    if (this.#qpos >= this.#queue.length) {
      const h = this.head();
      if (h instanceof Promise) return h.then(() => this.take(n));
      if (h === undefined) return [];
    }
    const end = Math.min(this.#queue.length, this.#qpos + n);
    const out = this.#queue.slice(this.#qpos, end);
    this.#qpos = end;
    return out;
  }

  /** Windows until one has a match (or the driver ends). */
  async #refill(): Promise<undefined> {
    // Stops once the query closed the streams (a refill left in flight, as `AndStream`'s).
    while (!this.#done && !this.#closed && this.#qpos >= this.#queue.length) await this.#window();
    return undefined;
  }

  /**
   * Reads from `t` into its carry until a key `> hi` is there, or (`hi` undefined) to its
   * end, or (`count`) until it holds `want` keys; `want` sizes a read.
   */
  async #readTo(t: TermStream, hi: Buffer | undefined, want: number, count = false): Promise<void> {
    const carry = this.#carry.get(t) as Buffer[];
    while (!this.#ended.has(t)) {
      if (count ? carry.length >= want : hi !== undefined && carry.length > 0 && compareKeys(carry[carry.length - 1] as Buffer, hi) > 0) return;
      let got = t.take(Math.max(16, Math.ceil(want)));
      if (got instanceof Promise) got = await got;
      if (got.length === 0) this.#ended.add(t);
      for (const k of got) carry.push(k);
    }
  }

  /** Removes and returns the keys `<= hi` of `t`'s carry (all with `hi` undefined). */
  #cut(t: TermStream, hi: Buffer | undefined): Buffer[] {
    const carry = this.#carry.get(t) as Buffer[];
    if (hi === undefined) {
      this.#carry.set(t, []);
      return carry;
    }
    let lo = 0;
    let up = carry.length;
    while (lo < up) {
      const mid = (lo + up) >>> 1;
      if (compareKeys(carry[mid] as Buffer, hi) <= 0) lo = mid + 1;
      else up = mid;
    }
    this.#carry.set(t, carry.slice(lo));
    return lo === carry.length ? carry : carry.slice(0, lo);
  }

  async #window(): Promise<void> {
    // The driver's terms each read their share of the chunk; the window ends at the
    // smallest last key among the terms that have more (all of them ended: no end).
    // Within a posting budget, a window takes no more driver keys than the budget has left
    // (a stop can only come between windows' reads once the first window is done).
    const b = this.#src.budget;
    const chunk = b.maxPostings === undefined ? this.#chunk : Math.max(16, Math.min(this.#chunk, b.maxPostings - b.postingsScanned));
    const share = chunk / this.#driver.length;
    let hi: Buffer | undefined;
    for (const t of this.#driver) {
      const carry = this.#carry.get(t) as Buffer[];
      if (carry.length < share) await this.#readTo(t, undefined, share, true);
      if (this.#ended.has(t) && carry.length <= share) continue;
      const k = carry[Math.min(carry.length, Math.ceil(share)) - 1] as Buffer;
      if (hi === undefined || compareKeys(k, hi) < 0) hi = k;
    }
    if (hi === undefined) {
      // Every term of the driver ended: this is the last window, up to its largest key.
      this.#done = true;
      for (const t of this.#driver) {
        const carry = this.#carry.get(t) as Buffer[];
        const k = carry[carry.length - 1];
        if (k !== undefined && (hi === undefined || compareKeys(k, hi) > 0)) hi = k;
      }
      if (hi === undefined) return;
    }
    const driverKeys = this.#driver.map((t) => this.#cut(t, hi));
    let cands = driverKeys.length === 1 ? (driverKeys[0] as Buffer[]) : mergeSorted(driverKeys);
    // Every other side: its postings up to the window's end, read in batches sized from
    // the side's share of the postings per driver key.
    const perDriverKey = cands.length / this.#driverEstimate;
    for (const side of this.#sides) {
      if (cands.length === 0) break;
      const each = (side.estimate / side.terms.length) * perDriverKey * 1.25 + 8;
      const lists: Buffer[][] = [];
      for (const t of side.terms) {
        await this.#readTo(t, hi, each);
        lists.push(this.#cut(t, hi));
      }
      const keys = lists.length === 1 ? (lists[0] as Buffer[]) : mergeSorted(lists);
      cands = filterSorted(cands, keys, !side.negated);
    }
    this.#tried += driverKeys.reduce((n, l) => n + l.length, 0);
    this.#passed += cands.length;
    this.#chunk = this.#nextChunk();
    this.#queue = cands;
    this.#qpos = 0;
    this.#lo = max(this.#lo, after(hi));
  }

  /** As `ProbeStream`: enough driver keys for the matches still wanted at the rate seen so far. */
  #nextChunk(): number {
    const need = (this.#src.want ?? 0) - this.#passed;
    if (need <= 0 || this.#tried === 0) return Math.min(this.#chunk * 2, 2048);
    const rate = Math.max(this.#passed, 1) / this.#tried;
    return Math.max(32, Math.min(2048, Math.ceil((need / rate) * 1.2)));
  }

  seekTo(target: Buffer): void {
    if (this.#pending !== undefined) {
      if (this.#seekAfter === undefined || compareKeys(target, this.#seekAfter) > 0) this.#seekAfter = target;
      return;
    }
    if (compareKeys(target, this.lb()) <= 0) return;
    const q = this.#queue;
    while (this.#qpos < q.length && compareKeys(q[this.#qpos] as Buffer, target) < 0) this.#qpos++;
    if (this.#qpos < q.length) return;
    if (compareKeys(target, this.#lo) <= 0) return;
    this.#lo = target;
    for (const [t, carry] of this.#carry) {
      let i = 0;
      while (i < carry.length && compareKeys(carry[i] as Buffer, target) < 0) i++;
      if (i > 0) this.#carry.set(t, carry.slice(i));
      t.seekTo(target);
    }
  }

  lb(): Buffer {
    if (this.#qpos < this.#queue.length) return this.#queue[this.#qpos] as Buffer;
    return this.#lo;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#all()) await t.close();
  }
}

/**
 * An intersection that reads its candidates from `inner` (the most selective side, or a
 * leapfrog of the sides that cannot be probed) and checks the other sides by looking up
 * their postings `prefix · candidate` directly: a batch of candidates costs one native call
 * instead of a seek and a read of each side's postings between candidates. `must` sides
 * need one of their prefixes present, `mustNot` sides none.
 */
export class ProbeStream implements PkStream {
  readonly #src: Source;
  readonly #inner: PkStream;
  readonly #prefixes: Buffer[];
  /** Per prefix: the side it belongs to (>= 0: must side, < 0: -1 - mustNot side). */
  readonly #side: number[];
  readonly #mustSides: number;
  readonly #closeAlso: PkStream[];
  #queue: Buffer[] = [];
  #qpos = 0;
  #lb: Buffer = EMPTY;
  #done = false;
  #chunk = 128;
  #probed = 0;
  /** Candidates probed and passed so far (the pass rate sizes the next batch). */
  #tried = 0;
  #passed = 0;
  /** The refill in flight, if any. */
  #pending: Promise<Buffer | undefined> | undefined;

  constructor(
    src: Source,
    inner: PkStream,
    readonly must: Buffer[][],
    readonly mustNot: Buffer[][],
    closeAlso: PkStream[],
  ) {
    this.#src = src;
    this.#inner = inner;
    this.#prefixes = [...must.flat(), ...mustNot.flat()];
    this.#side = [...must.flatMap((ps, i) => ps.map(() => i)), ...mustNot.flatMap((ps, i) => ps.map(() => -1 - i))];
    this.#mustSides = must.length;
    this.#closeAlso = closeAlso;
  }

  get scanned(): number {
    return this.#inner.scanned + this.#probed;
  }

  /** The stream the candidates come from. */
  get inner(): PkStream {
    return this.#inner;
  }

  head(): Head {
    if (this.#qpos < this.#queue.length) return this.#queue[this.#qpos];
    if (this.#done) return undefined;
    // One refill at a time (a reader may drop a promise and ask again).
    if (this.#pending !== undefined) return this.#pending;
    return settleOnce(this.#refill(), (p) => (this.#pending = p), () => this.head());
  }

  #refill(): Head {
    for (;;) {
      this.#src.budget.check();
      const c = this.#candidates(this.#chunk);
      if (c instanceof Promise) return c.then((cs) => this.#orNext(this.#probe(cs)));
      const h = this.#probe(c);
      if (h instanceof Promise || h !== undefined || this.#done) return h;
    }
  }

  /** `h`, or the next batch's head when no candidate of the last batch passed. */
  #orNext(h: Head): Head {
    return h instanceof Promise || h !== undefined || this.#done ? h : this.#refill();
  }

  /** Probes `cands`; the head after (or `undefined` with `#done` unset when none passed). */
  #probe(cands: Buffer[]): Head {
    if (cands.length === 0) {
      this.#done = true;
      return undefined;
    }
    this.#tried += cands.length;
    const found = systemKeysExist(this.#src.db, this.#prefixes, cands, this.#src.snapshot);
    const n = cands.length * this.#prefixes.length;
    this.#probed += n;
    this.#src.budget.postingsScanned += n;
    if (found instanceof Promise) return found.then((f) => this.#keep(cands, f) ?? this.#refill());
    return this.#keep(cands, found);
  }

  #keep(cands: Buffer[], found: Uint8Array): Buffer | undefined {
    const m = this.#prefixes.length;
    const queue: Buffer[] = [];
    const hit = new Uint8Array(this.#mustSides);
    for (let i = 0; i < cands.length; i++) {
      hit.fill(0);
      let excluded = false;
      for (let j = 0; j < m; j++) {
        if (found[i * m + j] !== 1) continue;
        const side = this.#side[j] as number;
        if (side < 0) {
          excluded = true;
          break;
        }
        hit[side] = 1;
      }
      if (excluded || hit.includes(0)) continue;
      const c = cands[i] as Buffer;
      if (Buffer.compare(c, this.#lb) >= 0) queue.push(c);
    }
    this.#queue = queue;
    this.#qpos = 0;
    this.#passed += queue.length;
    this.#chunk = this.#nextChunk();
    return queue[0];
  }

  /**
   * The next batch size: enough candidates for the keys still wanted at the pass rate seen so
   * far (plus a fifth), between 16 and 1024; doubling when nothing is known of the reader's need.
   */
  #nextChunk(): number {
    const need = (this.#src.want ?? 0) - this.#passed;
    if (need <= 0) return Math.min(this.#chunk * 2, 1024);
    const rate = Math.max(this.#passed, 1) / this.#tried;
    return Math.max(16, Math.min(1024, Math.ceil((need / rate) * 1.2)));
  }

  /** Up to `n` candidates from `inner` (fewer when the next needs a read). */
  #candidates(n: number): Buffer[] | Promise<Buffer[]> {
    const inner = this.#inner;
    if (inner instanceof TermStream || inner instanceof WindowStream) return inner.take(n);
    const out: Buffer[] = [];
    const loop = (): Buffer[] | Promise<Buffer[]> => {
      while (out.length < n) {
        const h = inner.head();
        if (h instanceof Promise) return out.length > 0 ? out : h.then(loop);
        if (h === undefined) return out;
        out.push(h);
        inner.seekTo(after(h));
      }
      return out;
    };
    return loop();
  }

  seekTo(target: Buffer): void {
    if (Buffer.compare(target, this.#lb) <= 0) return;
    this.#lb = target;
    const q = this.#queue;
    while (this.#qpos < q.length && Buffer.compare(q[this.#qpos] as Buffer, target) < 0) this.#qpos++;
    if (this.#qpos >= q.length) this.#inner.seekTo(target);
  }

  lb(): Buffer {
    if (this.#qpos < this.#queue.length) return this.#queue[this.#qpos] as Buffer;
    return max(this.#lb, this.#inner.lb());
  }

  async close(): Promise<void> {
    await this.#inner.close();
    for (const c of this.#closeAlso) await c.close();
  }
}
