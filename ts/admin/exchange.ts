/**
 * Export and import: the records of a database as NDJSON, a JSON array or CSV, streamed in
 * both directions (memory stays constant whatever the size), codec-aware, and written back
 * through `db.batch` so every index is maintained on import.
 *
 * One record model for all three formats (docs/format.md "Export and import"):
 * `{ key } | { keyBase64 }` and `{ value } | { valueBase64 }`. A key is written as text when
 * its bytes are valid UTF-8, else in base64. A value is written the way the database's value
 * encoding reads it: `json` as JSON, `bson` as canonical Extended JSON (every BSON type kept
 * exactly), `utf8` as a string, `buffer`/`view` as base64. Import takes either form of each
 * and encodes `value` with the database's value encoding (`valueBase64` is stored as is).
 */
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { BSON, EJSON } from 'bson';
import { parse as csvParse } from 'csv-parse';
import { stringify as csvStringify } from 'csv-stringify';
import StreamArray = require('stream-json/streamers/StreamArray');

import type { KvDb, RangeOptions } from '../database';
import { EncodingName, describe, encodingNames } from '../encodings';
import { StrataError, invalidArgument } from '../errors';
import type { Snapshot } from '../snapshot';
import { ImportJournal } from './import-journal';

export type ExchangeFormat = 'ndjson' | 'json' | 'csv';
const FORMATS: readonly ExchangeFormat[] = ['ndjson', 'json', 'csv'];

/** One exported record. */
export interface ExportRecord {
  key?: string;
  keyBase64?: string;
  value?: unknown;
  valueBase64?: string;
}

export interface ExchangeProgress {
  /** Records so far. */
  entries: number;
  /** Bytes written (export) or read (import) so far. */
  bytes: number;
}

export interface ExportOptions {
  format?: ExchangeFormat;
  /** Only keys starting with this (a string). */
  prefix?: string;
  /** Only keys in this range (`gt`/`gte`/`lt`/`lte`, strings). */
  range?: Pick<RangeOptions<string>, 'gt' | 'gte' | 'lt' | 'lte'>;
  /** Read at this snapshot (default: one taken at the start, so the export is one view). */
  snapshot?: Snapshot;
  /** Read values with this encoding instead of the database's (e.g. `'bson'` for a collection's keys). */
  valueEncoding?: EncodingName;
  onProgress?: (p: ExchangeProgress) => void;
}

export interface ImportOptions {
  format?: ExchangeFormat;
  /** Encode values with this encoding instead of the database's (e.g. `'bson'` for a collection's keys). */
  valueEncoding?: EncodingName;
  /** Records per atomic batch (default 1000). */
  batchSize?: number;
  /**
   * All or nothing (default `true`): the values each batch overwrites are journaled first, and
   * a bad record, an abort or a crash rolls the whole import back (a crash: at the next
   * `open`). `false` skips the journal (a read and an entry per record): the batches before a failure
   * stay written.
   */
  atomic?: boolean;
  /** Stops the import: with `atomic`, everything it wrote is rolled back; rejects with an `AbortError` (`code: 'ABORT_ERR'`, the signal's reason as `cause`). */
  signal?: AbortSignal;
  onProgress?: (p: ExchangeProgress) => void;
}

export interface ExportResult {
  entries: number;
  bytes: number;
}

export interface ImportResult {
  entries: number;
  batches: number;
}

const PROGRESS_EVERY = 1000;

function checkFormat(f: unknown): ExchangeFormat {
  const format = f ?? 'ndjson';
  if (!FORMATS.includes(format as ExchangeFormat)) throw invalidArgument(`format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(f)}`);
  return format as ExchangeFormat;
}

function checkProgress(fn: unknown): ((p: ExchangeProgress) => void) | undefined {
  if (fn !== undefined && typeof fn !== 'function') throw invalidArgument('onProgress must be a function');
  return fn as ((p: ExchangeProgress) => void) | undefined;
}

function checkEncoding(e: unknown): EncodingName | undefined {
  if (e === undefined) return undefined;
  if (!encodingNames.includes(e as EncodingName)) throw invalidArgument(`valueEncoding must be one of ${encodingNames.join(', ')}, got ${JSON.stringify(e)}`);
  return e as EncodingName;
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

function toRecord(key: Buffer, value: Buffer, enc: EncodingName, decode: (v: Buffer, k: Buffer) => unknown): ExportRecord {
  const out: ExportRecord = isUtf8(key) ? { key: key.toString('utf8') } : { keyBase64: key.toString('base64') };
  if (enc === 'buffer' || enc === 'view') out.valueBase64 = value.toString('base64');
  else if (enc === 'utf8') out.value = value.toString('utf8');
  else if (enc === 'bson') {
    // Without promotion: Int32, Double, Long and Binary keep their types in Extended JSON.
    try {
      out.value = BSON.deserialize(value, { promoteValues: false, promoteLongs: false, promoteBuffers: false });
    } catch {
      decode(value, key); // throws the codec's error, which names the key
      throw new StrataError('STRATA_CORRUPTION', `export: the value of key ${key.toString('hex')} is not BSON`);
    }
  } else out.value = decode(value, key);
  return out;
}

/** The value of a record as JSON text (bson: canonical Extended JSON). */
function valueText(r: ExportRecord, enc: EncodingName): string {
  return enc === 'bson' ? EJSON.stringify(r.value as Record<string, unknown>, { relaxed: false }) : JSON.stringify(r.value);
}

function recordLine(r: ExportRecord, enc: EncodingName): string {
  if (enc !== 'bson' || r.value === undefined) return JSON.stringify(r);
  // Extended JSON for the value only: the rest of the record is plain JSON.
  const head = r.key !== undefined ? `"key":${JSON.stringify(r.key)}` : `"keyBase64":${JSON.stringify(r.keyBase64)}`;
  return `{${head},"value":${valueText(r, enc)}}`;
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        out.off('error', onError);
        resolve();
      };
      const onError = (e: unknown): void => {
        out.off('drain', onDrain);
        reject(e);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}

/**
 * Writes the records of `db` (optionally a prefix or range) to `target` (a writable stream,
 * or a file path: written to `<path>.partial` and renamed when complete).
 */
export async function exportRecords(db: KvDb<unknown, unknown>, target: Writable | string, opts: ExportOptions = {}): Promise<ExportResult> {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('export options must be an object');
  const format = checkFormat(opts.format);
  const onProgress = checkProgress(opts.onProgress);
  const range: RangeOptions<string> = {};
  if (opts.prefix !== undefined) {
    if (typeof opts.prefix !== 'string') throw invalidArgument('prefix must be a string');
    range.prefix = opts.prefix;
  }
  if (opts.range !== undefined) {
    if (opts.range === null || typeof opts.range !== 'object') throw invalidArgument('range must be an object of gt/gte/lt/lte');
    for (const [k, v] of Object.entries(opts.range)) {
      if (!['gt', 'gte', 'lt', 'lte'].includes(k)) throw invalidArgument(`unknown range bound '${k}' (use gt, gte, lt, lte)`);
      if (typeof v !== 'string') throw invalidArgument(`range.${k} must be a string`);
      (range as Record<string, string>)[k] = v;
    }
  }
  if (typeof target === 'string') {
    if (target.length === 0) throw invalidArgument('export target must be a non-empty path or a writable stream');
    const partial = `${target}.partial`;
    const file = fs.createWriteStream(partial);
    try {
      const r = await exportRecords(db, file, opts);
      file.end();
      await finished(file);
      await fs.promises.rename(partial, target);
      return r;
    } catch (e) {
      file.destroy();
      await fs.promises.rm(partial, { force: true });
      throw e;
    }
  }
  if (!(target instanceof Writable) && typeof (target as { write?: unknown })?.write !== 'function') {
    throw invalidArgument('export target must be a writable stream or a file path');
  }
  const enc = checkEncoding(opts.valueEncoding) ?? db.options.valueEncoding;
  const own = opts.snapshot === undefined ? db.snapshot() : undefined;
  const snapshot = opts.snapshot ?? own;
  const it = db.iterator({ ...range, snapshot, keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const decode = db._decoders({ valueEncoding: enc }).value;
  let entries = 0;
  let bytes = 0;
  let csv: ReturnType<typeof csvStringify> | undefined;
  const emit = async (s: string): Promise<void> => {
    bytes += Buffer.byteLength(s);
    await write(target, s);
  };
  try {
    if (format === 'json') await emit('[\n');
    if (format === 'csv') {
      csv = csvStringify({ header: true, columns: ['key', 'keyBase64', 'value', 'valueBase64'] });
      csv.on('data', (chunk: Buffer | string) => void (bytes += Buffer.byteLength(chunk)));
      csv.pipe(target, { end: false });
    }
    for (;;) {
      const batch = (await it.nextv(1000)) as [Buffer, Buffer][];
      if (batch.length === 0) break;
      for (const [k, v] of batch) {
        const r = toRecord(k, v, enc, decode);
        if (format === 'csv') {
          const row = [r.key ?? '', r.keyBase64 ?? '', r.value === undefined ? '' : enc === 'utf8' ? (r.value as string) : valueText(r, enc), r.valueBase64 ?? ''];
          if (!(csv as ReturnType<typeof csvStringify>).write(row)) await new Promise((resolve) => (csv as ReturnType<typeof csvStringify>).once('drain', resolve));
        } else {
          await emit(`${format === 'json' && entries > 0 ? ',\n' : ''}${recordLine(r, enc)}${format === 'ndjson' ? '\n' : ''}`);
        }
        entries++;
        if (onProgress !== undefined && entries % PROGRESS_EVERY === 0) onProgress({ entries, bytes });
      }
    }
    if (format === 'json') await emit(entries > 0 ? '\n]\n' : ']\n');
    if (csv !== undefined) {
      const c = csv;
      await new Promise<void>((resolve, reject) => {
        c.once('end', resolve);
        c.once('error', reject);
        c.end();
      });
    }
  } finally {
    await it.close();
    own?.close();
  }
  onProgress?.({ entries, bytes });
  return { entries, bytes };
}

function fail(n: number, why: string): StrataError {
  return invalidArgument(`import: record ${n}: ${why}`);
}

function base64(s: string, n: number, field: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw fail(n, `${field} is not base64`);
  return Buffer.from(s, 'base64');
}

/** A parsed record's key and value bytes; throws a typed error naming the record. */
function recordBytes(r: unknown, n: number, enc: EncodingName, encode: (v: unknown) => Uint8Array): [Buffer, Buffer] {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw fail(n, 'not an object');
  const o = r as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['key', 'keyBase64', 'value', 'valueBase64'].includes(k)) throw fail(n, `unknown field '${k}'`);
  if (o.key !== undefined && o.keyBase64 !== undefined) throw fail(n, 'has both key and keyBase64');
  if (o.value !== undefined && o.valueBase64 !== undefined) throw fail(n, 'has both value and valueBase64');
  let key: Buffer;
  if (typeof o.keyBase64 === 'string') key = base64(o.keyBase64, n, 'keyBase64');
  else if (typeof o.key === 'string') key = Buffer.from(o.key, 'utf8');
  else throw fail(n, 'needs a string key or keyBase64');
  let value: Buffer;
  if (typeof o.valueBase64 === 'string') value = base64(o.valueBase64, n, 'valueBase64');
  else if (o.value !== undefined) {
    if ((enc === 'buffer' || enc === 'view') && typeof o.value !== 'string') throw fail(n, `a ${enc} database takes valueBase64 or a string value`);
    if (enc === 'utf8' && typeof o.value !== 'string') throw fail(n, 'a utf8 database takes a string value');
    try {
      value = Buffer.from(encode(o.value));
    } catch (e) {
      throw fail(n, `value does not encode as ${enc}: ${(e as Error).message}`);
    }
  } else throw fail(n, 'needs a value or valueBase64');
  return [key, value];
}

/** `bson`: Extended JSON in, documents out; others as they are. */
function fromJsonValue(v: unknown, enc: EncodingName): unknown {
  if (enc !== 'bson') return v;
  return EJSON.deserialize(v as Record<string, unknown>, { relaxed: false });
}

/** CSV cells back to a record. */
function fromCsvRow(row: Record<string, string>, n: number, enc: EncodingName): ExportRecord {
  const r: ExportRecord = {};
  if (row.keyBase64) r.keyBase64 = row.keyBase64;
  else r.key = row.key ?? '';
  if (row.valueBase64) r.valueBase64 = row.valueBase64;
  else if (row.value !== undefined) {
    if (enc === 'utf8' || enc === 'buffer' || enc === 'view') r.value = row.value;
    else {
      try {
        r.value = JSON.parse(row.value);
      } catch (e) {
        throw fail(n, `value is not JSON: ${(e as Error).message}`);
      }
    }
  }
  return r;
}

/**
 * Reads records from `source` (a readable stream or a file path) and writes them in batches
 * of `batchSize` through `db.batch` (indexes are maintained). With `atomic` (the default) the
 * import lands whole or not at all (./import-journal.ts): a bad record stops it with
 * `STRATA_INVALID_ARGUMENT` naming the record, an abort with the signal's reason, and either
 * rolls back what it wrote; it resolves once the import is durable. Without `atomic` the
 * batches before a failure stay written (the error says how many records).
 */
export async function importRecords(db: KvDb<unknown, unknown>, source: Readable | string, opts: ImportOptions = {}): Promise<ImportResult> {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('import options must be an object');
  const format = checkFormat(opts.format);
  const onProgress = checkProgress(opts.onProgress);
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw invalidArgument(`batchSize must be an integer from 1 to 100000, got ${String(opts.batchSize)}`);
  if (opts.atomic !== undefined && typeof opts.atomic !== 'boolean') throw invalidArgument(`atomic must be a boolean, got ${describe(opts.atomic)}`);
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument(`signal must be an AbortSignal, got ${describe(signal)}`);
  signal?.throwIfAborted();
  let input: Readable;
  if (typeof source === 'string') {
    if (source.length === 0) throw invalidArgument('import source must be a non-empty path or a readable stream');
    try {
      await fs.promises.access(source, fs.constants.R_OK);
    } catch (e) {
      throw new StrataError('STRATA_NOT_FOUND', `import source ${source} cannot be read: ${(e as Error).message}`);
    }
    input = fs.createReadStream(source);
  } else if (source instanceof Readable || typeof (source as { pipe?: unknown })?.pipe === 'function') {
    input = source;
  } else {
    throw invalidArgument('import source must be a readable stream or a file path');
  }
  const enc = checkEncoding(opts.valueEncoding) ?? db.options.valueEncoding;
  const encode = (v: unknown): Uint8Array => db._encodeValue(fromJsonValue(v, enc), { valueEncoding: enc });
  let bytes = 0;
  input.on('data', (c: Buffer | string) => void (bytes += Buffer.byteLength(c)));
  let records: AsyncIterable<unknown>;
  if (format === 'ndjson') records = ndjsonRecords(input);
  else if (format === 'json') records = jsonRecords(input);
  else records = csvRecords(input, enc);

  let entries = 0;
  let batches = 0;
  let ops: { type: 'put'; key: Buffer; value: Buffer; keyEncoding: 'buffer'; valueEncoding: 'buffer' }[] = [];
  let journal: ImportJournal | undefined;
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return;
    signal?.throwIfAborted();
    journal ??= opts.atomic === false ? undefined : await ImportJournal.begin(db);
    await journal?.record(ops.map((o) => o.key));
    await db.batch(ops as never);
    entries += ops.length;
    batches++;
    ops = [];
    onProgress?.({ entries, bytes });
  };
  let n = 0;
  try {
    for await (const r of records) {
      n++;
      const [key, value] = recordBytes(r, n, enc, encode);
      ops.push({ type: 'put', key, value, keyEncoding: 'buffer', valueEncoding: 'buffer' });
      if (ops.length >= batchSize) await flush();
    }
    await flush();
    signal?.throwIfAborted();
    await journal?.commit(true);
  } catch (e) {
    input.destroy();
    const aborted = signal?.aborted === true && e === signal.reason;
    // An abort rejects with an `AbortError` (Node's name and code) whose cause is the signal's reason.
    const err = aborted
      ? Object.assign(new Error('import aborted', { cause: e }), { name: 'AbortError', code: 'ABORT_ERR' })
      : e instanceof StrataError
        ? e
        : invalidArgument(`import: ${format} does not parse near record ${n + 1}: ${(e as Error).message}`, e);
    if (journal !== undefined) {
      // Leaves nothing half-done: the records written so far are taken back out.
      const restored = await journal.rollback();
      err.message += ` (nothing was imported: the ${entries} records written before it were rolled back, ${restored} keys restored)`;
    } else if (entries > 0) {
      err.message += ` (${entries} records were imported before it)`;
    }
    throw err;
  }
  return { entries, batches };
}

async function* ndjsonRecords(input: Readable): AsyncGenerator<unknown> {
  let rest = '';
  let line = 0;
  const parseLine = (s: string): unknown => {
    line++;
    try {
      return JSON.parse(s);
    } catch (e) {
      throw invalidArgument(`import: line ${line} is not JSON: ${(e as Error).message}`);
    }
  };
  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    rest += chunk;
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      const s = rest.slice(0, i).trim();
      rest = rest.slice(i + 1);
      if (s.length === 0) {
        line++;
        continue;
      }
      yield parseLine(s);
    }
  }
  if (rest.trim().length > 0) yield parseLine(rest.trim());
}

async function* jsonRecords(input: Readable): AsyncGenerator<unknown> {
  const parser = StreamArray.withParser();
  input.pipe(parser);
  input.on('error', (e) => parser.destroy(e));
  for await (const item of parser as AsyncIterable<{ key: number; value: unknown }>) yield item.value;
}

async function* csvRecords(input: Readable, enc: EncodingName): AsyncGenerator<unknown> {
  const parser = csvParse({ columns: true, relax_column_count: false });
  input.pipe(parser);
  input.on('error', (e) => parser.destroy(e));
  let n = 0;
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    n++;
    for (const k of Object.keys(row)) if (!['key', 'keyBase64', 'value', 'valueBase64'].includes(k)) throw invalidArgument(`import: unknown CSV column '${k}' (use key, keyBase64, value, valueBase64)`);
    yield fromCsvRow(row, n, enc);
  }
}
