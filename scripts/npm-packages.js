#!/usr/bin/env node
// @ts-check
/**
 * The platform packages `@stratadb/<platform>` (npm/<platform>/) and the main package's
 * `optionalDependencies`, kept in step with package.json's version.
 *
 *   node scripts/npm-packages.js check          exit 1 (and say why) if anything is out of step
 *   node scripts/npm-packages.js sync           rewrite npm/*\/package.json and README.md from
 *                                               package.json
 *   node scripts/npm-packages.js pack <dir>     `npm pack` the main package into <dir> with its
 *                                               optionalDependencies (every @stratadb/<platform>
 *                                               at exactly its version) added to the packed
 *                                               package.json; prints the tarball's path
 *   node scripts/npm-packages.js stage <platform> [binary]
 *                                               copy the built binary (default
 *                                               ./stratadb.<platform>.node) into npm/<platform>/
 *
 * The checkout's package.json lists no optionalDependencies: a lockfile cannot hold packages
 * that are not on the registry yet, and `npm ci` refuses a package.json out of step with its
 * lockfile. `pack` adds them to the published manifest only (as napi-rs's `prepublish` does).
 *
 * Releasing: bump "version" in package.json and Cargo.toml (the binary reports the crate's
 * version and the loader refuses a mismatch), then `sync`.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { SCOPE, SUPPORTED } = require('../loader.js');

/** platform → [Rust target, os, cpu, libc] */
const TARGETS = {
  'linux-x64-gnu': ['x86_64-unknown-linux-gnu', 'linux', 'x64', 'glibc'],
  'linux-arm64-gnu': ['aarch64-unknown-linux-gnu', 'linux', 'arm64', 'glibc'],
  'linux-x64-musl': ['x86_64-unknown-linux-musl', 'linux', 'x64', 'musl'],
  'linux-arm64-musl': ['aarch64-unknown-linux-musl', 'linux', 'arm64', 'musl'],
  'darwin-x64': ['x86_64-apple-darwin', 'darwin', 'x64', undefined],
  'darwin-arm64': ['aarch64-apple-darwin', 'darwin', 'arm64', undefined],
  'win32-x64-msvc': ['x86_64-pc-windows-msvc', 'win32', 'x64', undefined],
};

/** @param {string} file */
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

function mainPackage() {
  return readJson(path.join(ROOT, 'package.json'));
}

/**
 * @param {string} platform
 * @param {{ version: string, description: string, license: string, engines: unknown, repository?: unknown }} main
 */
function manifest(platform, main) {
  const [, os, cpu, libc] = TARGETS[/** @type {keyof typeof TARGETS} */ (platform)];
  const binary = `stratadb.${platform}.node`;
  /** @type {Record<string, unknown>} */
  const m = {
    name: `${SCOPE}/${platform}`,
    version: main.version,
    description: `The ${platform} native binary of stratadb (installed by stratadb; do not depend on it directly)`,
    license: main.license,
    main: binary,
    files: [binary],
    os: [os],
    cpu: [cpu],
  };
  if (libc !== undefined) m.libc = [libc];
  m.engines = main.engines;
  if (main.repository !== undefined) m.repository = main.repository;
  m.publishConfig = { access: 'public' };
  return m;
}

/** @param {string} platform */
function readme(platform) {
  const [target] = TARGETS[/** @type {keyof typeof TARGETS} */ (platform)];
  return `# \`${SCOPE}/${platform}\`\n\nThe **${target}** binary of [\`stratadb\`](https://www.npmjs.com/package/stratadb). It is an\n\`optionalDependency\` of \`stratadb\` at the same exact version; install \`stratadb\`, not this package.\n`;
}

/** @param {string} version */
function expectedOptionalDependencies(version) {
  return Object.fromEntries(SUPPORTED.map((p) => [`${SCOPE}/${p}`, version]));
}

function check() {
  const main = mainPackage();
  const problems = [];
  if (Object.keys(TARGETS).join() !== SUPPORTED.join()) problems.push('scripts/npm-packages.js TARGETS and loader.js SUPPORTED differ');
  if (main.optionalDependencies !== undefined) {
    problems.push('package.json must not list optionalDependencies (`pack` adds them to the packed manifest)');
  }
  for (const platform of SUPPORTED) {
    const file = path.join(ROOT, 'npm', platform, 'package.json');
    if (!fs.existsSync(file)) {
      problems.push(`${file} is missing`);
      continue;
    }
    if (JSON.stringify(readJson(file)) !== JSON.stringify(manifest(platform, main))) problems.push(`${file} is out of step`);
  }
  const dirs = fs.readdirSync(path.join(ROOT, 'npm')).filter((d) => fs.statSync(path.join(ROOT, 'npm', d)).isDirectory());
  for (const d of dirs) if (!SUPPORTED.includes(d)) problems.push(`npm/${d} is not a supported platform`);
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  const crate = /\[package\][^[]*?\nversion = "([^"]+)"/.exec(cargo);
  if (crate === null || crate[1] !== main.version) problems.push(`Cargo.toml [package] version ${crate?.[1]} differs from package.json ${main.version}`);
  return problems;
}

function sync() {
  const main = mainPackage();
  for (const platform of SUPPORTED) {
    const dir = path.join(ROOT, 'npm', platform);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest(platform, main), null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'README.md'), readme(platform));
  }
}

/** The main package's manifest as published: package.json plus its optionalDependencies. */
function packedManifest() {
  const main = mainPackage();
  return { ...main, optionalDependencies: expectedOptionalDependencies(main.version) };
}

/** @param {string | undefined} dest */
function pack(dest) {
  if (dest === undefined) throw new Error('usage: pack <dir>');
  const file = path.join(ROOT, 'package.json');
  const original = fs.readFileSync(file);
  fs.writeFileSync(file, JSON.stringify(packedManifest(), null, 2) + '\n');
  try {
    // --ignore-scripts: `prepare` would rebuild everything; build first.
    const r = require('node:child_process').spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', path.resolve(dest)], {
      cwd: ROOT,
      encoding: 'utf8',
      shell: process.platform === 'win32',
    });
    if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
    console.log(path.join(path.resolve(dest), r.stdout.trim().split('\n').pop() ?? ''));
  } finally {
    fs.writeFileSync(file, original);
  }
}

/** @param {string | undefined} platform @param {string | undefined} binary */
function stage(platform, binary) {
  if (platform === undefined || !SUPPORTED.includes(platform)) throw new Error(`usage: stage <platform> [binary]; platforms: ${SUPPORTED.join(', ')}`);
  const from = binary ?? path.join(ROOT, `stratadb.${platform}.node`);
  const to = path.join(ROOT, 'npm', platform, `stratadb.${platform}.node`);
  fs.copyFileSync(from, to);
  console.log(`staged ${from} -> ${to}`);
}

if (require.main === module) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'check') {
    const problems = check();
    for (const p of problems) console.error(`npm-packages: ${p}`);
    if (problems.length > 0) {
      console.error('fix: node scripts/npm-packages.js sync');
      process.exit(1);
    }
    console.log(`npm-packages: ${SUPPORTED.length} platform packages in step`);
  } else if (cmd === 'sync') {
    sync();
  } else if (cmd === 'pack') {
    pack(args[0]);
  } else if (cmd === 'stage') {
    stage(args[0], args[1]);
  } else {
    console.error('usage: node scripts/npm-packages.js check | sync | pack <dir> | stage <platform> [binary]');
    process.exit(64);
  }
}

module.exports = { check, sync, pack, packedManifest, TARGETS, manifest };
