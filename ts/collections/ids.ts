/**
 * Collection names, document ids and the keys they give.
 *
 * A document lives at the key `{collection}:{id}` (UTF-8): an `ObjectId` is rendered as its
 * 24 lower-case hex digits, a string id as itself. An id is therefore identified by its
 * rendering: the string `'65a1…'` (24 lower-case hex digits) and the `ObjectId` with those
 * digits name the same document. The document keeps its `_id` with its own type.
 */
import { ObjectId } from 'bson';

import { describe, quote } from '../encodings';
import { invalidArgument } from '../errors';

/** A document id: an `ObjectId` (generated when none is given) or a non-empty string. */
export type Id = ObjectId | string;

/** What id arguments accept: an id, or Extended JSON `{ $oid: '<24 hex digits>' }`. */
export type IdInput = Id | { $oid: string };

/** Collection names: 1–64 characters of `A–Z a–z 0–9 _ -`. */
export const COLLECTION_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest string id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 1024;

const HEX24 = /^[0-9a-fA-F]{24}$/;

/** Checks a collection name; `STRATA_INVALID_ARGUMENT` otherwise. */
export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION_NAME_RE.test(name)) {
    throw invalidArgument(
      `collection name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-', got ${typeof name === 'string' ? quote(name) : describe(name)}`,
    );
  }
  return name;
}

/** True for an `ObjectId` (of this or another copy of the bson package). */
export function isObjectId(v: unknown): v is ObjectId {
  return (
    v instanceof ObjectId ||
    (v !== null && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === 'ObjectId' && typeof (v as ObjectId).toHexString === 'function')
  );
}

/** Validates an id (or `{ $oid }`) and returns it as an `Id`. */
export function toId(v: unknown, what = 'id'): Id {
  if (isObjectId(v)) return v;
  if (typeof v === 'string') {
    if (v.length === 0) throw invalidArgument(`${what} must not be an empty string`);
    if (Buffer.byteLength(v, 'utf8') > MAX_ID_BYTES) throw invalidArgument(`${what} is longer than ${MAX_ID_BYTES} bytes`);
    return v;
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$oid') {
      if (typeof o.$oid !== 'string' || !HEX24.test(o.$oid)) throw invalidArgument(`${what}.$oid must be 24 hex digits`);
      return ObjectId.createFromHexString(o.$oid);
    }
  }
  throw invalidArgument(`${what} must be an ObjectId, { $oid: '<24 hex digits>' } or a non-empty string, got ${describe(v)}`);
}

/** The rendering of an id in keys. */
export function renderId(id: Id): string {
  return typeof id === 'string' ? id : id.toHexString();
}

/** The key of a document. */
export function docKey(collection: string, id: Id): string {
  return `${collection}:${renderId(id)}`;
}

/** The key prefix of a collection. */
export function keyPrefix(collection: string): string {
  return `${collection}:`;
}
