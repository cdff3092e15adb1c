/**
 * The native loader (`loader.js`): only this package's local build or its own
 * `@stratadb/<platform>` package is ever loaded, always at this package's exact version; a
 * package of the old unscoped name (`stratadb-linux-x64-gnu`, taken on the registry by an
 * unrelated project) is never loaded, even when it sits on the resolution path.
 *
 * Each case lays out a fake installation under a temporary `node_modules` and loads it in a
 * child process (a fresh module cache).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { tmpPath } from './helpers';

const ROOT = path.join(__dirname, '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { platformName } = require('../loader.js') as { platformName: (env?: { platform?: string; arch?: string; musl?: boolean }) => string };
const PLATFORM = platformName();
const BINARY = path.join(ROOT, `stratadb.${PLATFORM}.node`);

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** A fake installed `stratadb` (loader + binding.js + package.json) at `version`; returns its root. */
function install(version = VERSION): { top: string; pkg: string } {
  const top = tmpPath('install');
  const pkg = path.join(top, 'node_modules', 'stratadb');
  write(path.join(pkg, 'package.json'), JSON.stringify({ name: 'stratadb', version }));
  fs.copyFileSync(path.join(ROOT, 'loader.js'), path.join(pkg, 'loader.js'));
  fs.copyFileSync(path.join(ROOT, 'binding.js'), path.join(pkg, 'binding.js'));
  return { top, pkg };
}

/** A foreign package of the old unscoped name: loading it leaves a marker file. */
function foreign(dir: string, name: string, marker: string): void {
  const main = `module.exports = { nativeVersion: () => ${JSON.stringify(VERSION)} }; require('fs').writeFileSync(${JSON.stringify(marker)}, 'loaded');`;
  write(path.join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, version: VERSION, main: 'index.js' }));
  write(path.join(dir, 'node_modules', name, 'index.js'), main);
}

/** Our platform package at `version`, holding a copy of the real binary. */
function platformPackage(top: string, version: string, name = `@stratadb/${PLATFORM}`): void {
  const dir = path.join(top, 'node_modules', ...name.split('/'));
  write(path.join(dir, 'package.json'), JSON.stringify({ name, version, main: `stratadb.${PLATFORM}.node` }));
  fs.copyFileSync(BINARY, path.join(dir, `stratadb.${PLATFORM}.node`));
}

/** Requires `<pkg>/binding.js` in a child; returns what it printed. */
function load(pkg: string, env: Record<string, string> = {}): { ok: boolean; out: string } {
  const script = `try { const b = require(${JSON.stringify(path.join(pkg, 'binding.js'))}); console.log('LOADED ' + b.nativeVersion()); }
    catch (e) { console.log('ERROR ' + e.code + '\\n' + e.message); }`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return { ok: r.stdout.startsWith('LOADED'), out: r.stdout + r.stderr };
}

test('a package of the old unscoped name on the resolution path is never loaded', (t) => {
  const { top, pkg } = install();
  const marker = path.join(top, 'FOREIGN-LOADED');
  for (const name of [`stratadb-${PLATFORM}`, 'stratadb-linux-x64-gnu', `stratadb-${PLATFORM.replace(/-gnu$|-msvc$/, '')}`]) {
    foreign(top, name, marker);
    foreign(pkg, name, marker);
  }
  const r = load(pkg, { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(top, 'node_modules', 'stratadb-linux-x64-gnu', 'index.js') });
  t.false(r.ok, r.out);
  t.false(fs.existsSync(marker), 'the foreign package was loaded');
  t.regex(r.out, /^ERROR STRATA_NATIVE_BINDING/);
  t.true(r.out.includes(`@stratadb/${PLATFORM}@${VERSION}`), r.out);
  t.true(r.out.includes(`platform ${PLATFORM}`), r.out);
  t.regex(r.out, /npm explore stratadb -- npm run build-from-source/);
  t.notRegex(r.out, /npm has a bug/);
});

test('our platform package at the same version loads', (t) => {
  t.true(fs.existsSync(BINARY), `build first: ${BINARY}`);
  const { top, pkg } = install();
  platformPackage(top, VERSION);
  const r = load(pkg);
  t.true(r.ok, r.out);
  t.true(r.out.includes(`LOADED ${VERSION}`));
});

test('a platform package of another version is refused', (t) => {
  const { top, pkg } = install();
  platformPackage(top, '0.0.9');
  const r = load(pkg);
  t.false(r.ok, r.out);
  t.regex(r.out, /installed version 0\.0\.9, this stratadb is .*refused/);
});

test('a binary reporting another version is refused, even when the package.json versions agree', (t) => {
  const { top, pkg } = install('9.9.9');
  platformPackage(top, '9.9.9');
  fs.copyFileSync(BINARY, path.join(pkg, `stratadb.${PLATFORM}.node`)); // a stale local build too
  const r = load(pkg);
  t.false(r.ok, r.out);
  t.regex(r.out, new RegExp(`local build: .* is version ${VERSION.replace(/\./g, '\\.')}, this stratadb is 9\\.9\\.9; refused`));
  t.regex(r.out, new RegExp(`@stratadb/${PLATFORM}: .* is version ${VERSION.replace(/\./g, '\\.')}, this stratadb is 9\\.9\\.9; refused`));
});

test('a platform package whose manifest names another package is refused', (t) => {
  const { top, pkg } = install();
  const dir = path.join(top, 'node_modules', '@stratadb', PLATFORM);
  write(path.join(dir, 'package.json'), JSON.stringify({ name: `stratadb-${PLATFORM}`, version: VERSION, main: 'x.node' }));
  const r = load(pkg);
  t.false(r.ok, r.out);
  t.regex(r.out, /names stratadb-.*; refused/);
});

test('STRATADB_NATIVE_PATH is version-checked too, and never falls back', (t) => {
  const { top, pkg } = install();
  platformPackage(top, VERSION); // a valid platform package, which must not be used instead
  write(path.join(top, 'fake.js'), 'module.exports = { nativeVersion: () => "0.0.1" };');
  const r = load(pkg, { STRATADB_NATIVE_PATH: path.join(top, 'fake.js') });
  t.false(r.ok, r.out);
  t.regex(r.out, /STRATADB_NATIVE_PATH: .* is version 0\.0\.1/);
  t.notRegex(r.out, /LOADED/);
});

test('platform names, musl included, and an unsupported platform', (t) => {
  t.is(platformName({ platform: 'linux', arch: 'x64', musl: false }), 'linux-x64-gnu');
  t.is(platformName({ platform: 'linux', arch: 'arm64', musl: true }), 'linux-arm64-musl');
  t.is(platformName({ platform: 'darwin', arch: 'arm64' }), 'darwin-arm64');
  t.is(platformName({ platform: 'win32', arch: 'x64' }), 'win32-x64-msvc');
  const { pkg } = install();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadBinding } = require(path.join(pkg, 'loader.js')) as { loadBinding: (o: object) => unknown };
  const e = t.throws(() => loadBinding({ root: pkg, env: {}, platform: 'freebsd', arch: 'x64' }));
  t.is((e as Error & { code?: string }).code, 'STRATA_NATIVE_BINDING');
  t.regex(e?.message ?? '', /No prebuilt package exists for freebsd-x64; supported: .*linux-x64-musl/);
  t.regex(e?.message ?? '', /build from source/i);
});
