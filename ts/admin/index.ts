/**
 * Operations on databases and backups that need no open database: restore, list, verify
 * and purge backups (`db.backup()` takes them).
 */
import { open } from '../db';
import type { CustomExtractor } from '../indexes/extract';
import * as backups from './backup';
import type { RestoreOptions, RestoreResult } from './backup';

export { listBackups, verifyBackup, purgeOldBackups, BACKUP_FORMAT_VERSION } from './backup';
export type { ExchangeFormat, ExchangeProgress, ExportOptions, ExportRecord, ExportResult, ImportOptions, ImportResult } from './exchange';
export type { BackupDescription, BackupFile, BackupInfo, BackupOptions, BackupPhase, BackupProblem, BackupProgress, BackupResult, RestoreOptions, RestoreResult } from './backup';

/**
 * Restores a backup (a backup directory, or a `.tar.gz` archive) into `dir`. Every file's
 * size and SHA-256 are checked, and the result must open and pass `verify()` (records, SSTables
 * and indexes) before `dir` gets anything. `dir` must be absent or empty unless `force`.
 * `extractors`: the custom extractors of the database's custom indexes, for that check.
 */
export function restore(source: string, dir: string, opts: RestoreOptions & { extractors?: Record<string, CustomExtractor> } = {}): Promise<RestoreResult> {
  return backups.restore(source, dir, opts, async (d) => {
    const db = await open(d, { env: {}, envFile: false, createIfMissing: false, ...(opts.extractors ? { extractors: opts.extractors } : {}) });
    try {
      return await db.verify();
    } finally {
      await db.close();
    }
  });
}
