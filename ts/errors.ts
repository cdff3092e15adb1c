/**
 * Error codes and the `StrataError` class. Codes are stable across versions; messages are
 * not. The engine's codes mirror `src/error.rs`; the last three come from the index and
 * query layers (`ts/indexes`, `ts/query`).
 */

/** Every code a StrataDB error can carry. */
export const ErrorCodes = [
  'STRATA_LOCKED',
  'STRATA_CORRUPTION',
  'STRATA_IO_ERROR',
  'STRATA_CLOSED',
  'STRATA_INVALID_ARGUMENT',
  'STRATA_POISONED',
  'STRATA_READ_ONLY',
  'STRATA_NOT_FOUND',
  'STRATA_EXISTS',
  'STRATA_ITERATOR_NOT_OPEN',
  'STRATA_INTERNAL',
  // Raised by the index and query layers (TypeScript only):
  'STRATA_NO_INDEX',
  'STRATA_INDEX_BUILDING',
  'STRATA_CONSTRAINT',
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ErrorCodes)[number];

const KNOWN = new Set<string>(ErrorCodes);

/** An error raised by StrataDB, with a stable `code`. */
export class StrataError extends Error {
  /** The stable code; match on this, never on `message`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrataError';
    this.code = code;
  }
}

/** Shorthand for `STRATA_INVALID_ARGUMENT`. */
export function invalidArgument(message: string, cause?: unknown): StrataError {
  return new StrataError('STRATA_INVALID_ARGUMENT', message, cause === undefined ? undefined : { cause });
}

/**
 * Converts anything thrown by the native binding into a `StrataError`. Native errors
 * carry their code already; an error without a known code (a bug) becomes
 * `STRATA_INTERNAL`, with the original as `cause`.
 */
export function fromNative(err: unknown): StrataError {
  if (err instanceof StrataError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string' && KNOWN.has(code)) {
      return new StrataError(code as ErrorCode, err.message, { cause: err });
    }
    return new StrataError('STRATA_INTERNAL', err.message, { cause: err });
  }
  return new StrataError('STRATA_INTERNAL', String(err), { cause: err });
}
