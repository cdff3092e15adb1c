/**
 * The index-query RPCs: Query, Count, Explain — `db.query`, `db.count`, `db.explain` with
 * the query as (Extended) JSON text and the options as fields.
 */
import { invalidArgument } from '../../errors';
import type { Query } from '../../query/ast';
import type { QueryOptions } from '../../query/execute';
import type { Context } from './context';
import type { Entry } from './kv';
import { ValueFormat, checkFormat, decodeWireValue, jsonWithBytes, parseOperands } from './values';

interface QueryRequest {
  instance: string;
  queryJson: string;
  limit: number;
  cursor: string;
  timeoutMs: number;
  maxPostingsScanned: number;
  keysOnly: boolean;
  format: ValueFormat;
}
interface QueryResponse {
  items: Entry[];
  cursor: string;
  partial: string;
  stats: { postingsScanned: number; recordsRead: number; seeks: number; ms: number };
}
interface CountRequest {
  instance: string;
  queryJson: string;
  estimate: boolean;
}
interface ExplainRequest {
  instance: string;
  queryJson: string;
  analyze?: boolean;
}

function queryOf(text: string): Query {
  if (text.length === 0) throw invalidArgument('query_json is required: the JSON of a query such as {"index": "age", "gte": 30}');
  return parseOperands(text, 'query_json', 'query') as Query;
}

export async function query(ctx: Context, req: QueryRequest): Promise<QueryResponse> {
  const { db, codec } = ctx.queryInstance(req.instance);
  const format = checkFormat(req.format);
  const q = queryOf(req.queryJson);
  const opts: QueryOptions = { keyEncoding: 'buffer', valueEncoding: 'buffer', values: !req.keysOnly };
  if (req.limit !== 0) opts.limit = req.limit;
  if (req.cursor !== '') opts.cursor = req.cursor;
  if (req.timeoutMs !== 0) opts.timeoutMs = req.timeoutMs;
  if (req.maxPostingsScanned !== 0) opts.maxPostingsScanned = req.maxPostingsScanned;
  const page = await db.query<Buffer>(q, opts);
  const items = page.items.map(({ key, value }): Entry => {
    const k = key as Buffer;
    return value === undefined ? { key: k } : { key: k, value: decodeWireValue(codec, value, format, k) };
  });
  return { items, cursor: page.cursor ?? '', partial: page.partial === false ? '' : page.partial, stats: page.stats };
}

export async function count(ctx: Context, req: CountRequest): Promise<{ count: number; low: number; high: number }> {
  const { db } = ctx.queryInstance(req.instance);
  const q = queryOf(req.queryJson);
  if (!req.estimate) {
    const n = await db.count(q);
    return { count: n, low: n, high: n };
  }
  const e = await db.count(q, { estimate: true });
  return { count: Math.round(e.estimate), low: Math.floor(e.low), high: Math.ceil(e.high) };
}

export async function explain(ctx: Context, req: ExplainRequest): Promise<{ explanationJson: string }> {
  const { db } = ctx.queryInstance(req.instance);
  const q = queryOf(req.queryJson);
  const ex = await db.explain(q, { analyze: req.analyze ?? true });
  return { explanationJson: jsonWithBytes(ex) };
}
