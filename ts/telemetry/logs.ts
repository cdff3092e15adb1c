/**
 * Engine events as structured log lines (pino). `open(dir, { logger })` takes a pino logger
 * (or anything with pino's `info`/`warn`/`error(obj, msg)` methods), or a level name for a
 * pino logger on standard output; without it nothing is logged (and no events are drained).
 *
 * Every line carries `event` (the kind) and `location` (the database directory) plus the
 * event's fields, durations in `durationMs`. The fields are listed in `docs/operations.md`.
 */
import pino from 'pino';

import type { EngineEvent, EventListener } from './events';

/** The methods of a logger that StrataDB calls (a pino `Logger` has them). */
export interface EventLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Log levels accepted by `open(dir, { logger: level })`. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const LEVELS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The logger for the `logger` option: the one given, or a pino logger on stdout at that level; `undefined` for none/silent. */
export function resolveLogger(option: EventLogger | LogLevel | undefined): EventLogger | undefined {
  if (option === undefined || option === 'silent') return undefined;
  if (typeof option === 'string') {
    if (!LEVELS.has(option)) throw new TypeError(`logger must be a pino logger or a level name, got '${option}'`);
    return pino({ level: option, name: 'stratadb' });
  }
  if (typeof option !== 'object' || option === null || typeof option.info !== 'function' || typeof option.warn !== 'function' || typeof option.error !== 'function') {
    throw new TypeError('logger must be a pino logger (info, warn and error methods) or a level name');
  }
  return option;
}

/** The log line (fields and message) of one event. */
export function logLine(e: EngineEvent): { level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; msg: string } {
  const { kind, at, ...rest } = e;
  const fields: Record<string, unknown> = { event: kind, at: new Date(at).toISOString(), ...rest };
  switch (e.kind) {
    case 'flush':
      return { level: 'info', fields, msg: `flushed memtable to table ${e.file} (${e.entries} entries, ${e.bytes} bytes)` };
    case 'compaction':
      return {
        level: 'info',
        fields,
        msg: e.trivialMove
          ? `moved table ${e.inputs.join(', ')} from L${e.level} to L${e.outputLevel}`
          : `compacted ${e.inputs.length} tables from L${e.level} into ${e.outputs.length} in L${e.outputLevel} (${e.bytesRead} bytes read, ${e.bytesWritten} written)`,
      };
    case 'write_stall':
      return { level: 'warn', fields, msg: `write stalled ${e.durationMs.toFixed(1)} ms waiting for a flush` };
    case 'recovery':
      return {
        level: e.droppedTail !== undefined || e.skipped > 0 ? 'warn' : 'info',
        fields,
        msg: `opened: replayed ${e.walRecords} write batches from ${e.walFiles} WAL files${e.droppedTail !== undefined ? `; cut a torn WAL tail (${e.droppedTail})` : ''}`,
      };
    case 'background_error':
      return { level: 'error', fields, msg: `database is read-only after a failure: ${e.message}` };
  }
}

/** A listener that writes each event as one log line. */
export function logListener(logger: EventLogger, location: string): EventListener {
  return {
    event(e) {
      const line = logLine(e);
      logger[line.level]({ location, ...line.fields }, line.msg);
    },
    dropped(n) {
      logger.warn({ event: 'events_dropped', location, dropped: n }, `${n} engine events were dropped (the queue was full)`);
    },
  };
}
