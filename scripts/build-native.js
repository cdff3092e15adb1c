#!/usr/bin/env node
// @ts-check
/**
 * Builds the native binary from source: `npm run build:native` in a git checkout (through
 * the napi CLI, which also writes binding.d.ts). Without a Rust toolchain it says what to
 * install, instead of napi's "cargo metadata failed".
 */
'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** @param {string} cmd */
function has(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' });
  return r.status === 0;
}

if (!has('cargo') || !has('rustc')) {
  process.stderr.write(
    [
      '',
      'stratadb: building the native binary from source needs Rust (cargo and rustc 1.89 or newer), and none was found on PATH.',
      '  - Install Rust: https://rustup.rs (or your system package, e.g. `apt-get install cargo`), then run `npm install` again.',
      '  - Or, to use StrataDB without building it, install the published package, which ships prebuilt binaries',
      '    (Linux x64/arm64 glibc and musl, macOS x64/arm64, Windows x64): npm install stratadb',
      '',
    ].join('\n'),
  );
  process.exit(1);
}

const napiPkg = require.resolve('@napi-rs/cli/package.json', { paths: [ROOT] });
const napi = path.join(path.dirname(napiPkg), /** @type {{ bin: { napi: string } }} */ (require(napiPkg)).bin.napi);
const args = [napi, 'build', '--platform', '--release', '--no-js', '--dts', 'binding.d.ts', ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
process.exit(r.status ?? 1);
