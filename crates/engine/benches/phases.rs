//! Engine-only benchmark of the db_bench-style phases that `npm run bench` runs through
//! Node, so the cost of crossing the binding is visible (`npm run bench:engine` runs this and
//! writes `bench/results/engine-latest.json`).
//!
//! Every phase is one criterion benchmark whose iteration is a whole phase of `N` operations
//! (`STRATA_BENCH_ENGINE_N`, default 100,000; `seekrandom` does `N / 10` seeks) with
//! `Throughput::Elements`, so criterion's time per iteration divided into `N` gives ops/s.
//! Keys are 16 bytes (`%016d` of `2 * i`; missing keys are the odd numbers), values 100 bytes
//! (`STRATA_BENCH_VALUE_SIZE`) compressible to about half, as db_bench makes them. Writes
//! are not synced (the engine's default).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use strata_engine::{Db, IterOptions, Options, WriteBatch};

const SEED: u64 = 0x5eed_5eed;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// splitmix64: small, seedable, good enough for choosing keys.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn key(i: usize) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut v = 2 * i as u64;
    for b in k.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    k
}

fn missing_key(i: usize) -> [u8; 16] {
    let mut k = key(i);
    // 2i is even, so its last digit + 1 is the odd neighbour 2i + 1, never stored.
    k[15] += 1;
    k
}

/// db_bench's value generator: a 1 MiB pool of printable random bytes in which each
/// 100-byte piece is 50 random bytes written twice, handed out in consecutive slices.
struct Values {
    pool: Vec<u8>,
    pos: usize,
    size: usize,
}

impl Values {
    fn new(size: usize) -> Values {
        let mut rng = Rng(SEED ^ 0x00a1_1ce5);
        let mut pool = Vec::with_capacity((1 << 20) + 100);
        while pool.len() < (1 << 20).max(size) {
            let raw: Vec<u8> = (0..50).map(|_| b' ' + (rng.next_u64() % 95) as u8).collect();
            pool.extend_from_slice(&raw);
            pool.extend_from_slice(&raw);
        }
        Values { pool, pos: 0, size }
    }

    fn next(&mut self) -> &[u8] {
        if self.pos + self.size > self.pool.len() {
            self.pos = 0;
        }
        let start = self.pos;
        self.pos += self.size;
        &self.pool[start..start + self.size]
    }
}

struct Cfg {
    n: usize,
    value_size: usize,
}

fn permutation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i + 1));
    }
    p
}

fn open(dir: &Path) -> Db {
    Db::open(dir, Options::default()).expect("open")
}

/// A fresh database holding keys 0..n, written in random order by batches of 1000 (untimed setup).
fn loaded(dir: &Path, cfg: &Cfg) -> Db {
    let db = open(dir);
    let mut rng = Rng(SEED ^ 1);
    let mut vals = Values::new(cfg.value_size);
    for chunk in permutation(cfg.n, &mut rng).chunks(1000) {
        let mut b = WriteBatch::new();
        for &i in chunk {
            b.put(&key(i), vals.next()).expect("batch put");
        }
        db.write(b, false).expect("write");
    }
    db
}

/// Runs `iters` times: setup (untimed) then the timed phase.
fn timed<S>(iters: u64, mut setup: impl FnMut(&Path) -> S, mut phase: impl FnMut(&S)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = setup(dir.path());
        let start = Instant::now();
        phase(&state);
        total += start.elapsed();
        drop(state);
    }
    total
}

fn phases(c: &mut Criterion) {
    let cfg =
        Cfg { n: env_usize("STRATA_BENCH_ENGINE_N", 100_000), value_size: env_usize("STRATA_BENCH_VALUE_SIZE", 100) };
    let n = cfg.n;
    let mut g = c.benchmark_group("phases");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(env_usize("STRATA_BENCH_ENGINE_SAMPLES", 10));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(n as u64));

    g.bench_function(BenchmarkId::from_parameter("fillseq"), |b| {
        b.iter_custom(|iters| {
            timed(iters, open, |db| {
                let mut vals = Values::new(cfg.value_size);
                for i in 0..n {
                    db.put(&key(i), vals.next(), false).expect("put");
                }
            })
        })
    });

    g.bench_function(BenchmarkId::from_parameter("fillrandom"), |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |d| (open(d), permutation(n, &mut Rng(SEED ^ 1))),
                |(db, order)| {
                    let mut vals = Values::new(cfg.value_size);
                    for &i in order {
                        db.put(&key(i), vals.next(), false).expect("put");
                    }
                },
            )
        })
    });

    g.bench_function(BenchmarkId::from_parameter("fillbatch"), |b| {
        b.iter_custom(|iters| {
            timed(iters, open, |db| {
                let mut vals = Values::new(cfg.value_size);
                let mut i = 0;
                while i < n {
                    let mut batch = WriteBatch::new();
                    for j in i..(i + 1000).min(n) {
                        batch.put(&key(j), vals.next()).expect("batch put");
                    }
                    db.write(batch, false).expect("write");
                    i += 1000;
                }
            })
        })
    });

    g.bench_function(BenchmarkId::from_parameter("overwrite"), |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |d| loaded(d, &cfg),
                |db| {
                    let mut rng = Rng(SEED ^ 2);
                    let mut vals = Values::new(cfg.value_size);
                    for _ in 0..n {
                        db.put(&key(rng.below(n)), vals.next(), false).expect("put");
                    }
                },
            )
        })
    });

    g.bench_function(BenchmarkId::from_parameter("deleterandom"), |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |d| loaded(d, &cfg),
                |db| {
                    let mut rng = Rng(SEED ^ 3);
                    for _ in 0..n {
                        db.delete(&key(rng.below(n)), false).expect("delete");
                    }
                },
            )
        })
    });

    // Read phases share one database: loaded, closed and reopened, as the Node suite does.
    let dir = tempfile::tempdir().expect("tempdir");
    loaded(dir.path(), &cfg).close().expect("close");
    let db = open(dir.path());

    g.bench_function(BenchmarkId::from_parameter("readrandom"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut rng = Rng(SEED ^ 4);
            for _ in 0..iters {
                for _ in 0..n {
                    let v = db.get(&key(rng.below(n)), None).expect("get");
                    assert!(v.is_some(), "readrandom: key not found");
                    black_box(v);
                }
            }
            start.elapsed()
        })
    });

    g.bench_function(BenchmarkId::from_parameter("readmissing"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut rng = Rng(SEED ^ 5);
            for _ in 0..iters {
                for _ in 0..n {
                    black_box(db.get(&missing_key(rng.below(n)), None).expect("get"));
                }
            }
            start.elapsed()
        })
    });

    g.bench_function(BenchmarkId::from_parameter("readseq"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut it = db.iter(IterOptions::default()).expect("iter");
                let mut count = 0;
                while let Some(e) = it.next().expect("next") {
                    black_box(e);
                    count += 1;
                }
                assert_eq!(count, n, "readseq: wrong entry count");
            }
            start.elapsed()
        })
    });

    // seekrandom: N / 10 seeks, each reading the entry found and the next 10.
    let seeks = (n / 10).max(1);
    g.throughput(Throughput::Elements(seeks as u64));
    g.bench_function(BenchmarkId::from_parameter("seekrandom"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut rng = Rng(SEED ^ 6);
            for _ in 0..iters {
                let mut it = db.iter(IterOptions::default()).expect("iter");
                for _ in 0..seeks {
                    it.seek(&key(rng.below(n))).expect("seek");
                    for _ in 0..11 {
                        if it.next().expect("next").map(black_box).is_none() {
                            break;
                        }
                    }
                }
            }
            start.elapsed()
        })
    });
    g.finish();
    db.close().expect("close");
}

criterion_group!(benches, phases);
criterion_main!(benches);
