//! Steady overwrite workloads through the picker (see `compaction::sim`): file counts stay
//! bounded, writes never deadlock, and write amplification stays sane, for both styles.

use strata_engine::compaction::sim::{simulate, SimConfig, SimReport};
use strata_engine::{CompactionOptions, CompactionStyle};

fn opts(style: CompactionStyle) -> CompactionOptions {
    CompactionOptions {
        style,
        l0_compaction_trigger: 4,
        l0_stop_trigger: 12,
        level_size_ratio: 10,
        num_levels: 5,
        base_level_size: 40_000,
        target_file_size: 4_000,
    }
}

fn config(style: CompactionStyle, compactions_per_flush: usize, seed: u64) -> SimConfig {
    SimConfig {
        opts: opts(style),
        flushes: 2_000,
        flush_size: 1_000,
        key_space: 1_000_000,
        flush_key_span: 100_000,
        live_bytes: 500_000,
        compactions_per_flush,
        seed,
    }
}

fn check_common(r: &SimReport, cfg: &SimConfig) {
    assert!(!r.deadlocked, "{r:?}");
    assert_eq!(r.bytes_flushed, cfg.flushes as u64 * cfg.flush_size);
    assert!(r.max_l0_files <= cfg.opts.l0_stop_trigger, "{r:?}");
    let live: u64 = r.final_level_bytes.iter().sum();
    // Deduplication keeps the tree near the live data size.
    assert!(live <= cfg.live_bytes * 4, "{live} bytes alive: {r:?}");
}

#[test]
fn leveled_stays_bounded() {
    for (per_flush, seed) in [(usize::MAX, 1), (1, 2), (0, 3)] {
        let cfg = config(CompactionStyle::Leveled, per_flush, seed);
        let r = simulate(&cfg);
        eprintln!("leveled per_flush={per_flush}: wa={:.2} {r:?}", r.write_amplification());
        check_common(&r, &cfg);
        if per_flush == 0 {
            // Compaction only runs while writes are stalled.
            assert!(r.stall_compactions > 0 && r.stall_compactions == r.compactions, "{r:?}");
            continue;
        }
        // Levels 1.. end at or under their targets (or within one compaction of them).
        let mut target = cfg.opts.base_level_size;
        for level in 1..cfg.opts.num_levels - 1 {
            let bytes = r.final_level_bytes.get(level).copied().unwrap_or(0);
            assert!(bytes <= target * 2, "L{level} holds {bytes} > 2 * {target}: {r:?}");
            target *= cfg.opts.level_size_ratio;
        }
        // Files: L0 below the stop trigger, deeper levels about live / target_file_size.
        let bound = cfg.opts.l0_stop_trigger + 4 * (cfg.live_bytes / cfg.opts.target_file_size) as usize;
        assert!(r.max_files <= bound, "max {} files > {bound}: {r:?}", r.max_files);
        let wa = r.write_amplification();
        assert!(wa > 1.0 && wa < 30.0, "write amplification {wa}");
    }
}

#[test]
fn size_tiered_stays_bounded() {
    for (per_flush, seed) in [(usize::MAX, 4), (1, 5), (0, 6)] {
        let cfg = config(CompactionStyle::SizeTiered, per_flush, seed);
        let r = simulate(&cfg);
        eprintln!("tiered per_flush={per_flush}: wa={:.2} {r:?}", r.write_amplification());
        check_common(&r, &cfg);
        assert!(r.final_files.iter().skip(1).all(|&n| n == 0), "levels 1+ stay empty: {r:?}");
        assert!(r.max_files <= cfg.opts.l0_stop_trigger, "{r:?}");
        let wa = r.write_amplification();
        if per_flush == 0 {
            // Compaction only runs in write stalls, where every run is merged into one: each
            // stall rewrites the whole data set. Costly, but bounded.
            assert!(r.stall_compactions > 0 && r.stall_compactions == r.compactions, "{r:?}");
            assert!(wa < 60.0, "write amplification {wa}");
        } else {
            assert!(wa > 1.0 && wa < 15.0, "write amplification {wa}");
        }
    }
}

/// Size-tiered trades space for fewer rewrites: on the same workload it writes less.
#[test]
fn size_tiered_writes_less_than_leveled() {
    let leveled = simulate(&config(CompactionStyle::Leveled, usize::MAX, 7));
    let tiered = simulate(&config(CompactionStyle::SizeTiered, usize::MAX, 7));
    assert!(
        tiered.write_amplification() < leveled.write_amplification(),
        "tiered {} vs leveled {}",
        tiered.write_amplification(),
        leveled.write_amplification()
    );
}
