'use strict';
// RocksDB through @nxtedition/rocksdb (prebuilt binary).
const { RocksLevel } = require('@nxtedition/rocksdb');
const { levelAdapter } = require('./_level');

module.exports = {
  name: 'rocksdb',
  label: 'RocksDB (@nxtedition/rocksdb)',
  version: () => require('@nxtedition/rocksdb/package.json').version,
  notes: 'default options (sync: false), buffer encodings; no public sync get or sync put API',
  async open(dir) {
    const db = new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    return levelAdapter(db);
  },
};
