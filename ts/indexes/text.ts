/**
 * The tokenizer of text indexes. Words come from `Intl.Segmenter` (word granularity, the
 * default locale), are lower-cased and accent-folded (NFD, combining marks U+0300–U+036F
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

function* words(s: string): Generator<string> {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
  for (const seg of segmenter.segment(s)) {
    if (seg.isWordLike === true) yield seg.segment;
  }
}

function pipeline(s: string, what: string): string[] {
  if (typeof s !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(s)}`);
  const seen = new Set<string>();
  for (const w of words(s)) {
    const t = foldToken(w);
    if (t.length === 0 || seen.has(t)) continue;
    if (Buffer.byteLength(t, 'utf8') > MAX_TOKEN_BYTES) continue;
    seen.add(t);
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
