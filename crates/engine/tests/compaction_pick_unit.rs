//! Picker unit tests: leveled, size-tiered and manual picks.

use std::collections::HashSet;

use strata_engine::compaction::{pick_compaction, pick_manual, plan_manual};
use strata_engine::key::{internal_key, ValueKind};
use strata_engine::version::{FileMeta, ManifestState, VersionEdit};
use strata_engine::{CompactionOptions, CompactionStyle};

fn file(number: u64, lo: &str, hi: &str, size: u64, seq: u64) -> FileMeta {
    FileMeta {
        number,
        size,
        smallest: internal_key(lo.as_bytes(), seq, ValueKind::Put),
        largest: internal_key(hi.as_bytes(), seq, ValueKind::Put),
        min_seq: seq,
        max_seq: seq,
        num_entries: 10,
        num_deletions: 0,
    }
}

fn state(files: Vec<(usize, FileMeta)>) -> ManifestState {
    let mut s = ManifestState::new(7);
    s.next_file_number = 1000;
    s.last_sequence = 1000;
    s.apply_checked(&VersionEdit { added: files, ..VersionEdit::default() }).expect("valid test state");
    s
}

fn leveled() -> CompactionOptions {
    CompactionOptions {
        style: CompactionStyle::Leveled,
        l0_compaction_trigger: 4,
        l0_stop_trigger: 8,
        level_size_ratio: 10,
        num_levels: 4,
        base_level_size: 1000,
        target_file_size: 100,
    }
}

fn tiered() -> CompactionOptions {
    CompactionOptions { style: CompactionStyle::SizeTiered, ..leveled() }
}

fn numbers(files: &[FileMeta]) -> Vec<u64> {
    files.iter().map(|f| f.number).collect()
}

fn idle() -> HashSet<u64> {
    HashSet::new()
}

#[test]
fn empty_state_picks_nothing() {
    for opts in [leveled(), tiered()] {
        assert_eq!(pick_compaction(&ManifestState::default(), &opts, &idle()), None);
        assert_eq!(pick_compaction(&ManifestState::new(7), &opts, &idle()), None);
        assert_eq!(pick_manual(&ManifestState::new(7), &opts, None, None, 0), None);
    }
}

#[test]
fn leveled_l0_below_trigger_waits() {
    let s = state(vec![(0, file(1, "a", "c", 10, 1)), (0, file(2, "b", "d", 10, 2)), (0, file(3, "a", "z", 10, 3))]);
    assert_eq!(pick_compaction(&s, &leveled(), &idle()), None);
}

#[test]
fn leveled_l0_pick_takes_all_l0_and_overlapping_l1() {
    let s = state(vec![
        (0, file(1, "c", "e", 10, 11)),
        (0, file(2, "d", "f", 10, 12)),
        (0, file(3, "c", "d", 10, 13)),
        (0, file(4, "e", "g", 10, 14)),
        (1, file(10, "a", "b", 10, 1)),
        (1, file(11, "b1", "d", 10, 1)),
        (1, file(12, "f", "h", 10, 1)),
        (1, file(13, "x", "y", 10, 1)),
        (2, file(20, "x", "z", 10, 1)),
    ]);
    let p = pick_compaction(&s, &leveled(), &idle()).expect("L0 at trigger");
    assert_eq!((p.level, p.output_level), (0, 1));
    assert_eq!(numbers(&p.inputs), vec![4, 3, 2, 1], "newest first");
    assert_eq!(numbers(&p.overlapping), vec![11, 12]);
    assert!(p.bottommost, "L2 only has x..z, outside b1..h");
    assert_eq!(p.user_range(), Some((&b"b1"[..], &b"h"[..])));
    assert!(!p.is_trivial_move());

    // A busy L0 file or a busy overlapping L1 file blocks the L0 compaction.
    assert_eq!(pick_compaction(&s, &leveled(), &HashSet::from([2])), None);
    assert_eq!(pick_compaction(&s, &leveled(), &HashSet::from([12])), None);
    // A busy L1 file outside the range does not.
    assert!(pick_compaction(&s, &leveled(), &HashSet::from([13])).is_some());
}

#[test]
fn leveled_bottommost_sees_deeper_overlap() {
    let s = state(vec![
        (0, file(1, "c", "e", 10, 11)),
        (0, file(2, "c", "e", 10, 12)),
        (0, file(3, "c", "e", 10, 13)),
        (0, file(4, "c", "e", 10, 14)),
        (3, file(30, "d", "d", 10, 1)),
    ]);
    let p = pick_compaction(&s, &leveled(), &idle()).expect("pick");
    assert!(p.overlapping.is_empty());
    assert!(!p.bottommost);
}

#[test]
fn leveled_ln_pick_prefers_min_overlap_ratio() {
    // L1 target is 1000 bytes; 1500 bytes there scores 1.5.
    let s = state(vec![
        (1, file(10, "a", "c", 500, 1)),
        (1, file(11, "d", "f", 500, 1)),
        (1, file(12, "g", "i", 500, 1)),
        (2, file(20, "a", "b", 900, 1)),
        (2, file(21, "d", "e", 50, 1)),
        (2, file(22, "h", "h", 300, 1)),
        (3, file(30, "e", "e", 5, 1)),
    ]);
    let p = pick_compaction(&s, &leveled(), &idle()).expect("L1 over target");
    assert_eq!((p.level, p.output_level), (1, 2));
    assert_eq!(numbers(&p.inputs), vec![11]);
    assert_eq!(numbers(&p.overlapping), vec![21]);
    assert!(!p.bottommost, "L3 has e");
    let edit = p.edit(vec![file(100, "d", "f", 440, 1)]);
    assert_eq!(edit.deleted, vec![(1, 11), (2, 21)]);
    assert_eq!(edit.added.len(), 1);
    assert_eq!(edit.added[0].0, 2);

    // With 11 busy (L1 scores 1000/1000) the next best is 12 (overlap 300/500), not 10 (900/500).
    let p = pick_compaction(&s, &leveled(), &HashSet::from([11])).expect("pick");
    assert_eq!(numbers(&p.inputs), vec![12]);
    // Busy bytes do not count towards the score: with 11 and 12 busy L1 holds 500 < 1000.
    assert_eq!(pick_compaction(&s, &leveled(), &HashSet::from([11, 12])), None);
}

#[test]
fn leveled_trivial_move_and_highest_score_wins() {
    // L1: 1500/1000 = 1.5; L2: 25000/10000 = 2.5 → L2 first.
    let s = state(vec![
        (1, file(10, "a", "b", 1500, 1)),
        (2, file(20, "c", "d", 25000, 1)),
        (3, file(30, "x", "y", 10, 1)),
    ]);
    let p = pick_compaction(&s, &leveled(), &idle()).expect("pick");
    assert_eq!((p.level, p.output_level, numbers(&p.inputs)), (2, 3, vec![20]));
    assert!(p.overlapping.is_empty());
    assert!(p.bottommost, "nothing below L3");
    assert!(p.is_trivial_move());
    let p = pick_compaction(&s, &leveled(), &HashSet::from([20])).expect("falls back to L1");
    assert_eq!((p.level, numbers(&p.inputs)), (1, vec![10]));
    assert!(p.bottommost, "L2 and L3 have nothing in a..b");
    assert!(p.is_trivial_move());
}

#[test]
fn leveled_last_level_never_scores() {
    let s = state(vec![(3, file(30, "a", "z", u64::MAX / 4, 1))]);
    assert_eq!(pick_compaction(&s, &leveled(), &idle()), None);
}

#[test]
fn tiered_waits_for_trigger_and_merges_similar_runs() {
    let opts = tiered();
    let s = state(vec![(0, file(1, "a", "z", 100, 1)), (0, file(2, "a", "z", 100, 2)), (0, file(3, "a", "z", 100, 3))]);
    assert_eq!(pick_compaction(&s, &opts, &idle()), None);

    // Newest first: 6 (10), 5 (10), 4 (12), 3 (15), 2 (500), 1 (5000).
    let s = state(vec![
        (0, file(1, "a", "z", 5000, 1)),
        (0, file(2, "a", "z", 500, 2)),
        (0, file(3, "a", "m", 15, 3)),
        (0, file(4, "b", "n", 12, 4)),
        (0, file(5, "c", "o", 10, 5)),
        (0, file(6, "d", "p", 10, 6)),
    ]);
    let p = pick_compaction(&s, &opts, &idle()).expect("four similar runs");
    assert_eq!((p.level, p.output_level), (0, 0));
    assert_eq!(numbers(&p.inputs), vec![6, 5, 4, 3]);
    assert!(p.overlapping.is_empty());
    assert!(!p.bottommost, "does not include the oldest run");
    // A busy run in the middle breaks adjacency: no window of 4 remains.
    assert_eq!(pick_compaction(&s, &opts, &HashSet::from([4])), None);
}

#[test]
fn tiered_prefers_longest_then_smallest_window() {
    let opts = CompactionOptions { l0_stop_trigger: 20, ..tiered() };
    let s = state(vec![
        (0, file(1, "a", "z", 1000, 1)),
        (0, file(2, "a", "z", 1000, 2)),
        (0, file(3, "a", "z", 1000, 3)),
        (0, file(4, "a", "z", 1000, 4)),
        (0, file(5, "a", "z", 5, 5)),
        (0, file(6, "a", "z", 5, 6)),
        (0, file(7, "a", "z", 5, 7)),
        (0, file(8, "a", "z", 5, 8)),
    ]);
    let p = pick_compaction(&s, &opts, &idle()).expect("pick");
    assert_eq!(numbers(&p.inputs), vec![8, 7, 6, 5], "equal length: fewer bytes");
    let mut s2 = s.clone();
    s2.apply(&VersionEdit { deleted: vec![(0, 8)], ..Default::default() });
    let p = pick_compaction(&s2, &opts, &idle()).expect("pick");
    assert_eq!(numbers(&p.inputs), vec![4, 3, 2, 1]);
    assert!(p.bottommost, "includes the oldest run");
}

#[test]
fn tiered_stop_trigger_merges_everything() {
    let opts = CompactionOptions { l0_stop_trigger: 6, ..tiered() };
    // Sizes grow 100x each step: no two are within the ratio.
    let files: Vec<(usize, FileMeta)> = (1..=6).map(|i| (0, file(i, "a", "z", 100u64.pow(6 - i as u32), i))).collect();
    let s = state(files);
    let p = pick_compaction(&s, &opts, &idle()).expect("stop trigger");
    assert_eq!(numbers(&p.inputs), vec![6, 5, 4, 3, 2, 1]);
    assert!(p.bottommost);
    assert!(p.reason.contains("stop"));
    // With run 3 busy, the longest idle stretch is 6, 5, 4.
    let p = pick_compaction(&s, &opts, &HashSet::from([3])).expect("partial");
    assert_eq!(numbers(&p.inputs), vec![6, 5, 4]);
    assert!(!p.bottommost);
    // Below the stop trigger nothing is similar enough.
    let s5 = state((2..=6).map(|i| (0, file(i, "a", "z", 100u64.pow(6 - i as u32), i))).collect());
    assert_eq!(pick_compaction(&s5, &opts, &idle()), None);
}

#[test]
fn manual_leveled_walks_down_and_rewrites_last_level() {
    let opts = leveled();
    let s = state(vec![
        (0, file(1, "c", "e", 10, 12)),
        (0, file(2, "e", "g", 10, 11)),
        (0, file(3, "x", "y", 10, 10)),
        (1, file(10, "a", "d", 10, 1)),
        (1, file(11, "m", "n", 10, 1)),
        (2, file(20, "b", "c", 10, 1)),
        (2, file(21, "f", "z", 10, 1)),
    ]);
    // L0: c..d overlaps file 1, which widens to file 2 (e..g); 3 is left alone.
    let p = pick_manual(&s, &opts, Some(b"c"), Some(b"d"), 0).expect("L0 step");
    assert_eq!((p.level, p.output_level), (0, 1));
    assert_eq!(numbers(&p.inputs), vec![1, 2]);
    assert_eq!(numbers(&p.overlapping), vec![10]);
    assert!(!p.bottommost);
    // L1 → L2.
    let p = pick_manual(&s, &opts, Some(b"c"), Some(b"d"), 1).expect("L1 step");
    assert_eq!((numbers(&p.inputs), p.output_level, numbers(&p.overlapping)), (vec![10], 2, vec![20]));
    assert!(p.bottommost);
    // L2 is the deepest non-empty level: rewritten in place.
    let p = pick_manual(&s, &opts, Some(b"c"), Some(b"d"), 2).expect("L2 step");
    assert_eq!((p.level, p.output_level, numbers(&p.inputs)), (2, 2, vec![20]));
    assert!(p.overlapping.is_empty() && p.bottommost);
    assert_eq!(pick_manual(&s, &opts, Some(b"c"), Some(b"d"), 3), None);
    // Nothing in range.
    assert_eq!(pick_manual(&s, &opts, Some(b"o"), Some(b"p"), 1), None);
    // Reversed range is empty.
    assert_eq!(pick_manual(&s, &opts, Some(b"d"), Some(b"c"), 0), None);
    // Unbounded: everything.
    let plan = plan_manual(&s, &opts, None, None);
    assert_eq!(plan.iter().map(|p| (p.level, p.output_level)).collect::<Vec<_>>(), vec![(0, 1), (1, 2), (2, 2)]);
    assert_eq!(numbers(&plan[0].inputs), vec![1, 2, 3]);
    assert_eq!(numbers(&plan[1].overlapping), vec![20, 21]);
    assert_eq!(numbers(&plan[2].inputs), vec![20, 21]);
    // Open-ended ranges.
    let p = pick_manual(&s, &opts, Some(b"w"), None, 0).expect("x..y");
    assert_eq!(numbers(&p.inputs), vec![3]);
    let p = pick_manual(&s, &opts, None, Some(b"b"), 1).expect("a..d");
    assert_eq!(numbers(&p.inputs), vec![10]);
}

#[test]
fn manual_leveled_only_l0_goes_to_l1() {
    let s = state(vec![(0, file(1, "a", "b", 10, 2)), (0, file(2, "c", "d", 10, 1))]);
    let p = pick_manual(&s, &leveled(), None, None, 0).expect("step");
    assert_eq!((p.level, p.output_level, numbers(&p.inputs)), (0, 1, vec![1, 2]));
    assert!(p.bottommost);
    assert_eq!(pick_manual(&s, &leveled(), None, None, 1), None);
}

#[test]
fn manual_tiered_merges_a_contiguous_span() {
    let opts = tiered();
    let s = state(vec![
        (0, file(1, "a", "c", 100, 1)),
        (0, file(2, "x", "z", 100, 2)),
        (0, file(3, "b", "d", 100, 3)),
        (0, file(4, "x", "z", 100, 4)),
    ]);
    // Runs 3 and 1 overlap b..b; run 2 sits between them and is included.
    let p = pick_manual(&s, &opts, Some(b"b"), Some(b"b"), 0).expect("step");
    assert_eq!((p.level, p.output_level), (0, 0));
    assert_eq!(numbers(&p.inputs), vec![3, 2, 1]);
    assert!(p.bottommost);
    let p = pick_manual(&s, &opts, Some(b"y"), None, 0).expect("step");
    assert_eq!(numbers(&p.inputs), vec![4, 3, 2]);
    assert!(!p.bottommost);
    assert_eq!(pick_manual(&s, &opts, None, None, 1), None);
    assert_eq!(pick_manual(&s, &opts, Some(b"m"), Some(b"n"), 0), None);
}
