/**
 * The tokenizer of text indexes. Words come from `Intl.Segmenter` (word granularity, the
 * default locale; pure-ASCII text takes `asciiWords`, the same rules without ICU's cost), are
 * lower-cased and accent-folded (NFD, combining marks U+0300–U+036F
 * removed, NFC), deduplicated, in first-seen order. The same pipeline turns the text of a
 * `match` query into the tokens to look up (`queryTokens`), so indexing and querying agree.
 */
import { describe } from '../encodings';
import { invalidArgument } from '../errors';

/** Words longer than this many UTF-8 bytes (after folding) are dropped: not indexed, not searched. */
export const MAX_TOKEN_BYTES = 256;

let segmenter: Intl.Segmenter | undefined;

const COMBINING_MARKS = /[\u0300-\u036f]/g;

/** Lower-case and fold accents: `'São'` → `'sao'`. */
export function foldToken(word: string): string {
  return word.toLowerCase().normalize('NFD').replace(COMBINING_MARKS, '').normalize('NFC');
}

/**
 * Word classes of the ASCII characters in Unicode's word-break rules (UAX #29, as ICU
 * applies them): 1 letter, 2 digit, 3 underscore (ExtendNumLet), 4 MidLetter (`:`),
 * 5 MidNumLet (`.` and `'`), 6 MidNum (`,` `;`), 0 anything else (a break).
 */
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0x41; c <= 0x5a; c++) ASCII_CLASS[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ASCII_CLASS[c] = 1;
for (let c = 0x30; c <= 0x39; c++) ASCII_CLASS[c] = 2;
ASCII_CLASS[0x5f] = 3;
ASCII_CLASS[0x3a] = 4;
ASCII_CLASS[0x2e] = 5;
ASCII_CLASS[0x27] = 5;
ASCII_CLASS[0x2c] = 6;
ASCII_CLASS[0x3b] = 6;

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The word-like segments of an ASCII string, exactly as `Intl.Segmenter` gives them (checked
 * against it on random ASCII text in `__test__/index-extract.spec.ts`), about 30 times
 * faster: runs of letters, digits and `_` (WB5, WB8–WB10, WB13a/b), joined across one `:`,
 * `.` or `'` between letters (WB6/7) and one `,`, `;`, `.` or `'` between digits (WB11/12).
 * ICU counts a segment word-like when it holds a letter or digit, or is longer than one
 * character (`__`), not a lone `_`.
 */
export function asciiWords(s: string): string[] {
  const out: string[] = [];
  asciiWordsOf(s, 0, s.length, out, false);
  return out;
}

/**
 * `asciiWords(s.slice(from, to))` appended to `out` (lower-cased with `lower`: lower-casing
 * ASCII keeps every character's word class, so the words of lower-cased text are the
 * lower-cased words); words longer than `MAX_TOKEN_BYTES` are left out with `lower`.
 */
function asciiWordsOf(s: string, from: number, to: number, out: string[], lower: boolean): void {
  let i = from;
  while (i < to) {
    const c = ASCII_CLASS[s.charCodeAt(i)] as number;
    if (c < 1 || c > 3) {
      i++;
      continue;
    }
    const start = i;
    let j = i + 1;
    let wordy = c !== 3;
    while (j < to) {
      const d = ASCII_CLASS[s.charCodeAt(j)] as number;
      if (d >= 1 && d <= 3) {
        if (d !== 3) wordy = true;
        j++;
        continue;
      }
      if (j + 1 < to) {
        const before = ASCII_CLASS[s.charCodeAt(j - 1)];
        const after = ASCII_CLASS[s.charCodeAt(j + 1)];
        if (before === 1 && after === 1 && (d === 4 || d === 5)) {
          j += 2;
          continue;
        }
        if (before === 2 && after === 2 && (d === 5 || d === 6)) {
          j += 2;
          continue;
        }
      }
      break;
    }
    if (wordy || j - start > 1) {
      if (!lower) out.push(s.slice(start, j));
      else if (j - start <= MAX_TOKEN_BYTES) out.push(s.slice(start, j).toLowerCase());
    }
    i = j;
  }
}

/** The word-like segments of `s` from `Intl.Segmenter` (word granularity). */
export function segmenterWords(s: string): string[] {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
  const out: string[] = [];
  for (const seg of segmenter.segment(s)) if (seg.isWordLike === true) out.push(seg.segment);
  return out;
}

/**
 * A run of Latin-1 letters (ASCII letters, U+00C0–U+00FF but × and ÷): all of them are
 * ALetter in Unicode's word-break rules, so such a run is one word (checked against the
 * segmenter, character by character and on random runs, in `__test__/index-extract.spec.ts`).
 */
const LATIN1_WORD = /^[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]+$/;

/** The word-like segments of a piece of `words`: `asciiWords`, one Latin-1 word, or the segmenter. */
function pieceWords(piece: string): string[] {
  if (ASCII.test(piece)) return asciiWords(piece);
  if (LATIN1_WORD.test(piece)) return [piece];
  return segmenterWords(piece);
}

const SPACE_RUN = /[ \t\n\r]+(?=[\x00-\x7f\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]|$)/g;

/**
 * The word-like segments of `s`, as `Intl.Segmenter` gives them: the text is cut at runs of
 * ASCII whitespace followed by an ASCII character, a Latin-1 letter (or the end) — Unicode's
 * rules always break on both sides of such a run, nothing attaches across it (only a
 * combining mark, a format character or a ZWJ attaches to the whitespace before it, and
 * other whitespace, none of which is ASCII or a letter) — and each piece goes to
 * `asciiWords` when it is pure ASCII, is one word when it is a run of Latin-1 letters, and
 * goes to the segmenter otherwise. Checked against the
 * segmenter on random mixed text in `__test__/index-extract.spec.ts`.
 */
export function words(s: string): string[] {
  if (ASCII.test(s)) return asciiWords(s);
  const out: string[] = [];
  for (const piece of s.split(SPACE_RUN)) {
    if (piece.length === 0) continue;
    for (const w of pieceWords(piece)) out.push(w);
  }
  return out;
}

/** True for the letters of `LATIN1_WORD`. */
function isLatin1Letter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c <= 0xff && c !== 0xd7 && c !== 0xf7);
}

/**
 * `foldToken` of each Latin-1 letter U+00C0–U+00FF (`''` for × and ÷). Folding a run of
 * Latin-1 letters is folding each letter: lower-casing them has no context rules, each
 * decomposes (NFD) on its own into a base letter and at most one combining mark, and what
 * is left after removing the marks (ASCII letters, ß æ ð ø þ) composes with nothing (checked
 * against `foldToken` in `__test__/index-extract.spec.ts`).
 */
const LATIN1_FOLD: string[] = [];
for (let c = 0xc0; c <= 0xff; c++) LATIN1_FOLD.push(c === 0xd7 || c === 0xf7 ? '' : foldToken(String.fromCharCode(c)));

/** `foldToken(s.slice(from, to))` of a run of Latin-1 letters that is not all ASCII. */
function foldLatin1(s: string, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x80 ? String.fromCharCode(c | 0x20) : (LATIN1_FOLD[c - 0xc0] as string);
  }
  return out;
}

/** UTF-8 length of a folded Latin-1 run (every character is below U+0100). */
function latin1Bytes(t: string): number {
  let n = t.length;
  for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) >= 0x80) n++;
  return n;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Appends the tokens of `s` to `out`, with repeats, in text order. One pass over the
 * text cuts it as `s.split(SPACE_RUN)` does (a run of ASCII whitespace followed by an ASCII
 * character, a Latin-1 letter or the end; before another character the run's last
 * whitespace stays with it)
 * and hands each piece to `asciiWords`, the Latin-1 fold, or the segmenter, as `words()`.
 */
function scanTokens(s: string, out: string[]): void {
  const n = s.length;
  if (ASCII.test(s)) {
    asciiWordsOf(s, 0, n, out, true);
    return;
  }
  const piece = (from: number, to: number, ascii: boolean, latin1: boolean): void => {
    if (from >= to) return;
    if (ascii) return asciiWordsOf(s, from, to, out, true);
    if (latin1) {
      const t = foldLatin1(s, from, to);
      if (latin1Bytes(t) <= MAX_TOKEN_BYTES) out.push(t);
      return;
    }
    for (const w of segmenterWords(s.slice(from, to))) {
      const t = ASCII.test(w) ? w.toLowerCase() : foldToken(w);
      if (t.length === 0 || Buffer.byteLength(t, 'utf8') > MAX_TOKEN_BYTES) continue;
      out.push(t);
    }
  };
  let start = 0;
  let ascii = true;
  let latin1 = true;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (!isSpace(c)) {
      if (c >= 0x80) ascii = false;
      if (latin1 && !isLatin1Letter(c)) latin1 = false;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && isSpace(s.charCodeAt(j))) j++;
    const d = j < n ? s.charCodeAt(j) : 0;
    if (d < 0x80 || isLatin1Letter(d)) {
      piece(start, i, ascii, latin1);
      start = j;
      ascii = latin1 = true;
    } else if (j - i >= 2) {
      // The split takes all of the run but its last character, which starts the next piece.
      piece(start, i, ascii, latin1);
      start = j - 1;
      ascii = true;
      latin1 = false;
    } else {
      latin1 = false;
    }
    i = j;
  }
  piece(start, n, ascii, latin1);
}

function checkText(s: unknown, what: string): asserts s is string {
  if (typeof s !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(s)}`);
}

function pipeline(s: string, what: string): string[] {
  checkText(s, what);
  const out: string[] = [];
  scanTokens(s, out);
  return out.length < 2 ? out : [...new Set(out)];
}

/**
 * The tokens of `s` with repeats, in text order, appended to `out`: `tokenize` without its
 * deduplication (for callers that deduplicate on their own).
 */
export function tokensInto(s: string, out: string[]): void {
  checkText(s, 'text');
  scanTokens(s, out);
}

/**
 * Compares strings in code-point order, which is the order of their UTF-8 bytes: UTF-16 code
 * units compare the same way except surrogates (code points above U+FFFF), which sort after
 * U+E000–U+FFFF.
 */
export function codePointCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** The tokens of `s` as a text index stores them: `'São Paulo'` → `['sao', 'paulo']`. */
export function tokenize(s: string): string[] {
  return pipeline(s, 'text');
}

/** The tokens to look up for a `match` query on `s` (the same pipeline as `tokenize`). */
export function queryTokens(s: string): string[] {
  return pipeline(s, 'match text');
}
