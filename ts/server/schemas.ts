/**
 * JSON schemas shared by the routes (they validate requests, shape responses and make
 * `/openapi.json`).
 */

/** A JSON schema, as fastify takes it. */
export type Schema = Record<string, unknown>;

export const errorSchema: Schema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

/** The error responses every route may give. */
export function errors(...statuses: number[]): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const s of [400, 401, 429, 431, 503, ...statuses]) out[String(s)] = { description: 'error', ...errorSchema };
  return out;
}

/** A value in its JSON form (see the codec table): base64 string, JSON value or Extended JSON object. */
export const valueSchema: Schema = {
  not: { type: 'null' },
  description: 'The value: a base64 string (codec raw), any JSON value but null (json) or an object in Extended JSON (bson).',
};

/** A value in an answer (any JSON). */
export const valueOut: Schema = { description: valueSchema.description };

/** The value schema of one codec (the routes of the default instance know theirs). */
export function valueSchemaOf(codec: 'raw' | 'json' | 'bson' | undefined): Schema {
  switch (codec) {
    case 'raw':
      return { type: 'string', pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$', description: 'The value, base64 (codec raw).' };
    case 'json':
      return { not: { type: 'null' }, description: 'The value: any JSON value but null (codec json).' };
    case 'bson':
      return { type: 'object', description: 'The value: an object in Extended JSON (codec bson).' };
    default:
      return valueSchema;
  }
}

export const keySchema: Schema = { type: 'string', minLength: 1, description: 'A key (UTF-8).' };

export const cursorSchema: Schema = { type: ['string', 'null'], description: 'Pass back to get the next page; null at the end.' };

export const instanceParam: Schema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Instance name.' };

/** `params` of a route under an optional `/db/{instance}` prefix. */
export function params(scoped: boolean, extra: Record<string, Schema> = {}): Schema {
  const properties: Record<string, Schema> = { ...(scoped ? { instance: instanceParam } : {}), ...extra };
  return { type: 'object', required: Object.keys(properties), properties };
}

/** `limit` and `cursor` of a paged list (`pattern`: the cursor's form; `''` is the first page). */
export const pageQuery = (max: number, pattern = '^(k1\\.[A-Za-z0-9_-]*)?$'): Record<string, Schema> => ({
  limit: { type: 'integer', minimum: 1, maximum: max, default: Math.min(100, max) },
  cursor: { type: 'string', maxLength: 8192, pattern, description: 'The cursor of the previous page.' },
});

export const anyObject: Schema = { type: 'object', additionalProperties: true };
