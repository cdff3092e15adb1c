/**
 * Engine events in JavaScript. The engine appends what its background work did (flushes,
 * compactions, write stalls, the recovery at open, failures) to a bounded queue of plain
 * structs; an `EventPump` drains it on a timer (unref'd: it never keeps the process alive),
 * after `flush()` / `compactRange()` and at close, and hands each event to its listeners
 * (the pino logger of `logs.ts`, the span recorder of `traces.ts`). Nothing runs when no
 * listener is configured.
 */
import type { BindingEvent } from '../../binding';

/** A flush of an immutable memtable into a new L0 table. */
export interface FlushEvent {
  kind: 'flush';
  /** When it ended, in milliseconds since the Unix epoch. */
  at: number;
  durationMs: number;
  /** The new table's file number. */
  file: number;
  /** Entries written (versions and tombstones included). */
  entries: number;
  /** Bytes of the new table. */
  bytes: number;
  /** The WAL whose data the table now holds. */
  wal: number;
}

/** A compaction (or a trivial move) from `level` into `outputLevel`. */
export interface CompactionEvent {
  kind: 'compaction';
  at: number;
  durationMs: number;
  level: number;
  outputLevel: number;
  /** File numbers read. */
  inputs: number[];
  /** File numbers written (for a move: the moved file). */
  outputs: number[];
  bytesRead: number;
  bytesWritten: number;
  /** One file moved down a level without being rewritten. */
  trivialMove: boolean;
  /** Why the picker chose it. */
  reason: string;
}

/** A write that waited for a flush because too many immutable memtables were waiting. */
export interface WriteStallEvent {
  kind: 'write_stall';
  at: number;
  /** How long the write waited. */
  durationMs: number;
  immutableMemtables: number;
  l0Files: number;
}

/** The recovery done when the database was opened. */
export interface RecoveryEvent {
  kind: 'recovery';
  at: number;
  /** How long the open took. */
  durationMs: number;
  walFiles: number;
  walRecords: number;
  /** A torn tail cut from the newest WAL (file, offset and why). */
  droppedTail?: string;
  /** Damaged WAL regions skipped (salvage mode). */
  skipped: number;
  orphansDeleted: number;
}

/** A failure that made the database read-only. */
export interface BackgroundErrorEvent {
  kind: 'background_error';
  at: number;
  durationMs: number;
  message: string;
}

export type EngineEvent = FlushEvent | CompactionEvent | WriteStallEvent | RecoveryEvent | BackgroundErrorEvent;

/** Receives the events of one database. */
export interface EventListener {
  event(e: EngineEvent): void;
  /** Events lost because the engine's queue (1,024 events) filled up between drains. */
  dropped?(n: number): void;
}

/** What the pump needs from the database. */
export interface EventSource {
  _drainEvents(max: number): { events: BindingEvent[]; dropped: number };
}

const n = (v: number | undefined | null): number => v ?? 0;

/** Converts one binding event; `undefined` for kinds this version does not know. */
export function toEngineEvent(b: BindingEvent): EngineEvent | undefined {
  const base = { at: b.atMs, durationMs: b.durationMs };
  switch (b.kind) {
    case 'flush':
      return { kind: 'flush', ...base, file: n(b.file), entries: n(b.entries), bytes: n(b.bytes), wal: n(b.wal) };
    case 'compaction':
      return {
        kind: 'compaction',
        ...base,
        level: n(b.level),
        outputLevel: n(b.outputLevel),
        inputs: b.inputs ?? [],
        outputs: b.outputs ?? [],
        bytesRead: n(b.bytesRead),
        bytesWritten: n(b.bytesWritten),
        trivialMove: b.trivialMove ?? false,
        reason: b.reason ?? '',
      };
    case 'write_stall':
      return { kind: 'write_stall', ...base, immutableMemtables: n(b.immutableMemtables), l0Files: n(b.l0Files) };
    case 'recovery': {
      const e: RecoveryEvent = {
        kind: 'recovery',
        ...base,
        walFiles: n(b.walFiles),
        walRecords: n(b.walRecords),
        skipped: n(b.skipped),
        orphansDeleted: n(b.orphansDeleted),
      };
      if (b.droppedTail != null) e.droppedTail = b.droppedTail;
      return e;
    }
    case 'background_error':
      return { kind: 'background_error', ...base, message: b.reason ?? '' };
    default:
      return undefined;
  }
}

/** Events taken per native call. */
const DRAIN_BATCH = 256;
/** Default period of the background drain. */
export const DEFAULT_EVENT_INTERVAL_MS = 1000;

/** Drains a database's engine events into listeners. */
export class EventPump {
  readonly #source: EventSource;
  readonly #listeners: EventListener[];
  #timer: NodeJS.Timeout | undefined;

  constructor(source: EventSource, listeners: EventListener[], intervalMs = DEFAULT_EVENT_INTERVAL_MS) {
    this.#source = source;
    this.#listeners = listeners;
    this.#timer = setInterval(() => this.poll(), intervalMs);
    this.#timer.unref();
  }

  /** Drains every queued event now. A listener that throws does not stop the others. */
  poll(): void {
    for (;;) {
      let got: { events: BindingEvent[]; dropped: number };
      try {
        got = this.#source._drainEvents(DRAIN_BATCH);
      } catch {
        return;
      }
      if (got.dropped > 0) {
        for (const l of this.#listeners) safely(() => l.dropped?.(got.dropped));
      }
      for (const b of got.events) {
        const e = toEngineEvent(b);
        if (e === undefined) continue;
        for (const l of this.#listeners) safely(() => l.event(e));
      }
      if (got.events.length < DRAIN_BATCH) return;
    }
  }

  /** Drains once more and stops the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.poll();
  }
}

function safely(f: () => void): void {
  try {
    f();
  } catch {
    // A listener's failure (a logger whose stream broke) must not break the database.
  }
}
