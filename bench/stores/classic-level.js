'use strict';
// LevelDB through classic-level (prebuilt binary).
const { ClassicLevel } = require('classic-level');
const { levelAdapter } = require('./_level');

module.exports = {
  name: 'classic-level',
  label: 'LevelDB (classic-level)',
  version: () => require('classic-level/package.json').version,
  notes: 'default options (sync: false), buffer encodings; getSync for the sync read phase; no sync put API',
  async open(dir) {
    const db = new ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    return levelAdapter(db, { getSync: true });
  },
};
