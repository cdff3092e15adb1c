//! A pure simulator of the compaction picker under a steady overwrite workload. No data is
//! read or written: files are [`FileMeta`]s whose user keys are big-endian `u64`s, and a
//! compaction's output size is the sum of its inputs capped by the share of the live data
//! set its key range covers (the deduplication that overwrites allow).
//!
//! Used by tests to check that file counts stay bounded and write amplification sane for
//! both compaction styles, and handy for tuning [`CompactionOptions`].

use std::collections::HashSet;

use super::picker::{pick_compaction, CompactionPick};
use crate::key::{internal_key, ValueKind};
use crate::options::{CompactionOptions, CompactionStyle};
use crate::version::{FileMeta, ManifestState};

/// The workload and the options to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Compaction options under test.
    pub opts: CompactionOptions,
    /// Number of memtable flushes.
    pub flushes: usize,
    /// Bytes of each flushed L0 file.
    pub flush_size: u64,
    /// User keys are `0..key_space`.
    pub key_space: u64,
    /// Number of consecutive keys one flush covers (at a random position).
    pub flush_key_span: u64,
    /// Size of the whole data set once fully deduplicated; a compaction output covering a
    /// fraction `f` of the key space is at most `f * live_bytes`.
    pub live_bytes: u64,
    /// Compactions run after each flush (`usize::MAX`: until the picker finds nothing).
    /// When level 0 reaches `l0_stop_trigger`, further compactions run before the next flush
    /// (a write stall).
    pub compactions_per_flush: usize,
    /// Seed of the workload's random numbers.
    pub seed: u64,
}

/// What the simulation measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    /// The most files alive at any point (sampled after every flush and compaction).
    pub max_files: usize,
    /// The most level-0 files (runs) alive at any point.
    pub max_l0_files: usize,
    /// Files per level at the end.
    pub final_files: Vec<usize>,
    /// Bytes per level at the end.
    pub final_level_bytes: Vec<u64>,
    /// Bytes written by flushes.
    pub bytes_flushed: u64,
    /// Bytes written by compactions (trivial moves write nothing).
    pub bytes_compacted: u64,
    /// Compactions run, trivial moves included.
    pub compactions: usize,
    /// Compactions that were trivial moves.
    pub trivial_moves: usize,
    /// Compactions run while level 0 was at `l0_stop_trigger` (writes stalled).
    pub stall_compactions: usize,
    /// True if writes were stalled and the picker had nothing to do (a deadlock).
    pub deadlocked: bool,
}

impl SimReport {
    /// `(flushed + compacted) / flushed`: bytes written to disk per byte flushed.
    pub fn write_amplification(&self) -> f64 {
        if self.bytes_flushed == 0 {
            return 0.0;
        }
        (self.bytes_flushed + self.bytes_compacted) as f64 / self.bytes_flushed as f64
    }
}

/// SplitMix64: small, fast, good enough for a workload generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn key_num(user_key: &[u8]) -> u64 {
    user_key.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn make_file(number: u64, lo: u64, hi: u64, size: u64, min_seq: u64, max_seq: u64) -> FileMeta {
    FileMeta {
        number,
        size,
        smallest: internal_key(&lo.to_be_bytes(), max_seq, ValueKind::Put),
        largest: internal_key(&hi.to_be_bytes(), min_seq, ValueKind::Put),
        min_seq,
        max_seq,
        num_entries: 1 + hi - lo,
        num_deletions: 0,
    }
}

/// Runs the workload of `cfg` through the picker and reports what happened. Every edit is
/// applied with [`ManifestState::apply_checked`], so an invariant violation panics.
pub fn simulate(cfg: &SimConfig) -> SimReport {
    let opts = &cfg.opts;
    let mut rng = Rng(cfg.seed);
    let mut state = ManifestState::new(opts.num_levels.max(2));
    let mut report = SimReport::default();
    let key_space = cfg.key_space.max(1);
    let span = cfg.flush_key_span.clamp(1, key_space);
    let stop = opts.l0_stop_trigger.max(1);
    let none = HashSet::new();
    let mut seq = 0u64;

    let sample = |state: &ManifestState, report: &mut SimReport| {
        report.max_files = report.max_files.max(state.total_files());
        report.max_l0_files = report.max_l0_files.max(state.num_files(0));
    };

    for _ in 0..cfg.flushes {
        // Write stall: compact until level 0 is below the stop trigger.
        while state.num_files(0) >= stop {
            match pick_compaction(&state, opts, &none) {
                Some(pick) => {
                    run(&mut state, &pick, cfg, &mut report);
                    report.stall_compactions += 1;
                    sample(&state, &mut report);
                }
                None => {
                    report.deadlocked = true;
                    break;
                }
            }
        }
        if report.deadlocked {
            break;
        }
        // Flush.
        let lo = rng.below(key_space - span + 1);
        let entries = span;
        let number = state.next_file_number;
        let f = make_file(number, lo, lo + span - 1, cfg.flush_size, seq + 1, seq + entries);
        seq += entries;
        state
            .apply_checked(&crate::version::VersionEdit {
                added: vec![(0, f)],
                next_file_number: Some(number + 1),
                last_sequence: Some(seq),
                ..Default::default()
            })
            .expect("flush keeps the invariants");
        report.bytes_flushed += cfg.flush_size;
        sample(&state, &mut report);
        // Background compactions.
        for _ in 0..cfg.compactions_per_flush {
            let Some(pick) = pick_compaction(&state, opts, &none) else { break };
            run(&mut state, &pick, cfg, &mut report);
            sample(&state, &mut report);
        }
    }
    report.final_files = state.levels.iter().map(Vec::len).collect();
    report.final_level_bytes = (0..state.levels.len()).map(|l| state.level_bytes(l)).collect();
    report
}

/// Applies the effect of `pick` to `state`.
fn run(state: &mut ManifestState, pick: &CompactionPick, cfg: &SimConfig, report: &mut SimReport) {
    report.compactions += 1;
    if pick.is_trivial_move() {
        report.trivial_moves += 1;
        let moved = pick.inputs.clone();
        state.apply_checked(&pick.edit(moved)).expect("trivial move keeps the invariants");
        return;
    }
    let Some((lo, hi)) = pick.user_range().map(|(l, h)| (key_num(l), key_num(h))) else { return };
    let keys = hi - lo + 1;
    let cap = u64::try_from(u128::from(cfg.live_bytes) * u128::from(keys) / u128::from(cfg.key_space.max(1)))
        .unwrap_or(u64::MAX)
        .max(1);
    let total = pick.input_bytes().min(cap).max(1);
    let min_seq = pick.all_files().map(|(_, f)| f.min_seq).min().unwrap_or(0);
    let max_seq = pick.all_files().map(|(_, f)| f.max_seq).max().unwrap_or(0);
    let pieces = match cfg.opts.style {
        CompactionStyle::SizeTiered => 1,
        CompactionStyle::Leveled if pick.output_level == 0 => 1,
        CompactionStyle::Leveled => total.div_ceil(cfg.opts.target_file_size.max(1)).clamp(1, keys),
    };
    let mut outputs = Vec::new();
    let mut number = state.next_file_number;
    for i in 0..pieces {
        let a = lo + keys * i / pieces;
        let b = lo + keys * (i + 1) / pieces - 1;
        let size = total / pieces + if i + 1 == pieces { total % pieces } else { 0 };
        outputs.push(make_file(number, a, b, size, min_seq, max_seq));
        number += 1;
    }
    report.bytes_compacted += total;
    let mut edit = pick.edit(outputs);
    edit.next_file_number = Some(number);
    state.apply_checked(&edit).expect("compaction keeps the invariants");
}
