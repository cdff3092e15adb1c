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
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = ASCII_CLASS[s.charCodeAt(i)] as number;
    if (c < 1 || c > 3) {
      i++;
      continue;
    }
    const start = i;
    let j = i + 1;
    let wordy = c !== 3;
    while (j < n) {
      const d = ASCII_CLASS[s.charCodeAt(j)] as number;
      if (d >= 1 && d <= 3) {
        if (d !== 3) wordy = true;
        j++;
        continue;
      }
      if (j + 1 < n) {
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
    if (wordy || j - start > 1) out.push(s.slice(start, j));
    i = j;
  }
  return out;
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

const SPACE_RUN = /[ \t\n\r]+(?=[\x00-\x7f]|$)/g;

/**
 * The word-like segments of `s`, as `Intl.Segmenter` gives them: the text is cut at runs of
 * ASCII whitespace followed by an ASCII character (or the end) — Unicode's rules always break
 * on both sides of such a run, nothing attaches across it — and each piece goes to
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

function pipeline(s: string, what: string): string[] {
  if (typeof s !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(s)}`);
  const seen = new Set<string>();
  // Lower-casing ASCII keeps every character's word class, so the words of lower-cased ASCII
  // text are the lower-cased words; an ASCII word's UTF-8 length is its length.
  const addAscii = (text: string): void => {
    for (const w of asciiWords(text.toLowerCase())) if (w.length <= MAX_TOKEN_BYTES) seen.add(w);
  };
  if (ASCII.test(s)) {
    addAscii(s);
    return [...seen];
  }
  // As `words(s)`, piece by piece.
  for (const piece of s.split(SPACE_RUN)) {
    if (piece.length === 0) continue;
    if (ASCII.test(piece)) {
      addAscii(piece);
      continue;
    }
    for (const w of LATIN1_WORD.test(piece) ? [piece] : segmenterWords(piece)) {
      const t = ASCII.test(w) ? w.toLowerCase() : foldToken(w);
      if (t.length === 0 || seen.has(t)) continue;
      if (Buffer.byteLength(t, 'utf8') > MAX_TOKEN_BYTES) continue;
      seen.add(t);
    }
  }
  return [...seen];
}

/** The tokens of `s` as a text index stores them: `'São Paulo'` → `['sao', 'paulo']`. */
export function tokenize(s: string): string[] {
  return pipeline(s, 'text');
}

/** The tokens to look up for a `match` query on `s` (the same pipeline as `tokenize`). */
export function queryTokens(s: string): string[] {
  return pipeline(s, 'match text');
}
