import type { NativeSnapshot } from '../binding';

/**
 * A consistent read view of the database. Pass it as `{ snapshot }` to `get`, `getSync`,
 * `getMany`, `has`, `iterator`, `keys` and `values`. Release it with `close()`; closing the
 * database releases it too.
 */
export class Snapshot {
  #native: NativeSnapshot | undefined;
  readonly #onClose: (s: Snapshot) => void;

  /** @internal */
  constructor(native: NativeSnapshot, onClose: (s: Snapshot) => void) {
    this.#native = native;
    this.#onClose = onClose;
  }

  /** True once released. */
  get closed(): boolean {
    return this.#native === undefined;
  }

  /** @internal The native handle, or `undefined` once released. */
  _native(): NativeSnapshot | undefined {
    return this.#native;
  }

  /** @internal Releases the native snapshot without notifying the database. */
  _release(): void {
    this.#native?.close();
    this.#native = undefined;
  }

  /** Releases the snapshot. Idempotent. */
  async close(): Promise<void> {
    if (this.#native === undefined) return;
    this._release();
    this.#onClose(this);
  }
}
