/**
 * The order-preserving term encoding (`ts/indexes/terms.ts`): byte layout, order, round
 * trips, self-delimitation, prefix ranges and a fuzz loop. Seeded; set STRATA_TEST_SEED to
 * replay a failure.
 */
import test from 'ava';

import { StrataError } from '../ts/errors';
import {
  MAX_TERM_BYTES,
  Term,
  compareTerms,
  decodeTerm,
  encodeTerm,
  encodeTermShared,
  encodeTerms,
  endDistinct,
  pushDistinct,
  startDistinct,
  stringPrefixRange,
  termEnd,
} from '../ts/indexes/terms';
import { mulberry32 } from './helpers';

const SEED = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
console.log(`index-terms.spec: seed ${SEED} (replay with STRATA_TEST_SEED=${SEED})`);

/** A PRNG per test, so that each test replays on its own. */
function rng(salt: number) {
  const r = mulberry32((SEED ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  return { r, int, pick };
}

type Rng = ReturnType<typeof rng>;

const SPECIAL_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.EPSILON,
  2 ** 53 + 2,
  1e-300,
  -1e300,
  2.2250738585072014e-308, // smallest normal
  2.225073858507201e-308, // largest subnormal
];

// Characters where the UTF-16 order and the UTF-8 order disagree (U+E000.. vs surrogate pairs)
// and the bytes the escaping cares about.
const CHARS = ['\u0000', '\u0001', '\u0002', 'a', 'b', '\u007f', '\u00ff', '\u0100', 'é', '\ue000', '\uffff', '😀', '\u{10ffff}', ' '];

function randomNumber(g: Rng): number {
  switch (g.int(4)) {
    case 0:
      return g.pick(SPECIAL_NUMBERS);
    case 1:
      return g.int(21) - 10;
    case 2:
      return (g.r() - 0.5) * 10 ** (g.int(40) - 20);
    default: {
      // Random bit patterns: every exponent, subnormals included.
      const b = Buffer.alloc(8);
      for (let i = 0; i < 8; i++) b[i] = g.int(256);
      const n = b.readDoubleBE(0);
      return Number.isFinite(n) ? n : 0;
    }
  }
}

function randomString(g: Rng, max = 6): string {
  let s = '';
  const n = g.int(max + 1);
  for (let i = 0; i < n; i++) s += g.pick(CHARS);
  return s;
}

function randomBytes(g: Rng, max = 6): Buffer {
  const n = g.int(max + 1);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = g.int(3) === 0 ? g.pick([0x00, 0x01, 0xff, 0xfe]) : g.int(256);
  return b;
}

function randomTerm(g: Rng): Term {
  switch (g.int(7)) {
    case 0:
      return null;
    case 1:
      return g.int(2) === 0;
    case 2:
    case 3:
      return randomNumber(g);
    case 4:
    case 5:
      return randomString(g);
    default:
      return randomBytes(g);
  }
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** The natural order, written independently of terms.ts. */
function naturalCompare(a: Term, b: Term): number {
  const rank = (t: Term): number =>
    t === null ? 0 : t === false ? 1 : t === true ? 2 : typeof t === 'number' ? 3 : typeof t === 'string' ? 4 : 5;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return sign(ra - rb);
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') {
    // UTF-8 byte order is code point order.
    const x = [...a].map((c) => c.codePointAt(0) as number);
    const y = [...b].map((c) => c.codePointAt(0) as number);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return sign((x[i] as number) - (y[i] as number));
    return sign(x.length - y.length);
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return sign((a[i] as number) - (b[i] as number));
    return sign(a.length - b.length);
  }
  return 0;
}

function naturalCompareTuples(a: Term[], b: Term[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = naturalCompare(a[i] as Term, b[i] as Term);
    if (c !== 0) return c;
  }
  return sign(a.length - b.length);
}

/** A term as decodeTerm gives it back (-0 → 0, bytes as a Buffer). */
function canonical(t: Term): Term {
  if (typeof t === 'number') return t === 0 ? 0 : t;
  if (t instanceof Uint8Array) return Buffer.from(t);
  return t;
}

function show(t: Term): string {
  if (t instanceof Uint8Array) return `bytes(${Buffer.from(t).toString('hex')})`;
  if (typeof t === 'number') return Object.is(t, -0) ? '-0' : String(t);
  return JSON.stringify(t);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// ---- layout ------------------------------------------------------------------------------

test('byte layout of each type', (t) => {
  t.is(hex(encodeTerm(null)), '10');
  t.is(hex(encodeTerm(false)), '20');
  t.is(hex(encodeTerm(true)), '21');
  t.is(hex(encodeTerm(0)), '308000000000000000');
  t.is(hex(encodeTerm(1)), '30bff0000000000000');
  t.is(hex(encodeTerm(-1)), '30400fffffffffffff');
  t.is(hex(encodeTerm('')), '500001');
  t.is(hex(encodeTerm('a\u0000b')), '506100ff620001');
  t.is(hex(encodeTerm('é')), '50c3a90001');
  t.is(hex(encodeTerm(new Uint8Array([0, 1, 0xff]))), '6000ff01ff0001');
  t.is(hex(encodeTerm(Buffer.alloc(0))), '600001');
  t.is(hex(encodeTerms([1, 'a'])), '30bff0000000000000' + '50610001');
  t.is(hex(encodeTerms([])), '');
});

test('-0 encodes as 0 and decodes as 0', (t) => {
  t.deepEqual(encodeTerm(-0), encodeTerm(0));
  t.true(Object.is(decodeTerm(encodeTerm(-0), 0).term, 0));
  t.is(compareTerms(-0, 0), 0);
  // The bit pattern of -0 (never written) is rejected rather than decoded.
  const minusZero = Buffer.from('307fffffffffffffff', 'hex');
  const err = t.throws(() => decodeTerm(minusZero, 0), { instanceOf: StrataError });
  t.is(err?.code, 'STRATA_INVALID_ARGUMENT');
});

test('type order: null < false < true < numbers < strings < bytes', (t) => {
  const ordered: Term[] = [null, false, true, -Number.MAX_VALUE, -1, 0, Number.MIN_VALUE, Number.MAX_VALUE, '', '\u0000', 'a', '\u{10ffff}', new Uint8Array(0), new Uint8Array([0]), new Uint8Array([0xff, 0xff])];
  for (let i = 0; i + 1 < ordered.length; i++) {
    const a = ordered[i] as Term;
    const b = ordered[i + 1] as Term;
    t.is(Buffer.compare(encodeTerm(a), encodeTerm(b)), -1, `${show(a)} < ${show(b)}`);
    t.is(compareTerms(a, b), -1, `${show(a)} < ${show(b)}`);
    t.is(compareTerms(b, a), 1);
  }
});

test('rejects values that are not terms', (t) => {
  const bad: unknown[] = [NaN, Infinity, -Infinity, undefined, {}, [], 1n, Symbol('s'), () => 1, new Date(0), '\ud800', 'a\udc00b', '\ud83d'];
  for (const v of bad) {
    const e1 = t.throws(() => encodeTerm(v as Term), { instanceOf: StrataError }, String(typeof v));
    t.is(e1?.code, 'STRATA_INVALID_ARGUMENT');
    const e2 = t.throws(() => compareTerms(v as Term, 1), { instanceOf: StrataError });
    t.is(e2?.code, 'STRATA_INVALID_ARGUMENT');
  }
  t.regex(t.throws(() => encodeTerm(NaN))?.message ?? '', /NaN.*finite/);
  t.regex(t.throws(() => encodeTerm('x\ud800'))?.message ?? '', /lone surrogate at index 1/);
  t.regex(t.throws(() => encodeTerms([1, {} as Term]))?.message ?? '', /terms\[1\]/);
  // A well-formed surrogate pair is fine.
  t.is(decodeTerm(encodeTerm('😀'), 0).term, '😀');
});

test('encodeTermShared gives the bytes of encodeTerm and fails as it does (cached, also past the cache size)', (t) => {
  const g = rng(17);
  const seen: Term[] = [];
  // More distinct numbers and strings than the caches hold, so that they are emptied and refilled.
  for (let i = 0; i < 30000; i++) {
    const x = i % 3 === 0 && seen.length > 0 ? g.pick(seen) : i % 5 === 0 ? `w${i}` : i % 7 === 0 ? i : randomTerm(g);
    seen.push(x);
    const want = encodeTerm(x);
    const got = encodeTermShared(x);
    if (!got.equals(want)) t.fail(`${show(x)}: ${hex(got)} instead of ${hex(want)}`);
  }
  t.is(encodeTermShared('city'), encodeTermShared('city'), 'a short string is encoded once');
  t.is(encodeTermShared(42), encodeTermShared(42));
  t.is(hex(encodeTermShared(-0)), hex(encodeTerm(0)));
  const long = 'x'.repeat(300);
  t.true(encodeTermShared(long).equals(encodeTerm(long)));
  for (const v of [NaN, Infinity, -Infinity, undefined, {}, [], 1n, '\ud800', 'a\udc00b', 'é'.repeat(600)]) {
    const want = t.throws(() => encodeTerm(v as Term), { instanceOf: StrataError });
    const got = t.throws(() => encodeTermShared(v as Term), { instanceOf: StrataError });
    t.is(got?.code, 'STRATA_INVALID_ARGUMENT');
    t.is(got?.message, want?.message);
  }
});

test('pushDistinct encodes each distinct string of a run once (long strings and a full cache too)', (t) => {
  const g = rng(23);
  const run = (strings: string[]): Buffer[] => {
    const out: Buffer[] = [];
    startDistinct(out);
    try {
      for (const x of strings) pushDistinct(x);
    } finally {
      endDistinct();
    }
    return out;
  };
  const want = (strings: string[]) => [...new Set(strings)].map((x) => hex(encodeTerm(x)));
  for (let k = 0; k < 300; k++) {
    const strings = Array.from({ length: g.int(40) }, () => (g.int(10) === 0 ? 'L'.repeat(60 + g.int(10)) : randomString(g, 3).replace(/[\ud800-\udfff]/g, '')));
    t.deepEqual(run(strings).map(hex), want(strings));
  }
  // One run with more distinct strings than the cache holds, then runs that refill it.
  const many = Array.from({ length: 20000 }, (_, i) => `s${i % 12000}`);
  t.deepEqual(run(many).map(hex), want(many));
  t.deepEqual(run(many.slice(5000)).map(hex), want(many.slice(5000)));
  // A string that cannot be encoded throws; the run still ends, and the next one works.
  const out: Buffer[] = [];
  startDistinct(out);
  t.throws(() => startDistinct([]), { message: /already open/ });
  pushDistinct('a');
  t.throws(() => pushDistinct('x\ud800'), { instanceOf: StrataError });
  endDistinct();
  t.deepEqual(out.map(hex), want(['a']));
  t.throws(() => pushDistinct('a'), { message: /no distinct run/ });
  t.deepEqual(run(['a', 'b', 'a']).map(hex), want(['a', 'b']));
});

test('MAX_TERM_BYTES is 1024 and counts the encoded bytes', (t) => {
  t.is(MAX_TERM_BYTES, 1024);
  t.is(encodeTerm('x'.repeat(1021)).length, 1024);
  const e = t.throws(() => encodeTerm('x'.repeat(1022)), { instanceOf: StrataError });
  t.is(e?.code, 'STRATA_INVALID_ARGUMENT');
  t.regex(e?.message ?? '', /1025 bytes exceeds MAX_TERM_BYTES \(1024\)/);
  // Escaped zeros count twice.
  t.is(encodeTerm(Buffer.alloc(510)).length, 1 + 1020 + 2);
  t.throws(() => encodeTerm(Buffer.alloc(511)), { message: /MAX_TERM_BYTES \(1024\)/ });
  // Multi-byte characters count their UTF-8 bytes.
  t.throws(() => encodeTerm('é'.repeat(511)), { message: /MAX_TERM_BYTES/ });
  // The limit applies to a compound term as a whole.
  const half = 'y'.repeat(600);
  t.throws(() => encodeTerms([half, half]), { message: /terms: encoded term of 1206 bytes exceeds MAX_TERM_BYTES \(1024\)/ });
  t.throws(() => stringPrefixRange('z'.repeat(1022)), { message: /MAX_TERM_BYTES/ });
});

// ---- properties --------------------------------------------------------------------------

test('random pairs: byte order = compareTerms = natural order', (t) => {
  const g = rng(1);
  const N = 6000;
  let ties = 0;
  for (let i = 0; i < N; i++) {
    const a = randomTerm(g);
    // Same type half of the time, so the within-type order is exercised.
    let b = randomTerm(g);
    if (g.int(2) === 0) {
      if (typeof a === 'number') b = randomNumber(g);
      else if (typeof a === 'string') b = g.int(3) === 0 ? a + randomString(g, 2) : randomString(g);
      else if (a instanceof Uint8Array) b = g.int(3) === 0 ? Buffer.concat([a, randomBytes(g, 2)]) : randomBytes(g);
    }
    const byBytes = sign(Buffer.compare(encodeTerm(a), encodeTerm(b)));
    const byCompare = compareTerms(a, b);
    const natural = naturalCompare(a, b);
    if (natural === 0) ties++;
    if (byBytes !== natural || byCompare !== natural) {
      t.fail(`seed ${SEED}: ${show(a)} vs ${show(b)}: bytes ${byBytes}, compareTerms ${byCompare}, natural ${natural}`);
      return;
    }
  }
  t.true(ties > 0);
  t.pass();
});

test('sorting random terms by encoding sorts them naturally', (t) => {
  const g = rng(2);
  const terms = Array.from({ length: 2000 }, () => randomTerm(g));
  const byBytes = [...terms].sort((a, b) => Buffer.compare(encodeTerm(a), encodeTerm(b)));
  for (let i = 0; i + 1 < byBytes.length; i++) {
    if (naturalCompare(byBytes[i] as Term, byBytes[i + 1] as Term) > 0) {
      t.fail(`seed ${SEED}: ${show(byBytes[i] as Term)} sorted before ${show(byBytes[i + 1] as Term)}`);
      return;
    }
  }
  t.pass();
});

test('decodeTerm round-trips and termEnd agrees', (t) => {
  const g = rng(3);
  for (let i = 0; i < 5000; i++) {
    const x = randomTerm(g);
    const enc = encodeTerm(x);
    const { term, end } = decodeTerm(enc, 0);
    if (end !== enc.length || termEnd(enc, 0) !== enc.length) {
      t.fail(`seed ${SEED}: ${show(x)}: end ${end}, termEnd ${termEnd(enc, 0)}, length ${enc.length}`);
      return;
    }
    t.deepEqual(term, canonical(x), show(x));
    if (x instanceof Uint8Array) t.true(Buffer.isBuffer(term));
  }
});

test('an encoded term followed by arbitrary bytes decodes with end at the suffix', (t) => {
  const g = rng(4);
  for (let i = 0; i < 5000; i++) {
    const x = randomTerm(g);
    const lead = randomBytes(g, 3);
    const enc = encodeTerm(x);
    const suffix = randomBytes(g, 8);
    const buf = Buffer.concat([lead, enc, suffix]);
    const { term, end } = decodeTerm(buf, lead.length);
    const e2 = termEnd(buf, lead.length);
    if (end !== lead.length + enc.length || e2 !== end) {
      t.fail(`seed ${SEED}: ${show(x)} + ${hex(suffix)}: end ${end}, termEnd ${e2}, expected ${lead.length + enc.length}`);
      return;
    }
    t.deepEqual(term, canonical(x));
  }
});

test('no encoding is a proper prefix of another (pairs)', (t) => {
  const g = rng(5);
  for (let i = 0; i < 5000; i++) {
    const a = encodeTerm(randomTerm(g));
    const b = encodeTerm(randomTerm(g));
    if (a.length < b.length && b.subarray(0, a.length).equals(a)) {
      t.fail(`seed ${SEED}: ${hex(a)} is a prefix of ${hex(b)}`);
      return;
    }
  }
  t.pass();
});

test('compound terms order lexicographically over the tuple and split back', (t) => {
  const g = rng(6);
  // A small pool of values so that tuples share prefixes often.
  const pool: Term[] = [null, false, true, -1, 0, 2.5, '', 'a', 'a\u0000', 'ab', '\u0000', new Uint8Array([0]), new Uint8Array(0), new Uint8Array([1])];
  const tuple = (): Term[] => Array.from({ length: 1 + g.int(4) }, () => (g.int(4) === 0 ? randomTerm(g) : g.pick(pool)));
  for (let i = 0; i < 4000; i++) {
    const a = tuple();
    const b = g.int(3) === 0 ? [...a.slice(0, g.int(a.length + 1)), ...tuple()] : tuple();
    const ea = encodeTerms(a);
    const eb = encodeTerms(b);
    const byBytes = sign(Buffer.compare(ea, eb));
    const natural = naturalCompareTuples(a, b);
    if (byBytes !== natural) {
      t.fail(`seed ${SEED}: [${a.map(show).join(', ')}] vs [${b.map(show).join(', ')}]: bytes ${byBytes}, natural ${natural}`);
      return;
    }
    // Split back, with a primary key after the tuple.
    const withKey = Buffer.concat([ea, Buffer.from([0x00, 0xff, 0x01])]);
    const out: Term[] = [];
    let pos = 0;
    for (let k = 0; k < a.length; k++) {
      const d = decodeTerm(withKey, pos);
      out.push(d.term);
      pos = d.end;
    }
    t.is(pos, ea.length);
    t.deepEqual(out, a.map(canonical));
  }
});

// ---- string prefix ranges ----------------------------------------------------------------

function inRange(b: Buffer, r: { gte: Buffer; lt: Buffer }): boolean {
  return Buffer.compare(b, r.gte) >= 0 && Buffer.compare(b, r.lt) < 0;
}

function allStrings(alphabet: string[], maxLen: number): string[] {
  let level = [''];
  const out = [''];
  for (let n = 1; n <= maxLen; n++) {
    level = level.flatMap((s) => alphabet.map((c) => s + c));
    out.push(...level);
  }
  return out;
}

test('stringPrefixRange is exact (exhaustive over a small alphabet, with and without a key after the term)', (t) => {
  const alphabet = ['\u0000', '\u0001', 'a', '\u00ff', '\uffff'];
  const strings = allStrings(alphabet, 3);
  const prefixes = allStrings(alphabet, 2);
  const suffixes = [Buffer.alloc(0), Buffer.from([0x00]), Buffer.from([0xff, 0xff]), Buffer.from([0x00, 0x01])];
  const others: Term[] = [null, false, true, 0, -1, 1e300, new Uint8Array(0), new Uint8Array([0x50]), new Uint8Array([0xff])];
  let checked = 0;
  for (const p of prefixes) {
    const r = stringPrefixRange(p);
    for (const s of strings) {
      const want = s.startsWith(p);
      for (const suf of suffixes) {
        const got = inRange(Buffer.concat([encodeTerm(s), suf]), r);
        if (got !== want) {
          t.fail(`prefix ${JSON.stringify(p)}: ${JSON.stringify(s)} + ${hex(suf)} in range ${got}, expected ${want}`);
          return;
        }
        checked++;
      }
    }
    for (const o of others) t.false(inRange(encodeTerm(o), r), `${show(o)} in range of ${JSON.stringify(p)}`);
  }
  t.true(checked > 10000);
});

test('stringPrefixRange: the cases around an escaped zero', (t) => {
  const a = stringPrefixRange('a');
  t.is(hex(a.gte), '5061');
  t.is(hex(a.lt), '5062');
  t.true(inRange(encodeTerm('a'), a));
  t.true(inRange(encodeTerm('a\u0000'), a));
  t.true(inRange(encodeTerm('a\u0000z'), a));
  t.true(inRange(encodeTerm('a\u00ff'), a));
  t.false(inRange(encodeTerm('b'), a));
  t.false(inRange(encodeTerm('`'), a));
  const az = stringPrefixRange('a\u0000');
  t.is(hex(az.gte), '506100ff');
  t.is(hex(az.lt), '506101');
  t.false(inRange(encodeTerm('a'), az)); // "a" itself does not start with "a\0"
  t.true(inRange(encodeTerm('a\u0000'), az));
  t.true(inRange(encodeTerm('a\u0000\u0000'), az));
  t.false(inRange(encodeTerm('a\u0001'), az));
  const all = stringPrefixRange('');
  t.is(hex(all.gte), '50');
  t.is(hex(all.lt), '51');
  t.throws(() => stringPrefixRange(1 as unknown as string), { instanceOf: StrataError });
});

test('stringPrefixRange: random prefixes of random strings', (t) => {
  const g = rng(7);
  for (let i = 0; i < 3000; i++) {
    const s = randomString(g, 8);
    const cut = [...s].slice(0, g.int([...s].length + 1)).join('');
    const p = g.int(4) === 0 ? randomString(g, 3) : cut;
    const got = inRange(Buffer.concat([encodeTerm(s), randomBytes(g, 4)]), stringPrefixRange(p));
    if (got !== s.startsWith(p)) {
      t.fail(`seed ${SEED}: prefix ${JSON.stringify(p)}, string ${JSON.stringify(s)}: ${got}`);
      return;
    }
  }
  t.pass();
});

// ---- malformed input ---------------------------------------------------------------------

function expectInvalid(t: import('ava').ExecutionContext, fn: () => unknown, why: RegExp): void {
  const e = t.throws(fn, { instanceOf: StrataError });
  t.is(e?.code, 'STRATA_INVALID_ARGUMENT');
  t.regex(e?.message ?? '', why);
}

test('malformed input gives STRATA_INVALID_ARGUMENT with the reason', (t) => {
  const b = (h: string) => Buffer.from(h, 'hex');
  for (const fn of [decodeTerm, termEnd]) {
    expectInvalid(t, () => fn(b(''), 0), /no bytes left/);
    expectInvalid(t, () => fn(b('10'), 1), /no bytes left/);
    expectInvalid(t, () => fn(b('10'), -1), /non-negative integer/);
    expectInvalid(t, () => fn(b('10'), 0.5), /non-negative integer/);
    expectInvalid(t, () => fn('x' as unknown as Uint8Array, 0), /Uint8Array/);
    expectInvalid(t, () => fn(b('00'), 0), /unknown tag 0x00/);
    expectInvalid(t, () => fn(b('ff'), 0), /unknown tag 0xff/);
    expectInvalid(t, () => fn(b('30bff0'), 0), /truncated number/);
    expectInvalid(t, () => fn(b('5061'), 0), /missing terminator/);
    expectInvalid(t, () => fn(b('506100'), 0), /missing terminator/);
    expectInvalid(t, () => fn(b('50610002'), 0), /0x00 followed by 0x02/);
    expectInvalid(t, () => fn(b('6000'), 0), /missing terminator/);
  }
  expectInvalid(t, () => decodeTerm(b('30fff8000000000000'), 0), /number is NaN/);
  expectInvalid(t, () => decodeTerm(b('30fff0000000000000'), 0), /number is Infinity/);
  expectInvalid(t, () => decodeTerm(b('30000fffffffffffff'), 0), /number is -Infinity/);
  expectInvalid(t, () => decodeTerm(b('50ff0001'), 0), /not valid UTF-8/);
  // termEnd does not look inside the string.
  t.is(termEnd(b('50ff0001'), 0), 4);
});

test('fuzz: random and mutated bytes never throw anything but a StrataError', (t) => {
  const g = rng(8);
  const TAGS = [0x10, 0x20, 0x21, 0x30, 0x50, 0x60];
  let decoded = 0;
  const inputs = 8000;
  for (let i = 0; i < inputs; i++) {
    let buf: Buffer;
    if (g.int(2) === 0) {
      const n = g.int(24);
      buf = Buffer.alloc(n);
      for (let k = 0; k < n; k++) {
        const c = g.int(4);
        buf[k] = c === 0 ? g.pick(TAGS) : c === 1 ? g.pick([0x00, 0x01, 0xff]) : g.int(256);
      }
    } else {
      // A valid encoding, damaged: a byte changed, truncated or extended.
      buf = Buffer.concat([encodeTerm(randomTerm(g)), randomBytes(g, 2)]);
      const m = g.int(3);
      if (m === 0 && buf.length > 0) buf[g.int(buf.length)] = g.int(256);
      else if (m === 1) buf = buf.subarray(0, g.int(buf.length + 1));
    }
    const offset = g.int(8) === 0 ? g.int(buf.length + 3) - 1 : 0;
    let end1: number | undefined;
    let end2: number | undefined;
    try {
      const d = decodeTerm(buf, offset);
      end1 = d.end;
      // Only canonical encodings decode: re-encoding gives the same bytes.
      const again = encodeTerm(d.term);
      if (!again.equals(buf.subarray(offset, d.end))) {
        t.fail(`seed ${SEED}: ${hex(buf)}@${offset} decoded to ${show(d.term)}, which encodes as ${hex(again)}`);
        return;
      }
      decoded++;
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== 'STRATA_INVALID_ARGUMENT') {
        t.fail(`seed ${SEED}: decodeTerm(${hex(buf)}, ${offset}) threw ${String(e)}`);
        return;
      }
    }
    try {
      end2 = termEnd(buf, offset);
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== 'STRATA_INVALID_ARGUMENT') {
        t.fail(`seed ${SEED}: termEnd(${hex(buf)}, ${offset}) threw ${String(e)}`);
        return;
      }
    }
    if (end1 !== undefined && end1 !== end2) {
      t.fail(`seed ${SEED}: ${hex(buf)}@${offset}: decodeTerm end ${end1}, termEnd ${String(end2)}`);
      return;
    }
  }
  t.true(decoded > inputs / 10, `only ${decoded} inputs decoded`);
});
