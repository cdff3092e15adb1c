/**
 * Runtimes: StrataDB in `worker_threads`, and Buffers that never point into a memory-mapped
 * file (Electron's V8 memory cage forbids external buffers; a view into an mmap'd SST would
 * also die with its mapping). The binding copies every value out of the engine (`src/lib.rs`,
 * "Design": sync results are `napi_create_buffer_copy`, async ones own a Rust `Vec` that
 * napi-rs turns into a copy where external buffers are not allowed); these tests hold it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import test from 'ava';

import { open } from '../ts/index';
import { tmpPath } from './helpers';

const INDEX = path.join(__dirname, '..', 'dist', 'index.js');

function runWorker(source: string, workerData: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData });
    let result: unknown;
    w.on('message', (m) => (result = m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
  });
}

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { open } = require(${JSON.stringify(INDEX)});
  (async () => {
    const db = await open(workerData.location, { env: {}, envFile: false });
    for (let i = 0; i < 500; i++) await db.put('w' + workerData.id + ':' + String(i).padStart(4, '0'), 'v' + i);
    const got = await db.get('w' + workerData.id + ':0042');
    const n = (await db.keys().all()).length;
    let locked = null;
    if (workerData.second) {
      try { await open(workerData.location, { env: {}, envFile: false }); } catch (e) { locked = e.code; }
    }
    await db.close();
    parentPort.postMessage({ got, n, locked });
  })().catch((e) => { parentPort.postMessage({ error: String(e && e.stack || e) }); process.exit(1); });
`;

test('worker_threads: several workers each run their own database while the main thread runs another', async (t) => {
  const main = await open(tmpPath(), { env: {}, envFile: false });
  const locations = [tmpPath(), tmpPath(), tmpPath()];
  const mainWork = (async () => {
    for (let i = 0; i < 500; i++) await main.put(`m:${i}`, String(i));
    return (await main.keys().all()).length;
  })();
  const results = await Promise.all(locations.map((location, id) => runWorker(WORKER, { location, id, second: id === 0 })));
  t.is(await mainWork, 500);
  for (const [id, r] of results.entries()) t.deepEqual(r, { got: 'v42', n: 500, locked: id === 0 ? 'STRATA_LOCKED' : null });
  await main.close();
  // What a worker wrote is there for the main thread after the worker has gone.
  const again = await open(locations[1] as string, { env: {}, envFile: false });
  t.is(await again.get('w1:0499'), 'v499');
  await again.close();
});

test('worker_threads: a database a worker wrote and closed opens in the main thread', async (t) => {
  const location = tmpPath();
  const r = (await runWorker(WORKER, { location, id: 7, second: false })) as { n: number };
  t.is(r.n, 500);
  const db = await open(location, { env: {}, envFile: false });
  t.is((await db.keys().all()).length, 500);
  await db.close();
});

// In a child: values read from memory-mapped SSTables through every read path are written to
// (a view into a PROT_READ mapping would fault) and read again after the database is closed
// and its files deleted (a view into an unmapped file would fault or change).
const MMAP_CHILD = `
  const { open } = require(${JSON.stringify(INDEX)});
  const fs = require('node:fs');
  const crypto = require('node:crypto');
  (async () => {
    const location = process.argv[1];
    const opts = { env: {}, envFile: false, useMmap: true, keyEncoding: 'utf8', valueEncoding: 'buffer', memtableSize: 65536, blockCacheSize: 0 };
    let db = await open(location, opts);
    const value = (i) => crypto.createHash('sha256').update('v' + i).digest();
    for (let i = 0; i < 2000; i++) await db.put('k' + String(i).padStart(5, '0'), value(i));
    await db.compactRange();
    await db.close();
    db = await open(location, opts);
    const s = await db.stats();
    if (s.levels.reduce((n, l) => n + l.files, 0) === 0) throw new Error('nothing in SSTables');
    const held = [];
    const snap = db.snapshot();
    held.push([7, await db.get('k00007')]);
    held.push([8, db.getSync('k00008')]);
    const many = await db.getMany(['k00009', 'k00010']);
    held.push([9, many[0]], [10, many[1]]);
    held.push([11, await db.get('k00011', { snapshot: snap })]);
    const all = await db.iterator({ gte: 'k00100', lt: 'k00200' }).all();
    all.forEach(([k, v]) => held.push([Number(k.slice(1)), v]));
    const it = db.values({ gte: 'k01000' });
    const chunk = await it.nextv(50);
    await it.close();
    chunk.forEach((v, j) => held.push([1000 + j, v]));
    for await (const [k, v] of db.iterator({ gte: 'k01500', limit: 20 })) held.push([Number(k.slice(1)), v]);
    snap.close();
    for (const [, b] of held) { if (!Buffer.isBuffer(b)) throw new Error('not a Buffer'); b[0] ^= 0xff; }
    await db.close();
    fs.rmSync(location, { recursive: true, force: true });
    if (global.gc) global.gc();
    let bad = 0;
    for (const [i, b] of held) { const want = value(i); want[0] ^= 0xff; if (!b.equals(want)) bad++; }
    console.log(JSON.stringify({ held: held.length, bad }));
  })().catch((e) => { console.error(e); process.exit(1); });
`;

test('no Buffer points into a memory-mapped file: every read path returns memory of its own', (t) => {
  const location = tmpPath();
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', MMAP_CHILD, location], { encoding: 'utf8' });
  t.is(r.signal, null, `the child died of ${String(r.signal)}: ${r.stderr}`);
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { held: number; bad: number };
  t.is(out.held, 5 + 100 + 50 + 20);
  t.is(out.bad, 0);
});
