/** `StrataLevelSnapshot`: abstract-level 3's explicit snapshot on a `NativeSnapshot`. */
import { AbstractSnapshot } from 'abstract-level';
import type { NativeSnapshot } from '../../binding';
import { LevelError } from './errors';

// The published typings declare no constructor; the class takes `{ owner }`.
const SnapshotBase = AbstractSnapshot as unknown as new (options: { owner: unknown }) => AbstractSnapshot;

/** A read view pinned when `db.snapshot()` was called. Release it with `close()`. */
export class StrataLevelSnapshot extends SnapshotBase {
  #native: NativeSnapshot | undefined;

  /** @internal Created by `StrataLevel#_snapshot`. */
  constructor(options: { owner: unknown }, native: NativeSnapshot) {
    super(options);
    this.#native = native;
  }

  /** @internal The native handle; `undefined` once released. */
  get _native(): NativeSnapshot | undefined {
    return this.#native;
  }

  /** @internal Called by abstract-level once no operation holds a reference. */
  async _close(): Promise<void> {
    this.#native?.close();
    this.#native = undefined;
  }
}

/**
 * The native snapshot of a read's `snapshot` option (`undefined` when none). abstract-level
 * has already checked that the snapshot is open (`LEVEL_SNAPSHOT_NOT_OPEN`) and holds a
 * reference for the duration of the call.
 */
export function nativeSnapshot(options: { snapshot?: unknown } | undefined): NativeSnapshot | undefined {
  const s = options?.snapshot;
  if (s === undefined || s === null) return undefined;
  if (!(s instanceof StrataLevelSnapshot)) {
    throw new TypeError('The snapshot option must be a snapshot created by a StrataLevel database');
  }
  const n = s._native;
  if (n === undefined) {
    throw new LevelError('Snapshot is not open: cannot use snapshot after close()', { code: 'LEVEL_SNAPSHOT_NOT_OPEN' });
  }
  return n;
}
