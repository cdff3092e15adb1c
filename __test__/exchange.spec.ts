/**
 * Export and import: every value encoding and every format round-trips byte for byte
 * (non-UTF-8 keys, binary values, every BSON type), indexes are maintained on import, prefix
 * and range select, the exporter respects backpressure, and bad input is a typed error that
 * names the record.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';

import test from 'ava';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson';

import { StrataError } from '../ts/index';
import type { Db, EncodingName, ExchangeFormat } from '../ts/index';
import { expectCode, fresh, mulberry32, tmpPath } from './helpers';

const FORMATS: ExchangeFormat[] = ['ndjson', 'json', 'csv'];

async function raw(db: Db<unknown, unknown>): Promise<[string, string][]> {
  const all = (await db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).all()) as [Buffer, Buffer][];
  return all.map(([k, v]) => [k.toString('hex'), v.toString('hex')]);
}

async function collect(fn: (w: Writable) => Promise<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  const w = new PassThrough();
  w.on('data', (c: Buffer) => chunks.push(c));
  await fn(w);
  w.end();
  return Buffer.concat(chunks).toString('utf8');
}

const samples: Record<string, (db: Db<unknown, unknown>) => Promise<void>> = {
  json: async (db) => {
    await db.put('user:1', { name: 'Ana', city: 'São Paulo', tags: ['a', 'b'], nested: { x: 1.5, y: null, z: true } });
    await db.put('user:2', { name: 'line\nbreak, "quoted"', n: -0.25 });
    await db.put('ключ', [1, 2, 3]);
    await db.put('\u0000nul', 'control characters');
  },
  utf8: async (db) => {
    await db.put('a', 'plain');
    await db.put('b', 'with,comma and "quotes"\nand a newline');
    await db.put('c', '');
    await db.put('ü', '😀');
  },
  buffer: async (db) => {
    await db.put(Buffer.from([0xff, 0x00, 0xfe]), Buffer.from([0, 1, 2, 255]), { keyEncoding: 'buffer' });
    await db.put(Buffer.from('base64:looks-like-a-tag'), Buffer.alloc(0), { keyEncoding: 'buffer' });
    await db.put(Buffer.from('text'), Buffer.from('hello'), { keyEncoding: 'buffer' });
  },
  bson: async (db) => {
    await db.put('d1', {
      _id: new ObjectId('64b7f0c2a1b2c3d4e5f60718'),
      when: new Date('2026-12-02T10:00:00.000Z'),
      int: new Int32(7),
      double: new Double(7),
      long: Long.fromString('9007199254740993'),
      dec: Decimal128.fromString('1.10'),
      bin: new Binary(Buffer.from([1, 2, 3])),
      nested: { arr: [new Int32(1), 'x', null] },
    });
    await db.put('d2', { plain: 'doc', n: 1.5 });
  },
};

for (const enc of Object.keys(samples) as EncodingName[]) {
  for (const format of FORMATS) {
    test(`${enc} database, ${format}: export then import is byte for byte the same`, async (t) => {
      const a = await fresh<unknown, unknown>({ valueEncoding: enc });
      await (samples[enc] as (db: Db<unknown, unknown>) => Promise<void>)(a);
      const text = await collect((w) => a.export(w, { format }));
      const want = await raw(a);
      const b = await fresh<unknown, unknown>({ valueEncoding: enc });
      const r = await b.import(Readable.from([text]), { format, batchSize: 2 });
      t.is(r.entries, want.length);
      t.is(r.batches, Math.ceil(want.length / 2));
      t.deepEqual(await raw(b), want);
      await a.close();
      await b.close();
    });
  }
}

test('ndjson shape: keys as text or base64, values the way the encoding reads them', async (t) => {
  const db = await fresh<unknown, unknown>({ valueEncoding: 'buffer' });
  await samples.buffer!(db);
  const lines = (await collect((w) => db.export(w))).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  t.deepEqual(lines[0], { key: 'base64:looks-like-a-tag', valueBase64: '' });
  t.deepEqual(lines[1], { key: 'text', valueBase64: Buffer.from('hello').toString('base64') });
  t.deepEqual(lines[2], { keyBase64: Buffer.from([0xff, 0, 0xfe]).toString('base64'), valueBase64: 'AAEC/w==' });
  await db.close();
});

test('import maintains indexes; export selects a prefix or a range; a file target appears complete', async (t) => {
  const a = await fresh<string, { city: string }>({ valueEncoding: 'json' });
  for (let i = 0; i < 2500; i++) await a.put(`${i % 2 ? 'u' : 'v'}:${String(i).padStart(5, '0')}`, { city: `c${i % 3}` });
  const dir = tmpPath();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'u.ndjson');
  const progress: number[] = [];
  const r = await a.export(file, { prefix: 'u:', onProgress: (p) => progress.push(p.entries) });
  t.is(r.entries, 1250);
  t.false(fs.existsSync(`${file}.partial`));
  t.deepEqual(progress, [1000, 1250]);
  t.is(r.bytes, fs.statSync(file).size);
  const ranged = await collect((w) => a.export(w, { range: { gte: 'v:00010', lt: 'v:00020' } }));
  t.deepEqual(ranged.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key), ['v:00010', 'v:00012', 'v:00014', 'v:00016', 'v:00018']);

  const b = await fresh<string, { city: string }>({ valueEncoding: 'json', indexes: [{ name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } }] });
  await b.put('u:00001', { city: 'stale' });
  const imp = await b.import(file, { batchSize: 100 });
  t.is(imp.entries, 1250);
  t.is(imp.batches, 13);
  t.is(await b.count({ index: 'city', eq: 'stale' }), 0, 'the overwritten record left its old term');
  t.is(await b.count({ index: 'city', eq: 'c1' }), [...Array(2500).keys()].filter((i) => i % 2 === 1 && i % 3 === 1).length);
  t.deepEqual((await b.verify()).problems, []);
  await a.close();
  await b.close();
});

test('the exporter waits for a slow consumer (backpressure) instead of buffering the database', async (t) => {
  const db = await fresh<string, string>();
  await db.batch(Array.from({ length: 20000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(6, '0')}`, value: 'x'.repeat(100) })));
  let maxBuffered = 0;
  let received = 0;
  const slow = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      setImmediate(cb);
    },
  });
  const watch = setInterval(() => (maxBuffered = Math.max(maxBuffered, slow.writableLength)), 1);
  const r = await db.export(slow);
  clearInterval(watch);
  maxBuffered = Math.max(maxBuffered, slow.writableLength);
  t.is(r.entries, 20000);
  t.true(maxBuffered <= 16 * 1024 + 200, `${maxBuffered} bytes waited in the stream`);
  t.true(received > 0);
  await db.close();
});

test('bad export and import input: typed errors naming the record; an atomic import leaves nothing, atomic: false keeps the batches before a bad record', async (t) => {
  const db = await fresh<string, string>();
  await expectCode(() => db.export(new PassThrough(), { format: 'xml' as ExchangeFormat }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.export(new PassThrough(), { range: { from: 'a' } as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.export(42 as never), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.import(Readable.from(['']), { batchSize: 0 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.import(path.join(tmpPath(), 'missing.ndjson')), 'STRATA_NOT_FOUND');
  const lines = ['{"key":"a","value":"1"}', '{"key":"b","value":"2"}', '{"key":"c","value":"3"}', '{"key":"d","value":"4"}', '{"key":"e","value":5}', '{"key":"f","value":"6"}'];
  const e = await expectCode(() => db.import(Readable.from([lines.join('\n')]), { batchSize: 2 }), 'STRATA_INVALID_ARGUMENT');
  t.regex(e.message, /record 5: a utf8 database takes a string value/);
  t.regex(e.message, /nothing was imported: the 4 records written before it were rolled back/);
  t.deepEqual(await db.keys().all(), [], 'an atomic import (the default) leaves nothing');
  const kept = await expectCode(() => db.import(Readable.from([lines.join('\n')]), { batchSize: 2, atomic: false }), 'STRATA_INVALID_ARGUMENT');
  t.regex(kept.message, /4 records were imported/);
  t.deepEqual(await db.keys().all(), ['a', 'b', 'c', 'd']);
  for (const [bad, why] of [
    ['{"key":"x"}', /needs a value/],
    ['{"value":"x"}', /needs a string key/],
    ['{"key":"x","value":"y","extra":1}', /unknown field 'extra'/],
    ['{"key":"x",', /line 1 is not JSON/],
    ['[1,2]', /not an object/],
  ] as const) {
    const err = await expectCode(() => db.import(Readable.from([bad])), 'STRATA_INVALID_ARGUMENT');
    t.regex(err.message, why);
  }
  await expectCode(() => db.import(Readable.from(['[{"key":"x","value":"y"}, {"key":']), { format: 'json' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.import(Readable.from(['key,value,other\na,b,c\n']), { format: 'csv' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.import(Readable.from(['key,value\n"a,b\n']), { format: 'csv' }), 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(await db.keys().all(), ['a', 'b', 'c', 'd'], 'nothing else was written');
  await db.close();
});

const EXPORT_FIXTURE = path.join(__dirname, 'fixtures', 'format', 'export-v1');

test('format fixture export-v1: the committed exports import to the exact bytes', async (t) => {
  const b = await fresh<string, Record<string, unknown>>({ valueEncoding: 'bson' });
  await b.import(path.join(EXPORT_FIXTURE, 'bson.ndjson'));
  const d = await b.get('d1', { valueEncoding: 'buffer' } as never) as unknown as Buffer;
  const doc = BSON.deserialize(d, { promoteValues: false, promoteLongs: false });
  t.true(doc.int instanceof Int32 && doc.double instanceof Double && doc.long instanceof Long && doc.dec instanceof Decimal128);
  t.is((doc.long as Long).toString(), '9007199254740993');
  t.is((doc._id as ObjectId).toHexString(), '64b7f0c2a1b2c3d4e5f60718');
  t.is((doc.when as Date).toISOString(), '2026-12-02T10:00:00.000Z');
  await b.close();
  const j = await fresh<string, unknown>({ valueEncoding: 'json' });
  await j.import(path.join(EXPORT_FIXTURE, 'json.json'), { format: 'json' });
  t.deepEqual(await j.iterator().all(), [
    ['user:1', { name: 'Ana', city: 'São Paulo', tags: ['a'] }],
    ['user:2', { name: 'line\nbreak, "q"' }],
  ]);
  await j.close();
  const r = await fresh<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await r.import(path.join(EXPORT_FIXTURE, 'buffer.csv'), { format: 'csv' });
  t.deepEqual(await r.iterator().all(), [
    [Buffer.from('text'), Buffer.from('hello')],
    [Buffer.from([0xff, 0, 0xfe]), Buffer.from([0, 1, 2, 255])],
  ]);
  await r.close();
});

test('fuzz: damaged import files give typed errors or import valid records, never anything else', async (t) => {
  const cases = Number(process.env.STRATA_TEST_IMPORT_FUZZ ?? 60);
  const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed}, ${cases} cases (STRATA_TEST_SEED, STRATA_TEST_IMPORT_FUZZ)`);
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const inputs: [ExchangeFormat, EncodingName, Buffer][] = [
    ['ndjson', 'bson', fs.readFileSync(path.join(EXPORT_FIXTURE, 'bson.ndjson'))],
    ['json', 'json', fs.readFileSync(path.join(EXPORT_FIXTURE, 'json.json'))],
    ['csv', 'buffer', fs.readFileSync(path.join(EXPORT_FIXTURE, 'buffer.csv'))],
  ];
  let imported = 0;
  for (let i = 0; i < cases; i++) {
    const [format, enc, original] = inputs[i % inputs.length] as [ExchangeFormat, EncodingName, Buffer];
    const b = Buffer.from(original);
    for (let k = 0; k < 1 + int(3); k++) b[int(b.length)] = ' {}[]",:\\\n0aZ$'.charCodeAt(int(16));
    const input = rnd() < 0.3 ? b.subarray(0, int(b.length)) : b;
    const db = await fresh<unknown, unknown>({ valueEncoding: enc });
    try {
      await db.import(Readable.from([input]), { format });
      imported++;
    } catch (e) {
      if (!(e instanceof StrataError)) t.fail(`${format}: threw ${String(e)}`);
      else t.is(e.code, 'STRATA_INVALID_ARGUMENT', e.message);
    }
    t.deepEqual((await db.verify()).problems, []);
    await db.close();
  }
  t.log(`${imported} of ${cases} damaged inputs still imported`);
});

test('a collection exports and imports with valueEncoding: bson on a database of another encoding', async (t) => {
  const a = await fresh<string, unknown>({ valueEncoding: 'json' });
  const users = await a.collection('users', { indexes: [{ field: 'city', type: 'equality' }] });
  await users.insertMany([{ _id: 'ann', city: 'Lisbon', n: 1 }, { _id: 'bob', city: 'Porto', n: 2 }]);
  await a.put('other', { x: 1 });
  const text = await collect((w) => a.export(w, { prefix: 'users:', valueEncoding: 'bson' }));
  t.is(text.trim().split('\n').length, 2);
  await expectCode(() => a.export(new PassThrough(), { valueEncoding: 'yaml' as EncodingName }), 'STRATA_INVALID_ARGUMENT');
  const b = await fresh<string, unknown>({ valueEncoding: 'json' });
  const theirs = await b.collection('users', { indexes: [{ field: 'city', type: 'equality' }] });
  await b.import(Readable.from([text]), { valueEncoding: 'bson' });
  t.deepEqual((await theirs.find({ city: 'Porto' })).items.map((d) => d._id), ['bob']);
  t.deepEqual((await b.verify()).problems, []);
  await a.close();
  await b.close();
});
