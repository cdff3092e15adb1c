//! Instruction-count probe for point reads (run under callgrind). Not a benchmark.
//! `readprof <dir> <n> <reads> [block_cache_bytes]`: the first run (no `<dir>` yet) writes
//! `n` keys; later runs warm the cache with every key, then make `reads` hit + miss pairs.
//! A small cache makes most reads decode their block.
#![allow(clippy::unwrap_used)]
use strata_engine::{Db, Options};
fn key(i: u64) -> Vec<u8> {
    format!("{:016}", i).into_bytes()
}
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let reads: u64 = std::env::args().nth(3).unwrap().parse().unwrap();
    let fresh = !std::path::Path::new(&dir).exists();
    if fresh {
        let db = Db::open(&dir, Options::default()).unwrap();
        let mut v = vec![0u8; 100];
        for i in 0..n {
            let j = (i * 7919) % n;
            v[..8].copy_from_slice(&j.to_le_bytes());
            for (x, b) in v[8..].iter_mut().enumerate() {
                *b = (x as u8) % 7 + (j as u8 % 3);
            }
            db.put(&key(j), &v, false).unwrap();
        }
        db.close().unwrap();
        return;
    }
    let cache: Option<usize> = std::env::args().nth(4).map(|c| c.parse().unwrap());
    let opts = Options { block_cache_size: cache.unwrap_or(Options::default().block_cache_size), ..Options::default() };
    let db = Db::open(&dir, opts).unwrap();
    let mut s: u64 = 1;
    let mut found = 0u64;
    let mut sum = 0u64;
    // warm the cache
    for i in 0..n {
        if db.get(&key(i), None).unwrap().is_some() {
            found += 1;
        }
    }
    for _ in 0..reads {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let k = key((s >> 33) % (n * 2));
        if let Some(v) = db.get(&key((s >> 33) % n), None).unwrap() {
            sum += v.len() as u64;
        }
        let _ = db.get(&k, None).unwrap();
    }
    println!("{found} {sum}");
}
