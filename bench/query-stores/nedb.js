'use strict';
// NeDB (@seald-io/nedb) for the query benchmark: an in-memory document store with an
// append-only datafile in the phase directory, indexes (ensureIndex) on city, age, tags and
// active. Queries are StrataDB query objects translated to NeDB queries, sorted by _id (the
// key). NeDB uses at most one index per query (a top-level field; nothing inside $and/$or),
// and it has no text index: text queries are a $where scan that tokenizes every bio.
const path = require('node:path');
const fs = require('node:fs');
const Datastore = require('@seald-io/nedb');
const { FIELD, tokenize } = require('../lib/query-gen');

/** When an AND merges leaves into one object, NeDB takes its index from the last usable field: the likely most selective goes last. */
const MERGE_ORDER = { active: 0, tags: 1, age: 2, city: 3 };

function leaf(q) {
  const field = FIELD[q.index];
  if (!field) throw new Error(`nedb: unknown index ${q.index}`);
  if (q.index === 'bio') {
    const words = tokenize(q.match ?? q.matchAny);
    const all = 'match' in q;
    return {
      $where() {
        const have = new Set(tokenize(this.bio ?? ''));
        return all ? words.every((w) => have.has(w)) : words.some((w) => have.has(w));
      },
    };
  }
  if ('eq' in q) return { [field]: q.eq };
  if ('in' in q) return { [field]: { $in: q.in } };
  if ('prefix' in q) return { [field]: { $regex: new RegExp(`^${q.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) } };
  const c = {};
  for (const op of ['gt', 'gte', 'lt', 'lte']) if (op in q) c[`$${op}`] = q[op];
  if (Object.keys(c).length === 0) throw new Error(`nedb: unsupported query ${JSON.stringify(q)}`);
  return { [field]: c };
}

/** A NeDB query for q: AND of leaves on distinct fields becomes one object (so NeDB can use an index). */
function compile(q) {
  if (q.or) return { $or: q.or.map(compile) };
  if (q.not) return { $not: compile(q.not) };
  if (!q.and) return leaf(q);
  const merged = {};
  const rest = [];
  const leaves = q.and.filter((x) => x.index && x.index !== 'bio').sort((a, b) => (MERGE_ORDER[a.index] ?? 0) - (MERGE_ORDER[b.index] ?? 0));
  for (const x of leaves) {
    const c = leaf(x);
    const f = Object.keys(c)[0];
    if (f in merged) rest.push(c);
    else merged[f] = c[f];
  }
  for (const x of q.and) if (!x.index || x.index === 'bio') rest.push(compile(x));
  if (rest.length) merged.$and = rest;
  return merged;
}

const strip = (d) => {
  const { _id, ...v } = d;
  return v;
};

module.exports = {
  name: 'nedb',
  label: 'NeDB (@seald-io/nedb)',
  version: () => require('@seald-io/nedb/package.json').version,
  notes: 'persistent datafile in the phase directory (append-only, compacted on load), documents in memory; ensureIndex on city, age, tags (array: one entry per element), active; _id = the key; queries are find(...).sort({ _id: 1 }).limit(100) with paging by _id > last key, count() for counts; an AND of fields becomes one query object (NeDB uses one index per query, the last usable top-level field), OR and NOT are not indexed; text: no text index, a $where scan that tokenizes each bio (folded like FTS5); batches are insert([...1000 docs]), puts are update({ _id }, doc, { upsert: true })',
  textNote: 'scan (no text index)',
  async open(dir) {
    fs.mkdirSync(dir, { recursive: true });
    const db = new Datastore({ filename: path.join(dir, 'docs.db') });
    await db.loadDatabaseAsync();
    for (const fieldName of ['city', 'age', 'tags', 'active']) await db.ensureIndexAsync({ fieldName });

    async function query(q, { limit, cursor }) {
      let nq = compile(q);
      // _id first: when NeDB picks its index from the last usable field, the query's own fields win.
      if (cursor != null) nq = { _id: { $gt: cursor }, ...nq };
      const rows = await db.findAsync(nq).sort({ _id: 1 }).limit(limit);
      return { keys: rows.map((d) => d._id), docs: rows.map(strip), cursor: rows.length === limit ? rows[rows.length - 1]._id : null };
    }

    return {
      batch: async (entries) => { await db.insertAsync(entries.map(([k, doc]) => ({ _id: k, ...doc }))); },
      put: async (k, doc) => { await db.updateAsync({ _id: k }, { _id: k, ...doc }, { upsert: true }); },
      get: async (k) => {
        const d = await db.findOneAsync({ _id: k });
        return d ? strip(d) : undefined;
      },
      query,
      count: (q) => db.countAsync(compile(q)),
      close: async () => {},
    };
  },
};
