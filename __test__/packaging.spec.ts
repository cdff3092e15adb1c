/**
 * Packaging checks quick enough for every `npm test` (the full install test, through a local
 * registry with no Rust on PATH, is scripts/install-test.sh, run by .ci/run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

const ROOT = path.join(__dirname, '..');

/** PATH without any directory that holds cargo, rustc or rustup. */
function pathWithoutRust(): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d !== '' && !['cargo', 'rustc', 'rustup'].some((b) => fs.existsSync(path.join(d, b))))
    .join(path.delimiter);
}

test('building from a checkout without cargo says what to install, not "cargo metadata failed"', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-native.js')], {
    cwd: ROOT,
    env: { PATH: pathWithoutRust(), HOME: process.env.HOME ?? '' },
    encoding: 'utf8',
  });
  t.is(r.status, 1);
  t.regex(r.stderr, /needs Rust \(cargo and rustc 1\.89 or newer\)/);
  t.regex(r.stderr, /https:\/\/rustup\.rs/);
  t.regex(r.stderr, /npm install stratadb/);
  t.notRegex(r.stderr, /cargo metadata/);
});

test('platform packages, optionalDependencies and the crate version are in step', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'npm-packages.js'), 'check'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    optionalDependencies?: Record<string, string>;
    scripts: Record<string, string>;
  };
  t.is(pkg.optionalDependencies, undefined, 'a checkout lists none (npm ci could not lock unpublished packages)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { packedManifest } = require('../scripts/npm-packages.js') as { packedManifest: () => { optionalDependencies: Record<string, string> } };
  const published = packedManifest().optionalDependencies;
  t.is(Object.keys(published).length, 7);
  for (const [name, version] of Object.entries(published)) {
    t.regex(name, /^@stratadb\/(linux-(x64|arm64)-(gnu|musl)|darwin-(x64|arm64)|win32-x64-msvc)$/);
    t.is(version, pkg.version, `${name} must be pinned to exactly ${pkg.version}`);
  }
  t.falsy(pkg.scripts.install ?? pkg.scripts.postinstall ?? pkg.scripts.preinstall, 'no install scripts for users to run');
});
