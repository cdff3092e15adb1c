'use strict';
// The reference: a brute-force JS model of the query language over the documents in memory.
// Every query scans every document in key order. It is the correctness oracle of small runs
// (included by default when QUERY_N <= 20,000); its timings mean nothing.
const { FIELD, tokenize } = require('../lib/query-gen');

function leafMatch(q, doc, tokensOf) {
  const field = FIELD[q.index];
  if (!field) throw new Error(`model: unknown index ${q.index}`);
  const v = doc[field];
  if (q.index === 'bio') {
    if (typeof v !== 'string') return false;
    const have = tokensOf(doc);
    const words = tokenize(q.match ?? q.matchAny);
    return 'match' in q ? words.every((w) => have.has(w)) : words.some((w) => have.has(w));
  }
  const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return values.some((x) => {
    if ('eq' in q && x !== q.eq) return false;
    if ('in' in q && !q.in.includes(x)) return false;
    if ('gt' in q && !(x > q.gt)) return false;
    if ('gte' in q && !(x >= q.gte)) return false;
    if ('lt' in q && !(x < q.lt)) return false;
    if ('lte' in q && !(x <= q.lte)) return false;
    if ('prefix' in q && !(typeof x === 'string' && x.startsWith(q.prefix))) return false;
    return true;
  });
}

function matches(q, doc, tokensOf) {
  if (q.and) return q.and.every((x) => matches(x, doc, tokensOf));
  if (q.or) return q.or.some((x) => matches(x, doc, tokensOf));
  if (q.not) return !matches(q.not, doc, tokensOf);
  return leafMatch(q, doc, tokensOf);
}

/** The model's state: documents by key, keys in order. Also used directly by tests. */
class Model {
  constructor() {
    this.docs = new Map();
    this.keys = [];
    this.sorted = true;
    this.tokens = new WeakMap();
    this.tokensOf = (doc) => {
      let t = this.tokens.get(doc);
      if (!t) this.tokens.set(doc, (t = new Set(tokenize(doc.bio))));
      return t;
    };
  }

  put(k, doc) {
    if (!this.docs.has(k)) {
      if (this.keys.length && this.keys[this.keys.length - 1] >= k) this.sorted = false;
      this.keys.push(k);
    }
    this.docs.set(k, structuredClone(doc));
  }

  get(k) {
    const d = this.docs.get(k);
    return d === undefined ? undefined : structuredClone(d);
  }

  #order() {
    if (!this.sorted) {
      this.keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sorted = true;
    }
  }

  query(q, { limit, cursor }) {
    this.#order();
    let lo = 0;
    if (cursor != null) {
      let hi = this.keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.keys[mid] <= cursor) lo = mid + 1;
        else hi = mid;
      }
    }
    const keys = [];
    const docs = [];
    for (let i = lo; i < this.keys.length && keys.length < limit; i++) {
      const doc = this.docs.get(this.keys[i]);
      if (matches(q, doc, this.tokensOf)) {
        keys.push(this.keys[i]);
        docs.push(structuredClone(doc));
      }
    }
    return { keys, docs, cursor: keys.length === limit ? keys[keys.length - 1] : null };
  }

  count(q) {
    let n = 0;
    for (const doc of this.docs.values()) if (matches(q, doc, this.tokensOf)) n++;
    return n;
  }
}

const byDir = new Map();

module.exports = {
  name: 'model',
  label: 'JS model (brute force)',
  reference: true,
  version: () => '-',
  notes: 'reference only, not a database: documents in a Map, every query evaluated over every document in key order; text tokens folded like FTS5 unicode61 remove_diacritics 2',
  textNote: 'scan',
  Model,
  matches,
  /** State lives per directory in this process, so a close and reopen keeps the documents. */
  async open(dir) {
    let m = byDir.get(dir);
    if (!m) byDir.set(dir, (m = new Model()));
    return {
      batch: async (entries) => { for (const [k, doc] of entries) m.put(k, doc); },
      put: async (k, doc) => m.put(k, doc),
      get: async (k) => m.get(k),
      query: async (q, opts) => m.query(q, opts),
      count: async (q) => m.count(q),
      close: async () => {},
      destroy: () => byDir.delete(dir),
    };
  },
};
