import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import avaTest from 'ava';

import { open, OpenOptions, Db, StrataError } from '../ts/index';

const roots: string[] = [];

/** A fresh empty directory path (not created) under the OS temp dir. */
export function tmpPath(name = 'db'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-test-'));
  roots.push(root);
  return path.join(root, name);
}

/** Opens a fresh database isolated from the machine's env and any `.env`. */
export async function fresh<K = string, V = string>(options: OpenOptions = {}, location = tmpPath()): Promise<Db<K, V>> {
  return open<K, V>(location, { env: {}, envFile: false, ...options });
}

/** Asserts that `fn` rejects (or throws) a StrataError with `code`; returns it. */
export async function expectCode(fn: () => unknown, code: string): Promise<StrataError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof StrataError)) {
    throw new Error(`expected StrataError ${code}, got ${caught === undefined ? 'no error' : String(caught)}`);
  }
  if (caught.code !== code) throw new Error(`expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

process.on('exit', () => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/**
 * The engine in `crates/engine` is, for now, a provisional in-memory stand-in: nothing survives
 * a close, there is no LOCK file and `errorIfExists` is ignored. Tests that need the real
 * engine are registered with `persistenceTest`, which marks them as known failures
 * (`test.failing`) until this flag is flipped. When the real engine lands those tests start
 * passing, ava reports them as "expected to fail but passed", and this must become `true`.
 * `STRATA_ENGINE_PERSISTS=1` forces the real assertions now.
 */
export const ENGINE_PERSISTS = process.env.STRATA_ENGINE_PERSISTS === '1' || false;

export const persistenceTest = ENGINE_PERSISTS ? avaTest : avaTest.failing;
