//! Shared helpers of the fault-injection tests: a PRNG, tiny geometries over `FaultFs`,
//! reading a whole database, tier knobs, and the history checker (`history`).
#![allow(dead_code)]

pub mod history;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::file::fault::FaultFs;
use strata_engine::{CompactionOptions, Db, IterOptions, Options, Result};

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// `n` bytes, the low byte of `n` successive draws (an explicit loop: the iterator
    /// chain was 5% of T3's time in debug builds).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        for b in &mut out {
            *b = self.next() as u8;
        }
        out
    }
}

/// The database directory used inside every `FaultFs`.
pub const DB_PATH: &str = "/faultfs/db";

/// A tiny geometry (memtable 4-16 KiB, blocks 512 B-4 KiB, 16 KiB target files, L0
/// trigger 2-4) so that short runs flush and compact, over `fs`.
pub fn tiny_options(rng: &mut Rng, fs: &FaultFs) -> Options {
    let mut o = Options {
        memtable_size: [4096, 8192, 16384][rng.below(3) as usize],
        block_size: [512, 1024, 4096][rng.below(3) as usize],
        block_restart_interval: [1, 4, 16][rng.below(3) as usize],
        bloom_bits_per_key: [0, 10][rng.below(2) as usize],
        compression: rng.chance(50),
        block_cache_size: [0, 64 << 10][rng.below(2) as usize],
        max_immutable_memtables: 2,
        ..Options::default()
    };
    // zstd tables (format version 2) in about a third of the compressed runs, picked from the
    // values already drawn so that the random sequence of every other setting stays as it was.
    o.zstd = match (o.compression, o.block_restart_interval, o.block_size) {
        (true, 4, _) => strata_engine::ZstdUse::All,
        (true, 16, 512) => strata_engine::ZstdUse::Bottommost,
        _ => strata_engine::ZstdUse::Off,
    };
    let trigger = rng.range(2, 4) as usize;
    o.compaction = CompactionOptions {
        l0_compaction_trigger: trigger,
        l0_stop_trigger: trigger + 6,
        num_levels: 4,
        base_level_size: 32 << 10,
        target_file_size: 16 << 10,
        level_size_ratio: 4,
        ..CompactionOptions::default()
    };
    if rng.chance(20) {
        o.compaction.style = strata_engine::CompactionStyle::SizeTiered;
    }
    o.fs = Arc::new(fs.clone());
    o
}

/// Every key and value of the database.
pub fn read_all(db: &Db) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut it = db.iter(IterOptions::default())?;
    let mut out = BTreeMap::new();
    while let Some((k, v)) = it.next()? {
        out.insert(k, v);
    }
    Ok(out)
}

/// A value from the environment, if set and parsable.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Aborts the process if the test is still running after `secs` (a hang is a failure).
pub fn watchdog(name: &'static str, secs: u64) {
    // The watchdog ends the whole process: in a soak run, the other tests of the same binary
    // keep it alive for STRATA_SOAK_SECS, so every limit stretches by that much.
    let secs = secs.max(env_u64("STRATA_SOAK_SECS").unwrap_or(0).saturating_add(1800));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        eprintln!("{name}: watchdog fired after {secs} s: the test hangs");
        std::process::exit(101);
    });
}
