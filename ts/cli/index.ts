#!/usr/bin/env node
/**
 * `strata`: StrataDB's command line (commander). One file per command:
 *
 *   strata [dir]          the REPL (`./repl.ts`) on `dir` (default ./strata-data), or on
 *                         --config lsm.toml [--instance name]
 *   strata verify <dir>   check every checksum, read-only (`./verify.ts`)
 *   strata serve [--config lsm.toml] [--host h] [--port p]   HTTP (and gRPC) server (`../server/serve.ts`)
 *   strata backup | restore | backups | checkpoint | export | import | compact |
 *          rebuild-index | indexes | stats   the admin commands (`./admin.ts`)
 *   strata --version | --help | help [command]
 *
 * Every word is parsed: unknown flags and commands are usage errors (exit 64), and a
 * directory whose name looks like a command word must be written as a path (`./backup`), so a
 * mistyped or not-yet-existing command never creates a database. The native binding is loaded
 * only by the commands that need it, so `--help` and `--version` work without it; a missing
 * one exits 3, never a code that `verify` gives another meaning. Exit codes: `./exit.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';

import type * as DbModule from '../db';
import type * as CodecModule from '../instances/codec';
import type * as LibModule from '../index';
import type * as ServeModule from '../server/serve';
import { registerAdminCommands } from './admin';
import { CommandFailed, EXIT } from './exit';
import { codecValues, HELP as REPL_HELP, runRepl, ShellValues } from './repl';
import { resolveTarget, TargetFlags, targetFlags } from './target';
import { verifyCommand } from './verify';

/** The package's version, read from its package.json (two levels above dist/cli/). */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** A bare word (`backup`, `verify2`): taken for a command, never for a directory. */
const COMMAND_LIKE = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Raised inside actions to leave with an exit code after printing `message` to stderr. */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Loads `../db` (and so the native binding); a missing binary becomes `Exit(3)`. */
function loadDb(): typeof DbModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, on purpose
    return require('../db') as typeof DbModule;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'STRATA_NATIVE_BINDING') throw new Exit(EXIT.noNativeBinding, (e as Error).message);
    throw e;
  }
}

/** `--port`: an integer from 0 to 65535. */
function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('port must be an integer from 0 to 65535');
  return n;
}

/** Loads the whole library (and so the native binding); a missing binary becomes `Exit(3)`. */
function loadLib(): typeof LibModule {
  loadDb();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, on purpose
  return require('../index') as typeof LibModule;
}

/** Builds the program; each action reports its exit code through `done`. */
export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('strata');
  program
    .description('StrataDB command line: an interactive shell over a database, and admin commands.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .helpCommand('help [command]', 'print the help of a command')
    .argument('[dir]', 'database directory for the REPL (default ./strata-data); a bare word must be written ./word')
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText(
      'after',
      `\nExit codes: 0 ok, 1 verify found problems, 2 cannot open the database or the command failed, 3 no native binary, 64 usage error, 130 interrupted.\n\nREPL ${REPL_HELP}\n`,
    )
    .action(async (dir: string | undefined, flags: TargetFlags) => {
      if (dir !== undefined && COMMAND_LIKE.test(dir)) {
        throw new Exit(
          EXIT.usage,
          `strata: unknown command '${dir}' (commands: ${program.commands.map((c) => c.name()).join(', ')}, help).\n` +
            `To open the database in the directory '${dir}', write it as a path: strata ./${dir}`,
        );
      }
      const target = flags.config === undefined && flags.instance === undefined ? resolveTarget(dir ?? './strata-data', {}) : resolveTarget(dir, flags);
      const { open } = loadDb();
      let values: ShellValues | undefined;
      let options = target.options;
      if (target.codec === 'raw') options = { ...options, valueEncoding: 'utf8' };
      else if (target.codec !== undefined) {
        const codec = target.codec;
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, on purpose
        const { fromJson, toJson } = require('../instances/codec') as typeof CodecModule;
        values = codecValues(codec, (v) => fromJson(codec, v), (v) => toJson(codec, v));
      }
      done(await runRepl(target.label, () => open<string, unknown>(target.location, options), values));
    });
  // Root options only before a command word (`serve` has its own --config).
  program.enablePositionalOptions();
  targetFlags(program);

  targetFlags(
    program
      .command('verify')
      .description('check every checksum of an existing database, without modifying it (exit 0 clean, 1 problems, 2 cannot open)')
      .argument('[dir]', 'database directory (or --config/--instance)')
      .allowExcessArguments(false),
  ).action(async (dir: string | undefined, flags: TargetFlags) => {
    const target = resolveTarget(dir, flags);
    const { open } = loadDb();
    done(
      await verifyCommand(
        target,
        (location, options) => open(location, options),
        (s) => process.stdout.write(s + '\n'),
        (s) => process.stderr.write(s + '\n'),
      ),
    );
  });

  registerAdminCommands(program, { lib: () => loadLib(), done });

  program
    .command('serve')
    .description('serve the instances of lsm.toml over HTTP (and gRPC when grpc_port is set); stops cleanly on SIGTERM/SIGINT')
    .option('-c, --config <file>', 'configuration file (default $STRATA_SERVER_CONFIG, else ./lsm.toml)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; any other needs a token)')
    .option('-p, --port <port>', 'port to listen on', parsePort)
    .allowExcessArguments(false)
    .action(async (opts: { config?: string; host?: string; port?: number }) => {
      loadDb();
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, on purpose
      const { serve } = require('../server/serve') as typeof ServeModule;
      const running = await serve(opts);
      const grpc = running.grpcPort === undefined ? '' : ` and gRPC on port ${running.grpcPort}`;
      process.stderr.write(`strata: serving ${running.instances.list().map((i) => i.name).join(', ')} on ${running.url}${grpc}\n`);
      done(EXIT.ok);
    });

  return program;
}

/** Parses `argv` and runs the command; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((n) => (code = n));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof Exit || e instanceof CommandFailed) {
      process.stderr.write(e.message + '\n');
      return e.code;
    }
    if (e instanceof CommanderError) {
      // --help and --version exit 0; every parse error is a usage error (already printed).
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const err = e as { code?: unknown; message?: unknown };
    process.stderr.write(`(error) ${String(err.code ?? 'STRATA_INTERNAL')}: ${String(err.message ?? e)}\n`);
    return EXIT.cannotOpen;
  }
}

if (require.main === module) {
  // `strata export db | head`: a closed pipe ends the command quietly, as in other CLIs.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
      throw e;
    });
  }
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`(error) ${String(e)}\n`);
      process.exitCode = EXIT.cannotOpen;
    },
  );
}
