import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { open, DbOptions, Db, StrataError } from '../ts/index';

const roots: string[] = [];

/** A fresh empty directory path (not created) under the OS temp dir. */
export function tmpPath(name = 'db'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-test-'));
  roots.push(root);
  return path.join(root, name);
}

/** Opens a fresh database isolated from the machine's env and any `.env`. */
export async function fresh<K = string, V = string>(options: DbOptions = {}, location = tmpPath()): Promise<Db<K, V>> {
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

/** The footer's format version of every SSTable in `dir` (the u32 16 bytes before its end; docs/format.md). */
export function tableVersions(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sst'))
    .map((f) => {
      const b = fs.readFileSync(path.join(dir, f));
      return b.readUInt32LE(b.length - 16);
    });
}

/** The seeded PRNG of the randomized tests (mulberry32): a function of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

process.on('exit', () => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});


/**
 * The benchmark's peers (bench/package.json dependencies) not installed in bench/node_modules.
 * The bench smoke tests never install them (113 MB): `npm ci --prefix bench` does, and
 * `.ci/run` runs it before `npm test`.
 */
export function missingBenchPeers(): string[] {
  const bench = path.join(__dirname, '..', 'bench');
  const pkg = JSON.parse(fs.readFileSync(path.join(bench, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return Object.keys(pkg.dependencies).filter((d) => !fs.existsSync(path.join(bench, 'node_modules', d, 'package.json')));
}
