//! DbIter over a MergingIterator of memtables, against a BTreeMap model: random histories,
//! snapshots, bounds of every kind, both directions and seeks in the middle.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use proptest::prelude::*;
use strata_engine::iter::{BoxedIter, DbIter, MergingIterator};
use strata_engine::key::{SeqNo, ValueKind};
use strata_engine::memtable::MemTable;

const USER_KEYS: &[&[u8]] = &[b"a", b"ab", b"abc", b"b", b"b\0", b"c", b"d", b"da"];
/// Bound and seek targets: the user keys plus keys between and around them.
const PROBE_KEYS: &[&[u8]] =
    &[b"a", b"ab", b"abc", b"b", b"b\0", b"c", b"d", b"da", b"", b"aa", b"bz", b"e", b"\xff", b"\0"];

#[derive(Debug, Clone)]
struct Op {
    key: usize,
    delete: bool,
    table: usize,
    value: u8,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    (0..USER_KEYS.len(), prop::bool::weighted(0.3), 0..4usize, any::<u8>()).prop_map(|(key, delete, table, value)| Op {
        key,
        delete,
        table,
        value,
    })
}

fn bound_strategy() -> impl Strategy<Value = Bound<Vec<u8>>> {
    (0..3u8, 0..PROBE_KEYS.len()).prop_map(|(kind, k)| {
        let key = PROBE_KEYS[k].to_vec();
        match kind {
            0 => Bound::Unbounded,
            1 => Bound::Included(key),
            _ => Bound::Excluded(key),
        }
    })
}

fn value_of(op: &Op, seq: SeqNo) -> Vec<u8> {
    vec![op.value, (seq % 251) as u8]
}

/// Builds the memtables and returns the merged inner iterator.
fn build(ops: &[Op], ntables: usize) -> BoxedIter {
    let tables: Vec<Arc<MemTable>> = (0..ntables).map(|_| Arc::new(MemTable::new())).collect();
    for (i, op) in ops.iter().enumerate() {
        let seq = i as SeqNo + 1;
        let kind = if op.delete { ValueKind::Delete } else { ValueKind::Put };
        let value = if op.delete { Vec::new() } else { value_of(op, seq) };
        tables[op.table % ntables].add(seq, kind, USER_KEYS[op.key], &value).unwrap();
    }
    Box::new(MergingIterator::new(tables.iter().map(|t| Box::new(t.iter()) as BoxedIter).collect()))
}

/// Visible key/values at `snap`, within bounds, ascending.
fn model(ops: &[Op], snap: SeqNo, lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut m = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let seq = i as SeqNo + 1;
        if seq > snap {
            break;
        }
        if op.delete {
            m.remove(USER_KEYS[op.key]);
        } else {
            m.insert(USER_KEYS[op.key].to_vec(), value_of(op, seq));
        }
    }
    m.range::<Vec<u8>, _>((lower.clone(), upper.clone())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A BTreeMap range panics on inverted bounds; treat those as empty.
fn bounds_ok(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l <= u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => l < u,
        _ => true,
    }
}

fn drain(it: &mut DbIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(e) = it.next_entry().unwrap() {
        out.push(e);
    }
    assert_eq!(it.next_entry().unwrap(), None, "stays exhausted");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn db_iter_matches_model(
        ops in prop::collection::vec(op_strategy(), 0..60),
        ntables in 1..=4usize,
        snap_pick in 0..70u64,
        lower in bound_strategy(),
        upper in bound_strategy(),
        reverse in any::<bool>(),
        seeks in prop::collection::vec((0..PROBE_KEYS.len(), 0..6usize), 0..5),
        explicit_start in any::<bool>(),
    ) {
        let snap = snap_pick.min(ops.len() as u64 + 2);
        let expected = if bounds_ok(&lower, &upper) { model(&ops, snap, &lower, &upper) } else { Vec::new() };
        let mut expected_dir = expected.clone();
        if reverse {
            expected_dir.reverse();
        }

        // Full scan.
        let mut it = DbIter::new(build(&ops, ntables), snap, lower.clone(), upper.clone(), reverse);
        if explicit_start {
            it.seek_to_start().unwrap();
        }
        prop_assert_eq!(drain(&mut it), expected_dir.clone());

        // Seeks, each followed by a few steps; the iterator is re-used across seeks.
        let mut it = DbIter::new(build(&ops, ntables), snap, lower.clone(), upper.clone(), reverse);
        for (t, n) in seeks {
            let target = PROBE_KEYS[t];
            it.seek(target).unwrap();
            let want: Vec<_> = if reverse {
                expected.iter().rev().filter(|(k, _)| k.as_slice() <= target).take(n).cloned().collect()
            } else {
                expected.iter().filter(|(k, _)| k.as_slice() >= target).take(n).cloned().collect()
            };
            let mut got = Vec::new();
            for _ in 0..n {
                match it.next_entry().unwrap() {
                    Some(e) => got.push(e),
                    None => break,
                }
            }
            prop_assert_eq!(got, want, "seek to {:?}", target);
        }
        // Back to the start.
        it.seek_to_start().unwrap();
        prop_assert_eq!(drain(&mut it), expected_dir);
    }
}

#[test]
fn many_versions_per_key_both_directions() {
    // 50 keys, each with 20 versions alternating put/delete, spread over 3 memtables.
    let tables: Vec<Arc<MemTable>> = (0..3).map(|_| Arc::new(MemTable::new())).collect();
    let mut seq = 0;
    let mut history: Vec<(SeqNo, usize, Option<Vec<u8>>)> = Vec::new();
    for round in 0..20 {
        for k in 0..50usize {
            seq += 1;
            let key = format!("key{k:02}").into_bytes();
            let del = (k + round) % 3 == 0;
            let value = format!("v{seq}").into_bytes();
            if del {
                tables[seq as usize % 3].add(seq, ValueKind::Delete, &key, b"").unwrap();
                history.push((seq, k, None));
            } else {
                tables[seq as usize % 3].add(seq, ValueKind::Put, &key, &value).unwrap();
                history.push((seq, k, Some(value)));
            }
        }
    }
    for snap in [0, 1, 49, 50, 51, 333, 500, 999, 1000, 5000] {
        let mut m = BTreeMap::new();
        for (s, k, v) in &history {
            if *s <= snap {
                let key = format!("key{k:02}").into_bytes();
                match v {
                    Some(v) => m.insert(key, v.clone()),
                    None => m.remove(&key),
                };
            }
        }
        let fwd: Vec<_> = m.clone().into_iter().collect();
        let mk = || -> BoxedIter {
            Box::new(MergingIterator::new(tables.iter().map(|t| Box::new(t.iter()) as BoxedIter).collect()))
        };
        let mut it = DbIter::new(mk(), snap, Bound::Unbounded, Bound::Unbounded, false);
        assert_eq!(it.sequence(), snap);
        assert_eq!(drain(&mut it), fwd, "forward at {snap}");
        let mut it = DbIter::new(mk(), snap, Bound::Unbounded, Bound::Unbounded, true);
        let mut rev = fwd.clone();
        rev.reverse();
        assert_eq!(drain(&mut it), rev, "reverse at {snap}");
    }
}

#[test]
fn empty_inner_and_huge_snapshot() {
    let mem = Arc::new(MemTable::new());
    let mut it = DbIter::new(Box::new(mem.iter()), u64::MAX, Bound::Unbounded, Bound::Unbounded, true);
    assert_eq!(it.next_entry().unwrap(), None);
    mem.add(1, ValueKind::Put, b"k", b"v").unwrap();
    let mut it = DbIter::new(Box::new(mem.iter()), u64::MAX, Bound::Unbounded, Bound::Unbounded, false);
    assert_eq!(it.next_entry().unwrap(), Some((b"k".to_vec(), b"v".to_vec())));
    assert_eq!(it.next_entry().unwrap(), None);
}
