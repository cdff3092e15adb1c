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
  for (const s of [400, 401, 429, 503, ...statuses]) out[String(s)] = { description: 'error', ...errorSchema };
  return out;
}

/** A value in its JSON form (see the codec table): base64 string, JSON value or Extended JSON object. */
export const valueSchema: Schema = {
  description: 'The value: a base64 string (codec raw), any JSON value but null (json) or an object in Extended JSON (bson).',
};

export const keySchema: Schema = { type: 'string', minLength: 1, description: 'A key (UTF-8).' };

export const cursorSchema: Schema = { type: ['string', 'null'], description: 'Pass back to get the next page; null at the end.' };

export const instanceParam: Schema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Instance name.' };

/** `params` of a route under an optional `/db/{instance}` prefix. */
export function params(scoped: boolean, extra: Record<string, Schema> = {}): Schema {
  const properties: Record<string, Schema> = { ...(scoped ? { instance: instanceParam } : {}), ...extra };
  return { type: 'object', required: Object.keys(properties), properties };
}

export const pageQuery = (max: number): Record<string, Schema> => ({
  limit: { type: 'integer', minimum: 1, maximum: max, default: Math.min(100, max) },
  cursor: { type: 'string', maxLength: 200000 },
});

export const anyObject: Schema = { type: 'object', additionalProperties: true };
