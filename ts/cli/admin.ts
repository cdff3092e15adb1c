/**
 * The admin commands of `strata`, each a thin shell over the library call an embedding app
 * makes (`db.backup`, `restore`, `db.export`, ...):
 *
 *   (every <dir> below can be --config lsm.toml [--instance name] instead: ./target.ts)
 *   strata backup <dir> --output <file.tar.gz | backup-dir>   strata restore --input <…> <dir> [--id n] [--force]
 *   strata backups list|verify|purge <backup-dir> [--keep n]  strata checkpoint <dir> <target>
 *   strata export <dir> [--format f] [--prefix p] [--output f] strata import <dir> --input f [--format f] [--batch-size n]
 *   strata compact <dir>    strata rebuild-index <dir> <name>    strata indexes <dir>    strata stats <dir>
 *
 * Long work draws a progress bar (`cli-progress`: entries or bytes, rate, ETA) on a terminal,
 * one line per step otherwise, nothing with `--json` (which prints one JSON result). Ctrl-C
 * removes what a command had half-written (`.partial` files, temporary directories) and
 * exits 130; an import stopped that way is rolled back (./import-journal.ts in ts/admin).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';

import type * as Lib from '../index';
import { CommandFailed, EXIT } from './exit';
import { readOnlyOptions, resolveTarget, Target, TargetFlags, targetFlags } from './target';

/** What the commands need from `index.ts`. */
export interface AdminContext {
  /** The library, loaded lazily (it loads the native binding). */
  lib: () => typeof Lib;
  /** Reports the command's exit code. */
  done: (code: number) => void;
}

interface Common extends TargetFlags {
  json?: boolean;
}


function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

function format(v: string): 'ndjson' | 'json' | 'csv' {
  if (v !== 'ndjson' && v !== 'json' && v !== 'csv') throw new InvalidArgumentError('format must be ndjson, json or csv');
  return v;
}

const MB = 1024 * 1024;

/** Progress for one command: a bar on a terminal, lines otherwise, nothing with --json. */
class Reporter {
  #bar: SingleBar | undefined;
  #phase = '';
  #lastLine = 0;
  readonly #tty: boolean;
  constructor(readonly json: boolean) {
    this.#tty = !json && process.stderr.isTTY === true;
  }
  step(phase: string, done: number, total: number, unit: 'bytes' | 'entries'): void {
    if (this.json) return;
    const scale = unit === 'bytes' ? MB : 1;
    const label = unit === 'bytes' ? 'MiB' : 'entries';
    if (this.#tty) {
      if (phase !== this.#phase) {
        this.#bar?.stop();
        this.#bar = new SingleBar({
          stream: process.stderr,
          format: `${phase.padEnd(10)} [{bar}] {percentage}% | {value}/{total} ${label} | {rate} ${label}/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
        });
        this.#bar.start(Math.max(1, Math.round((total / scale) * 10) / 10), 0, { rate: '0' });
        this.#phase = phase;
      }
      const secs = Math.max(0.001, (Date.now() - (this.#bar as unknown as { startTime: number }).startTime) / 1000);
      this.#bar?.update(Math.round((done / scale) * 10) / 10, { rate: (done / scale / secs).toFixed(1) });
      return;
    }
    const now = Date.now();
    if (phase !== this.#phase || done >= total || now - this.#lastLine > 1000) {
      this.#phase = phase;
      this.#lastLine = now;
      const amount = unit === 'bytes' ? `${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MiB` : total > 0 ? `${done}/${total} entries` : `${done} entries`;
      process.stderr.write(`${phase}: ${amount}\n`);
    }
  }
  end(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}

/** Runs `body` with Ctrl-C turned into: remove `cleanup` paths, print `why()`, exit 130. */
async function interruptible<T>(cleanup: () => string[], why: () => string, body: () => Promise<T>): Promise<T> {
  const onSigint = (): void => {
    for (const p of cleanup()) fs.rmSync(p, { recursive: true, force: true });
    process.stderr.write(`\ninterrupted: ${why()}\n`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    return await body();
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/**
 * The database of `[dir] [other args]` and the other args: with `--config/--instance` the
 * directory is left out and the words shift (`strata rebuild-index --instance app city`).
 */
function targetAndArgs(words: (string | undefined)[], flags: TargetFlags, names: string[] = []): { target: Target; args: string[] } {
  const given = words.filter((w): w is string => w !== undefined);
  const fromConfig = flags.config !== undefined || flags.instance !== undefined;
  const want = names.length + (fromConfig ? 0 : 1);
  if (given.length !== want) {
    const usage = `<dir>${names.map((n) => ` <${n}>`).join('')}, or --config lsm.toml [--instance name]${names.map((n) => ` <${n}>`).join('')}`;
    throw new CommandFailed(
      EXIT.usage,
      fromConfig && given.length === want + 1 ? `give a database directory or --config/--instance, not both (usage: ${usage})` : `expected ${usage}`,
    );
  }
  return fromConfig ? { target: resolveTarget(undefined, flags), args: given } : { target: resolveTarget(given[0], flags), args: given.slice(1) };
}

/** Opens an existing database (never creates one); `readOnly` for commands that only read. */
async function openExisting(ctx: AdminContext, target: Target, readOnly: boolean): Promise<Lib.Db<string, unknown>> {
  const { open } = ctx.lib();
  try {
    return await open<string, unknown>(target.location, { ...(readOnly ? readOnlyOptions(target) : target.options), createIfMissing: false });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw new CommandFailed(EXIT.cannotOpen, `cannot open ${target.label}: ${err.code ?? 'STRATA_INTERNAL'}: ${err.message ?? String(e)}`);
  }
}

async function withDb<T>(ctx: AdminContext, target: Target, readOnly: boolean, fn: (db: Lib.Db<string, unknown>) => Promise<T>): Promise<T> {
  const db = await openExisting(ctx, target, readOnly);
  try {
    return await fn(db);
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** Adds the admin commands to `program`. */
export function registerAdminCommands(program: Command, ctx: AdminContext): void {
  const json = (c: Command): Command => c.option('--json', 'print the result as one JSON object (no progress)');
  /** A command on one database: `[dir]` or `--config/--instance`, and `--json`. */
  const onDb = (c: Command, what = 'database directory'): Command => json(targetFlags(c.argument('[dir]', `${what} (or --config/--instance)`)));

  onDb(
    program
      .command('backup')
      .description('back up a database (not open in another process: a running server backs up through its API) into a .tar.gz/.tgz archive or an incremental backup directory')
      .requiredOption('-o, --output <target>', 'archive file (.tar.gz/.tgz) or backup directory'),
  ).action(async (dir: string | undefined, o: Common & { output: string }) => {
    const { target } = targetAndArgs([dir], o);
    const r = new Reporter(o.json === true);
    const output = path.resolve(o.output);
    const result = await withDb(ctx, target, false, (db) =>
      interruptible(
        () => [`${output}.partial`, `${path.resolve(db.location)}.backup-tmp`],
        () => 'no backup was written (an incremental backup directory keeps only unreferenced files, removed by `strata backups purge`)',
        () => db.backup(output, { onProgress: (p) => r.step(p.phase, p.bytes, p.totalBytes, 'bytes') }),
      ),
    );
    r.end();
    print(o.json === true, result, `backup ${result.id} of ${target.label} at sequence ${result.sequence}: ${result.files} files, ${(result.bytes / MB).toFixed(1)} MiB (${(result.bytesWritten / MB).toFixed(1)} MiB written) -> ${result.location}`);
    ctx.done(EXIT.ok);
  });

  onDb(
    program
      .command('restore')
      .description('restore a backup into a new directory: every checksum is checked and the result verified before the directory appears')
      .requiredOption('-i, --input <source>', 'archive file or backup directory')
      .option('--id <n>', 'backup id in a backup directory (default: the newest)', positiveInt('--id'))
      .option('--force', 'replace a non-empty target directory (it must not be in use)'),
    'target database directory, absent or empty unless --force',
  ).action(async (dir: string | undefined, o: Common & { input: string; id?: number; force?: boolean }) => {
    const { target } = targetAndArgs([dir], o);
    const { restore } = ctx.lib();
    const r = new Reporter(o.json === true);
    const to = path.resolve(target.location);
    const result = await interruptible(
      () => [`${to}.restore-tmp`],
      () => `nothing was restored; ${to} is as it was`,
      () => restore(o.input, to, { ...(o.id !== undefined ? { id: o.id } : {}), force: o.force === true, onProgress: (p) => r.step(p.phase, p.bytes, p.totalBytes, 'bytes') }),
    );
    r.end();
    print(o.json === true, result, `restored backup ${result.id} (sequence ${result.sequence}, ${result.files} files) into ${result.location}`);
    ctx.done(EXIT.ok);
  });

  const backups = program.command('backups').description('list, verify or purge the backups of a backup directory or archive');
  json(backups.command('list').description('list the backups').argument('<source>', 'backup directory or archive')).action(async (source: string, o: Common) => {
    const list = await ctx.lib().listBackups(source);
    print(o.json === true, list, list.map((b) => `${b.id}\t${b.createdAt}\tsequence ${b.sequence}\t${b.files} files\t${(b.bytes / MB).toFixed(1)} MiB`).join('\n') || '(no backups)');
    ctx.done(EXIT.ok);
  });
  json(
    backups
      .command('verify')
      .description('check every file of every backup (or of --id) against its size and SHA-256 (exit 0 clean, 1 problems)')
      .argument('<source>', 'backup directory or archive')
      .option('--id <n>', 'only this backup', positiveInt('--id')),
  ).action(async (source: string, o: Common & { id?: number }) => {
    const v = await ctx.lib().verifyBackup(source, o.id !== undefined ? { id: o.id } : {});
    print(o.json === true, v, v.ok ? `ok: ${source} is intact` : v.problems.map((p) => `backup ${p.id} ${p.file}: ${p.message}`).join('\n'));
    ctx.done(v.ok ? EXIT.ok : EXIT.problems);
  });
  json(
    backups
      .command('purge')
      .description('remove all but the newest --keep backups and the files only they used')
      .argument('<dir>', 'backup directory')
      .requiredOption('--keep <n>', 'backups to keep', positiveInt('--keep')),
  ).action(async (dir: string, o: Common & { keep: number }) => {
    const r = await ctx.lib().purgeOldBackups(dir, o.keep);
    print(o.json === true, r, `removed ${r.removed.length} backups (${r.removed.join(', ') || 'none'}), freed ${(r.bytesFreed / MB).toFixed(1)} MiB`);
    ctx.done(EXIT.ok);
  });

  json(
    targetFlags(
      program
        .command('checkpoint')
        .description('write an openable copy of the database (hard links where possible)')
        .argument('[dir]', 'database directory (or --config/--instance)')
        .argument('[target]', 'new directory'),
    ),
  ).action(
    async (dir: string | undefined, to: string | undefined, o: Common) => {
      const { target, args } = targetAndArgs([dir, to], o, ['target']);
      const info = await withDb(ctx, target, false, (db) => db.checkpoint(args[0] as string));
      print(o.json === true, info, `checkpoint of ${target.label} at sequence ${info.sequence}: ${info.files} tables (${info.linked} hard links) in ${info.location}`);
      ctx.done(EXIT.ok);
    },
  );

  onDb(
    program
      .command('export')
      .description('write the records as NDJSON, JSON or CSV (to --output, or to stdout)')
      .option('-f, --format <format>', 'ndjson (default), json or csv', format)
      .option('--prefix <prefix>', 'only keys starting with this')
      .option('--value-encoding <encoding>', "read values with this encoding instead of the database's")
      .option('-o, --output <file>', 'output file (written to <file>.partial, renamed when complete)'),
  ).action(async (dir: string | undefined, o: Common & { format?: 'ndjson' | 'json' | 'csv'; prefix?: string; output?: string; valueEncoding?: Lib.EncodingName }) => {
    const { target } = targetAndArgs([dir], o);
    const r = new Reporter(o.json === true || o.output === undefined);
    const out = o.output === undefined ? undefined : path.resolve(o.output);
    const result = await withDb(ctx, target, true, (db) =>
      interruptible(
        () => (out === undefined ? [] : [`${out}.partial`]),
        () => 'the export was not completed (its partial file was removed)',
        () =>
          db.export(out ?? process.stdout, {
            ...(o.format ? { format: o.format } : {}),
            ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
            ...(o.valueEncoding ? { valueEncoding: o.valueEncoding } : {}),
            onProgress: (p) => r.step('export', p.entries, 0, 'entries'),
          }),
      ),
    );
    r.end();
    if (out !== undefined || o.json === true) print(o.json === true, result, `exported ${result.entries} records (${(result.bytes / MB).toFixed(1)} MiB) to ${out}`);
    ctx.done(EXIT.ok);
  });

  onDb(
    program
      .command('import')
      .description('read records written by export (NDJSON, JSON or CSV) in atomic batches; indexes are maintained')
      .requiredOption('-i, --input <file>', 'input file')
      .option('-f, --format <format>', 'ndjson (default), json or csv', format)
      .option('--batch-size <n>', 'records per atomic batch (default 1000)', positiveInt('--batch-size'))
      .option('--value-encoding <encoding>', "encode values with this encoding instead of the database's")
      .option('--no-atomic', 'skip the undo journal (a read and a write less per record): batches written before a failure or Ctrl-C stay'),
    'database directory, created if missing',
  ).action(async (dir: string | undefined, o: Common & { input: string; format?: 'ndjson' | 'json' | 'csv'; batchSize?: number; valueEncoding?: Lib.EncodingName; atomic?: boolean }) => {
    const { target } = targetAndArgs([dir], o);
    const r = new Reporter(o.json === true);
    const { open } = ctx.lib();
    const db = await open<string, unknown>(target.location, target.options).catch((e: { code?: string; message?: string }) =>
      Promise.reject(new CommandFailed(EXIT.cannotOpen, `cannot open ${target.label}: ${e.code}: ${e.message}`)),
    );
    const total = fs.existsSync(o.input) ? fs.statSync(o.input).size : 0;
    // Ctrl-C aborts the import, which rolls back what it wrote (all or nothing); a second
    // Ctrl-C leaves at once and the next open of the database finishes the rollback.
    const abort = new AbortController();
    const onSigint = (): void => {
      if (abort.signal.aborted) {
        process.stderr.write('\ninterrupted again: the rollback finishes when the database is next opened\n');
        process.exit(EXIT.interrupted);
      }
      process.stderr.write('\ninterrupted: rolling the import back...\n');
      abort.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await db.import(o.input, {
        ...(o.format ? { format: o.format } : {}),
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
        ...(o.valueEncoding ? { valueEncoding: o.valueEncoding } : {}),
        ...(o.atomic === false ? { atomic: false } : {}),
        signal: abort.signal,
        onProgress: (p) => r.step('import', p.bytes, total, 'bytes'),
      });
      r.end();
      if (abort.signal.aborted) process.stderr.write('the interruption came after the import was complete: it stands\n');
      print(o.json === true, result, `imported ${result.entries} records in ${result.batches} batches into ${target.label}`);
    } catch (e) {
      r.end();
      if (!abort.signal.aborted) throw e;
      process.stderr.write(`interrupted: ${(e as Error).message}\n`);
      ctx.done(EXIT.interrupted);
      return;
    } finally {
      process.off('SIGINT', onSigint);
      await db.close().catch(() => undefined);
    }
    ctx.done(EXIT.ok);
  });

  onDb(program.command('compact').description('compact the whole key space')).action(async (dir: string | undefined, o: Common) => {
    const { target } = targetAndArgs([dir], o);
    const stats = await withDb(ctx, target, false, async (db) => {
      await db.compactRange();
      return db.stats();
    });
    print(o.json === true, { levels: stats.levels }, `compacted ${target.label}: ${stats.levels.map((l, i) => `L${i} ${l.files} files`).filter((_, i) => (stats.levels[i]?.files ?? 0) > 0).join(', ') || 'empty'}`);
    ctx.done(EXIT.ok);
  });

  json(
    targetFlags(
      program
        .command('rebuild-index')
        .description('rebuild one index from the records, with progress')
        .argument('[dir]', 'database directory (or --config/--instance)')
        .argument('[name]', 'index name'),
    ),
  ).action(
    async (dir: string | undefined, index: string | undefined, o: Common) => {
      const { target, args } = targetAndArgs([dir, index], o, ['name']);
      const name = args[0] as string;
      const r = new Reporter(o.json === true);
      const info = await withDb(ctx, target, false, (db) => db.rebuildIndex(name, { onProgress: (p) => r.step(`rebuild ${p.index}`, p.processed, p.total, 'entries') }));
      r.end();
      print(o.json === true, info, `index ${info.name} rebuilt: ${info.entries} entries`);
      ctx.done(EXIT.ok);
    },
  );

  onDb(program.command('indexes').description('list the indexes with their state and size')).action(async (dir: string | undefined, o: Common) => {
    const list = await withDb(ctx, targetAndArgs([dir], o).target, true, (db) => db.listIndexes());
    print(o.json === true, list, list.map((i) => `${i.name}\t${i.definition.type}\t${i.state}\t${i.entries} entries\t${i.bytes} bytes`).join('\n') || '(no indexes)');
    ctx.done(EXIT.ok);
  });

  onDb(program.command('stats').description('engine statistics')).action(async (dir: string | undefined, o: Common) => {
    const stats = await withDb(ctx, targetAndArgs([dir], o).target, true, (db) => db.stats());
    print(
      o.json === true,
      stats,
      Object.entries(stats)
        .map(([k, v]) => `${k}: ${k === 'levels' ? (v as { files: number; bytes: number }[]).map((l, i) => `L${i}=${l.files}/${l.bytes}`).join(' ') : JSON.stringify(v)}`)
        .join('\n'),
    );
    ctx.done(EXIT.ok);
  });
}
