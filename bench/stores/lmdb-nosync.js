'use strict';
// LMDB (lmdb-js) with noSync: true (no flush on commit).
const { lmdbStore } = require('./_lmdb');

module.exports = lmdbStore({
  name: 'lmdb-nosync',
  label: 'LMDB noSync (lmdb)',
  noSync: true,
  notes: 'noSync: true, binary encodings, no compression; otherwise as lmdb',
});
