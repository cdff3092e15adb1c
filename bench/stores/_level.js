'use strict';
// Shared adapter for the abstract-level stores (classic-level, @nxtedition/rocksdb).

function levelAdapter(db, { getSync } = {}) {
  const enc = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
  return {
    put: (k, v) => db.put(k, v),
    // abstract-level 1 (rocksdb) rejects a missing key with LEVEL_NOT_FOUND; level 3 resolves undefined.
    get: (k) => db.get(k).catch((e) => {
      if (e.code === 'LEVEL_NOT_FOUND') return undefined;
      throw e;
    }),
    getSync: getSync ? (k) => db.getSync(k) : undefined,
    del: (k) => db.del(k),
    batchPut: (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put', key, value }))),
    async readseq() {
      let n = 0;
      const it = db.iterator(enc);
      for (;;) {
        const chunk = await it.nextv(1000);
        if (chunk.length === 0) break;
        n += chunk.length;
      }
      await it.close();
      return n;
    },
    seeker() {
      const it = db.iterator(enc);
      return {
        async seek(k, count) {
          it.seek(k);
          return (await it.nextv(count)).length;
        },
        close: () => it.close(),
      };
    },
    async scan(k, count) {
      const it = db.iterator({ ...enc, gte: k, limit: count });
      const n = (await it.nextv(count)).length;
      await it.close();
      return n;
    },
    close: () => db.close(),
  };
}

module.exports = { levelAdapter };
