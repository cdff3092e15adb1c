/**
 * The REPL of `strata [dir]`: one command per line from a terminal or a pipe (see HELP and
 * the README's "REPL" section). Started by `ts/cli/index.ts`.
 */
import * as readline from 'node:readline';

import type { Db } from '../db';
import { StrataError, fromNative } from '../errors';
import { EXIT } from './exit';

export const HELP = `Commands (case-insensitive):
  SET key value        store a value (quote values with spaces: SET k "hello world")
  GET key              print the value, or (nil)
  DELETE key           delete a key
  SCAN [prefix] [n]    list entries, optionally under a prefix, at most n
  ALL                  list every entry
  KEYS [prefix]        list keys
  COUNT [prefix]       count keys
  STATS                engine statistics
  BATCH                start a batch: SET/DELETE lines until END or COMMIT (ABORT discards)
  COMPACT              compact the whole key space
  DEMO [n]             write n demo records (default 100) under demo:user: in one batch
  HELP                 this text
  EXIT | QUIT          close the database and leave`;

/** Splits a command line into words; double or single quotes group, backslash escapes inside quotes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i] as string)) i++;
    if (i >= line.length) break;
    let word = '';
    while (i < line.length && !/\s/.test(line[i] as string)) {
      const c = line[i] as string;
      if (c === '"' || c === "'") {
        const quote = c;
        i++;
        let closed = false;
        while (i < line.length) {
          const d = line[i] as string;
          if (d === '\\' && quote === '"' && i + 1 < line.length) {
            const e = line[i + 1] as string;
            word += e === 'n' ? '\n' : e === 't' ? '\t' : e;
            i += 2;
          } else if (d === quote) {
            i++;
            closed = true;
            break;
          } else {
            word += d;
            i++;
          }
        }
        if (!closed) throw new StrataError('STRATA_INVALID_ARGUMENT', 'unterminated quote');
      } else {
        word += c;
        i++;
      }
    }
    out.push(word);
  }
  return out;
}

function usage(text: string): StrataError {
  return new StrataError('STRATA_INVALID_ARGUMENT', `usage: ${text}`);
}

function show(v: string): string {
  return /^[\x21-\x7e]+$/.test(v) && !v.includes('"') ? v : JSON.stringify(v);
}

function parseLimit(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new StrataError('STRATA_INVALID_ARGUMENT', `limit must be a non-negative integer, got ${s}`);
  return Number(s);
}

type Op = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };

/**
 * How the shell reads values typed after `SET` and prints stored ones. The default is text
 * (a `utf8` database). An lsm.toml instance of codec `json` or `bson` takes and shows JSON
 * (Extended JSON for BSON types), as its HTTP routes do; `raw` is shown as text.
 */
export interface ShellValues {
  parse(text: string): unknown;
  show(value: unknown): string;
}

const TEXT: ShellValues = { parse: (t) => t, show: (v) => show(v as string) };

/** The `ShellValues` of an instance codec. */
export function codecValues(codec: 'raw' | 'json' | 'bson', fromJson: (v: unknown) => unknown, toJson: (v: unknown) => unknown): ShellValues {
  if (codec === 'raw') return TEXT;
  return {
    parse: (t) => {
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        throw new StrataError('STRATA_INVALID_ARGUMENT', `a ${codec} instance takes JSON values (quote them: SET k '{"a":1}'): ${(e as Error).message}`);
      }
      return fromJson(v);
    },
    show: (v) => JSON.stringify(toJson(v)),
  };
}

const DEMO_CITIES = ['Lisbon', 'Porto Alegre', 'Osaka', 'Nairobi', 'Montreal', 'Tromsø'];
const DEMO_NAMES = ['Ana', 'Bruno', 'Chiara', 'Dmitri', 'Eun-ji', 'Farah', 'Gustavo', 'Hana'];

/** The `DEMO` records: JSON strings, the same for every run (a fixed pattern, no randomness). */
export function demoRecords(n: number): { key: string; value: string }[] {
  const width = String(Math.max(1, n - 1)).length;
  return Array.from({ length: n }, (_, i) => ({
    key: `demo:user:${String(i).padStart(width, '0')}`,
    value: JSON.stringify({
      name: `${DEMO_NAMES[i % DEMO_NAMES.length] as string} ${i}`,
      city: DEMO_CITIES[(i * 7) % DEMO_CITIES.length] as string,
      age: 18 + ((i * 13) % 60),
      active: i % 3 !== 0,
    }),
  }));
}

/** Most records one `DEMO` writes (one atomic batch). */
export const DEMO_MAX = 100_000;

class Shell {
  #batch: Op[] | undefined;
  constructor(
    readonly db: Db<string, unknown>,
    readonly print: (s: string) => void,
    readonly values: ShellValues = TEXT,
  ) {}

  get inBatch(): boolean {
    return this.#batch !== undefined;
  }

  /** Runs one line. Returns false when the shell should exit. */
  async run(line: string): Promise<boolean> {
    const words = tokenize(line);
    if (words.length === 0) return true;
    const cmd = (words[0] as string).toUpperCase();
    const args = words.slice(1);
    if (this.#batch !== undefined) return this.#batchLine(cmd, args);
    switch (cmd) {
      case 'SET': {
        if (args.length !== 2) throw usage('SET key value');
        await this.db.put(args[0] as string, this.values.parse(args[1] as string));
        this.print('OK');
        return true;
      }
      case 'GET': {
        if (args.length !== 1) throw usage('GET key');
        const v = await this.db.get(args[0] as string);
        this.print(v === undefined ? '(nil)' : this.values.show(v));
        return true;
      }
      case 'DELETE':
      case 'DEL': {
        if (args.length !== 1) throw usage('DELETE key');
        await this.db.del(args[0] as string);
        this.print('OK');
        return true;
      }
      case 'SCAN': {
        if (args.length > 2) throw usage('SCAN [prefix] [limit]');
        const limit = parseLimit(args[1]);
        const prefix = args[0];
        let n = 0;
        for await (const [k, v] of this.db.iterator(prefix ? { prefix, limit } : { limit })) {
          n++;
          this.print(`${n}) ${show(k)} = ${this.values.show(v)}`);
        }
        this.print(`(${n} ${n === 1 ? 'entry' : 'entries'})`);
        return true;
      }
      case 'ALL': {
        if (args.length !== 0) throw usage('ALL');
        let n = 0;
        for await (const [k, v] of this.db.iterator()) {
          n++;
          this.print(`${n}) ${show(k)} = ${this.values.show(v)}`);
        }
        this.print(`(${n} ${n === 1 ? 'entry' : 'entries'})`);
        return true;
      }
      case 'DEMO': {
        if (args.length > 1) throw usage('DEMO [n]');
        const n = parseLimit(args[0]) ?? 100;
        if (n < 1 || n > DEMO_MAX) throw new StrataError('STRATA_INVALID_ARGUMENT', `DEMO writes 1 to ${DEMO_MAX} records, got ${n}`);
        const records = demoRecords(n);
        await this.db.batch(records.map((r) => ({ type: 'put' as const, key: r.key, value: this.values.parse(r.value) })));
        const first = records[0] as { key: string };
        this.print(`OK (${n} demo ${n === 1 ? 'record' : 'records'} under demo:user:, one atomic batch; try: GET ${first.key} | SCAN demo:user: 5 | COUNT demo:)`);
        return true;
      }
      case 'KEYS': {
        if (args.length > 1) throw usage('KEYS [prefix]');
        let n = 0;
        for await (const k of this.db.keys(args[0] ? { prefix: args[0] } : {})) {
          n++;
          this.print(show(k));
        }
        this.print(`(${n} ${n === 1 ? 'key' : 'keys'})`);
        return true;
      }
      case 'COUNT': {
        if (args.length > 1) throw usage('COUNT [prefix]');
        const it = this.db.keys(args[0] ? { prefix: args[0] } : {});
        let n = 0;
        for (;;) {
          const chunk = await it.nextv(1000);
          if (chunk.length === 0) break;
          n += chunk.length;
        }
        await it.close();
        this.print(`(integer) ${n}`);
        return true;
      }
      case 'STATS': {
        const s = await this.db.stats();
        for (const [k, v] of Object.entries(s)) {
          if (k === 'levels') {
            (v as { files: number; bytes: number }[]).forEach((l, i) => {
              if (l.files > 0) this.print(`L${i}: ${l.files} files, ${l.bytes} bytes`);
            });
          } else {
            this.print(`${k}: ${String(v)}`);
          }
        }
        return true;
      }
      case 'BATCH': {
        if (args.length !== 0) throw usage('BATCH');
        this.#batch = [];
        this.print('BATCH started: SET/DELETE lines, then END or COMMIT (ABORT discards)');
        return true;
      }
      case 'END':
      case 'COMMIT':
      case 'ABORT':
        throw new StrataError('STRATA_INVALID_ARGUMENT', `${cmd} without BATCH`);
      case 'COMPACT': {
        await this.db.compactRange();
        this.print('OK');
        return true;
      }
      case 'HELP':
        this.print(HELP);
        return true;
      case 'EXIT':
      case 'QUIT':
        return false;
      default:
        throw new StrataError('STRATA_INVALID_ARGUMENT', `unknown command '${words[0] as string}' (try HELP)`);
    }
  }

  async #batchLine(cmd: string, args: string[]): Promise<boolean> {
    const batch = this.#batch as Op[];
    switch (cmd) {
      case 'SET':
        if (args.length !== 2) throw usage('SET key value');
        batch.push({ type: 'put', key: args[0] as string, value: this.values.parse(args[1] as string) });
        this.print('QUEUED');
        return true;
      case 'DELETE':
      case 'DEL':
        if (args.length !== 1) throw usage('DELETE key');
        batch.push({ type: 'del', key: args[0] as string });
        this.print('QUEUED');
        return true;
      case 'END':
      case 'COMMIT':
        this.#batch = undefined;
        await this.db.batch(batch);
        this.print(`OK (${batch.length} ${batch.length === 1 ? 'operation' : 'operations'} applied atomically)`);
        return true;
      case 'ABORT':
        this.#batch = undefined;
        this.print(`ABORTED (${batch.length} discarded)`);
        return true;
      case 'EXIT':
      case 'QUIT':
        this.#batch = undefined;
        this.print(`ABORTED (${batch.length} discarded)`);
        return false;
      default:
        throw new StrataError('STRATA_INVALID_ARGUMENT', `inside BATCH only SET, DELETE, END/COMMIT and ABORT are allowed`);
    }
  }
}

/**
 * Runs the REPL on the database at `location` (a label: the directory or the instance) until EXIT/QUIT, end of input or Ctrl-C.
 * `openDb` is `open` from `../db` (passed in so that the native binding loads only when a
 * command needs it). Returns the exit code.
 */
export async function runRepl(location: string, openDb: (location: string) => Promise<Db<string, unknown>>, values: ShellValues = TEXT): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY);
  let db: Db<string, unknown>;
  try {
    db = await openDb(location);
  } catch (e) {
    const err = fromNative(e);
    process.stderr.write(`(error) ${err.code}: ${err.message}\n`);
    return EXIT.cannotOpen;
  }
  const print = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  const shell = new Shell(db, print, values);
  if (interactive) print(`StrataDB shell on ${location}. Type HELP for commands, EXIT to leave.`);

  const rl = readline.createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  const prompt = (): void => {
    if (interactive) {
      rl.setPrompt(shell.inBatch ? 'strata(batch)> ' : 'strata> ');
      rl.prompt();
    }
  };

  let closing: Promise<void> | undefined;
  const closeDb = (): Promise<void> => (closing ??= db.close().catch((e: unknown) => {
    const err = fromNative(e);
    process.stderr.write(`(error) ${err.code}: ${err.message}\n`);
  }));

  rl.on('SIGINT', () => {
    rl.close();
  });
  process.on('SIGINT', () => {
    void closeDb().then(() => process.exit(EXIT.interrupted));
  });

  prompt();
  for await (const line of rl) {
    let keepGoing = true;
    try {
      keepGoing = await shell.run(line);
    } catch (e) {
      const err = fromNative(e);
      print(`(error) ${err.code}: ${err.message}`);
    }
    if (!keepGoing) break;
    prompt();
  }
  rl.close();
  await closeDb();
  if (interactive) print('bye');
  return EXIT.ok;
}

