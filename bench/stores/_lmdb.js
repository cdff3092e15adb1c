'use strict';
// Shared adapter for LMDB (lmdb-js): get and getRange are synchronous; put/remove/transaction
// return promises that resolve when lmdb-js has committed the write transaction.
const { open } = require('lmdb');
const { pkgVersion } = require('../lib/common');

function lmdbStore({ name, label, noSync, notes }) {
  return {
    name,
    label,
    version: () => pkgVersion('lmdb'),
    notes,
    async open(dir) {
      const db = open({ path: dir, keyEncoding: 'binary', encoding: 'binary', compression: false, noSync });
      return {
        put: (k, v) => db.put(k, v),
        putSync: (k, v) => db.putSync(k, v),
        get: (k) => db.get(k),
        getSync: (k) => db.get(k),
        del: (k) => db.remove(k),
        batchPut: (entries) => db.transaction(() => {
          for (const [k, v] of entries) db.put(k, v);
        }),
        async readseq() {
          let n = 0;
          for (const e of db.getRange({})) if (e) n++;
          return n;
        },
        seeker() {
          return {
            async seek(k, count) {
              let n = 0;
              for (const e of db.getRange({ start: k, limit: count })) if (e) n++;
              return n;
            },
            close: async () => {},
          };
        },
        async scan(k, count) {
          let n = 0;
          for (const e of db.getRange({ start: k, limit: count })) if (e) n++;
          return n;
        },
        close: () => db.close(),
      };
    },
  };
}

module.exports = { lmdbStore };
