/**
 * Imports land whole or not at all (ts/admin/import-journal.ts): a bad record, an abort, a
 * crash (`kill -9`) or a damaged journal never leave half an import. Each case compares every
 * stored byte and the index answers with the database as it was before the import.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Readable } from 'node:stream';

import test from 'ava';

import { open } from '../ts/index';
import type { Db } from '../ts/index';
import { ImportJournal, IMPORT_JOURNAL } from '../ts/admin/import-journal';
import { BatchPacker } from '../ts/codec';
import type { KvDb } from '../ts/database';
import { IMPORT_FIXTURE_CITY, importFixtureRecords } from './fixtures/make-import-fixture';
import { expectCode, mulberry32, tmpPath } from './helpers';

type Doc = { city: string; n: number };
const CITY = { name: 'city', type: 'equality' as const, extractor: { kind: 'json_path' as const, path: '$.city' } };
const CITIES = ['c0', 'c1', 'c2', 'c3', 'c4'];

function openDoc(location: string): Promise<Db<string, Doc>> {
  return open<string, Doc>(location, { env: {}, envFile: false, valueEncoding: 'json', indexes: [CITY] });
}

/** Every user key and value (hex) and, per city, the keys the index returns. */
async function state(db: Db<string, Doc>): Promise<{ raw: [string, string][]; byCity: Record<string, string[]> }> {
  const all = (await db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).all()) as unknown as [Buffer, Buffer][];
  const byCity: Record<string, string[]> = {};
  for (const c of CITIES) byCity[c] = (await db.query({ index: 'city', eq: c }, { limit: 10_000 })).items.map((i) => i.key);
  return { raw: all.map(([k, v]) => [k.toString('hex'), v.toString('hex')]), byCity };
}

async function journalKeys(db: Db<string, Doc>): Promise<number> {
  const kv = db as unknown as KvDb<unknown, unknown>;
  return (await kv._rawIterator({ system: true, gte: Buffer.from([IMPORT_JOURNAL]), lt: Buffer.from([IMPORT_JOURNAL + 1]) }).all()).length;
}

/** A database of 300 records, and an NDJSON import of `n` records: overwrites, new keys, repeats. */
async function setup(n: number, seed: number): Promise<{ location: string; lines: string[] }> {
  const location = tmpPath('imp');
  const db = await openDoc(location);
  await db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: { city: CITIES[i % 5] as string, n: i } })));
  await db.del('k00007');
  await db.close();
  const rnd = mulberry32(seed);
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ key: `k${String(Math.floor(rnd() * 600)).padStart(5, '0')}`, value: { city: CITIES[Math.floor(rnd() * 5)] as string, n: 10_000 + i } }));
  return { location, lines };
}

test('a bad record rolls the whole import back: bytes and index answers as before; atomic: false keeps the batches before it', async (t) => {
  const { location, lines } = await setup(1000, 7);
  const db = await openDoc(location);
  const before = await state(db);
  const bad = [...lines.slice(0, 950), '{"key":"zz","value":', ...lines.slice(950)];
  const e = await expectCode(() => db.import(Readable.from([bad.join('\n')]), { batchSize: 100 }), 'STRATA_INVALID_ARGUMENT');
  t.regex(e.message, /line 951 is not JSON/);
  t.regex(e.message, /nothing was imported: the 900 records written before it were rolled back, 900 keys restored/);
  t.deepEqual(await state(db), before);
  t.is(await journalKeys(db), 0, 'the journal is gone');
  t.deepEqual((await db.verify()).problems, []);

  const kept = await expectCode(() => db.import(Readable.from([bad.join('\n')]), { batchSize: 100, atomic: false }), 'STRATA_INVALID_ARGUMENT');
  t.regex(kept.message, /900 records were imported before it/);
  t.notDeepEqual(await state(db), before);
  t.is(await journalKeys(db), 0, 'no journal without atomic');
  await expectCode(() => db.import(Readable.from(['']), { atomic: 'yes' as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.import(Readable.from(['']), { signal: {} as never }), 'STRATA_INVALID_ARGUMENT');
  await db.close();
});

test('a successful import is exactly the records applied in order, and leaves no journal', async (t) => {
  const { location, lines } = await setup(700, 11);
  const db = await openDoc(location);
  const r = await db.import(Readable.from([lines.join('\n')]), { batchSize: 64 });
  t.is(r.entries, 700);
  const model = new Map<string, Doc>((await db.iterator().all()).map(([k, v]) => [k, v]));
  const expected = new Map<string, Doc>();
  // Rebuild the expectation: the setup's records, then every line in order.
  for (let i = 0; i < 300; i++) if (i !== 7) expected.set(`k${String(i).padStart(5, '0')}`, { city: CITIES[i % 5] as string, n: i });
  for (const l of lines) {
    const rec = JSON.parse(l) as { key: string; value: Doc };
    expected.set(rec.key, rec.value);
  }
  t.deepEqual([...model.entries()].sort(), [...expected.entries()].sort());
  t.is(await journalKeys(db), 0);
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('an abort (AbortSignal) rolls back what was written and rejects with an AbortError', async (t) => {
  const { location, lines } = await setup(2000, 13);
  const db = await openDoc(location);
  const before = await state(db);
  const ac = new AbortController();
  const e = await t.throwsAsync(
    db.import(Readable.from([lines.join('\n')]), {
      batchSize: 100,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.entries >= 500) ac.abort();
      },
    }),
  );
  t.is(e?.name, 'AbortError');
  t.is((e as { code?: string }).code, 'ABORT_ERR');
  t.regex(e?.message ?? '', /import aborted \(nothing was imported: the 500 records/);
  t.deepEqual(await state(db), before);
  t.is(await journalKeys(db), 0);
  await db.close();
});

test('kill -9 during an import: the next open rolls it back (bytes, indexes, verify)', async (t) => {
  t.timeout(2 * 60_000);
  const rounds = Number(process.env.STRATA_TEST_IMPORT_KILLS ?? 2);
  for (let round = 0; round < rounds; round++) {
    const { location, lines } = await setup(20_000, 100 + round);
    const file = path.join(path.dirname(location), `in-${round}.ndjson`);
    fs.writeFileSync(file, lines.join('\n'));
    const db = await openDoc(location);
    const before = await state(db);
    await db.close();
    const writer = path.join(__dirname, 'fixtures', 'import-writer.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', writer, location, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
    const target = 500 + Math.floor(Math.random() * 5000);
    let last = 0;
    let killed = false;
    for await (const line of readline.createInterface({ input: child.stdout })) {
      if (line.startsWith('progress ')) last = Number(line.split(' ')[1]);
      if (!killed && last >= target) {
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 20));
        killed = true;
      }
    }
    t.is(await exited, 'SIGKILL', `round ${round}: the import was killed mid-way (after ${last} records)`);
    const after = await openDoc(location);
    t.deepEqual(await state(after), before, `round ${round}: killed after ${last} records`);
    t.is(await journalKeys(after), 0);
    t.deepEqual((await after.verify()).problems, []);
    await after.close();
  }
});

test('journal cases at open: a running journal rolls back, a committed one is only dropped, a damaged one is STRATA_CORRUPTION', async (t) => {
  const { location } = await setup(0, 1);
  let db = await openDoc(location);
  const before = await state(db);
  const kv = db as unknown as KvDb<unknown, unknown>;
  // A crash between a batch and the commit: the journal and the batch are on disk.
  const j = await ImportJournal.begin(kv);
  const keys = ['k00001', 'k00007', 'new'].map((k) => Buffer.from(k));
  await j.record(keys);
  await db.batch(keys.map((k) => ({ type: 'put' as const, key: k.toString(), value: { city: 'c9', n: -1 } })));
  await db.close();
  db = await openDoc(location);
  t.deepEqual(await state(db), before, 'rolled back at open');
  t.is(await db.get('new'), undefined);

  // A committed header: the import stands, the journal goes.
  const kv2 = db as unknown as KvDb<unknown, unknown>;
  const j2 = await ImportJournal.begin(kv2);
  await j2.record([Buffer.from('k00002')]);
  await db.put('k00002', { city: 'c9', n: -2 });
  const header = (await kv2._rawIterator({ system: true, gte: Buffer.from([IMPORT_JOURNAL]), lt: Buffer.from([IMPORT_JOURNAL + 1]) }).all())[0] as [Buffer, Buffer];
  const p = new BatchPacker();
  p.putSystem(header[0], Buffer.from(JSON.stringify({ v: 1, state: 'committed', startedAt: new Date().toISOString() })));
  await kv2._submit(p, false);
  await db.close();
  db = await openDoc(location);
  t.deepEqual(await db.get('k00002'), { city: 'c9', n: -2 });
  t.is(await journalKeys(db), 0);

  // Damaged journal records: a typed error at open, never a crash or a silent rollback.
  const damaged: [string, Buffer][] = [
    ['header', Buffer.from('{"v":2,"state":"running"}')],
    ['header', Buffer.from('not json')],
    ['entry', Buffer.from([7, 0, 0, 0, 1, 0x61])],
    ['entry', Buffer.from([1, 0, 0, 0, 9, 0x61])],
    ['entry', Buffer.from([0, 0, 0])],
  ];
  await db.close();
  for (const [kind, value] of damaged) {
    const fresh = (await setup(0, 2)).location;
    const d = await openDoc(fresh);
    const kv3 = d as unknown as KvDb<unknown, unknown>;
    const id = Buffer.from('0123456789abcdef', 'hex');
    const q = new BatchPacker();
    q.putSystem(Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([0])]), kind === 'header' ? value : Buffer.from('{"v":1,"state":"running","startedAt":"x"}'));
    if (kind === 'entry') q.putSystem(Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0])]), value);
    await kv3._submit(q, false);
    await d.close();
    const err = await expectCode(() => openDoc(fresh), 'STRATA_CORRUPTION');
    t.regex(err.message, /import journal/);
    // A read-only open does not recover, so the data stays readable for salvage.
    const ro = await open(fresh, { env: {}, envFile: false, readOnly: true });
    t.true((await ro.keys().all()).length > 0);
    await ro.close();
  }
});

test('format fixture import-v1: opening a copy rolls its interrupted import back', async (t) => {
  const copy = tmpPath('import-v1');
  fs.cpSync(path.join(__dirname, 'fixtures', 'format', 'import-v1'), copy, { recursive: true });
  const db = await open<string, Doc>(copy, { env: {}, envFile: false, valueEncoding: 'json', indexes: [IMPORT_FIXTURE_CITY] });
  t.deepEqual(await db.iterator().all(), importFixtureRecords());
  t.is(await db.count({ index: 'city', eq: 'imported' }), 0);
  t.is(await db.count({ index: 'city', eq: 'c0' }), 14);
  t.is(await journalKeys(db as unknown as Db<string, Doc>), 0);
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
});

test('fuzz: random journal entry bytes at open roll back valid entries or fail with STRATA_CORRUPTION, never anything else', async (t) => {
  const rnd = mulberry32(Number(process.env.STRATA_TEST_SEED ?? 4242));
  const cases = Number(process.env.STRATA_TEST_JOURNAL_FUZZ ?? 25);
  let rolled = 0;
  for (let c = 0; c < cases; c++) {
    const location = tmpPath('jfuzz');
    const db = await openDoc(location);
    await db.put('keep', { city: 'c0', n: 1 });
    // Half structured (a flag, a declared key length that may lie, a key that may be a system key), half noise.
    const bytes = (n: number, hi = 256): number[] => Array.from({ length: n }, () => Math.floor(rnd() * hi));
    let value: Buffer;
    if (rnd() < 0.5) {
      const key = rnd() < 0.15 ? [...Array(8).fill(0xff), 1] : bytes(Math.floor(rnd() * 6), 128);
      const declared = rnd() < 0.7 ? key.length : Math.floor(rnd() * 9);
      const head = Buffer.alloc(5);
      head[0] = rnd() < 0.9 ? Math.floor(rnd() * 2) : Math.floor(rnd() * 256);
      head.writeUInt32BE(declared, 1);
      value = Buffer.concat([head, Buffer.from(key), Buffer.from(head[0] === 1 ? bytes(Math.floor(rnd() * 4)) : rnd() < 0.8 ? [] : [1])]);
    } else {
      value = Buffer.from(bytes(Math.floor(rnd() * 12)));
    }
    const q = new BatchPacker();
    const id = Buffer.alloc(8, c);
    q.putSystem(Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([0])]), Buffer.from('{"v":1,"state":"running","startedAt":"x"}'));
    q.putSystem(Buffer.concat([Buffer.from([IMPORT_JOURNAL]), id, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0])]), value);
    await (db as unknown as KvDb<unknown, unknown>)._submit(q, false);
    await db.close();
    try {
      const again = await openDoc(location);
      rolled++;
      t.deepEqual(await again.get('keep'), { city: 'c0', n: 1 });
      t.is(await journalKeys(again), 0);
      await again.close();
    } catch (e) {
      t.is((e as { code?: string }).code, 'STRATA_CORRUPTION', String(e));
    }
  }
  t.log(`${rolled} of ${cases} random entries were valid and rolled back`);
});
