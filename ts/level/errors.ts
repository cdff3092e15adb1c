/**
 * Errors of `StrataLevel`: abstract-level's stable `LEVEL_*` codes where its interface
 * defines one, with the StrataDB error (code `STRATA_*`) kept as `cause`. Mapped by `code`
 * only, never by message.
 */
import { StrataError, fromNative } from '../errors';

/** An error with an abstract-level code (`LEVEL_*`); shaped like `module-error`'s errors. */
export class LevelError extends Error {
  /** The stable `LEVEL_*` code. */
  readonly code: string;

  constructor(message: string, options: { code: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LevelError';
    this.code = options.code;
  }
}

/** An aborted read: code `LEVEL_ABORTED`, name `AbortError` (as abstract-level's own). */
export class LevelAbortError extends LevelError {
  constructor(cause?: unknown) {
    super('Operation has been aborted', { code: 'LEVEL_ABORTED', cause });
    this.name = 'AbortError';
  }
}

/** `STRATA_*` codes with an abstract-level equivalent. */
const LEVEL_CODES: Readonly<Record<string, string>> = {
  STRATA_LOCKED: 'LEVEL_LOCKED',
  STRATA_CORRUPTION: 'LEVEL_CORRUPTION',
  STRATA_IO_ERROR: 'LEVEL_IO_ERROR',
  STRATA_CLOSED: 'LEVEL_DATABASE_NOT_OPEN',
  STRATA_ITERATOR_NOT_OPEN: 'LEVEL_ITERATOR_NOT_OPEN',
  STRATA_POISONED: 'LEVEL_READONLY',
  STRATA_READ_ONLY: 'LEVEL_READONLY',
};

/**
 * Converts anything the binding threw. `invalid` is the code a `STRATA_INVALID_ARGUMENT`
 * takes in this call's context (`LEVEL_INVALID_KEY` for calls whose only input is keys);
 * without it, and for codes abstract-level has no equivalent of (`STRATA_NOT_FOUND`,
 * `STRATA_EXISTS`, `STRATA_INTERNAL`), the `StrataError` itself is thrown.
 */
export function toLevelError(err: unknown, invalid?: string): Error {
  const strata: StrataError = fromNative(err);
  const code = strata.code === 'STRATA_INVALID_ARGUMENT' ? invalid : LEVEL_CODES[strata.code];
  return code === undefined ? strata : new LevelError(strata.message, { code, cause: strata });
}
