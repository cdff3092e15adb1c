'use strict';
// A second StrataDB build measured in the same run as `stratadb` (a before/after comparison):
// the build in STRATA_BENCH_BASE_ROOT (a directory with dist/, binding.js, loader.js,
// package.json and the .node file, e.g. a copy of the repository's build before a change).
// Only run when QUERY_STORES names it.
const path = require('node:path');

const root = process.env.STRATA_BENCH_BASE_ROOT;

if (root) process.env.STRATA_BENCH_STRATADB_ROOT = path.resolve(root);
const base = require('./stratadb');

module.exports = {
  ...base,
  name: 'stratadb-base',
  label: 'StrataDB (base)',
  version: () => (root ? require(path.join(path.resolve(root), 'package.json')).version : '?'),
  async open(dir) {
    if (!root) throw Object.assign(new Error('stratadb-base: set STRATA_BENCH_BASE_ROOT to the build to compare with'), { code: 'QUERY_API_MISSING' });
    return base.open(dir);
  },
};
