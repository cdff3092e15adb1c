'use strict';
// StrataDB with LevelDB's memory budget: an 8 MiB memtable and an 8 MiB block cache instead of
// 32 + 32 MiB (the `low-memory` profile goes further, 4 + 4 MiB). What the smaller budget
// costs in speed and saves in RSS, beside the default in the same run. Never a peer; not in
// STORES=all.
process.env.STRATA_BENCH_STRATADB_OPTIONS = JSON.stringify({ memtableSize: 8 * 2 ** 20, blockCacheSize: 8 * 2 ** 20 });
const store = require('./stratadb');

module.exports = {
  ...store,
  name: 'stratadb-lowmem',
  label: 'StrataDB 8 + 8 MiB',
  notes: 'as StrataDB, with memtableSize 8 MiB and blockCacheSize 8 MiB',
};
