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
import type { EntryIterator } from '../iterator';
import type { Snapshot } from '../snapshot';
import { successor } from '../codec';
import { postingTerm } from '../indexes/layout';

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
}

/** A stream of ascending, distinct primary keys. */
export interface PkStream {
  /** The current key (the first not yet passed), or `undefined` at the end. */
  head(): Promise<Buffer | undefined>;
  /** Passes the current key. */
  advance(): Promise<void>;
  /** Moves to the first key `>= target` (never backwards). */
  seekTo(target: Buffer): Promise<void>;
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
  #it: EntryIterator<Buffer, Buffer> | undefined;
  #range: BindingRange;
  #buf: Buffer[] = [];
  #pos = 0;
  #ended = false;
  #want = 16;
  #lb: Buffer;
  scanned = 0;

  constructor(src: Source, range: BindingRange, prefix: Buffer, start: Buffer = EMPTY) {
    this.#src = src;
    this.#range = range;
    this.#prefix = prefix;
    this.#lb = start;
    if (start.length > 0) this.#seekNative(start);
  }

  #iter(): EntryIterator<Buffer, Buffer> {
    this.#it ??= this.#src.db._rawIterator(this.#range, this.#src.snapshot);
    return this.#it;
  }

  #seekNative(target: Buffer): void {
    this.#iter().seek(Buffer.concat([this.#prefix, target]));
    this.#src.budget.seeks++;
    this.#buf = [];
    this.#pos = 0;
    this.#ended = false;
    this.#want = 16;
  }

  async #fill(): Promise<void> {
    if (this.#pos < this.#buf.length || this.#ended) return;
    this.#src.budget.check();
    const batch = await this.#iter().nextv(this.#want);
    this.#want = Math.min(this.#want * 4, 1000);
    this.scanned += batch.length;
    this.#src.budget.postingsScanned += batch.length;
    const n = this.#prefix.length;
    this.#buf = batch.map(([k]) => k.subarray(n));
    this.#pos = 0;
    if (batch.length === 0) this.#ended = true;
    else this.#lb = max(this.#lb, this.#buf[0] as Buffer);
  }

  async head(): Promise<Buffer | undefined> {
    await this.#fill();
    return this.#buf[this.#pos];
  }

  async advance(): Promise<void> {
    await this.#fill();
    const h = this.#buf[this.#pos];
    if (h === undefined) return;
    this.#pos++;
    this.#lb = max(this.#lb, after(h));
    const next = this.#buf[this.#pos];
    if (next !== undefined) this.#lb = max(this.#lb, next);
  }

  async seekTo(target: Buffer): Promise<void> {
    if (Buffer.compare(target, this.#lb) <= 0) return;
    this.#lb = target;
    const buf = this.#buf;
    const last = buf[buf.length - 1];
    if (this.#pos < buf.length && last !== undefined && Buffer.compare(last, target) >= 0) {
      // Inside the batch in memory: binary search.
      let lo = this.#pos;
      let hi = buf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (Buffer.compare(buf[mid] as Buffer, target) < 0) lo = mid + 1;
        else hi = mid;
      }
      this.#pos = lo;
      return;
    }
    if (this.#ended && this.#pos >= buf.length) return;
    this.#seekNative(target);
  }

  lb(): Buffer {
    return this.#lb;
  }

  async close(): Promise<void> {
    await this.#it?.close();
  }
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
  async head(): Promise<Buffer | undefined> {
    return this.keys[this.#pos];
  }
  async advance(): Promise<void> {
    const h = this.keys[this.#pos];
    if (h === undefined) return;
    this.#pos++;
    this.#lb = max(this.#lb, after(h));
  }
  async seekTo(target: Buffer): Promise<void> {
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

  async head(): Promise<Buffer | undefined> {
    let best: Buffer | undefined;
    for (const c of this.children) {
      const h = await c.head();
      if (h !== undefined && (best === undefined || Buffer.compare(h, best) < 0)) best = h;
    }
    return best;
  }

  async advance(): Promise<void> {
    const h = await this.head();
    if (h === undefined) return;
    const next = after(h);
    for (const c of this.children) await c.seekTo(next);
  }

  async seekTo(target: Buffer): Promise<void> {
    for (const c of this.children) await c.seekTo(target);
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

  constructor(
    readonly children: PkStream[],
    readonly not: PkStream[],
  ) {}

  get scanned(): number {
    return [...this.children, ...this.not].reduce((n, c) => n + c.scanned, 0);
  }

  async head(): Promise<Buffer | undefined> {
    if (this.#current !== undefined || this.#done) return this.#current;
    const [first, ...rest] = this.children as [PkStream, ...PkStream[]];
    for (;;) {
      const c = await first.head();
      if (c === undefined) {
        this.#done = true;
        return undefined;
      }
      let agreed = true;
      for (const s of rest) {
        await s.seekTo(c);
        const h = await s.head();
        if (h === undefined) {
          this.#done = true;
          return undefined;
        }
        if (!h.equals(c)) {
          await first.seekTo(h);
          agreed = false;
          break;
        }
      }
      if (!agreed) continue;
      let excluded = false;
      for (const n of this.not) {
        await n.seekTo(c);
        const h = await n.head();
        if (h !== undefined && h.equals(c)) {
          excluded = true;
          break;
        }
      }
      if (excluded) {
        await first.advance();
        continue;
      }
      this.#current = c;
      return c;
    }
  }

  async advance(): Promise<void> {
    const h = await this.head();
    if (h === undefined) return;
    this.#current = undefined;
    await (this.children[0] as PkStream).seekTo(after(h));
  }

  async seekTo(target: Buffer): Promise<void> {
    if (this.#current !== undefined && Buffer.compare(this.#current, target) >= 0) return;
    this.#current = undefined;
    await (this.children[0] as PkStream).seekTo(target);
  }

  lb(): Buffer {
    let out: Buffer = EMPTY;
    for (const c of this.children) out = max(out, c.lb());
    if (this.#current !== undefined) out = max(out, this.#current);
    return out;
  }

  async close(): Promise<void> {
    for (const c of [...this.children, ...this.not]) await c.close();
  }
}

/**
 * The postings of a term range `[lo, hi)` (posting-key bounds) of an index with `arity`
 * terms per posting: a merge of its terms, or read-and-sort past `MAX_MERGED_TERMS` terms.
 */
export async function openRange(src: Source, range: BindingRange, arity: number, start: Buffer): Promise<PkStream> {
  const terms: Buffer[] = [];
  const probe = src.db._rawIterator(range, src.snapshot);
  let scanned = 0;
  try {
    for (;;) {
      // Discovery is planning: at most MAX_MERGED_TERMS + 1 seeks, not stopped by the budget.
      const next = await probe.next();
      src.budget.seeks++;
      if (next === undefined) break;
      scanned++;
      src.budget.postingsScanned++;
      const term = postingTerm(next[0], arity);
      const termPrefix = next[0].subarray(0, 5 + term.length);
      if (terms.length === MAX_MERGED_TERMS) {
        // Wide range: read it all, sort the keys.
        await probe.close();
        return await readAndSort(src, range, arity, start);
      }
      terms.push(Buffer.from(termPrefix));
      const skip = successor(termPrefix);
      if (skip === undefined) break;
      probe.seek(skip);
    }
  } finally {
    await probe.close();
  }
  const children = terms.map((p) => {
    const hi = successor(p);
    const r: BindingRange = hi === undefined ? { system: true, gte: p } : { system: true, gte: p, lt: hi };
    return new TermStream(src, r, p, start);
  });
  void scanned;
  return new UnionStream(children);
}

async function readAndSort(src: Source, range: BindingRange, arity: number, start: Buffer): Promise<PkStream> {
  const it = src.db._rawIterator(range, src.snapshot);
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  let scanned = 0;
  try {
    for (;;) {
      const batch = await it.nextv(1000);
      if (batch.length === 0) break;
      scanned += batch.length;
      src.budget.postingsScanned += batch.length;
      for (const [k] of batch) {
        let pos = 5;
        const term = postingTerm(k, arity);
        pos += term.length;
        const pk = k.subarray(pos);
        if (Buffer.compare(pk, start) < 0) continue;
        const s = pk.toString('latin1');
        if (seen.has(s)) continue;
        seen.add(s);
        keys.push(Buffer.from(pk));
      }
    }
  } finally {
    await it.close();
  }
  keys.sort(Buffer.compare);
  return new ArrayStream(keys, scanned, start);
}
