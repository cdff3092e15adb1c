/**
 * Errors of the gRPC service: every `StrataError` code has one gRPC status (one table,
 * checked complete by the compiler), and the code travels in the trailing metadata as
 * `strata-code`. The server adds three codes of its own (auth, limits, request timeout).
 * Anything else thrown is a bug: INTERNAL with a fixed message, never a stack trace.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { BSONError } from 'bson';

import { ErrorCode, StrataError } from '../../errors';

/** Codes the server gives besides StrataError's. */
export type ServerCode = 'STRATA_UNAUTHENTICATED' | 'STRATA_LIMIT' | 'STRATA_TIMEOUT';

/** An error raised by the server shell itself (auth, limits, timeout). */
export class ServerError extends Error {
  readonly code: ServerCode;

  constructor(code: ServerCode, message: string) {
    super(message);
    this.name = 'ServerError';
    this.code = code;
  }
}

/** The metadata key carrying the StrataDB code of a failed call. */
export const CODE_KEY = 'strata-code';

const STATUS: Record<ErrorCode | ServerCode, status> = {
  STRATA_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  STRATA_NOT_FOUND: status.NOT_FOUND,
  STRATA_EXISTS: status.ALREADY_EXISTS,
  STRATA_NO_INDEX: status.FAILED_PRECONDITION,
  STRATA_INDEX_BUILDING: status.FAILED_PRECONDITION,
  STRATA_POISONED: status.FAILED_PRECONDITION,
  STRATA_READ_ONLY: status.FAILED_PRECONDITION,
  STRATA_CONSTRAINT: status.ABORTED,
  STRATA_CLOSED: status.UNAVAILABLE,
  STRATA_ITERATOR_NOT_OPEN: status.UNAVAILABLE,
  STRATA_LOCKED: status.UNAVAILABLE,
  STRATA_IO_ERROR: status.UNAVAILABLE,
  STRATA_CORRUPTION: status.DATA_LOSS,
  STRATA_INTERNAL: status.INTERNAL,
  STRATA_UNAUTHENTICATED: status.UNAUTHENTICATED,
  STRATA_LIMIT: status.RESOURCE_EXHAUSTED,
  STRATA_TIMEOUT: status.DEADLINE_EXCEEDED,
};

/** A failed call as grpc-js sends it, with what was learned for the event hook. */
export interface Failure {
  status: { code: status; details: string; metadata: Metadata };
  code: ErrorCode | ServerCode;
  /** The original error when it was not a StrataError or ServerError (a bug). */
  unexpected?: unknown;
}

/** The status, message and `strata-code` of anything a handler threw. */
export function toFailure(e: unknown): Failure {
  let code: ErrorCode | ServerCode;
  let details: string;
  let unexpected: unknown;
  if (e instanceof StrataError || e instanceof ServerError) {
    code = e.code;
    details = e.message;
  } else if (e instanceof BSONError) {
    // Raised by bson on input it cannot take (a bad Extended JSON value, a document too deep).
    code = 'STRATA_INVALID_ARGUMENT';
    details = `bad BSON or Extended JSON: ${e.message}`;
  } else {
    code = 'STRATA_INTERNAL';
    details = 'internal error';
    unexpected = e;
  }
  const metadata = new Metadata();
  metadata.set(CODE_KEY, code);
  const failure: Failure = { status: { code: STATUS[code], details, metadata }, code };
  if (unexpected !== undefined) failure.unexpected = unexpected;
  return failure;
}
