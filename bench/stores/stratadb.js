'use strict';
// StrataDB, the root package (built into ../../dist by the root `npm ci` / `npm run build`).
const path = require('node:path');

// STRATA_BENCH_STRATADB_ROOT: another build to measure (a directory with dist/, binding.js,
// the .node and package.json); `stratadb-ref` (below) loads STRATA_BENCH_REF_ROOT instead.
const root = process.env.STRATA_BENCH_STRATADB_ROOT || path.join(__dirname, '..', '..');
let strata;
try {
  strata = require(path.join(root, 'dist'));
} catch (e) {
  throw new Error(`stratadb: cannot load ${path.join(root, 'dist')} (run \`npm ci\` or \`npm run build\` at the repository root first): ${e.message}`);
}

// STRATA_BENCH_STRATADB_OPTIONS: extra open options as JSON (`stratadb-zstd` sets it).
const extra = JSON.parse(process.env.STRATA_BENCH_STRATADB_OPTIONS || '{}');

module.exports = {
  name: 'stratadb',
  label: 'StrataDB',
  version: () => require(path.join(root, 'package.json')).version,
  notes: 'default options (balanced profile, sync: false), buffer encodings; async get/put/del/batch; getSync for the sync read phase; no sync put API',
  async open(dir) {
    const db = await strata.open(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', envFile: false, ...extra });
    return {
      put: (k, v) => db.put(k, v),
      get: (k) => db.get(k),
      getSync: (k) => db.getSync(k),
      del: (k) => db.del(k),
      batchPut: (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put', key, value }))),
      async readseq() {
        let n = 0;
        const it = db.iterator();
        for (;;) {
          const chunk = await it.nextv(1000);
          if (chunk.length === 0) break;
          n += chunk.length;
        }
        await it.close();
        return n;
      },
      seeker() {
        const it = db.iterator();
        return {
          async seek(k, count) {
            it.seek(k);
            return (await it.nextv(count)).length;
          },
          close: () => it.close(),
        };
      },
      async scan(k, count) {
        const it = db.iterator({ gte: k, limit: count });
        const n = (await it.nextv(count)).length;
        await it.close();
        return n;
      },
      stats: () => db.stats(),
      close: () => db.close(),
    };
  },
};
