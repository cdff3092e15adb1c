/**
 * Backups and restores, built on `db.checkpoint()` (RocksDB's BackupEngine, in miniature).
 *
 * Two forms, chosen by the target's name:
 *
 * - **A backup directory** (incremental): each backup is a checkpoint whose SSTables are
 *   stored once, by content, in `shared/` (`<sha256>_<size>.sst`), so a backup after a few
 *   writes copies only the SSTables that changed. Its other files (the manifest) go to
 *   `private/<id>/`, and its description, `meta/<id>.json`, is written last and atomically:
 *   a backup exists once its meta file does, so a crash mid-backup leaves no half backup
 *   (only unreferenced files, which the next `purgeOldBackups` removes).
 * - **A single archive** (`.tar.gz` / `.tgz`): the checkpoint's files plus `BACKUP.json`, the
 *   same description, written to `<file>.partial` and renamed when complete.
 *
 * Every file is listed with its size and SHA-256. `restore` checks every one before the
 * target gets anything: it restores into `<dir>.restore-tmp`, checks sizes and checksums,
 * opens the result and runs `verify()` (records, SSTables and indexes), and only then renames
 * it into place.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';

import * as tar from 'tar';

import type { KvDb } from '../database';
import { StrataError, invalidArgument } from '../errors';

/** Format of `meta/<id>.json` and `BACKUP.json`. */
export const BACKUP_FORMAT_VERSION = 1;
const MARKER = 'STRATA-BACKUPS';
const DESCRIPTION = 'BACKUP.json';

/** One file of a backup. */
export interface BackupFile {
  /** Its name in the database directory (`000012.sst`, `MANIFEST`). */
  name: string;
  size: number;
  sha256: string;
  /** Where it is stored, relative to the backup directory (absent in an archive). */
  stored?: string;
}

/** What `meta/<id>.json` and an archive's `BACKUP.json` hold. */
export interface BackupDescription {
  format: 'stratadb-backup';
  version: number;
  /** Backup number within its directory (1 in an archive). */
  id: number;
  /** StrataDB version that wrote it. */
  stratadb: string;
  createdAt: string;
  /** Every write up to this sequence number is in the backup, none after it. */
  sequence: number;
  /** The database it was taken from (absolute path, informative). */
  source: string;
  files: BackupFile[];
}

/** A backup as listed: its description plus totals. */
export interface BackupInfo {
  id: number;
  createdAt: string;
  sequence: number;
  stratadb: string;
  files: number;
  /** Size of the database it restores. */
  bytes: number;
}

export type BackupPhase = 'checkpoint' | 'hash' | 'copy' | 'pack' | 'extract' | 'check' | 'verify';

/** Progress of a backup or restore: called once per file step and at phase changes. */
export interface BackupProgress {
  phase: BackupPhase;
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface BackupOptions {
  onProgress?: (p: BackupProgress) => void;
}

/** Result of `db.backup()`. */
export interface BackupResult extends BackupInfo {
  /** The backup directory or archive. */
  location: string;
  /** Bytes actually written (a backup directory shares unchanged SSTables). */
  bytesWritten: number;
}

export interface RestoreOptions extends BackupOptions {
  /** Which backup of a backup directory (default: the newest). */
  id?: number;
  /** Replace a non-empty target directory (it must not be in use). */
  force?: boolean;
}

export interface RestoreResult {
  location: string;
  id: number;
  sequence: number;
  files: number;
  bytes: number;
}

/** A problem found by `verifyBackup`. */
export interface BackupProblem {
  id: number;
  file: string;
  message: string;
}

function version(): string {
  // ts/admin and dist/admin are both two levels below the package root.
  return (require('../../package.json') as { version: string }).version;
}

function ioError(e: unknown, what: string): StrataError {
  if (e instanceof StrataError) return e;
  const err = e as NodeJS.ErrnoException;
  return new StrataError('STRATA_IO_ERROR', `${what}: ${err?.message ?? String(e)}`, { cause: e });
}

function isArchive(p: string): boolean {
  return p.endsWith('.tar.gz') || p.endsWith('.tgz');
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(fs.createReadStream(file), h);
  return h.digest('hex');
}

async function syncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copies `from` to `to` through `to.tmp`, synced, then renamed. */
async function copyDurably(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp`;
  await fsp.copyFile(from, tmp);
  await syncPath(tmp);
  await fsp.rename(tmp, to);
}

async function writeJsonDurably(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await syncPath(tmp);
  await fsp.rename(tmp, file);
  await syncPath(path.dirname(file));
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

function checkDescription(d: unknown, where: string): BackupDescription {
  const o = d as Partial<BackupDescription> | null;
  if (o === null || typeof o !== 'object' || o.format !== 'stratadb-backup') {
    throw new StrataError('STRATA_CORRUPTION', `${where} is not a StrataDB backup description`);
  }
  if (o.version !== BACKUP_FORMAT_VERSION) {
    throw new StrataError('STRATA_CORRUPTION', `${where}: backup format version ${String(o.version)} is not supported (this StrataDB reads version ${BACKUP_FORMAT_VERSION})`);
  }
  if (!Array.isArray(o.files) || typeof o.id !== 'number' || typeof o.sequence !== 'number') {
    throw new StrataError('STRATA_CORRUPTION', `${where}: malformed backup description`);
  }
  for (const f of o.files) {
    if (typeof f?.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(f.name) || typeof f.size !== 'number' || typeof f.sha256 !== 'string') {
      throw new StrataError('STRATA_CORRUPTION', `${where}: malformed file entry ${JSON.stringify(f)}`);
    }
    if (f.stored !== undefined && (typeof f.stored !== 'string' || f.stored.split('/').some((s) => s === '..' || s === ''))) {
      throw new StrataError('STRATA_CORRUPTION', `${where}: bad stored path ${JSON.stringify(f.stored)}`);
    }
  }
  if (o.files.filter((f) => f.name === 'MANIFEST').length !== 1) {
    throw new StrataError('STRATA_CORRUPTION', `${where}: the backup must list exactly one MANIFEST`);
  }
  if (new Set(o.files.map((f) => f.name)).size !== o.files.length) throw new StrataError('STRATA_CORRUPTION', `${where}: a file is listed twice`);
  return o as BackupDescription;
}

function infoOf(d: BackupDescription): BackupInfo {
  return { id: d.id, createdAt: d.createdAt, sequence: d.sequence, stratadb: d.stratadb, files: d.files.length, bytes: d.files.reduce((n, f) => n + f.size, 0) };
}

class Progress {
  files = 0;
  bytes = 0;
  constructor(
    readonly phase: BackupPhase,
    readonly totalFiles: number,
    readonly totalBytes: number,
    readonly fn: ((p: BackupProgress) => void) | undefined,
  ) {
    this.report();
  }
  step(bytes: number): void {
    this.files++;
    this.bytes += bytes;
    this.report();
  }
  report(): void {
    this.fn?.({ phase: this.phase, files: this.files, totalFiles: this.totalFiles, bytes: this.bytes, totalBytes: this.totalBytes });
  }
}

/** Checkpoints `db` next to its directory (same file system: hard links) and describes it. */
async function checkpointAndHash(db: KvDb<unknown, unknown>, opts: BackupOptions): Promise<{ dir: string; description: Omit<BackupDescription, 'id'> }> {
  // One name per database (its backups run one at a time, see `backup`): a checkpoint left by
  // a crash or Ctrl-C is removed by the next backup instead of holding disk space forever.
  const dir = `${db.location}.backup-tmp`;
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rm(`${dir}.checkpoint-tmp`, { recursive: true, force: true });
  new Progress('checkpoint', 0, 0, opts.onProgress);
  const cp = await db.checkpoint(dir);
  try {
    const names = (await fsp.readdir(dir)).sort();
    const sizes = await Promise.all(names.map(async (n) => (await fsp.stat(path.join(dir, n))).size));
    const progress = new Progress('hash', names.length, sizes.reduce((a, b) => a + b, 0), opts.onProgress);
    const files: BackupFile[] = [];
    for (const [i, name] of names.entries()) {
      files.push({ name, size: sizes[i] as number, sha256: await sha256(path.join(dir, name)) });
      progress.step(sizes[i] as number);
    }
    return {
      dir,
      description: { format: 'stratadb-backup', version: BACKUP_FORMAT_VERSION, stratadb: version(), createdAt: new Date().toISOString(), sequence: cp.sequence, source: db.location, files },
    };
  } catch (e) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function openBackupDir(dir: string, create: boolean): Promise<void> {
  const marker = path.join(dir, MARKER);
  if (await exists(marker)) return;
  if (!create) throw new StrataError('STRATA_NOT_FOUND', `${dir} is not a StrataDB backup directory (no ${MARKER} file)`);
  if ((await exists(dir)) && (await fsp.readdir(dir)).length > 0) {
    throw invalidArgument(`backup target ${dir} is a non-empty directory that is not a StrataDB backup directory`);
  }
  for (const sub of ['shared', 'private', 'meta']) await fsp.mkdir(path.join(dir, sub), { recursive: true });
  await writeJsonDurably(marker, { format: 'stratadb-backups', version: BACKUP_FORMAT_VERSION });
}

async function readDescriptions(dir: string): Promise<BackupDescription[]> {
  await openBackupDir(dir, false);
  const names = (await fsp.readdir(path.join(dir, 'meta'))).filter((n) => /^\d+\.json$/.test(n));
  const out: BackupDescription[] = [];
  for (const n of names) {
    const where = path.join(dir, 'meta', n);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await fsp.readFile(where, 'utf8'));
    } catch (e) {
      throw new StrataError('STRATA_CORRUPTION', `${where} does not parse: ${(e as Error).message}`);
    }
    out.push(checkDescription(parsed, where));
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The running backup of each database: backups of one database run one at a time. */
const running = new WeakMap<object, Promise<unknown>>();

/** `db.backup(target)`: see the module comment. */
export function backup(db: KvDb<unknown, unknown>, target: string, opts: BackupOptions = {}): Promise<BackupResult> {
  const prev = running.get(db) ?? Promise.resolve();
  const next = prev.then(
    () => backupNow(db, target, opts),
    () => backupNow(db, target, opts),
  );
  running.set(db, next.catch(() => undefined));
  return next;
}

async function backupNow(db: KvDb<unknown, unknown>, target: string, opts: BackupOptions): Promise<BackupResult> {
  if (typeof target !== 'string' || target.length === 0) throw invalidArgument('backup target must be a non-empty path');
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw invalidArgument('onProgress must be a function');
  const location = path.resolve(target);
  if (location === path.resolve(db.location) || location.startsWith(path.resolve(db.location) + path.sep)) {
    throw invalidArgument('the backup target cannot be inside the database directory');
  }
  if (isArchive(location) && (await exists(location))) throw new StrataError('STRATA_EXISTS', `backup archive ${location} already exists`);
  if (!isArchive(location)) await openBackupDir(location, true).catch((e: unknown) => Promise.reject(ioError(e, `backup directory ${location}`)));
  const { dir, description } = await checkpointAndHash(db, opts);
  try {
    return isArchive(location) ? await writeArchive(dir, location, description, opts) : await writeIncremental(dir, location, description, opts);
  } catch (e) {
    throw ioError(e, `backup to ${location}`);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function writeArchive(dir: string, file: string, d: Omit<BackupDescription, 'id'>, opts: BackupOptions): Promise<BackupResult> {
  const description: BackupDescription = { ...d, id: 1 };
  await fsp.writeFile(path.join(dir, DESCRIPTION), `${JSON.stringify(description, null, 2)}\n`);
  const total = d.files.reduce((n, f) => n + f.size, 0);
  const progress = new Progress('pack', d.files.length, total, opts.onProgress);
  const partial = `${file}.partial`;
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const sizes = new Map(d.files.map((f) => [f.name, f.size]));
  try {
    await tar.c(
      {
        gzip: true,
        file: partial,
        cwd: dir,
        portable: true,
        onWriteEntry: (entry) => {
          const size = sizes.get(entry.path);
          if (size !== undefined) progress.step(size);
        },
      },
      [DESCRIPTION, ...d.files.map((f) => f.name)],
    );
    await syncPath(partial);
    await fsp.rename(partial, file);
    await syncPath(path.dirname(file));
  } catch (e) {
    await fsp.rm(partial, { force: true });
    throw e;
  }
  const bytesWritten = (await fsp.stat(file)).size;
  return { ...infoOf(description), location: file, bytesWritten };
}

async function writeIncremental(dir: string, root: string, d: Omit<BackupDescription, 'id'>, opts: BackupOptions): Promise<BackupResult> {
  const previous = await readDescriptions(root);
  const id = (previous.at(-1)?.id ?? 0) + 1;
  const priv = path.join(root, 'private', String(id));
  await fsp.rm(priv, { recursive: true, force: true });
  await fsp.mkdir(priv, { recursive: true });
  const total = d.files.reduce((n, f) => n + f.size, 0);
  const progress = new Progress('copy', d.files.length, total, opts.onProgress);
  let bytesWritten = 0;
  const files: BackupFile[] = [];
  for (const f of d.files) {
    const from = path.join(dir, f.name);
    let stored: string;
    if (f.name.endsWith('.sst')) {
      stored = `shared/${f.sha256}_${f.size}.sst`;
      if (!(await exists(path.join(root, stored)))) {
        await copyDurably(from, path.join(root, stored));
        bytesWritten += f.size;
      }
    } else {
      stored = `private/${id}/${f.name}`;
      await copyDurably(from, path.join(root, stored));
      bytesWritten += f.size;
    }
    files.push({ ...f, stored });
    progress.step(f.size);
  }
  await syncPath(path.join(root, 'shared'));
  await syncPath(priv);
  const description: BackupDescription = { ...d, id, files };
  // The backup exists from here on.
  await writeJsonDurably(path.join(root, 'meta', `${id}.json`), description);
  return { ...infoOf(description), location: root, bytesWritten };
}

/** The backups of a backup directory, oldest first (an archive: its one backup). */
export async function listBackups(source: string): Promise<BackupInfo[]> {
  const location = path.resolve(source);
  if (isArchive(location)) return [infoOf((await readArchiveDescription(location)).description)];
  return (await readDescriptions(location)).map(infoOf);
}

/** Checks every file of every backup (or of `id`) against its size and SHA-256. */
export async function verifyBackup(source: string, opts: { id?: number } = {}): Promise<{ ok: boolean; problems: BackupProblem[] }> {
  const location = path.resolve(source);
  const problems: BackupProblem[] = [];
  if (isArchive(location)) {
    const tmp = `${location}.verify-${process.pid}`;
    try {
      const { description } = await extractArchive(location, tmp);
      problems.push(...(await checkFiles(description, (f) => path.join(tmp, f.name))));
    } catch (e) {
      if (!(e instanceof StrataError)) throw ioError(e, `reading ${location}`);
      problems.push({ id: 1, file: location, message: e.message });
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
    return { ok: problems.length === 0, problems };
  }
  const all = await readDescriptions(location);
  const chosen = opts.id === undefined ? all : all.filter((d) => d.id === opts.id);
  if (opts.id !== undefined && chosen.length === 0) throw new StrataError('STRATA_NOT_FOUND', `no backup ${opts.id} in ${location}`);
  for (const d of chosen) problems.push(...(await checkFiles(d, (f) => path.join(location, f.stored ?? f.name))));
  return { ok: problems.length === 0, problems };
}

async function checkFiles(d: BackupDescription, where: (f: BackupFile) => string, progress?: Progress): Promise<BackupProblem[]> {
  const problems: BackupProblem[] = [];
  for (const f of d.files) {
    const p = where(f);
    let size: number;
    try {
      size = (await fsp.stat(p)).size;
    } catch {
      problems.push({ id: d.id, file: f.name, message: `${p} is missing` });
      continue;
    }
    if (size !== f.size) {
      problems.push({ id: d.id, file: f.name, message: `${p} has ${size} bytes, the backup says ${f.size}` });
      continue;
    }
    const h = await sha256(p);
    if (h !== f.sha256) problems.push({ id: d.id, file: f.name, message: `${p}: SHA-256 ${h} differs from the backup's ${f.sha256}` });
    progress?.step(f.size);
  }
  return problems;
}

/** Removes all but the newest `keep` backups of a backup directory and the files only they used. */
export async function purgeOldBackups(source: string, keep: number): Promise<{ removed: number[]; bytesFreed: number }> {
  if (!Number.isInteger(keep) || keep < 0) throw invalidArgument(`keep must be a non-negative integer, got ${String(keep)}`);
  const location = path.resolve(source);
  const all = await readDescriptions(location);
  const doomed = all.slice(0, Math.max(0, all.length - keep));
  // Meta files first: once gone, the backup no longer exists; its files are then garbage.
  for (const d of doomed) await fsp.rm(path.join(location, 'meta', `${d.id}.json`));
  await syncPath(path.join(location, 'meta'));
  const kept = all.slice(doomed.length);
  const used = new Set(kept.flatMap((d) => d.files.map((f) => f.stored)));
  let bytesFreed = 0;
  for (const name of await fsp.readdir(path.join(location, 'shared'))) {
    if (used.has(`shared/${name}`)) continue;
    const p = path.join(location, 'shared', name);
    bytesFreed += (await fsp.stat(p)).size;
    await fsp.rm(p);
  }
  const keptIds = new Set(kept.map((d) => String(d.id)));
  for (const name of await fsp.readdir(path.join(location, 'private'))) {
    if (keptIds.has(name)) continue;
    await fsp.rm(path.join(location, 'private', name), { recursive: true, force: true });
  }
  return { removed: doomed.map((d) => d.id), bytesFreed };
}

async function readArchiveDescription(file: string): Promise<{ description: BackupDescription }> {
  let text: string | undefined;
  await tar.t({
    file,
    onReadEntry: (entry) => {
      if (entry.path !== DESCRIPTION) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
    },
  }).catch((e: unknown) => Promise.reject(new StrataError('STRATA_CORRUPTION', `${file} is not a readable .tar.gz: ${(e as Error).message}`)));
  if (text === undefined) throw new StrataError('STRATA_CORRUPTION', `${file} has no ${DESCRIPTION}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new StrataError('STRATA_CORRUPTION', `${file}: ${DESCRIPTION} does not parse: ${(e as Error).message}`);
  }
  return { description: checkDescription(parsed, `${file}: ${DESCRIPTION}`) };
}

/** Extracts an archive's listed files (nothing else) into `dir`. */
async function extractArchive(file: string, dir: string, progress?: Progress): Promise<{ description: BackupDescription }> {
  const { description } = await readArchiveDescription(file);
  const wanted = new Map(description.files.map((f) => [f.name, f.size]));
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  await tar
    .x({
      file,
      cwd: dir,
      strict: true,
      // Only plain files the description lists: no paths, links or devices.
      filter: (p, entry) => wanted.has(p) && (entry as { type?: string }).type === 'File',
      onReadEntry: (entry) => {
        const size = wanted.get(entry.path);
        if (size !== undefined) entry.on('end', () => progress?.step(size));
      },
    })
    .catch((e: unknown) => Promise.reject(new StrataError('STRATA_CORRUPTION', `${file}: cannot extract: ${(e as Error).message}`)));
  return { description };
}

/**
 * Restores a backup into `dir`: checks every file's size and SHA-256 and that the result
 * opens and passes `verify()` before `dir` gets anything. `dir` must be absent or empty
 * unless `force` (then it is replaced; it must not be open).
 */
export async function restore(
  source: string,
  dir: string,
  opts: RestoreOptions,
  openAndVerify: (dir: string) => Promise<{ ok: boolean; problems: { message: string }[] }>,
): Promise<RestoreResult> {
  if (typeof source !== 'string' || source.length === 0) throw invalidArgument('restore source must be a non-empty path');
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('restore target must be a non-empty path');
  const from = path.resolve(source);
  const to = path.resolve(dir);
  if ((await exists(to)) && (await fsp.readdir(to).catch(() => ['(not a directory)'])).length > 0 && opts.force !== true) {
    throw new StrataError('STRATA_EXISTS', `restore target ${to} is not empty (pass force to replace it)`);
  }
  const tmp = `${to}.restore-tmp`;
  await fsp.rm(tmp, { recursive: true, force: true });
  let description: BackupDescription;
  try {
    if (isArchive(from)) {
      const d = (await readArchiveDescription(from)).description;
      const progress = new Progress('extract', d.files.length, d.files.reduce((n, f) => n + f.size, 0), opts.onProgress);
      description = (await extractArchive(from, tmp, progress)).description;
      const problems = await checkFiles(description, (f) => path.join(tmp, f.name), new Progress('check', description.files.length, infoOf(description).bytes, opts.onProgress));
      if (problems.length > 0) throw new StrataError('STRATA_CORRUPTION', `backup ${from} is damaged: ${problems.map((p) => p.message).join('; ')}`);
    } else {
      const all = await readDescriptions(from);
      const d = opts.id === undefined ? all.at(-1) : all.find((x) => x.id === opts.id);
      if (d === undefined) throw new StrataError('STRATA_NOT_FOUND', opts.id === undefined ? `${from} holds no backup` : `no backup ${opts.id} in ${from}`);
      description = d;
      // Checked before anything is copied, then copied and checked again (the copy is what opens).
      const problems = await checkFiles(d, (f) => path.join(from, f.stored ?? f.name), new Progress('check', d.files.length, infoOf(d).bytes, opts.onProgress));
      if (problems.length > 0) throw new StrataError('STRATA_CORRUPTION', `backup ${d.id} in ${from} is damaged: ${problems.map((p) => p.message).join('; ')}`);
      await fsp.mkdir(tmp, { recursive: true });
      const progress = new Progress('copy', d.files.length, infoOf(d).bytes, opts.onProgress);
      for (const f of d.files) {
        await copyDurably(path.join(from, f.stored ?? f.name), path.join(tmp, f.name));
        progress.step(f.size);
      }
      const again = await checkFiles(d, (f) => path.join(tmp, f.name));
      if (again.length > 0) throw new StrataError('STRATA_IO_ERROR', `restored files differ from the backup: ${again.map((p) => p.message).join('; ')}`);
    }
    await syncPath(tmp);
    new Progress('verify', 0, 0, opts.onProgress);
    const v = await openAndVerify(tmp);
    if (!v.ok) throw new StrataError('STRATA_CORRUPTION', `the restored database does not verify: ${v.problems.map((p) => p.message).join('; ')}`);
    if (await exists(to)) {
      const old = `${to}.restore-old`;
      await fsp.rm(old, { recursive: true, force: true });
      await fsp.rename(to, old);
      await fsp.rename(tmp, to);
      await fsp.rm(old, { recursive: true, force: true });
    } else {
      await fsp.mkdir(path.dirname(to), { recursive: true });
      await fsp.rename(tmp, to);
    }
    await syncPath(path.dirname(to));
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw ioError(e, `restore of ${from}`);
  }
  const info = infoOf(description);
  return { location: to, id: info.id, sequence: info.sequence, files: info.files, bytes: info.bytes };
}
