/**
 * Which database an admin command works on: a directory (`strata stats ./data`), or an
 * instance of an `lsm.toml` (`strata stats --config lsm.toml --instance app`), opened with
 * that instance's options (codec, engine options, indexes file) as `strata serve` opens it.
 * `--instance` alone reads `$STRATA_SERVER_CONFIG`, else `./lsm.toml`, like `strata serve`;
 * `--config` alone takes the instance named `default`, else the first.
 */
import type { Command } from 'commander';

import type { DbOptions } from '../db';
import type * as ConfigModule from '../instances/config';
import { CONFIG_ENV } from '../server/settings';
import { CommandFailed, EXIT } from './exit';

/** The flags every database command takes beside its directory argument. */
export interface TargetFlags {
  config?: string;
  instance?: string;
}

/** The database a command opens. */
export interface Target {
  location: string;
  /** `open()` options of the instance (empty for a plain directory). */
  options: DbOptions;
  /** How messages name it: the directory, or `instance app (/abs/dir)`. */
  label: string;
  /** The instance's codec (absent for a plain directory). */
  codec?: ConfigModule.Codec;
}

/** Adds `--config` and `--instance` to a command. */
export function targetFlags(c: Command): Command {
  return c
    .option('-c, --config <file>', `lsm.toml to take the database from (default $${CONFIG_ENV}, else ./lsm.toml, when --instance is given)`)
    .option('--instance <name>', 'instance of the config (default: the one named default, else the first)');
}

/** Resolves `[dir]` + `--config/--instance` to one database; never opens it. */
export function resolveTarget(dir: string | undefined, flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Target {
  const fromConfig = flags.config !== undefined || flags.instance !== undefined;
  if (dir !== undefined && fromConfig) {
    throw new CommandFailed(EXIT.usage, `give a database directory or --config/--instance, not both (got ${dir} and ${flags.config !== undefined ? `--config ${flags.config}` : `--instance ${String(flags.instance)}`})`);
  }
  if (dir !== undefined) return { location: dir, options: {}, label: dir };
  if (!fromConfig) throw new CommandFailed(EXIT.usage, 'missing database: give a directory, or --config lsm.toml [--instance name]');
  const file = flags.config ?? env[CONFIG_ENV] ?? 'lsm.toml';
  let cfg: ConfigModule.LsmConfig;
  try {
    // Loaded here, not at start: it brings in bson, which `strata --help` does not need.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, on purpose
    const { readLsmConfig } = require('../instances/config') as typeof ConfigModule;
    cfg = readLsmConfig(file);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw new CommandFailed(EXIT.cannotOpen, `${err.code ?? 'STRATA_INVALID_ARGUMENT'}: ${err.message ?? String(e)}`);
  }
  const names = cfg.instances.map((i) => i.name);
  const ic = flags.instance !== undefined ? cfg.instances.find((i) => i.name === flags.instance) : (cfg.instances.find((i) => i.name === 'default') ?? cfg.instances[0]);
  if (ic === undefined) {
    throw new CommandFailed(EXIT.usage, `no instance ${JSON.stringify(flags.instance)} in ${cfg.file} (instances: ${names.join(', ') || 'none'})`);
  }
  const options: DbOptions = { ...ic.options };
  if (ic.query && ic.indexesFile !== undefined) options.indexesFile = ic.indexesFile;
  return { location: ic.dataDir, options, label: `instance ${ic.name} (${ic.dataDir})`, codec: ic.codec };
}

/**
 * The options of a read-only open of `target`: its codec and engine options without the index
 * declarations (declaring writes the registry; a read-only open finds the indexes stored).
 */
export function readOnlyOptions(target: Target): DbOptions {
  const { indexesFile: _file, indexes: _indexes, ...rest } = target.options;
  return { ...rest, readOnly: true };
}
