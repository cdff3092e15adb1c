//! Instruction-count probe for point reads at the benchmark's scale (run under callgrind).
//! Not a benchmark: it only gives the read loop a function of its own, `measured_reads`, so
//! `valgrind --tool=callgrind --toggle-collect='*measured_reads*'` counts that loop alone.
//!
//! * `getprof build <dir> <n>` writes keys `0..n` the way `bench/worker.js`'s fillrandom does:
//!   every key once in a shuffled order, 16-byte keys (`%016d` of `2 * i`), 100-byte db_bench
//!   values (50 random printable bytes written twice), one unsynced put each; then closes.
//! * `getprof get <dir> <n> <reads> [present|missing] [block_cache_bytes]` opens the database,
//!   warms the block cache with `reads` random gets, then makes `reads` more in
//!   `measured_reads` (uniform random keys; `missing` asks for the odd numbers, never stored)
//!   and prints the loop's CPU and elapsed time per get (noisy; compare builds interleaved) and its
//!   block-cache hits and misses.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
use std::hint::black_box;

use strata_engine::{Db, Options};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

fn key(i: u64, missing: bool) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut v = 2 * i + u64::from(missing);
    for b in k.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    k
}

fn build(dir: &str, n: u64) {
    let db = Db::open(dir, Options::default()).unwrap();
    let mut rng = Rng(301);
    let mut order: Vec<u64> = (0..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut pool = Vec::with_capacity((1 << 20) + 100);
    while pool.len() < 1 << 20 {
        let raw: Vec<u8> = (0..50).map(|_| b' ' + (rng.next_u64() % 95) as u8).collect();
        pool.extend_from_slice(&raw);
        pool.extend_from_slice(&raw);
    }
    let mut pos = 0;
    for &i in &order {
        if pos + 100 > pool.len() {
            pos = 0;
        }
        db.put(&key(i, false), &pool[pos..pos + 100], false).unwrap();
        pos += 100;
    }
    db.close().unwrap();
}

#[inline(never)]
fn measured_reads(db: &Db, n: u64, reads: u64, missing: bool, rng: &mut Rng) -> u64 {
    let mut found = 0;
    for _ in 0..reads {
        let k = key(rng.below(n), missing);
        if db.get_with(&k, None, |v| v.map(|v| black_box(v.len()))).unwrap().is_some() {
            found += 1;
        }
    }
    found
}

/// This thread's time on a CPU in nanoseconds (Linux `/proc/thread-self/schedstat`; 0
/// elsewhere): less disturbed by a loaded machine than elapsed time.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[2];
    let n: u64 = args[3].parse().unwrap();
    if args[1] == "build" {
        build(dir, n);
        return;
    }
    let reads: u64 = args[4].parse().unwrap();
    let missing = args.get(5).is_some_and(|m| m == "missing");
    let mut opts = Options::default();
    if let Some(c) = args.get(6) {
        opts.block_cache_size = c.parse().unwrap();
    }
    let db = Db::open(dir, opts).unwrap();
    let mut rng = Rng(7);
    measured_reads(&db, n, 0, missing, &mut rng); // keep the symbol even for reads = 0
    let warm = {
        let mut f = 0;
        for _ in 0..reads {
            if db.get(&key(rng.below(n), missing), None).unwrap().is_some() {
                f += 1;
            }
        }
        f
    };
    let before = db.stats().unwrap();
    let (t0, c0) = (std::time::Instant::now(), thread_cpu_ns());
    let found = measured_reads(&db, n, reads, missing, &mut rng);
    let ns = t0.elapsed().as_nanos() as f64 / reads as f64;
    let cpu_ns = thread_cpu_ns().saturating_sub(c0) as f64 / reads as f64;
    let after = db.stats().unwrap();
    let levels: Vec<usize> = after.levels.iter().map(|l| l.files as usize).collect();
    println!(
        "{cpu_ns:.0} ns/get on CPU, {ns:.0} elapsed; warm {warm} found {found}/{reads} hits {} misses {} bloom_negatives {} files per level {levels:?}",
        after.block_cache_hits - before.block_cache_hits,
        after.block_cache_misses - before.block_cache_misses,
        after.bloom_negatives - before.bloom_negatives,
    );
    db.close().unwrap();
}
