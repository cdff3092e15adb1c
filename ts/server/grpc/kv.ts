/**
 * The key-value RPCs: Get, Put, Delete, Batch and the streaming Scan. Each is a call of the
 * `Db` (keys as bytes, values per the instance's codec, see `values.ts`).
 */
import type { ServerWritableStream } from '@grpc/grpc-js';

import type { BatchOperation, IteratorOptions } from '../../database';
import { invalidArgument } from '../../errors';
import { Context, checkKey, syncOption } from './context';
import { ServerError } from './errors';
import { ValueFormat, WireValue, checkFormat, decodeWireValue, encodeWireValue } from './values';

interface GetRequest {
  instance: string;
  key: Buffer;
  format: ValueFormat;
}
interface PutRequest {
  instance: string;
  key: Buffer;
  value: WireValue | null;
  sync?: boolean;
}
interface DeleteRequest {
  instance: string;
  key: Buffer;
  sync?: boolean;
}
interface BatchRequest {
  instance: string;
  operations: { type: string; key: Buffer; value: WireValue | null }[];
  sync?: boolean;
}
export interface ScanRequest {
  instance: string;
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  prefix?: Buffer;
  limit: number;
  reverse: boolean;
  keysOnly: boolean;
  format: ValueFormat;
  batchSize: number;
  contains?: Buffer;
}
export interface Entry {
  key: Buffer;
  value?: WireValue;
}
export interface ScanBatch {
  entries: Entry[];
}

const RAW = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;

export async function get(ctx: Context, req: GetRequest): Promise<{ found: boolean; value?: WireValue }> {
  const { db, codec } = ctx.instance(req.instance);
  const format = checkFormat(req.format);
  const key = checkKey(ctx, req.key, 'key');
  const v = await db.get<Buffer>(key, RAW);
  return v === undefined ? { found: false } : { found: true, value: decodeWireValue(codec, v, format, key) };
}

export async function put(ctx: Context, req: PutRequest): Promise<Record<string, never>> {
  const { db, codec } = ctx.instance(req.instance);
  const key = checkKey(ctx, req.key, 'key');
  const { value, valueEncoding } = encodeWireValue(codec, req.value, 'value', ctx.limits.maxValueBytes);
  await db.put(key, value, { keyEncoding: 'buffer', valueEncoding, ...syncOption(req) });
  return {};
}

export async function del(ctx: Context, req: DeleteRequest): Promise<Record<string, never>> {
  const { db } = ctx.instance(req.instance);
  const key = checkKey(ctx, req.key, 'key');
  await db.del(key, { keyEncoding: 'buffer', ...syncOption(req) });
  return {};
}

export async function batch(ctx: Context, req: BatchRequest): Promise<{ written: number }> {
  const { db, codec } = ctx.instance(req.instance);
  const n = req.operations.length;
  if (n > ctx.limits.maxBatchOps) throw new ServerError('STRATA_LIMIT', `the batch has ${n} operations, more than the server's limit of ${ctx.limits.maxBatchOps}`);
  const ops: BatchOperation<unknown, unknown>[] = req.operations.map((op, i) => {
    const what = `operations[${i}]`;
    const key = checkKey(ctx, op.key, `${what}.key`);
    if (op.type === 'PUT') {
      const { value, valueEncoding } = encodeWireValue(codec, op.value, `${what}.value`, ctx.limits.maxValueBytes);
      return { type: 'put', key, value, keyEncoding: 'buffer', valueEncoding };
    }
    if (op.type === 'DEL') {
      if (op.value !== null) throw invalidArgument(`${what}: a DEL takes no value`);
      return { type: 'del', key, keyEncoding: 'buffer' };
    }
    throw invalidArgument(`${what}.type must be PUT or DEL, got ${String(op.type)}`);
  });
  await db.batch(ops, syncOption(req));
  return { written: n };
}

/** Resolves on `drain`, or when the call is cancelled or closed (so a gone client never hangs the scan). */
function drained(call: ServerWritableStream<ScanRequest, ScanBatch>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('close', done);
      call.off('error', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  });
}

/**
 * Streams the range in messages of `batch_size` entries (cut earlier at the byte budget),
 * waiting for `drain` whenever grpc-js's buffer is full: a slow client slows the scan and
 * a cancelled one stops it (the iterator is closed either way).
 */
export async function scan(ctx: Context, req: ScanRequest, call: ServerWritableStream<ScanRequest, ScanBatch>): Promise<void> {
  const inst = ctx.instance(req.instance);
  const format = checkFormat(req.format);
  const { limits } = ctx;
  const size = req.batchSize === 0 ? limits.scanBatchSize : req.batchSize;
  if (!Number.isInteger(size) || size < 1 || size > limits.maxScanBatch) {
    throw invalidArgument(`batch_size must be from 1 to ${limits.maxScanBatch} (0: the default), got ${req.batchSize}`);
  }
  const opts: IteratorOptions<unknown> = { ...RAW, values: !req.keysOnly, reverse: req.reverse };
  for (const b of ['gt', 'gte', 'lt', 'lte', 'prefix'] as const) {
    const v = req[b];
    if (v !== undefined) opts[b] = checkKey(ctx, v, b);
  }
  // With `contains` the limit counts matches, so the iterator reads the range unlimited.
  const contains = req.contains === undefined ? undefined : checkKey(ctx, req.contains, 'contains');
  if (contains !== undefined && contains.length === 0) throw invalidArgument('contains must not be empty (leave it unset to scan every key)');
  if (req.limit > 0 && contains === undefined) opts.limit = req.limit;
  let left = contains !== undefined && req.limit > 0 ? req.limit : Infinity;
  const it = inst.db.iterator<Buffer, Buffer>(opts);
  let sent = 0;
  let entries: Entry[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    const msg: ScanBatch = { entries };
    entries = [];
    bytes = 0;
    const more = call.write(msg);
    sent += msg.entries.length;
    if (!more && !call.cancelled) {
      ctx.emit({ type: 'scan-wait', instance: inst.name, sent });
      await drained(call);
    }
  };
  let failed = true;
  try {
    while (!call.cancelled) {
      const chunk = await it.nextv(size);
      if (chunk.length === 0) break;
      for (const [key, value] of chunk) {
        if (contains !== undefined) {
          if (!key.includes(contains)) continue;
          if (left-- <= 0) break;
        }
        const e: Entry = { key };
        if (!req.keysOnly) e.value = decodeWireValue(inst.codec, value, format, key);
        entries.push(e);
        bytes += key.length + (req.keysOnly ? 0 : value.length);
        if (bytes >= limits.scanBatchBytes) await flush();
        if (call.cancelled) break;
      }
      if (entries.length > 0 && !call.cancelled) await flush();
      if (left <= 0) break;
    }
    failed = false;
  } finally {
    await it.close();
    const reason = call.cancelled ? 'cancelled' : failed ? 'error' : 'done';
    ctx.emit({ type: 'scan-end', instance: inst.name, sent, reason });
  }
}
