/**
 * The event-loop budget of the calling-thread fast paths.
 *
 * A write or read served on the calling thread returns an already settled promise, so a
 * loop of `await db.put(...)` never gives the event loop a turn: timers and I/O would wait
 * for the whole loop. To keep the process responsive, at most `FAST_STREAK` operations are
 * served on the calling thread per event-loop turn; the next one goes to the thread pool,
 * whose completion arrives on a later turn. That costs one pool round trip per
 * `FAST_STREAK` operations.
 */

/** Calling-thread operations allowed before the event loop must turn. */
export const FAST_STREAK = 512;

let streak = 0;
let scheduled = false;

function newTurn(): void {
  streak = 0;
  scheduled = false;
}

/**
 * Claims a calling-thread operation worth `cost` point operations; false when this turn's
 * budget is spent.
 */
export function fastAllowed(cost = 1): boolean {
  if (streak >= FAST_STREAK) return false;
  streak += cost;
  if (!scheduled) {
    scheduled = true;
    setImmediate(newTurn);
  }
  return true;
}
