//! Instruction-count probe for batch writes (run under callgrind). Not a benchmark.
//! `writeprof <dir> <n> [random|seq]`: writes `n` keys of 16 bytes with 100-byte values in
//! batches of 1000, packed as the TypeScript layer packs them and decoded with
//! `WriteBatch::from_packed_ops` as the binding does; `random` (default) shuffles the keys
//! (bench/worker.js's fillbatch-random), `seq` writes them ascending (fillbatch). Then closes.
#![allow(clippy::unwrap_used)]
use strata_engine::{Db, Options, WriteBatch};

fn key(i: u64) -> Vec<u8> {
    format!("{:016}", i).into_bytes()
}

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let random = std::env::args().nth(3).is_none_or(|m| m == "random");
    let mut order: Vec<u64> = (0..n).collect();
    if random {
        let mut s: u64 = 7;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, ((s >> 33) % (i as u64 + 1)) as usize);
        }
    }
    let db = Db::open(&dir, Options::default()).unwrap();
    let mut v = vec![0u8; 100];
    let mut packed = Vec::with_capacity(1000 * 120);
    for chunk in order.chunks(1000) {
        packed.clear();
        for &j in chunk {
            v[..8].copy_from_slice(&j.to_le_bytes());
            for (x, b) in v[8..].iter_mut().enumerate() {
                *b = (x as u8) % 7 + (j as u8 % 3);
            }
            let k = key(j);
            packed.push(1);
            packed.push(k.len() as u8);
            packed.extend_from_slice(&k);
            packed.push(v.len() as u8);
            packed.extend_from_slice(&v);
        }
        let batch = WriteBatch::from_packed_ops(&packed).unwrap();
        db.write(batch, false).unwrap();
    }
    db.close().unwrap();
}
