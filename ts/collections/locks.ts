/**
 * Write ordering of one collection: a read-modify-write of a document must not interleave
 * with another write of the same document, or an update is lost.
 *
 * - Writes by id (`insertOne`, `updateOne(id)`, `replaceOne(id)`, `deleteOne(id)`, ...)
 *   take their documents' keys: each key has a chain, and a write starts once every earlier
 *   write of its keys (and the last filter write) is over. Writes of different documents
 *   run side by side.
 * - Writes by filter (`updateOne(filter)`, `deleteMany`, ...) take the whole collection:
 *   they start once every earlier write is over, and later writes wait for them. They
 *   choose their documents and write them with nothing else of the collection in between.
 *
 * - `findById` waits for the earlier writes of its document (it reads its own writes).
 *
 * Order is the order of the calls, so unawaited writes apply as if awaited one by one
 * (except that writes of different documents may commit in either order). A write's
 * failure does not stop the ones behind it.
 */
const settle = (): void => undefined;

export class WriteLocks {
  /** The last whole-collection write (settled, never rejects). */
  #barrier: Promise<void> = Promise.resolve();
  /** The last write of each key (settled, never rejects). */
  readonly #keys = new Map<string, Promise<void>>();
  /** Key writes started since the barrier. */
  readonly #since = new Set<Promise<void>>();

  /** Runs `fn` once every earlier write of `keys` and the last collection write are over. */
  keys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const waits: Promise<void>[] = [this.#barrier];
    for (const k of new Set(keys)) {
      const w = this.#keys.get(k);
      if (w !== undefined) waits.push(w);
    }
    const run = (waits.length === 1 ? (waits[0] as Promise<void>) : Promise.all(waits)).then(fn);
    const tail = run.then(settle, settle);
    for (const k of new Set(keys)) {
      this.#keys.set(k, tail);
      void tail.then(() => {
        if (this.#keys.get(k) === tail) this.#keys.delete(k);
      });
    }
    this.#since.add(tail);
    void tail.then(() => this.#since.delete(tail));
    return run;
  }

  /** Runs `fn` (a read) once every earlier write of `keys` and the last collection write are over. */
  after<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const waits: Promise<void>[] = [this.#barrier];
    for (const k of keys) {
      const w = this.#keys.get(k);
      if (w !== undefined) waits.push(w);
    }
    return (waits.length === 1 ? (waits[0] as Promise<void>) : Promise.all(waits)).then(fn);
  }

  /** Runs `fn` once every earlier write is over; later writes wait for it. */
  collection<T>(fn: () => Promise<T>): Promise<T> {
    const waits = [this.#barrier, ...this.#since];
    this.#since.clear();
    const run = Promise.all(waits).then(fn);
    this.#barrier = run.then(settle, settle);
    return run;
  }
}
