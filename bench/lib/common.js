'use strict';
// Shared pieces of the benchmark: configuration, seeded randomness, keys, values,
// YCSB's request distributions, directory sizes.

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

/** Every phase, in the order the worker runs them. */
const ALL_PHASES = [
  'fillseq',
  'fillseq-sync',
  'fillrandom',
  'fillbatch',
  'fillbatch-random',
  'overwrite',
  'readrandom',
  'readrandom-sync',
  'readmissing',
  'readseq',
  'seekrandom',
  'rangeread',
  'deleterandom',
  'ycsb-a',
  'ycsb-b',
  'ycsb-c',
  'ycsb-d',
  'ycsb-e',
  'ycsb-f',
];

const ALL_STORES = ['stratadb', 'classic-level', 'rocksdb', 'lmdb', 'lmdb-nosync', 'sqlite'];
/**
 * Stores that run only when named: a reference StrataDB build (`STRATA_BENCH_REF_ROOT`), and
 * StrataDB with `zstd: 'all'`.
 */
const EXTRA_STORES = ['stratadb-ref', 'stratadb-zstd', 'stratadb-lowmem'];

/** `STRATA_BENCH_<NAME>` wins over the plain `<NAME>`. */
function env(name, fallback) {
  const v = process.env[`STRATA_BENCH_${name}`] ?? process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

function envInt(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(String(raw).replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`bench: ${name} must be a non-negative number, got ${raw}`);
  return Math.floor(n);
}

function envList(name, all, extra = [], keepOrder = false) {
  const raw = env(name, undefined);
  if (raw === undefined || raw === 'all') return all.slice();
  const want = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const known = [...all, ...extra];
  for (const w of want) {
    if (!known.includes(w)) throw new Error(`bench: unknown ${name} entry '${w}' (known: ${known.join(', ')})`);
  }
  // Stores named explicitly run in the order given (e.g. a reference build first or last).
  if (keepOrder) return want.filter((x, i) => want.indexOf(x) === i);
  return known.filter((x) => want.includes(x));
}

function config() {
  const n = envInt('N', 1_000_000);
  if (n < 1) throw new Error('bench: N must be at least 1');
  return {
    n,
    valueSize: envInt('VALUE_SIZE', 100),
    seed: envInt('SEED', 301),
    stores: envList('STORES', ALL_STORES, EXTRA_STORES, true),
    phases: envList('PHASES', ALL_PHASES),
    ycsbOps: envInt('YCSB_OPS', Math.max(1, Math.floor(n / 10))),
    seeks: envInt('SEEKS', Math.max(1, Math.floor(n / 10))),
    rangeReads: envInt('RANGE_READS', Math.max(1, Math.floor(n / 10))),
    maxPhaseSeconds: envInt('MAX_PHASE_SECONDS', 60),
    dir: env('DIR', path.join(os.tmpdir(), `stratadb-bench-${process.pid}`)),
    out: env('OUT', path.join(__dirname, '..', 'results')),
  };
}

/** sfc32: a small, fast, seedable 32-bit generator. */
function rng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return r >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return {
    u32: next,
    /** Uniform in [0, 1). */
    float: () => next() / 4294967296,
    /** Uniform integer in [0, n). */
    below: (n) => (n <= 4294967296 ? Math.floor((next() / 4294967296) * n) : Math.floor((next() * 4294967296 + next()) / 18446744073709551616 * n)),
  };
}

function permutation(n, r) {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = r.below(i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

function uniform(count, n, r) {
  const a = new Uint32Array(count);
  for (let i = 0; i < count; i++) a[i] = r.below(n);
  return a;
}

/**
 * Key number i as 16 ASCII digits of 2*i (a new Buffer each call: stores may keep it).
 * Missing keys are the odd numbers between them, so key ranges never answer "absent".
 */
function key(i, missing = false) {
  const k = Buffer.allocUnsafe(16);
  let v = 2 * i + (missing ? 1 : 0);
  for (let p = 15; p >= 0; p--) {
    k[p] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return k;
}

/**
 * db_bench's value generator: a 1 MiB pool of printable random bytes in which every
 * 100-byte piece is 50 random bytes written twice (so values compress to about 50%),
 * handed out as consecutive slices.
 */
function values(size, seed) {
  const r = rng(seed ^ 0xa11ce5);
  const len = Math.max(1 << 20, size * 2);
  const pool = Buffer.allocUnsafe(len + 100);
  for (let p = 0; p < pool.length; p += 100) {
    for (let j = 0; j < 50; j++) {
      const c = 32 + (r.u32() % 95);
      if (p + j < pool.length) pool[p + j] = c;
      if (p + j + 50 < pool.length) pool[p + j + 50] = c;
    }
  }
  let pos = 0;
  return () => {
    if (pos + size > len) pos = 0;
    const v = pool.subarray(pos, pos + size);
    pos += size;
    return v;
  };
}

// ---- YCSB request distributions (after YCSB's core generators) ----

const ZIPFIAN_CONSTANT = 0.99;

function zeta(from, to, theta, initial) {
  let sum = initial;
  for (let i = from; i < to; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/** YCSB's ZipfianGenerator over [0, items), growing its zeta incrementally when asked for more items. */
class Zipfian {
  constructor(items, theta = ZIPFIAN_CONSTANT, zetan = undefined) {
    this.items = items;
    this.theta = theta;
    this.zeta2theta = zeta(0, 2, theta, 0);
    this.alpha = 1 / (1 - theta);
    this.zetan = zetan ?? zeta(0, items, theta, 0);
    this.countForZeta = items;
    this.eta = this.#eta();
  }

  #eta() {
    return (1 - Math.pow(2 / this.items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetan);
  }

  next(r, items = this.items) {
    if (items !== this.countForZeta) {
      if (items > this.countForZeta) this.zetan = zeta(this.countForZeta, items, this.theta, this.zetan);
      else this.zetan = zeta(0, items, this.theta, 0);
      this.countForZeta = items;
      this.items = items;
      this.eta = this.#eta();
    }
    const u = r.float();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + Math.pow(0.5, this.theta)) return 1;
    return Math.floor(this.items * Math.pow(this.eta * u - this.eta + 1, this.alpha));
  }
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 1099511628211n;

/** YCSB's Utils.fnvhash64 (Java long arithmetic, then Math.abs). */
function fnvhash64(val) {
  let v = BigInt(val);
  let h = BigInt.asIntN(64, FNV_OFFSET);
  for (let i = 0; i < 8; i++) {
    const octet = v & 0xffn;
    v >>= 8n;
    h = BigInt.asIntN(64, h ^ octet);
    h = BigInt.asIntN(64, h * FNV_PRIME);
  }
  return h < 0n ? -h : h;
}

/** YCSB's ScrambledZipfianGenerator: zipfian over 10^10 items (precomputed zeta), hashed onto [0, items). */
class ScrambledZipfian {
  constructor(items) {
    this.items = BigInt(items);
    this.gen = new Zipfian(10_000_000_000, ZIPFIAN_CONSTANT, 26.46902820178302);
  }

  next(r) {
    return Number(fnvhash64(this.gen.next(r)) % this.items);
  }
}

/** YCSB's SkewedLatestGenerator: the newest keys are the most popular. */
class SkewedLatest {
  constructor(items) {
    this.gen = new Zipfian(items);
  }

  next(r, last) {
    return last - this.gen.next(r, last + 1);
  }
}

/** Bytes under a directory: allocated (like du) and apparent (sum of sizes). */
function dirSize(dir) {
  let allocated = 0, apparent = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        allocated += st.blocks * 512;
        apparent += st.size;
      }
    }
  };
  walk(dir);
  return { allocated, apparent };
}

/** The installed version of a package, even one whose `exports` hides package.json. */
function pkgVersion(name) {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

module.exports = {
  pkgVersion,
  ALL_PHASES, ALL_STORES, config, env, rng, permutation, uniform, key, values,
  Zipfian, ScrambledZipfian, SkewedLatest, fnvhash64, dirSize,
};
