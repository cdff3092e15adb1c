/**
 * Query cursors: opaque strings that carry where the next page starts (a primary-key bound:
 * every match below it has been returned) and what they belong to (the database's id and a
 * fingerprint of the query), with a checksum. Because results come in primary-key order,
 * continuing from a key bound returns every record that matched throughout exactly once,
 * however the database changed between pages.
 *
 * Layout: base64url of `JSON { v: 1, d: dbId, f: fingerprint, p: bound (base64), s?: snapshot sequence }`,
 * then `.`, then 16 hex digits of its SHA-256.
 */
import * as crypto from 'node:crypto';

import { invalidArgument } from '../errors';

const VERSION = 1;

/** One-shot `crypto.hash` (Node 20.12+, 21.7+): the same digest at half the cost of a `Hash` object. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** What a cursor holds. */
export interface CursorState {
  /** The next page returns primary keys `>= from`. */
  from: Buffer;
  /** The snapshot sequence the first page read at, when the query had a snapshot. */
  sequence?: number;
}

function digest(s: string): string {
  const hex = oneShot !== undefined ? oneShot('sha256', s, 'hex') : crypto.createHash('sha256').update(s).digest('hex');
  return hex.slice(0, 16);
}

/** The fingerprint of a query on a database. */
export function fingerprint(dbId: string, canonicalQuery: string): string {
  return digest(`${dbId}\u0000${canonicalQuery}`);
}

export function encodeCursor(fp: string, dbId: string, state: CursorState): string {
  const body: Record<string, unknown> = { v: VERSION, d: dbId, f: fp, p: state.from.toString('base64') };
  if (state.sequence !== undefined) body.s = state.sequence;
  const text = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  return `${text}.${digest(text)}`;
}

/** Decodes a cursor of this query on this database; anything else is `STRATA_INVALID_ARGUMENT`. */
export function decodeCursor(cursor: unknown, fp: string, dbId: string): CursorState {
  if (typeof cursor !== 'string') throw invalidArgument(`cursor must be a string from a previous page (or null), got ${typeof cursor}`);
  const bad = (why: string): Error => invalidArgument(`cursor is not valid: ${why}`);
  if (cursor.length > 200_000) throw bad('too long');
  const dot = cursor.lastIndexOf('.');
  if (dot <= 0) throw bad('malformed');
  const text = cursor.slice(0, dot);
  if (digest(text) !== cursor.slice(dot + 1)) throw bad('checksum mismatch (damaged or edited)');
  let body: { v?: unknown; d?: unknown; f?: unknown; p?: unknown; s?: unknown };
  try {
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof body;
  } catch {
    throw bad('malformed');
  }
  if (body === null || typeof body !== 'object' || body.v !== VERSION) throw bad('unknown version');
  if (body.d !== dbId) throw bad('it belongs to another database');
  if (body.f !== fp) throw bad('it belongs to another query');
  if (typeof body.p !== 'string') throw bad('malformed');
  const out: CursorState = { from: Buffer.from(body.p, 'base64') };
  if (body.s !== undefined) {
    if (typeof body.s !== 'number' || !Number.isSafeInteger(body.s)) throw bad('malformed');
    out.sequence = body.s;
  }
  return out;
}
