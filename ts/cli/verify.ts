/**
 * `strata verify <dir>` (or `--config lsm.toml --instance name`): checks every checksum of an existing database without modifying it.
 * The database is opened `readOnly`: a WAL left by a crash is replayed into memory only (and
 * checked), nothing is compacted, flushed or deleted, and a read-only directory works.
 */
import type { Db, DbOptions } from '../db';
import { fromNative } from '../errors';
import { EXIT } from './exit';
import { readOnlyOptions, Target } from './target';

/** Opens, verifies, prints each problem and a summary; returns the exit code (`EXIT`). */
export async function verifyCommand(
  target: Target,
  openDb: (location: string, options: DbOptions) => Promise<Db>,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let db: Db;
  try {
    db = await openDb(target.location, { ...readOnlyOptions(target), createIfMissing: false });
  } catch (e) {
    const error = fromNative(e);
    err(`cannot open ${target.label}: ${error.code}: ${error.message}`);
    return EXIT.cannotOpen;
  }
  try {
    const stats = await db.stats();
    const tables = stats.levels.reduce((n, l) => n + l.files, 0);
    const { problems } = await db.verify();
    for (const p of problems) {
      const where = [p.file ?? '<unknown file>', p.offset === undefined ? undefined : `offset ${p.offset}`].filter(Boolean).join(' ');
      out(`${p.code} ${where}: ${p.message}`);
    }
    if (problems.length === 0) {
      out(`ok: ${target.label} is clean (${tables} ${tables === 1 ? 'table' : 'tables'} and the live WALs checked)`);
    } else {
      out(`FAILED: ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} in ${target.label} (${tables} tables checked)`);
    }
    return problems.length === 0 ? EXIT.ok : EXIT.problems;
  } catch (e) {
    const error = fromNative(e);
    err(`verify failed: ${error.code}: ${error.message}`);
    return EXIT.problems;
  } finally {
    await db.close().catch(() => undefined);
  }
}
