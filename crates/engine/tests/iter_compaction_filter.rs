//! CompactionFilter against a brute-force model: for every reader (each snapshot and the
//! latest sequence) the visible state of every key is unchanged by filtering.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use strata_engine::iter::CompactionFilter;
use strata_engine::key::{compare_internal, internal_key, parse_internal_key, SeqNo, ValueKind};

const KEYS: &[&[u8]] = &[b"a", b"ab", b"b", b"c", b"c\0"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    ikey: Vec<u8>,
    value: Vec<u8>,
}

/// The newest entry of `user_key` with sequence `<= reader`: (seq, kind, value).
fn newest_visible(entries: &[Entry], user_key: &[u8], reader: SeqNo) -> Option<(SeqNo, ValueKind, Vec<u8>)> {
    entries
        .iter()
        .filter_map(|e| {
            let p = parse_internal_key(&e.ikey).unwrap();
            (p.user_key == user_key && p.seq <= reader).then(|| (p.seq, p.kind, e.value.clone()))
        })
        .max_by_key(|(s, _, _)| *s)
}

fn resolved(v: Option<(SeqNo, ValueKind, Vec<u8>)>) -> Option<Vec<u8>> {
    v.and_then(|(_, kind, value)| (kind == ValueKind::Put).then_some(value))
}

fn run_filter(entries: &[Entry], snapshots: &[SeqNo], latest: SeqNo, bottommost: bool) -> Vec<Entry> {
    let mut f = CompactionFilter::new(snapshots.to_vec(), latest, bottommost);
    entries.iter().filter(|e| !f.should_drop(&e.ikey).unwrap()).cloned().collect()
}

fn history() -> impl Strategy<Value = (Vec<Entry>, SeqNo)> {
    prop::collection::vec((0..KEYS.len(), prop::bool::weighted(0.35), 1..4u64, any::<u8>()), 0..40).prop_map(|ops| {
        let mut seq = 0;
        let mut entries = Vec::new();
        for (k, delete, gap, v) in ops {
            seq += gap;
            let kind = if delete { ValueKind::Delete } else { ValueKind::Put };
            let value = if delete { Vec::new() } else { vec![v] };
            entries.push(Entry { ikey: internal_key(KEYS[k], seq, kind), value });
        }
        entries.sort_by(|a, b| compare_internal(&a.ikey, &b.ikey));
        (entries, seq)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn filtering_preserves_every_readers_view(
        (entries, max_seq) in history(),
        snap_picks in prop::collection::vec(0..130u64, 0..5),
        latest_extra in 0..3u64,
        bottommost in any::<bool>(),
    ) {
        let latest = max_seq + latest_extra;
        let snapshots: Vec<SeqNo> =
            snap_picks.iter().map(|s| s % (max_seq + 2)).collect::<BTreeSet<_>>().into_iter().collect();
        let kept = run_filter(&entries, &snapshots, latest, bottommost);

        let mut readers = snapshots.clone();
        readers.push(latest);
        for &r in &readers {
            for k in KEYS {
                let before = newest_visible(&entries, k, r);
                let after = newest_visible(&kept, k, r);
                if bottommost {
                    prop_assert_eq!(resolved(before), resolved(after), "key {:?} at reader {}", k, r);
                } else {
                    // Older data may lie below: the newest visible entry itself must survive.
                    prop_assert_eq!(before, after, "key {:?} at reader {}", k, r);
                }
            }
        }

        // The filter must also actually collect garbage: every kept entry is needed by a reader.
        for e in &kept {
            let p = parse_internal_key(&e.ikey).unwrap();
            let needed = readers.iter().any(|&r| {
                newest_visible(&entries, p.user_key, r).is_some_and(|(s, _, _)| s == p.seq)
            });
            prop_assert!(needed, "kept an entry no reader sees: {:?}", p);
        }
        if snapshots.is_empty() {
            let users: Vec<_> = kept.iter().map(|e| parse_internal_key(&e.ikey).unwrap().user_key.to_vec()).collect();
            let distinct: BTreeSet<_> = users.iter().cloned().collect();
            prop_assert_eq!(users.len(), distinct.len(), "at most one version per key without snapshots");
            if bottommost {
                prop_assert!(kept.iter().all(|e| parse_internal_key(&e.ikey).unwrap().kind == ValueKind::Put));
            }
        }
    }
}

#[test]
fn stripes_by_example() {
    // Versions of "k" at seqs 10 (put), 8 (delete), 6 (put), 3 (put), 1 (put); snapshots 4 and 8.
    let keys = [
        internal_key(b"k", 10, ValueKind::Put),
        internal_key(b"k", 8, ValueKind::Delete),
        internal_key(b"k", 6, ValueKind::Put),
        internal_key(b"k", 3, ValueKind::Put),
        internal_key(b"k", 1, ValueKind::Put),
    ];
    let drops = |snaps: Vec<SeqNo>, bottommost: bool| -> Vec<bool> {
        let mut f = CompactionFilter::new(snaps, 10, bottommost);
        keys.iter().map(|k| f.should_drop(k).unwrap()).collect()
    };
    // Stripes: (..4] = {3, 1}, (4..8] = {8, 6}, (8..10] = {10}.
    assert_eq!(drops(vec![4, 8], false), vec![false, false, true, false, true]);
    assert_eq!(drops(vec![4, 8], true), vec![false, false, true, false, true]);
    // No snapshots: only the newest survives.
    assert_eq!(drops(vec![], false), vec![false, true, true, true, true]);
    // Snapshot 9 sees the delete; at the bottom the delete is in the oldest stripe and goes,
    // taking everything older with it.
    assert_eq!(drops(vec![9], true), vec![false, true, true, true, true]);
    assert_eq!(drops(vec![9], false), vec![false, false, true, true, true]);
    // A newest-version tombstone at the bottom with no snapshots disappears entirely.
    let mut f = CompactionFilter::new(vec![], 20, true);
    assert!(f.should_drop(&internal_key(b"x", 15, ValueKind::Delete)).unwrap());
    assert!(f.should_drop(&internal_key(b"x", 14, ValueKind::Put)).unwrap());
    assert!(!f.should_drop(&internal_key(b"y", 13, ValueKind::Put)).unwrap());
}

#[test]
fn malformed_keys_are_errors() {
    let mut f = CompactionFilter::new(vec![], 5, true);
    assert!(f.should_drop(b"short").is_err());
    let mut bad = internal_key(b"k", 1, ValueKind::Put);
    let n = bad.len();
    bad[n - 8] = 7; // unknown kind
    assert!(f.should_drop(&bad).is_err());
}
