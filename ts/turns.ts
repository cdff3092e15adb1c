/**
 * The event-loop budget of the calling-thread fast paths.
 *
 * A write or read served on the calling thread returns an already settled promise, so a
 * loop of `await db.put(...)` never gives the event loop a turn: timers and I/O would wait
 * for the whole loop. To keep the process responsive, at most `FAST_STREAK` operations are
 * served on the calling thread per event-loop turn. Past that, a write goes to the thread
 * pool, whose completion arrives on a later turn; a read (a `get` without a snapshot, an
 * iterator batch) waits for the next turn (`nextTurn`, a `setImmediate`) and is then served
 * on the calling thread: the loop turns just the same, without the cost of a pool job.
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

/** Adds `cost` point operations to this turn's spending (work whose size is known only once done). */
export function charge(cost: number): void {
  if (cost > 0) streak += cost;
}

/**
 * Resolves on the next event-loop turn (after timers and I/O had their turn), when the
 * budget of `fastAllowed` has been renewed.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
