'use strict';
// LMDB (lmdb-js) with its default durability.
const { lmdbStore } = require('./_lmdb');

module.exports = lmdbStore({
  name: 'lmdb',
  label: 'LMDB (lmdb)',
  noSync: false,
  notes: 'default durability (commits are flushed to disk), binary encodings, no compression; get is synchronous (the async read phases await it); putSync for the sync put phase; seeks and scans use getRange',
});
