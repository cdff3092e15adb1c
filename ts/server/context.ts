/**
 * What every route group is given: the instances, the settings, and the checks that turn
 * request input into arguments of the `Db` API (instance lookup, key and value limits, key
 * cursors).
 */
import type { FastifyRequest } from 'fastify';

import { StrataError } from '../errors';
import type { FeatureStore } from '../features';
import { Instance, Instances, storedFromJson } from '../instances';
import { badRequest, notFound, tooLarge } from './errors';
import type { ServerSettings } from './settings';

export interface AppContext {
  instances: Instances;
  settings: ServerSettings;
  features: FeatureStore;
}

/** Options of a route group that exists both on the default instance and under `/db/{instance}`. */
export interface ScopedOptions {
  ctx: AppContext;
  /** True under `/db/{instance}`. */
  scoped: boolean;
}

/** The instance a request addresses: `{instance}` of the path, else the default one. */
export function instanceOf(ctx: AppContext, req: FastifyRequest, scoped: boolean): Instance {
  if (!scoped) return ctx.instances.default;
  const name = (req.params as { instance?: string }).instance ?? '';
  const i = ctx.instances.find(name);
  if (i === undefined) throw notFound('STRATA_NOT_FOUND', `no instance named ${JSON.stringify(name)}`);
  return i;
}

/** Checks a key from the request against the limits. */
export function checkKey(ctx: AppContext, key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) throw badRequest(`${what} must be a non-empty string`);
  const n = Buffer.byteLength(key, 'utf8');
  if (n > ctx.settings.maxKeySize) throw tooLarge(`${what} of ${n} bytes exceeds max_key_size (${ctx.settings.maxKeySize} bytes)`);
  // Only a key with a non-ASCII character can hold one (an ASCII key has as many UTF-8 bytes as UTF-16 units).
  if (n !== key.length && /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) {
    throw badRequest(`${what} is not valid Unicode (lone surrogate)`);
  }
  return key;
}

/** Write options of a value from `checkValue`: it is already in the instance's stored form. */
export const STORED = { valueEncoding: 'buffer' } as const;

/**
 * Converts a value from its JSON form by the instance's codec into the bytes the instance
 * stores (write them with `STORED`) and checks their size.
 */
export function checkValue(ctx: AppContext, inst: Instance, value: unknown, what = 'value'): Buffer {
  let bytes: Buffer;
  try {
    bytes = storedFromJson(inst.codec, value, what);
  } catch (e) {
    // A StrataError names the problem; anything else (a value nested too deep to walk) is bad input too.
    throw badRequest(e instanceof StrataError ? e.message : `${what} cannot be stored: ${(e as Error).message}`);
  }
  const size = bytes.byteLength;
  if (size > ctx.settings.maxValueSize) throw tooLarge(`${what} of ${size} bytes exceeds max_value_size (${ctx.settings.maxValueSize} bytes)`);
  return bytes;
}

/** A key cursor: the raw bytes of the last key of a page, base64url, with a tag. */
export function keyCursor(last: Buffer): string {
  return 'k1.' + last.toString('base64url');
}

/** Decodes a key cursor: the key to continue after, or `undefined` for the first page. */
export function fromKeyCursor(cursor: string): Buffer | undefined {
  const m = /^k1\.([A-Za-z0-9_-]*)$/.exec(cursor);
  if (cursor === '') return undefined;
  if (!m) throw badRequest('cursor is malformed');
  const b = Buffer.from(m[1] as string, 'base64url');
  return b.length === 0 ? undefined : b;
}
