/**
 * Operation timings, published on one `node:diagnostics_channel` channel so that they cost
 * nothing when nobody listens: `Db` checks `opChannel.hasSubscribers` and only then times
 * the call (`ts/metrics` subscribes). The channel name and message are public: any
 * diagnostics tool may subscribe too.
 */
import * as dc from 'node:diagnostics_channel';

/** The operations that are timed. */
export type OpKind = 'get' | 'getMany' | 'put' | 'del' | 'batch' | 'iterator' | 'query';

/** One finished operation, published on `stratadb:op`. */
export interface OpMessage {
  /** The database it ran on. */
  db: object;
  op: OpKind;
  /** Wall-clock milliseconds from the call to the settling of its promise (for `iterator`: from creation to close). */
  ms: number;
  /** False when it threw or rejected. */
  ok: boolean;
  /** For `query`: `false` or why the page stopped early. */
  partial?: false | 'timeout' | 'maxPostingsScanned';
}

/** The channel `OpMessage`s are published on. */
export const OP_CHANNEL = 'stratadb:op';
export const opChannel: dc.Channel = dc.channel(OP_CHANNEL);

function publish(db: object, op: OpKind, start: number, ok: boolean, extra?: Partial<OpMessage>): void {
  const ms = performance.now() - start;
  const m: OpMessage = extra === undefined ? { db, op, ms, ok } : { db, op, ms, ok, ...extra };
  opChannel.publish(m);
}

/** Runs `run` and publishes its timing when it settles (call only when `opChannel.hasSubscribers`). */
export function timed<T>(db: object, op: OpKind, run: () => Promise<T>, extra?: (r: T) => Partial<OpMessage>): Promise<T> {
  const start = performance.now();
  let p: Promise<T>;
  try {
    p = run();
  } catch (e) {
    publish(db, op, start, false);
    throw e;
  }
  return p.then(
    (r) => {
      publish(db, op, start, true, extra?.(r));
      return r;
    },
    (e: unknown) => {
      publish(db, op, start, false);
      throw e;
    },
  );
}

/** Publishes an `iterator` operation when `it` is closed (by `close()`, `all()` or the end of a `for await`). */
export function timedIterator<T extends { close(): Promise<void> }>(db: object, it: T): T {
  const start = performance.now();
  const close = it.close.bind(it);
  let done = false;
  it.close = (): Promise<void> => {
    if (!done) {
      done = true;
      publish(db, 'iterator', start, true);
    }
    return close();
  };
  return it;
}
