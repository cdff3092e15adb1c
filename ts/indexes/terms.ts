/**
 * Order-preserving, self-delimiting encoding of index terms (layout in `docs/format.md`,
 * "Index terms"). `Buffer.compare` on two encodings orders them as `compareTerms` orders the
 * terms: null < false < true < numbers (numerically) < strings (by UTF-8 bytes) < bytes
 * (bytewise). Every encoding is self-delimiting and no encoding is a prefix of another, so
 * encodings can be concatenated (compound terms) and followed by arbitrary bytes (the primary
 * key of a posting) without changing the order or losing the boundary.
 */
import { describe } from '../encodings';
import { invalidArgument } from '../errors';

/** A value that can be indexed. */
export type Term = null | boolean | number | string | Uint8Array;

/** Longest encoded term (single or compound), in bytes; longer ones are rejected. */
export const MAX_TERM_BYTES = 1024;

/**
 * Tag bytes, one per type, in type order. The gaps leave room for future types (dates,
 * for instance, could take 0x40); 0x00 and 0xFF are never tags, so `[0x00]` sorts before and
 * `[0xFF]` after every term.
 */
export const TermTag = {
  null: 0x10,
  false: 0x20,
  true: 0x21,
  number: 0x30,
  string: 0x50,
  bytes: 0x60,
} as const;

/** Escape of a 0x00 content byte: `0x00 0xFF`. */
const ESCAPE = 0xff;
/** Terminator of strings and bytes: `0x00 0x01`. */
const TERMINATOR = 0x01;

const NUMBER_BYTES = 9;

function tooLong(n: number, what: string): never {
  throw invalidArgument(`${what}: encoded term of ${n} bytes exceeds MAX_TERM_BYTES (${MAX_TERM_BYTES})`);
}

/** The index of the first lone surrogate in `s`, or -1. */
function loneSurrogate(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/** UTF-8 bytes of a string term; lone surrogates are rejected (they have no UTF-8 form). */
function utf8Of(s: string, what: string): Buffer {
  const bad = loneSurrogate(s);
  if (bad >= 0) throw invalidArgument(`${what}: string is not well-formed Unicode (lone surrogate at index ${bad})`);
  return Buffer.from(s, 'utf8');
}

/** `tag · content with 0x00 → 0x00 0xFF · 0x00 0x01`. */
function escaped(tag: number, content: Uint8Array, what: string): Buffer {
  let zeros = 0;
  for (let i = 0; i < content.length; i++) if (content[i] === 0) zeros++;
  const n = 1 + content.length + zeros + 2;
  if (n > MAX_TERM_BYTES) tooLong(n, what);
  const out = Buffer.allocUnsafe(n);
  out[0] = tag;
  let pos = 1;
  if (zeros === 0) {
    out.set(content, 1);
    pos += content.length;
  } else {
    for (let i = 0; i < content.length; i++) {
      const b = content[i] as number;
      out[pos++] = b;
      if (b === 0) out[pos++] = ESCAPE;
    }
  }
  out[pos++] = 0;
  out[pos] = TERMINATOR;
  return out;
}

/** The escaped content without tag or terminator (for prefix ranges). */
function escapedPrefix(tag: number, content: Uint8Array): Buffer {
  const parts: number[] = [tag];
  for (let i = 0; i < content.length; i++) {
    const b = content[i] as number;
    parts.push(b);
    if (b === 0) parts.push(ESCAPE);
  }
  return Buffer.from(parts);
}

function checkNumber(n: number, what: string): number {
  if (!Number.isFinite(n)) throw invalidArgument(`${what}: ${String(n)} cannot be indexed (numbers must be finite)`);
  return n === 0 ? 0 : n; // -0 → 0
}

function encodeNumber(n: number): Buffer {
  const out = Buffer.allocUnsafe(NUMBER_BYTES);
  out[0] = TermTag.number;
  out.writeDoubleBE(n, 1);
  if ((out[1] as number) & 0x80) {
    for (let i = 1; i < NUMBER_BYTES; i++) out[i] = ~(out[i] as number) & 0xff;
  } else {
    out[1] = (out[1] as number) | 0x80;
  }
  return out;
}

/**
 * `escaped(TermTag.string, utf8Of(s))` without the intermediate UTF-8 copy when `s` is ASCII
 * without NUL (the bytes are the characters, nothing to escape or check); any other string
 * takes the general path.
 */
function encodeString(s: string, what: string): Buffer {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return escaped(TermTag.string, utf8Of(s, what), what);
  }
  if (n + 3 > MAX_TERM_BYTES) tooLong(n + 3, what);
  const out = Buffer.allocUnsafe(n + 3);
  out[0] = TermTag.string;
  out.write(s, 1, n, 'latin1');
  out[n + 1] = 0;
  out[n + 2] = TERMINATOR;
  return out;
}

const NULL_TERM = Buffer.from([TermTag.null]);
const FALSE_TERM = Buffer.from([TermTag.false]);
const TRUE_TERM = Buffer.from([TermTag.true]);

/** Most entries of each shared-encoding cache; a full cache is emptied. */
const SHARED_MAX = 8192;
/** Longest string whose encoding is shared (longer ones are encoded afresh). */
const SHARED_STRING_CHARS = 64;
const SLAB_BYTES = 64 * 1024;

/** A shared encoding, and the distinct run (`startDistinct`) that last handed it out. */
interface Shared {
  buf: Buffer;
  run: number;
}

const sharedStrings = new Map<string, Shared>();
const sharedNumbers = new Map<number, Shared>();
/**
 * The cached encodings live in slabs of their own: a cached slice of Node's shared buffer
 * pool would keep that pool's 8 KiB (and whatever else lives in it) alive.
 */
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

function keep(b: Buffer): Buffer {
  if (slabUsed + b.length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + b.length);
  b.copy(out);
  slabUsed += b.length;
  return out;
}

function cached<K>(cache: Map<K, Shared>, k: K, b: Buffer): Shared {
  // Never emptied during a distinct run: the run's marks live in the entries.
  if (cache.size >= SHARED_MAX && run === 0) cache.clear();
  const e = { buf: keep(b), run: 0 };
  cache.set(k, e);
  return e;
}

/**
 * `encodeTerm(t)`, possibly as a Buffer shared with other calls: null, booleans, numbers and
 * strings of up to 64 characters come from bounded caches (index values repeat: cities,
 * ages, tags, words), so that indexing a record allocates nothing for its frequent terms.
 * The caller must not modify the Buffer. Throws as `encodeTerm` does.
 */
export function encodeTermShared(t: Term, what = 'term'): Buffer {
  switch (typeof t) {
    case 'string': {
      if (t.length > SHARED_STRING_CHARS) return encodeString(t, what);
      const e = sharedStrings.get(t);
      return (e !== undefined ? e : cached(sharedStrings, t, encodeString(t, what))).buf;
    }
    case 'number': {
      const n = checkNumber(t, what);
      const e = sharedNumbers.get(n);
      return (e !== undefined ? e : cached(sharedNumbers, n, encodeNumber(n))).buf;
    }
    case 'boolean':
      return t ? TRUE_TERM : FALSE_TERM;
    default:
      return t === null ? NULL_TERM : encodeTerm(t, what);
  }
}

/** The current distinct run (0: none), its output, and its strings that have no cache entry. */
let run = 0;
let runCount = 0;
let runOut: Buffer[] = [];
let uncached: Set<string> | undefined;

/**
 * Starts a distinct run into `out`: until `endDistinct()`, `pushDistinct(s)` appends
 * `encodeTermShared(s)` to `out` unless an equal string was pushed before in the run — the
 * strings of one record deduplicated with one cache lookup each, without a set or a sort.
 */
export function startDistinct(out: Buffer[]): void {
  if (run !== 0) throw new Error('startDistinct: a distinct run is already open');
  if (sharedStrings.size >= SHARED_MAX) sharedStrings.clear();
  run = ++runCount;
  runOut = out;
  uncached = undefined;
}

/** Ends the distinct run (also after an error). */
export function endDistinct(): void {
  run = 0;
  runOut = [];
  uncached = undefined;
}

/** See `startDistinct`. Throws as `encodeTermShared` does. */
export function pushDistinct(s: string): void {
  if (run === 0) throw new Error('pushDistinct: no distinct run is open');
  let e = sharedStrings.get(s);
  if (e === undefined) {
    if (s.length > SHARED_STRING_CHARS || sharedStrings.size >= SHARED_MAX) {
      uncached ??= new Set();
      if (uncached.has(s)) return;
      const b = encodeString(s, 'term');
      uncached.add(s);
      runOut.push(b);
      return;
    }
    e = cached(sharedStrings, s, encodeString(s, 'term'));
  }
  if (e.run === run) return;
  e.run = run;
  runOut.push(e.buf);
}

/** Encodes one term. Throws `STRATA_INVALID_ARGUMENT` for NaN, ±Infinity, other types, over-long terms. */
export function encodeTerm(t: Term, what = 'term'): Buffer {
  if (t === null) return Buffer.from([TermTag.null]);
  switch (typeof t) {
    case 'boolean':
      return Buffer.from([t ? TermTag.true : TermTag.false]);
    case 'number':
      return encodeNumber(checkNumber(t, what));
    case 'string':
      return encodeString(t, what);
    default:
      if (t instanceof Uint8Array) return escaped(TermTag.bytes, t, what);
      throw invalidArgument(
        `${what}: ${describe(t)} cannot be indexed (expected null, a boolean, a finite number, a string or a Uint8Array)`,
      );
  }
}

/**
 * Encodes a compound term: the concatenation of the terms' encodings, which orders
 * lexicographically over the tuple. `[]` gives the empty buffer (the prefix of every tuple).
 */
export function encodeTerms(ts: readonly Term[], what = 'terms'): Buffer {
  if (!Array.isArray(ts)) throw invalidArgument(`${what} must be an array of terms, got ${describe(ts)}`);
  const parts = ts.map((t, i) => encodeTerm(t, `${what}[${i}]`));
  const out = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  if (out.length > MAX_TERM_BYTES) tooLong(out.length, what);
  return out;
}

function malformed(offset: number, why: string): never {
  throw invalidArgument(`malformed term at offset ${offset}: ${why}`);
}

function checkOffset(buf: Uint8Array, offset: number): void {
  if (!(buf instanceof Uint8Array)) throw invalidArgument(`term buffer must be a Uint8Array, got ${describe(buf)}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`term offset must be a non-negative integer, got ${String(offset)}`);
  if (offset >= buf.length) malformed(offset, `no bytes left (buffer of ${buf.length} bytes)`);
}

/**
 * End of the escaped content that starts at `start` (the offset after the tag): returns the
 * offset just past the terminator, and the number of escaped zeros.
 */
function scanEscaped(buf: Uint8Array, offset: number, start: number): { end: number; zeros: number } {
  let zeros = 0;
  for (let i = start; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    if (i + 1 >= buf.length) break;
    const next = buf[i + 1];
    if (next === TERMINATOR) return { end: i + 2, zeros };
    if (next !== ESCAPE) malformed(offset, `0x00 followed by 0x${(next as number).toString(16).padStart(2, '0')} at ${i + 1} (expected 0x01 or 0xff)`);
    zeros++;
    i++;
  }
  return malformed(offset, 'missing terminator 0x00 0x01');
}

/** End offset of the term starting at `offset`, without decoding its value. */
export function termEnd(buf: Uint8Array, offset: number): number {
  checkOffset(buf, offset);
  const tag = buf[offset];
  switch (tag) {
    case TermTag.null:
    case TermTag.false:
    case TermTag.true:
      return offset + 1;
    case TermTag.number:
      if (offset + NUMBER_BYTES > buf.length) malformed(offset, 'truncated number');
      return offset + NUMBER_BYTES;
    case TermTag.string:
    case TermTag.bytes:
      return scanEscaped(buf, offset, offset + 1).end;
    default:
      return malformed(offset, `unknown tag 0x${(tag as number).toString(16).padStart(2, '0')}`);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the term starting at `offset`; `end` is the offset just past it. Accepts exactly
 * the encodings `encodeTerm` produces (so `encodeTerm(term)` equals the decoded bytes) and
 * throws `STRATA_INVALID_ARGUMENT` for anything else. Bytes terms decode to a fresh `Buffer`.
 */
export function decodeTerm(buf: Uint8Array, offset: number): { term: Term; end: number } {
  checkOffset(buf, offset);
  const tag = buf[offset];
  switch (tag) {
    case TermTag.null:
      return { term: null, end: offset + 1 };
    case TermTag.false:
      return { term: false, end: offset + 1 };
    case TermTag.true:
      return { term: true, end: offset + 1 };
    case TermTag.number: {
      if (offset + NUMBER_BYTES > buf.length) malformed(offset, 'truncated number');
      const b = Buffer.from(buf.subarray(offset + 1, offset + NUMBER_BYTES));
      if ((b[0] as number) & 0x80) b[0] = (b[0] as number) & 0x7f;
      else for (let i = 0; i < 8; i++) b[i] = ~(b[i] as number) & 0xff;
      const n = b.readDoubleBE(0);
      if (!Number.isFinite(n)) malformed(offset, `number is ${String(n)}`);
      if (Object.is(n, -0)) malformed(offset, 'number is -0 (encoded as 0)');
      return { term: n, end: offset + NUMBER_BYTES };
    }
    case TermTag.string:
    case TermTag.bytes: {
      const { end, zeros } = scanEscaped(buf, offset, offset + 1);
      const contentEnd = end - 2;
      let content: Buffer;
      if (zeros === 0) {
        content = Buffer.from(buf.subarray(offset + 1, contentEnd));
      } else {
        content = Buffer.allocUnsafe(contentEnd - offset - 1 - zeros);
        let pos = 0;
        for (let i = offset + 1; i < contentEnd; i++) {
          const c = buf[i] as number;
          content[pos++] = c;
          if (c === 0) i++; // skip the 0xFF escape
        }
      }
      if (tag === TermTag.bytes) return { term: content, end };
      let s: string;
      try {
        s = strictUtf8.decode(content);
      } catch (e) {
        throw invalidArgument(`malformed term at offset ${offset}: string is not valid UTF-8`, e);
      }
      return { term: s, end };
    }
    default:
      return malformed(offset, `unknown tag 0x${(tag as number).toString(16).padStart(2, '0')}`);
  }
}

function rank(t: Term, what: string): number {
  if (t === null) return 0;
  switch (typeof t) {
    case 'boolean':
      return t ? 2 : 1;
    case 'number':
      checkNumber(t, what);
      return 3;
    case 'string':
      if (loneSurrogate(t) >= 0) utf8Of(t, what); // throws
      return 4;
    default:
      if (t instanceof Uint8Array) return 5;
      throw invalidArgument(`${what}: ${describe(t)} is not a term`);
  }
}

/**
 * Compares two terms in the order of their encodings (`Buffer.compare`): -1, 0 or 1.
 * Throws `STRATA_INVALID_ARGUMENT` for values `encodeTerm` rejects (except the length limit).
 */
export function compareTerms(a: Term, b: Term): number {
  const ra = rank(a, 'a');
  const rb = rank(b, 'b');
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 3: {
      const x = a as number;
      const y = b as number;
      return x < y ? -1 : x > y ? 1 : 0; // -0 === 0
    }
    case 4:
      return a === b ? 0 : Buffer.compare(Buffer.from(a as string, 'utf8'), Buffer.from(b as string, 'utf8'));
    case 5:
      return Buffer.compare(a as Uint8Array, b as Uint8Array);
    default:
      return 0;
  }
}

/**
 * The byte range `[gte, lt)` holding exactly the encodings of the string terms that start
 * with `prefix` (and, since terms are self-delimiting, any bytes that follow them). `gte` is
 * the tag and the escaped prefix without terminator; `lt` is its prefix successor. Both can
 * be appended to a common key prefix (index id, leading compound terms).
 */
export function stringPrefixRange(prefix: string): { gte: Buffer; lt: Buffer } {
  if (typeof prefix !== 'string') throw invalidArgument(`prefix must be a string, got ${describe(prefix)}`);
  const gte = escapedPrefix(TermTag.string, utf8Of(prefix, 'prefix'));
  if (gte.length + 2 > MAX_TERM_BYTES) tooLong(gte.length + 2, 'prefix');
  // The tag is < 0xFF, so a successor always exists.
  let i = gte.length - 1;
  while ((gte[i] as number) === 0xff) i--;
  const lt = Buffer.from(gte.subarray(0, i + 1));
  lt[i] = (lt[i] as number) + 1;
  return { gte, lt };
}
