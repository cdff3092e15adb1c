/**
 * Exit codes of `strata`, documented in the README ("Exit codes"). Each has one meaning, so a
 * script can tell "verify found damage" from "could not run at all".
 */
export const EXIT = {
  /** Success (verify: the database is clean). */
  ok: 0,
  /** `strata verify` / `strata backups verify`: problems found. Used for nothing else. */
  problems: 1,
  /** The database could not be opened (missing, locked, corrupt at open) or a command failed. */
  cannotOpen: 2,
  /** No usable native binary (platform package missing or of another version). */
  noNativeBinding: 3,
  /** Usage error: unknown command or flag, missing or extra argument (sysexits' EX_USAGE). */
  usage: 64,
  /** Interrupted by Ctrl-C (SIGINT): the REPL, or an admin command (after removing what it half-wrote). */
  interrupted: 130,
} as const;

/** A thrown failure with its exit code, printed by `index.ts` (admin commands, `--config/--instance`). */
export class CommandFailed extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
