'use strict';
// StrataDB with secondary indexes (the root package, built into ../../dist): the five indexes
// of the workload defined at open, JSON values, db.query / db.count.
const path = require('node:path');
const { INDEXES } = require('../lib/query-gen');

// STRATA_BENCH_STRATADB_ROOT: another build to measure (a directory with dist/, binding.js and
// the .node file, e.g. one compiled with `tsc --outDir` from a work in progress); default the repository.
const root = process.env.STRATA_BENCH_STRATADB_ROOT || path.join(__dirname, '..', '..');

class QueryApiMissing extends Error {
  constructor(why) {
    super(`query API not available in ${path.join(root, 'dist')} (${why}); build the root package with the index layer (npm run build:ts)`);
    this.code = 'QUERY_API_MISSING';
  }
}

function load() {
  let strata;
  try {
    strata = require(path.join(root, 'dist'));
  } catch (e) {
    throw new Error(`stratadb: cannot load ${path.join(root, 'dist')} (run \`npm ci\` or \`npm run build\` at the repository root first): ${e.message}`);
  }
  const proto = strata.Db?.prototype;
  if (typeof proto?.query !== 'function') throw new QueryApiMissing('Db has no query()');
  if (typeof proto?.count !== 'function') throw new QueryApiMissing('Db has no count()');
  return strata;
}

module.exports = {
  name: 'stratadb',
  label: 'StrataDB',
  version: () => require(path.join(root, 'package.json')).version,
  notes: "default options (balanced profile, sync: false), valueEncoding 'json', utf8 keys; indexes defined at open: city equality ($.city), age range ($.age), tags equality ($.tags[*]), bio text ($.bio), active equality ($.active); db.batch per 1000 documents, awaited db.put; db.query(q, { limit: 100, cursor, values: true }) and db.count(q), a result with partial !== false fails the run",
  textNote: 'text index',
  QueryApiMissing,
  async open(dir) {
    const strata = load();
    const db = await strata.open(dir, { valueEncoding: 'json', indexes: INDEXES, envFile: false });
    if (typeof db.query !== 'function') {
      await db.close();
      throw new QueryApiMissing('the opened database has no query()');
    }
    return {
      batch: (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put', key, value }))),
      put: (k, doc) => db.put(k, doc),
      get: (k) => db.get(k),
      async query(q, { limit, cursor }) {
        const opts = { limit, values: true };
        if (cursor != null) opts.cursor = cursor;
        const r = await db.query(q, opts);
        if (r.partial !== false) throw new Error(`stratadb: query ${JSON.stringify(q)} returned partial: ${JSON.stringify(r.partial)}`);
        const keys = new Array(r.items.length);
        const docs = new Array(r.items.length);
        for (let i = 0; i < r.items.length; i++) {
          keys[i] = r.items[i].key;
          docs[i] = r.items[i].value;
        }
        return { keys, docs, cursor: r.cursor ?? null, stats: r.stats };
      },
      count: (q) => db.count(q),
      stats: () => db.stats(),
      close: () => db.close(),
    };
  },
};
