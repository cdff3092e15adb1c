#!/usr/bin/env node
// @ts-check
/**
 * Builds the native binary of an installed `stratadb` from the Rust sources it ships
 * (Cargo.toml, Cargo.lock, src/, crates/engine/src/), for a platform without a prebuilt
 * package or to use a binary built on this machine:
 *
 *   npm explore stratadb -- npm run build-from-source
 *
 * (no install script: npm runs dependencies' install scripts only when allowed). It writes
 * `stratadb.<platform>.node` into the package, which the loader then prefers to the
 * `@stratadb/<platform>` package (and still version-checks). Needs Rust 1.89+.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { platformName, loadBinding } = require('../loader.js');

/** @param {string} cmd */
function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' }).status === 0;
}

if (!has('cargo')) {
  process.stderr.write('stratadb: building from source needs Rust (cargo and rustc 1.89 or newer): install it from https://rustup.rs, then run this again.\n');
  process.exit(1);
}
// The engine's manifest declares its criterion benchmark; the benchmark is not shipped, and
// cargo wants a file at a declared target's path even when not building it.
const bench = path.join(ROOT, 'crates', 'engine', 'benches', 'phases.rs');
if (!fs.existsSync(bench)) {
  fs.mkdirSync(path.dirname(bench), { recursive: true });
  fs.writeFileSync(bench, '// Placeholder: the benchmark is not shipped in the npm package.\nfn main() {}\n');
}
const platform = platformName();
const target = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target');
process.stderr.write(`stratadb: building the native binary for ${platform} from source (cargo build --release; a few minutes)\n`);
const r = spawnSync('cargo', ['build', '--release', '--locked', '-p', 'stratadb-node'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, CARGO_TARGET_DIR: target },
  shell: process.platform === 'win32',
});
if (r.status !== 0) process.exit(r.status ?? 1);
const lib =
  process.platform === 'win32' ? 'stratadb_node.dll' : process.platform === 'darwin' ? 'libstratadb_node.dylib' : 'libstratadb_node.so';
const out = path.join(ROOT, `stratadb.${platform}.node`);
fs.copyFileSync(path.join(target, 'release', lib), out);
const binding = /** @type {{ nativeVersion(): string }} */ (loadBinding({ root: ROOT }));
process.stderr.write(`stratadb: built ${out} (version ${binding.nativeVersion()}); it is loaded before any platform package\n`);
