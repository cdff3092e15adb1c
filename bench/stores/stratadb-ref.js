'use strict';
// A reference build of StrataDB, for before/after ratios in one run: the directory named by
// STRATA_BENCH_REF_ROOT (with dist/, binding.js, the .node and package.json, e.g. a copy of
// the repository root built at the baseline commit). Never a peer: the report compares
// `stratadb` with the other stores and lists this one beside them. Not in STORES=all.
const path = require('node:path');

const root = process.env.STRATA_BENCH_REF_ROOT;
if (!root) throw new Error('stratadb-ref: set STRATA_BENCH_REF_ROOT to the directory of the reference build');
process.env.STRATA_BENCH_STRATADB_ROOT = path.resolve(root);
const store = require('./stratadb');

module.exports = { ...store, name: 'stratadb-ref', label: `StrataDB ref (${path.basename(path.resolve(root))})` };
