'use strict';
// SQLite through better-sqlite3 for the query benchmark: one WITHOUT ROWID table of JSON
// documents with expression indexes on city, age and active, a side table for the tags array,
// a contentless FTS5 table for bio (unicode61, remove_diacritics 2). WAL, synchronous=NORMAL,
// prepared statements (cached per query shape), a transaction per batch. Queries are StrataDB
// query objects compiled to SQL; results ORDER BY k with keyset paging (k > last key).
const path = require('node:path');
const fs = require('node:fs');
const Database = require('better-sqlite3');
const { idOf, KEY_DIGITS } = require('../lib/query-gen');

const EXPR = {
  city: "json_extract(v, '$.city')",
  age: "json_extract(v, '$.age')",
  active: "json_extract(v, '$.active')",
};
// json_extract returns JSON true/false as 1/0.
const bind = (x) => (x === true ? 1 : x === false ? 0 : x);
/** The key of FTS rowid `id`, in SQL (keys are `u:` + 10 digits). */
const KEY_OF_ROWID = `printf('u:%0${KEY_DIGITS}d', rowid)`;

/** An FTS5 query: every whitespace-separated word quoted (FTS5 folds case and diacritics itself). */
function ftsQuery(text, op) {
  const words = text.split(/\s+/).filter(Boolean).map((w) => `"${w.replace(/"/g, '""')}"`);
  if (words.length === 0) throw new Error(`sqlite: empty text query ${JSON.stringify(text)}`);
  return words.join(op === 'any' ? ' OR ' : ' ');
}

function prefixUpper(p) {
  return `${p}\u{10ffff}`;
}

/** Conditions of one leaf on a column expression. */
function scalar(expr, q, params) {
  const parts = [];
  if ('eq' in q) { parts.push(`${expr} = ?`); params.push(bind(q.eq)); }
  if ('in' in q) { parts.push(`${expr} IN (${q.in.map(() => '?').join(', ')})`); params.push(...q.in.map(bind)); }
  if ('gt' in q) { parts.push(`${expr} > ?`); params.push(q.gt); }
  if ('gte' in q) { parts.push(`${expr} >= ?`); params.push(q.gte); }
  if ('lt' in q) { parts.push(`${expr} < ?`); params.push(q.lt); }
  if ('lte' in q) { parts.push(`${expr} <= ?`); params.push(q.lte); }
  if ('prefix' in q) { parts.push(`${expr} >= ? AND ${expr} < ?`); params.push(q.prefix, prefixUpper(q.prefix)); }
  if (parts.length === 0) throw new Error(`sqlite: unsupported query ${JSON.stringify(q)}`);
  return parts.join(' AND ');
}

/** A WHERE clause over `docs` for query q; parameters are appended to `params`. */
function where(q, params) {
  if (q.and) return `(${q.and.map((x) => where(x, params)).join(' AND ')})`;
  if (q.or) return `(${q.or.map((x) => where(x, params)).join(' OR ')})`;
  if (q.not) return `NOT ${where(q.not, params)}`;
  if (q.index === 'tags') {
    // Correlated: one (tag, k) primary-key probe per candidate document.
    return `EXISTS (SELECT 1 FROM tags WHERE ${scalar('tag', q, params)} AND tags.k = docs.k)`;
  }
  if (q.index === 'bio') {
    params.push(ftsQuery(q.match ?? q.matchAny, 'match' in q ? 'all' : 'any'));
    return `k IN (SELECT ${KEY_OF_ROWID} FROM bio_fts WHERE bio_fts MATCH ?)`;
  }
  const expr = EXPR[q.index];
  if (!expr) throw new Error(`sqlite: unknown index ${q.index}`);
  return scalar(expr, q, params);
}

module.exports = {
  name: 'sqlite',
  label: 'SQLite (better-sqlite3)',
  version: () => `${require('better-sqlite3/package.json').version} (SQLite ${new Database(':memory:').prepare('select sqlite_version()').pluck().get()})`,
  notes: "journal_mode=WAL, synchronous=NORMAL; CREATE TABLE docs (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID holding the JSON; expression indexes on json_extract(v,'$.city'), json_extract(v,'$.age'), json_extract(v,'$.active'); tags(tag, k) WITHOUT ROWID, primary key (tag, k), probed per candidate with a correlated EXISTS; bio in a contentless FTS5 table (contentless_delete=1, tokenize 'unicode61 remove_diacritics 2', rowid = the id in the key), text-only queries read FTS5 in rowid order; ANALYZE after the batch ingest; prepared statements cached per query shape, a transaction per batch; puts read the old row to update tags and FTS; queries ORDER BY k LIMIT 100 with keyset paging (k > last key), values JSON.parse'd; all calls synchronous",
  textNote: 'FTS5',
  async open(dir) {
    fs.mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, 'docs.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (!db.prepare('PRAGMA compile_options').pluck().all().includes('ENABLE_FTS5')) {
      throw new Error('sqlite: this better-sqlite3 build has no FTS5 (ENABLE_FTS5 missing from PRAGMA compile_options)');
    }
    db.exec(`
      CREATE TABLE IF NOT EXISTS docs (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS docs_city ON docs (${EXPR.city});
      CREATE INDEX IF NOT EXISTS docs_age ON docs (${EXPR.age});
      CREATE INDEX IF NOT EXISTS docs_active ON docs (${EXPR.active});
      CREATE TABLE IF NOT EXISTS tags (tag TEXT NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tag, k)) WITHOUT ROWID;
      CREATE VIRTUAL TABLE IF NOT EXISTS bio_fts USING fts5 (bio, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
    `);
    const getV = db.prepare('SELECT v FROM docs WHERE k = ?').pluck();
    const upsert = db.prepare('INSERT INTO docs (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
    const tagIns = db.prepare('INSERT OR IGNORE INTO tags (tag, k) VALUES (?, ?)');
    const tagDel = db.prepare('DELETE FROM tags WHERE tag = ? AND k = ?');
    const ftsIns = db.prepare('INSERT INTO bio_fts (rowid, bio) VALUES (?, ?)');
    const ftsDel = db.prepare('DELETE FROM bio_fts WHERE rowid = ?');

    function put1(k, doc) {
      const oldV = getV.get(k);
      const old = oldV === undefined ? undefined : JSON.parse(oldV);
      upsert.run(k, JSON.stringify(doc));
      const tags = Array.isArray(doc.tags) ? doc.tags : [];
      const oldTags = Array.isArray(old?.tags) ? old.tags : [];
      for (const t of oldTags) if (!tags.includes(t)) tagDel.run(t, k);
      for (const t of tags) if (!oldTags.includes(t)) tagIns.run(t, k);
      if (old === undefined || old.bio !== doc.bio) {
        const id = idOf(k);
        if (old !== undefined) ftsDel.run(id);
        if (typeof doc.bio === 'string') ftsIns.run(id, doc.bio);
      }
    }
    const batch = db.transaction((entries) => {
      for (const [k, doc] of entries) put1(k, doc);
    });

    const stmts = new Map();
    const stmt = (sql) => {
      let s = stmts.get(sql);
      if (!s) stmts.set(sql, (s = db.prepare(sql)));
      return s;
    };
    const isText = (q) => q.index === 'bio';

    function query(q, { limit, cursor }) {
      if (isText(q)) {
        const params = [ftsQuery(q.match ?? q.matchAny, 'match' in q ? 'all' : 'any')];
        let sql = 'SELECT rowid FROM bio_fts WHERE bio_fts MATCH ?';
        if (cursor != null) { sql += ' AND rowid > ?'; params.push(idOf(cursor)); }
        sql += ' ORDER BY rowid LIMIT ?';
        params.push(limit);
        const ids = stmt(sql).pluck().all(...params);
        const keys = [];
        const docs = [];
        for (const id of ids) {
          const k = `u:${String(id).padStart(KEY_DIGITS, '0')}`;
          keys.push(k);
          docs.push(JSON.parse(getV.get(k)));
        }
        return { keys, docs, cursor: keys.length === limit ? keys[keys.length - 1] : null };
      }
      const params = [];
      let sql = `SELECT k, v FROM docs WHERE ${where(q, params)}`;
      if (cursor != null) { sql += ' AND k > ?'; params.push(cursor); }
      sql += ' ORDER BY k LIMIT ?';
      params.push(limit);
      const rows = stmt(sql).raw().all(...params);
      const keys = new Array(rows.length);
      const docs = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        keys[i] = rows[i][0];
        docs[i] = JSON.parse(rows[i][1]);
      }
      return { keys, docs, cursor: rows.length === limit ? keys[keys.length - 1] : null };
    }

    function count(q) {
      if (isText(q)) return stmt('SELECT count(*) FROM bio_fts WHERE bio_fts MATCH ?').pluck().get(ftsQuery(q.match ?? q.matchAny, 'match' in q ? 'all' : 'any'));
      const params = [];
      return stmt(`SELECT count(*) FROM docs WHERE ${where(q, params)}`).pluck().get(...params);
    }

    return {
      batch: async (entries) => { batch(entries); },
      put: async (k, doc) => { put1(k, doc); },
      get: async (k) => {
        const v = getV.get(k);
        return v === undefined ? undefined : JSON.parse(v);
      },
      afterIngest: async () => { db.exec('ANALYZE'); },
      query: async (q, opts) => query(q, opts),
      count: async (q) => count(q),
      explain: (q, opts = { limit: 100 }) => {
        const params = [];
        const sql = isText(q) ? null : `SELECT k, v FROM docs WHERE ${where(q, params)} ORDER BY k LIMIT ${opts.limit}`;
        return sql ? db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => r.detail) : ['fts5 rowid order'];
      },
      close: async () => { db.close(); },
    };
  },
};
