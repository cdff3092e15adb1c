'use strict';
// The query benchmark's workload: deterministic user documents and the queries run against
// them. Every store gets the same documents (in the same order) and the same queries, so the
// suite can check that every store returns the same answers.
//
// Queries are written in StrataDB's query language (`{ index, eq }`, `{ and: [...] }`, ...);
// the SQLite and NeDB adapters and the brute-force model translate them.

const { rng } = require('./common');

/** Keys: `u:` + the id zero-padded to 10 digits (so key order is id order). */
const KEY_DIGITS = 10;
const keyOf = (id) => `u:${String(id).padStart(KEY_DIGITS, '0')}`;
const idOf = (key) => Number(key.slice(2));

/** The StrataDB index definitions; the other stores index the same fields. */
const INDEXES = [
  { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
  { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
  { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } },
  { name: 'bio', type: 'text', extractor: { kind: 'json_path', path: '$.bio' } },
  { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' } },
];
/** Index name -> document field. */
const FIELD = { city: 'city', age: 'age', tags: 'tags', bio: 'bio', active: 'active' };

// ---- text ----

/** Case and diacritic folding, as SQLite FTS5's `unicode61 remove_diacritics 2`: "São" -> "sao". */
function fold(s) {
  return s.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

/** Tokens of a text: folded, split on anything that is not a letter or a digit. */
function tokenize(s) {
  return fold(s).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

// ---- vocabularies (fixed: they do not depend on the seed) ----

const CONSONANTS = 'bcdfghjklmnprstvz';
const VOWELS = 'aeiou';

/** `count` distinct pseudo-words of 2-3 consonant-vowel syllables (plus an optional final consonant). */
function pseudoWords(count, r, { minSyl = 2, maxSyl = 3, avoid = new Set() } = {}) {
  const out = [];
  const seen = new Set(avoid);
  while (out.length < count) {
    const syl = minSyl + r.below(maxSyl - minSyl + 1);
    let w = '';
    for (let i = 0; i < syl; i++) w += CONSONANTS[r.below(CONSONANTS.length)] + VOWELS[r.below(VOWELS.length)];
    if (r.float() < 0.3) w += 'nrst'[r.below(4)];
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

const capitalize = (w) => w[0].toUpperCase() + w.slice(1);

/** Accented words and the ranks they take in the bio vocabulary (0 = most frequent). */
const ACCENTED = [
  ['café', 3], ['são', 17], ['naïve', 60], ['crème', 150], ['über', 400], ['résumé', 900], ['jalapeño', 1500], ['façade', 1900],
];
const BIO_WORDS = 2000;

/** Weights ~ 1/(rank+offset)^s, as a cumulative table. */
function cumulative(weights) {
  const c = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) c[i] = sum += weights[i];
  for (let i = 0; i < c.length; i++) c[i] /= sum;
  c[c.length - 1] = 1;
  return c;
}

function pick(cum, r) {
  const u = r.float();
  let lo = 0, hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const vocab = (() => {
  const r = rng(0x5eed_0001);
  const accentedFolded = new Set(ACCENTED.map(([w]) => fold(w)));
  const plain = pseudoWords(BIO_WORDS - ACCENTED.length, r, { minSyl: 2, maxSyl: 4, avoid: accentedFolded });
  const words = [];
  let p = 0;
  const at = new Map(ACCENTED.map(([w, rank]) => [rank, w]));
  for (let rank = 0; rank < BIO_WORDS; rank++) words.push(at.get(rank) ?? plain[p++]);
  const wordCum = cumulative(words.map((_, i) => 1 / Math.pow(i + 1, 0.95)));

  // ~200 cities: 6 common (41% of the documents between them), 94 middling (58%, from ~2.4%
  // down to ~0.24%), 100 rare (0.01% each).
  const COMMON = ['São Paulo', 'Lagos', 'Zürich', 'Kraków', 'Osaka', 'Lima'];
  const COMMON_W = [0.10, 0.08, 0.07, 0.06, 0.05, 0.05];
  const cr = rng(0x5eed_0002);
  const others = pseudoWords(194, cr, { minSyl: 2, maxSyl: 3, avoid: new Set(COMMON.map((c) => c.toLowerCase())) }).map(capitalize);
  const mid = others.slice(0, 94);
  const rare = others.slice(94);
  const midRaw = mid.map((_, i) => 1 / (i + 10));
  const midSum = midRaw.reduce((a, b) => a + b, 0);
  const cities = [...COMMON, ...mid, ...rare];
  const cityW = [...COMMON_W, ...midRaw.map((w) => (w / midSum) * 0.58), ...rare.map(() => 0.0001)];
  const cityCum = cumulative(cityW);

  const TAGS = [
    'music', 'sports', 'travel', 'food', 'books', 'movies', 'art', 'tech', 'games', 'fitness',
    'photo', 'hiking', 'cooking', 'design', 'science', 'history', 'fashion', 'garden', 'pets', 'cars',
    'dance', 'yoga', 'chess', 'coffee', 'wine', 'beer', 'cycling', 'running', 'swimming', 'climbing',
    'poetry', 'theatre', 'jazz', 'rock', 'opera', 'anime', 'comics', 'crafts', 'diy', 'finance',
    'startups', 'politics', 'volunteer', 'languages', 'astronomy', 'birding', 'fishing', 'sailing', 'skiing', 'surfing',
  ];
  const tagCum = cumulative(TAGS.map((_, i) => 1 / (i + 3)));

  const FIRST = ['Ana', 'João', 'Maria', 'Chidi', 'Yuki', 'Lukas', 'Zofia', 'Ola', 'Pedro', 'Amara', 'Hiro', 'Elena', 'Noah', 'Lea', 'Tomás', 'Ngozi', 'Kenji', 'Ines', 'Marek', 'Sofia'];
  const LAST = ['Silva', 'Okafor', 'Tanaka', 'Müller', 'Nowak', 'Santos', 'Adeyemi', 'Suzuki', 'Keller', 'Kowalski', 'Costa', 'Eze', 'Sato', 'Weber', 'Lewandowski', 'Pereira', 'Bello', 'Ito', 'Frei', 'Quispe'];
  return { words, wordCum, cities, cityCum, common: COMMON, rare, tags: TAGS, tagCum, first: FIRST, last: LAST };
})();

/** Deterministic document stream: `next()` returns { id, key, doc } for ids 0, 1, 2, ... */
function documents(seed) {
  const r = rng((seed ^ 0xd0c5eed) >>> 0);
  let id = 0;
  return {
    next() {
      const name = `${vocab.first[r.below(vocab.first.length)]} ${vocab.last[r.below(vocab.last.length)]}`;
      const city = vocab.cities[pick(vocab.cityCum, r)];
      const age = 18 + r.below(73);
      const nTags = r.below(6);
      const tags = [];
      while (tags.length < nTags) {
        const t = vocab.tags[pick(vocab.tagCum, r)];
        if (!tags.includes(t)) tags.push(t);
      }
      const active = r.float() < 0.7;
      const nWords = 8 + r.below(23);
      const words = new Array(nWords);
      for (let i = 0; i < nWords; i++) words[i] = vocab.words[pick(vocab.wordCum, r)];
      const bio = words.join(' ');
      const out = { id, key: keyOf(id), doc: { name, city, age, tags, active, bio } };
      id++;
      return out;
    },
  };
}

// ---- queries ----

const CITY = (c) => ({ index: 'city', eq: c });

function ageRange(r) {
  const width = 1 + r.below(10);
  const lo = 18 + r.below(73 - width + 1);
  const hi = lo + width - 1;
  switch (r.below(3)) {
    case 0: return { index: 'age', gte: lo, lte: hi };
    case 1: return { index: 'age', gt: lo - 1, lte: hi };
    default: return { index: 'age', gte: lo, lt: hi + 1 };
  }
}

/** A bio word: half from the bio distribution (frequent words), half uniform (mostly rare ones); accented ones half the time unaccented. */
function word(r) {
  const w = r.float() < 0.5 ? vocab.words[pick(vocab.wordCum, r)] : vocab.words[r.below(vocab.words.length)];
  return w !== fold(w) && r.float() < 0.5 ? fold(w) : w;
}

const cityByDocs = (r) => vocab.cities[pick(vocab.cityCum, r)];

/**
 * The query phases run on the batch-ingested store, in order. `make(r)` draws one query;
 * `kind` says what is compared: the first `limit` keys ('first'), all keys ('all') or the count ('count').
 */
const QUERY_PHASES = [
  { phase: 'q-city-rare', kind: 'all', title: 'city = rare (all matches)', make: (r) => CITY(vocab.rare[r.below(vocab.rare.length)]) },
  { phase: 'q-city-common', kind: 'first', title: 'city = common (first 100)', make: (r) => CITY(vocab.common[r.below(vocab.common.length)]) },
  { phase: 'q-age-range', kind: 'first', title: 'age range (first 100)', make: (r) => ageRange(r) },
  { phase: 'q-age-count', kind: 'count', title: 'age range count', make: (r) => ageRange(r) },
  { phase: 'q-city-and-age', kind: 'first', title: 'city AND age range (first 100)', intersection: true, make: (r) => ({ and: [CITY(cityByDocs(r)), ageRange(r)] }) },
  { phase: 'q-city-and-tag', kind: 'first', title: 'city AND tag (first 100)', intersection: true, make: (r) => ({ and: [CITY(cityByDocs(r)), { index: 'tags', eq: vocab.tags[pick(vocab.tagCum, r)] }] }) },
  {
    phase: 'q-city-or-city', kind: 'first', title: 'city OR city (first 100)', make: (r) => {
      const a = cityByDocs(r);
      let b;
      do b = cityByDocs(r); while (b === a);
      return { or: [CITY(a), CITY(b)] };
    },
  },
  { phase: 'q-city-and-not-active', kind: 'first', title: 'city AND NOT active (first 100)', intersection: true, make: (r) => ({ and: [CITY(cityByDocs(r)), { not: { index: 'active', eq: true } }] }) },
  { phase: 'q-text-one', kind: 'first', title: 'text, one word (first 100)', text: true, make: (r) => ({ index: 'bio', match: word(r) }) },
  {
    phase: 'q-text-two', kind: 'first', title: 'text, two words, both (first 100)', text: true, make: (r) => {
      const a = word(r);
      let b;
      do b = word(r); while (fold(b) === fold(a));
      return { index: 'bio', match: `${a} ${b}` };
    },
  },
];

/** The city paged through in q-page-city: the most common one. */
const PAGE_CITY = vocab.common[0];

/**
 * The moves of q-update-move: document `id` goes to a rare city and a new age. Rare targets
 * keep the check query (new city AND that age) small at any N.
 */
function moves(count, n, r) {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push({ id: r.below(n), city: vocab.rare[r.below(vocab.rare.length)], age: 18 + r.below(73) });
  }
  return out;
}

const moveCheck = (m) => ({ and: [CITY(m.city), { index: 'age', gte: m.age, lte: m.age }] });

/** Renders a query for people: `city = "Lima" AND age in [30, 34]`. */
function describe(q) {
  if (q.and) return q.and.map((x) => (x.or ? `(${describe(x)})` : describe(x))).join(' AND ');
  if (q.or) return q.or.map((x) => (x.and ? `(${describe(x)})` : describe(x))).join(' OR ');
  if (q.not) return `NOT ${describe(q.not)}`;
  const f = q.index;
  if ('eq' in q) return `${f} = ${JSON.stringify(q.eq)}`;
  if ('in' in q) return `${f} IN ${JSON.stringify(q.in)}`;
  if ('prefix' in q) return `${f} STARTS WITH ${JSON.stringify(q.prefix)}`;
  if ('match' in q) return `${f} MATCH ALL ${JSON.stringify(q.match)}`;
  if ('matchAny' in q) return `${f} MATCH ANY ${JSON.stringify(q.matchAny)}`;
  const parts = [];
  for (const op of ['gt', 'gte', 'lt', 'lte']) if (op in q) parts.push(`${f} ${{ gt: '>', gte: '>=', lt: '<', lte: '<=' }[op]} ${q[op]}`);
  return parts.join(' AND ');
}

module.exports = {
  KEY_DIGITS, keyOf, idOf, INDEXES, FIELD, fold, tokenize, vocab, documents, QUERY_PHASES, PAGE_CITY, moves, moveCheck, describe, ageRange,
};
