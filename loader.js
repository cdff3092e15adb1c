// @ts-check
/**
 * StrataDB's native-binary loader (hand-kept; it replaces the loader napi-rs generates).
 *
 * It loads, in this order, the first candidate that exists:
 *
 *   1. `STRATADB_NATIVE_PATH`, when set: an explicit `.node` file (for a binary built from source);
 *   2. `<package root>/stratadb.<platform>.node`: the local build of a git checkout, or of
 *      `npm explore stratadb -- npm run build-from-source` in an installed package;
 *   3. the platform package `@stratadb/<platform>`, resolved from the package root.
 *
 * It never requires an unscoped name (`stratadb-linux-x64-gnu` belongs to another project on
 * the registry) and never anything outside the `@stratadb` scope. Every candidate must report
 * the version of the `stratadb` package that loads it — the platform package's `package.json`
 * and the binary's own `nativeVersion()` — or it is refused. When nothing loads, one
 * `NativeBindingError` names the package looked for, the platform detected (libc included) and
 * how to build from source.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/** The npm scope of the platform packages. Only names under it are ever required. */
const SCOPE = '@stratadb';
/** The binary's base name (`napi.binaryName` in package.json). */
const BINARY = 'stratadb';
/** Platforms with a published platform package. */
const SUPPORTED = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc'];

class NativeBindingError extends Error {
  /**
   * @param {string} message
   * @param {{ platform: string, packageName: string | undefined, attempts: string[] }} detail
   */
  constructor(message, detail) {
    super(message);
    this.name = 'NativeBindingError';
    /** Stable code, like the engine's `STRATA_*` codes. */
    this.code = 'STRATA_NATIVE_BINDING';
    this.platform = detail.platform;
    this.packageName = detail.packageName;
    this.attempts = detail.attempts;
  }
}

/**
 * Whether this Linux process runs on musl (Alpine) rather than glibc.
 * @returns {boolean}
 */
function detectMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    // no ldd script (some minimal images): ask Node's diagnostic report
  }
  try {
    if (process.report && typeof process.report.getReport === 'function') {
      /** @type {{ excludeNetwork?: boolean }} */ (process.report).excludeNetwork = true;
      const report = /** @type {{ header?: { glibcVersionRuntime?: string }, sharedObjects?: string[] }} */ (process.report.getReport());
      if (report.header && report.header.glibcVersionRuntime) return false;
      if (Array.isArray(report.sharedObjects)) return report.sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'));
    }
  } catch {
    // fall through
  }
  return false;
}

/**
 * The napi-rs platform name: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ...
 * @param {{ platform?: string, arch?: string, musl?: boolean }} [env]
 * @returns {string}
 */
function platformName(env = {}) {
  const platform = env.platform ?? process.platform;
  const arch = env.arch ?? process.arch;
  if (platform === 'linux') return `linux-${arch}-${(env.musl ?? detectMusl()) ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/**
 * @param {string} file
 * @returns {unknown}
 */
function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * @param {unknown} binding
 * @returns {string | undefined}
 */
function versionOf(binding) {
  const b = /** @type {{ nativeVersion?: unknown }} */ (binding);
  return b !== null && typeof b === 'object' && typeof b.nativeVersion === 'function' ? String(b.nativeVersion()) : undefined;
}

/**
 * Loads the native binding of the `stratadb` package whose root is `root`.
 * @param {{ root: string, env?: Record<string, string | undefined>, platform?: string, arch?: string, musl?: boolean }} options
 * @returns {unknown} the binding's exports
 */
function loadBinding(options) {
  const root = options.root;
  const env = options.env ?? process.env;
  const pkg = /** @type {{ version: string }} */ (readJson(path.join(root, 'package.json')));
  const expected = pkg.version;
  const platform = platformName(options);
  const packageName = SUPPORTED.includes(platform) ? `${SCOPE}/${platform}` : undefined;
  /** @type {string[]} */
  const attempts = [];

  /**
   * Requires one `.node` file and checks the version it reports.
   * @param {string} file
   * @param {string} what
   * @returns {unknown}
   */
  const tryFile = (file, what) => {
    let binding;
    try {
      binding = require(file);
    } catch (e) {
      attempts.push(`${what}: ${file} did not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      return undefined;
    }
    const got = versionOf(binding);
    if (got !== expected) {
      attempts.push(`${what}: ${file} is version ${got ?? '(unknown: no nativeVersion())'}, this stratadb is ${expected}; refused`);
      return undefined;
    }
    return binding;
  };

  const explicit = env.STRATADB_NATIVE_PATH;
  if (explicit !== undefined && explicit !== '') {
    const b = tryFile(path.resolve(explicit), 'STRATADB_NATIVE_PATH');
    if (b !== undefined) return b;
    // An explicit path that fails is an error of its own: never silently use something else.
    throw fail();
  }

  const local = path.join(root, `${BINARY}.${platform}.node`);
  if (fs.existsSync(local)) {
    const b = tryFile(local, 'local build');
    if (b !== undefined) return b;
  } else {
    attempts.push(`local build: ${local} does not exist`);
  }

  if (packageName !== undefined) {
    let manifestPath;
    try {
      manifestPath = require.resolve(`${packageName}/package.json`, { paths: [root] });
    } catch {
      attempts.push(`${packageName}: not installed`);
    }
    if (manifestPath !== undefined) {
      const manifest = /** @type {{ name?: string, version?: string, main?: string }} */ (readJson(manifestPath));
      if (manifest.name !== packageName) {
        attempts.push(`${packageName}: ${manifestPath} names ${String(manifest.name)}; refused`);
      } else if (manifest.version !== expected) {
        attempts.push(`${packageName}: installed version ${String(manifest.version)}, this stratadb is ${expected}; refused (reinstall stratadb)`);
      } else {
        const b = tryFile(path.join(path.dirname(manifestPath), manifest.main ?? `${BINARY}.${platform}.node`), packageName);
        if (b !== undefined) return b;
      }
    }
  }
  throw fail();

  /** @returns {NativeBindingError} */
  function fail() {
    const lines = [
      `StrataDB ${expected}: no usable native binary for platform ${platform} (node ${process.version}).`,
      packageName !== undefined
        ? `Looked for the platform package ${packageName}@${expected} (an optionalDependency of stratadb) and a local build.`
        : `No prebuilt package exists for ${platform}; supported: ${SUPPORTED.join(', ')}.`,
      ...attempts.map((a) => `  - ${a}`),
      packageName !== undefined
        ? `Fix: reinstall without --no-optional / --omit=optional (npm install stratadb@${expected}), or build from source.`
        : 'Fix: build from source.',
      'Build from source: install Rust (https://rustup.rs, 1.89 or newer), then run `npm explore stratadb -- npm run build-from-source`.',
    ];
    return new NativeBindingError(lines.join('\n'), { platform, packageName, attempts });
  }
}

module.exports = { loadBinding, platformName, detectMusl, NativeBindingError, SUPPORTED, SCOPE };
