/**
 * Every error as `{ error: { code, message } }` with its status. Bad input is 4xx with the
 * message that names what was wrong; an unexpected failure is 500 with a generic message
 * (the details go to the log, never to the client).
 */
import type { FastifyError } from 'fastify';

import { StrataError } from '../errors';

/** Codes the server adds to the `StrataError` codes. */
export type ServerErrorCode =
  | 'STRATA_BAD_REQUEST'
  | 'STRATA_UNAUTHORIZED'
  | 'STRATA_NOT_FOUND'
  | 'STRATA_KEY_NOT_FOUND'
  | 'STRATA_CONFLICT'
  | 'STRATA_NOT_CONFIGURED'
  | 'STRATA_TOO_LARGE'
  | 'STRATA_UNSUPPORTED_MEDIA_TYPE'
  | 'STRATA_TOO_MANY_REQUESTS'
  | 'STRATA_TIMEOUT'
  | 'STRATA_UNAVAILABLE';

/** An error with the HTTP status it answers. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: ServerErrorCode | string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The JSON body of an error. */
export interface ErrorBody {
  error: { code: string; message: string };
}

const STRATA_STATUS: Record<string, number> = {
  STRATA_INVALID_ARGUMENT: 400,
  STRATA_NO_INDEX: 400,
  STRATA_CONSTRAINT: 409,
  STRATA_INDEX_BUILDING: 503,
  STRATA_CLOSED: 503,
  STRATA_LOCKED: 503,
  STRATA_POISONED: 503,
  STRATA_NOT_FOUND: 404,
  STRATA_EXISTS: 409,
  STRATA_ITERATOR_NOT_OPEN: 503,
  STRATA_READ_ONLY: 409,
};

/** The status, code, message and headers to answer `err` with. */
export function toHttp(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string>; internal: boolean } {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } }, headers: err.headers, internal: false };
  }
  if (err instanceof StrataError) {
    const status = STRATA_STATUS[err.code];
    if (status !== undefined) {
      const headers: Record<string, string> = status === 503 ? { 'retry-after': '1' } : {};
      return { status, body: { error: { code: err.code, message: err.message } }, headers, internal: false };
    }
    return { status: 500, body: { error: { code: err.code, message: 'internal error (see the server log)' } }, headers: {}, internal: true };
  }
  const fe = err as FastifyError & { validation?: unknown; validationContext?: string };
  if (fe && typeof fe === 'object') {
    if (fe.validation !== undefined) {
      return { status: 400, body: { error: { code: 'STRATA_BAD_REQUEST', message: fe.message } }, headers: {}, internal: false };
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
      case 'FST_ERR_MAX_PARAM_LENGTH':
        return { status: 413, body: { error: { code: 'STRATA_TOO_LARGE', message: fe.message } }, headers: {}, internal: false };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return { status: 415, body: { error: { code: 'STRATA_UNSUPPORTED_MEDIA_TYPE', message: fe.message } }, headers: {}, internal: false };
      default:
        break;
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status >= 400 && status < 500) {
      return { status, body: { error: { code: 'STRATA_BAD_REQUEST', message: fe.message } }, headers: {}, internal: false };
    }
  }
  return { status: 500, body: { error: { code: 'STRATA_INTERNAL', message: 'internal error (see the server log)' } }, headers: {}, internal: true };
}

/** Shorthands. */
export const badRequest = (message: string): HttpError => new HttpError(400, 'STRATA_BAD_REQUEST', message);
export const notFound = (code: ServerErrorCode, message: string): HttpError => new HttpError(404, code, message);
export const tooLarge = (message: string): HttpError => new HttpError(413, 'STRATA_TOO_LARGE', message);
