/**
 * kill -9 of a server process under HTTP write load with `sync = true`: after a restart,
 * every write that got a 2xx is there with its value.
 */
import test from 'ava';

import { openInstances } from '../ts/instances';
import { startChild, writeConfig } from './fixtures/server';

const TOML = `
[[instance]]
name = "log"
data_dir = "./.lsm_log"
codec = "raw"
query = false
sync = true
memtable_size = "256KiB"
`;

// An indexed instance: grouped writes carry their postings in the same batch.
const INDEXED_TOML = `
[[instance]]
name = "log"
data_dir = "./.lsm_log"
codec = "bson"
indexes_file = "./indexes.toml"
sync = true
memtable_size = "256KiB"
`;
const INDEXES = `
[[index]]
name = "tag"
type = "equality"
extractor = { kind = "bson_path", path = "$.tag" }
`;

for (const [name, toml, files, valueOf] of [
  ['raw', TOML, {}, (key: string, n: number): unknown => Buffer.from(`${key}:${'x'.repeat(n % 200)}`).toString('base64')],
  ['indexed bson', INDEXED_TOML, { 'indexes.toml': INDEXES }, (key: string, n: number): unknown => ({ tag: `t${n % 7}`, key })],
] as const) {
  test(`kill -9 under write load (${name}): every acknowledged write survives`, async (t) => {
    t.timeout(60_000);
    const file = writeConfig(toml, files);
    const { child, url } = await startChild(file);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const acked = new Map<string, unknown>();
    let stop = false;
    let n = 0;
    const writer = async (w: number): Promise<void> => {
      while (!stop) {
        const key = `w${w}:${n++}`;
        const value = valueOf(key, n);
        try {
          const res = await fetch(`${url}/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value }) });
          await res.arrayBuffer();
          if (res.status >= 200 && res.status < 300) acked.set(key, value);
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    // Kill once a fair number of writes were acknowledged (not after a fixed time).
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    stop = true;
    await Promise.all(writers);
    t.log(`${acked.size} acknowledged writes before kill -9`);

    const instances = await openInstances(file, { dbOptions: { env: {}, envFile: false } });
    try {
      const db = instances.get('log').db;
      let missing = 0;
      for (const [k, v] of acked) {
        const got = await db.get(k);
        const same = got instanceof Uint8Array ? Buffer.from(got).toString('base64') === v : JSON.stringify(got) === JSON.stringify(v);
        if (!same) missing++;
      }
      t.is(missing, 0);
      // verify() also checks every posting of the indexed instance against the records.
      t.true((await db.verify()).ok);
      if (name === 'indexed bson') {
        const tagged = [...acked.values()].filter((v) => (v as { tag: string }).tag === 't3').length;
        t.true((await db.count({ index: 'tag', eq: 't3' })) >= tagged);
      }
    } finally {
      await instances.close();
    }
  });
}
