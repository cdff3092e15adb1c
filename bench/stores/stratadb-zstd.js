'use strict';
// StrataDB with every table compressed with zstd (`zstd: 'all'`, level 3): what the option
// costs in speed and saves on disk, beside the default build in the same run. Never a peer
// (the report compares `stratadb` with the other stores). Not in STORES=all.
process.env.STRATA_BENCH_STRATADB_OPTIONS = JSON.stringify({ zstd: 'all' });
const store = require('./stratadb');

module.exports = {
  ...store,
  name: 'stratadb-zstd',
  label: "StrataDB zstd: 'all'",
  notes: "as StrataDB, with zstd: 'all' (every table's blocks zstd level 3 instead of LZ4)",
};
