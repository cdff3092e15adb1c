/**
 * Values as JSON, per instance codec: how a value travels in a JSON document (an HTTP body)
 * and what is stored.
 *
 * | codec | JSON form                                   | stored as            |
 * | ----- | ------------------------------------------- | -------------------- |
 * | raw   | a base64 string                             | the bytes            |
 * | json  | any JSON value but `null`                   | `JSON.stringify`     |
 * | bson  | an object; Extended JSON for types JSON lacks | BSON                 |
 */
import { EJSON, Long } from 'bson';

import { invalidArgument } from '../errors';
import type { Codec } from './config';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Turns the JSON form of a value into what the instance's `Db` stores. Throws `STRATA_INVALID_ARGUMENT`. */
export function fromJson(codec: Codec, value: unknown, what = 'value'): unknown {
  switch (codec) {
    case 'raw':
      if (typeof value !== 'string' || !BASE64.test(value)) throw invalidArgument(`${what} must be a base64 string (codec raw)`);
      return Buffer.from(value, 'base64');
    case 'json':
      if (value === null || value === undefined) throw invalidArgument(`${what} must not be null (codec json)`);
      return value;
    case 'bson':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`${what} must be an object (codec bson)`);
      try {
        return EJSON.deserialize(value as Record<string, unknown>, { relaxed: false });
      } catch (e) {
        throw invalidArgument(`${what} is not valid Extended JSON: ${(e as Error).message}`, e);
      }
  }
}

/** Turns a stored value (as the instance's `Db` decodes it) into its JSON form. */
export function toJson(codec: Codec, value: unknown): unknown {
  switch (codec) {
    case 'raw':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'json':
      return value;
    case 'bson':
      return relaxed(value);
  }
}

/**
 * Relaxed Extended JSON, except that a `Long` outside the safe integer range stays
 * `{ $numberLong }` (relaxed EJSON would round it to a double).
 */
function relaxed(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Long.isLong(v)) return Number.isSafeInteger(v.toNumber()) ? v.toNumber() : { $numberLong: v.toString() };
  if (Array.isArray(v)) return v.map(relaxed);
  if (Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = relaxed(x);
    return out;
  }
  return EJSON.serialize(v, { relaxed: true });
}
