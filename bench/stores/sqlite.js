'use strict';
// SQLite through better-sqlite3: WAL, synchronous=NORMAL, one WITHOUT ROWID table, prepared
// statements, a transaction per batch. Every call is synchronous (the async phases await it).
const path = require('node:path');
const fs = require('node:fs');
const Database = require('better-sqlite3');

module.exports = {
  name: 'sqlite',
  label: 'SQLite (better-sqlite3)',
  version: () => `${require('better-sqlite3/package.json').version} (SQLite ${new Database(':memory:').prepare('select sqlite_version()').pluck().get()})`,
  notes: 'journal_mode=WAL, synchronous=NORMAL, CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID, prepared statements, a transaction per batch; all calls synchronous',
  async open(dir) {
    fs.mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, 'kv.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const put = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
    const get = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
    const del = db.prepare('DELETE FROM kv WHERE k = ?');
    const range = db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw();
    const all = db.prepare('SELECT k, v FROM kv ORDER BY k').raw();
    const batch = db.transaction((entries) => {
      for (const [k, v] of entries) put.run(k, v);
    });
    const scan = async (k, count) => range.all(k, count).length;
    return {
      put: async (k, v) => { put.run(k, v); },
      putSync: (k, v) => { put.run(k, v); },
      get: async (k) => get.get(k),
      getSync: (k) => get.get(k),
      del: async (k) => { del.run(k); },
      batchPut: async (entries) => { batch(entries); },
      async readseq() {
        let n = 0;
        for (const row of all.iterate()) if (row) n++;
        return n;
      },
      seeker: () => ({ seek: scan, close: async () => {} }),
      scan,
      close: async () => { db.close(); },
    };
  },
};
