//! Memtable: point lookups at snapshots, iteration in both directions, seeks, and readers
//! running while one writer inserts.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use strata_engine::iter::InternalIterator;
use strata_engine::key::{compare_internal, internal_key, seek_key, ValueKind};
use strata_engine::memtable::MemTable;

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

fn key_of(i: usize) -> Vec<u8> {
    format!("key{:03}", i).into_bytes()
}

#[test]
fn empty_memtable() {
    let m = Arc::new(MemTable::new());
    assert!(m.is_empty());
    assert_eq!(m.len(), 0);
    assert_eq!(m.max_seq(), 0);
    assert_eq!(m.approximate_size(), 0);
    assert_eq!(m.get(b"x", 10), None);
    let mut it = m.iter();
    assert!(!it.valid());
    assert_eq!(it.key(), b"");
    assert_eq!(it.value(), b"");
    it.seek_to_first().unwrap();
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    assert!(!it.valid());
    it.seek(b"abcdefghijk").unwrap();
    assert!(!it.valid());
    it.next().unwrap();
    it.prev().unwrap();
    assert!(!it.valid());
}

#[test]
fn size_and_len_grow() {
    let m = MemTable::new();
    m.add(7, ValueKind::Put, b"abc", b"12345").unwrap();
    assert_eq!(m.len(), 1);
    assert!(m.approximate_size() >= 3 + 8 + 5);
    let s1 = m.approximate_size();
    m.add(3, ValueKind::Delete, b"abc", b"").unwrap();
    assert_eq!(m.len(), 2);
    assert!(m.approximate_size() > s1);
    assert_eq!(m.max_seq(), 7);
}

#[test]
fn get_at_snapshots_matches_model() {
    let m = MemTable::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // history[seq] = (key index, kind, value)
    let mut history = Vec::new();
    for seq in 1..=600u64 {
        let k = rng.below(40);
        let kind = if rng.below(4) == 0 { ValueKind::Delete } else { ValueKind::Put };
        let value = if kind == ValueKind::Put { format!("v{seq}").into_bytes() } else { Vec::new() };
        m.add(seq, kind, &key_of(k), &value).unwrap();
        history.push((seq, k, kind, value));
    }
    for snap in [0u64, 1, 2, 50, 299, 300, 599, 600, 601, u64::MAX] {
        for k in 0..41 {
            let expected = history
                .iter()
                .rev()
                .find(|(s, kk, _, _)| *kk == k && *s <= snap)
                .map(|(_, _, kind, v)| (*kind, Bytes::from(v.clone())));
            assert_eq!(m.get(&key_of(k), snap), expected, "key {k} at {snap}");
        }
    }
    // A key that is a prefix of stored keys is not confused with them.
    assert_eq!(m.get(b"key", 1000), None);
    assert_eq!(m.get(b"key00", 1000), None);
}

/// Sorted (internal key, value) pairs of the model.
fn sorted_model(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = entries.to_vec();
    v.sort_by(|a, b| compare_internal(&a.0, &b.0));
    v
}

fn check_at(it: &dyn InternalIterator, model: &[(Vec<u8>, Vec<u8>)], pos: Option<usize>) {
    match pos {
        None => assert!(!it.valid()),
        Some(i) => {
            assert!(it.valid(), "expected entry {i}");
            assert_eq!(it.key(), model[i].0.as_slice());
            assert_eq!(it.value(), model[i].1.as_slice());
        }
    }
}

/// A full forward scan, then a full backward one, each landing on `model`'s entries in order.
fn check_scans(it: &mut dyn InternalIterator, model: &[(Vec<u8>, Vec<u8>)]) {
    it.seek_to_first().unwrap();
    for i in 0..model.len() {
        check_at(&*it, model, Some(i));
        it.next().unwrap();
    }
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    for i in (0..model.len()).rev() {
        check_at(&*it, model, Some(i));
        it.prev().unwrap();
    }
    assert!(!it.valid());
}

#[test]
fn iterator_walks_and_seeks_like_the_model() {
    let m = Arc::new(MemTable::new());
    let mut rng = Rng(12345);
    let mut entries = Vec::new();
    for seq in 1..=300u64 {
        let k = rng.below(30);
        let kind = if rng.below(5) == 0 { ValueKind::Delete } else { ValueKind::Put };
        let value = if kind == ValueKind::Put { format!("v{seq}").into_bytes() } else { Vec::new() };
        m.add(seq, kind, &key_of(k), &value).unwrap();
        entries.push((internal_key(&key_of(k), seq, kind), value));
    }
    let model = sorted_model(&entries);
    let mut it = m.iter();

    // Full forward and backward scans.
    check_scans(&mut it, &model);

    // Random walk mixing seeks and steps in both directions.
    let mut pos: Option<usize> = None;
    for _ in 0..3000 {
        match rng.below(6) {
            0 => {
                it.seek_to_first().unwrap();
                pos = (!model.is_empty()).then_some(0);
            }
            1 => {
                it.seek_to_last().unwrap();
                pos = model.len().checked_sub(1);
            }
            2 | 3 => {
                let target = seek_key(&key_of(rng.below(32)), rng.below(320) as u64);
                if rng.below(2) == 0 {
                    it.seek(&target).unwrap();
                    let i = model.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
                    pos = (i < model.len()).then_some(i);
                } else {
                    it.seek_for_prev(&target).unwrap();
                    let i = model.partition_point(|e| compare_internal(&e.0, &target) != Ordering::Greater);
                    pos = i.checked_sub(1);
                }
            }
            4 => {
                it.next().unwrap();
                pos = pos.and_then(|p| (p + 1 < model.len()).then_some(p + 1));
            }
            _ => {
                it.prev().unwrap();
                pos = pos.and_then(|p| p.checked_sub(1));
            }
        }
        check_at(&it, &model, pos);
    }
}

#[test]
fn iterator_survives_concurrent_inserts() {
    let m = Arc::new(MemTable::new());
    for i in 0..100 {
        m.add(i as u64 + 1, ValueKind::Put, &key_of(i * 2), b"old").unwrap();
    }
    let mut it = m.iter();
    it.seek_to_first().unwrap();
    let mut seen = 0;
    let mut last: Option<Vec<u8>> = None;
    let mut i = 0;
    while it.valid() {
        if let Some(l) = &last {
            assert_eq!(compare_internal(l, it.key()), Ordering::Less, "order kept under inserts");
        }
        last = Some(it.key().to_vec());
        seen += 1;
        // Insert both behind and ahead of the cursor while iterating.
        if i < 100 {
            m.add(1000 + i as u64, ValueKind::Put, &key_of(i * 2 + 1), b"new").unwrap();
            i += 1;
        }
        it.next().unwrap();
    }
    // All 100 old entries are seen, plus whichever new ones were inserted ahead of the cursor.
    assert!((100..=200).contains(&seen), "saw {seen}");
    assert_eq!(m.len(), 200);
}

#[test]
fn concurrent_readers_while_one_writer_inserts() {
    const N: u64 = 20_000;
    const KEYS: u64 = 257;
    let m = Arc::new(MemTable::new());
    let done = Arc::new(AtomicBool::new(false));
    let value_of = |seq: u64| format!("value-{seq}").into_bytes();
    let key_for = |seq: u64| format!("k{:05}", (seq * 7919) % KEYS).into_bytes();

    let mut readers = Vec::new();
    for r in 0..4u64 {
        let m = Arc::clone(&m);
        let done = Arc::clone(&done);
        readers.push(thread::spawn(move || {
            let mut rng = Rng(r * 7 + 1);
            let mut checks = 0u64;
            while !done.load(AtomicOrdering::Acquire) || checks < 200 {
                let snap = m.max_seq();
                if snap == 0 {
                    continue;
                }
                // Point lookup: the newest seq <= snap writing this key.
                let seq = rng.next() % snap + 1;
                let k = key_for(seq);
                let mut expect = snap;
                while key_for(expect) != k {
                    expect -= 1;
                }
                let got = m.get(&k, snap);
                assert_eq!(got, Some((ValueKind::Put, Bytes::from(value_of(expect)))));
                checks += 1;
                // A short scan sees entries in order; entries at or below snap are all there.
                if rng.below(50) == 0 {
                    let mut it = m.iter();
                    it.seek(&seek_key(&k, snap)).unwrap();
                    assert!(it.valid());
                    assert_eq!(it.value(), value_of(expect).as_slice());
                    let mut prev = it.key().to_vec();
                    for _ in 0..20 {
                        it.next().unwrap();
                        if !it.valid() {
                            break;
                        }
                        assert_eq!(compare_internal(&prev, it.key()), Ordering::Less);
                        prev = it.key().to_vec();
                    }
                    for _ in 0..20 {
                        it.prev().unwrap();
                        if !it.valid() {
                            break;
                        }
                        assert_eq!(compare_internal(it.key(), &prev), Ordering::Less);
                        prev = it.key().to_vec();
                    }
                }
            }
            checks
        }));
    }
    for seq in 1..=N {
        m.add(seq, ValueKind::Put, &key_for(seq), &value_of(seq)).unwrap();
    }
    done.store(true, AtomicOrdering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(m.len() as u64, N);
    assert_eq!(m.max_seq(), N);
}

/// A key that meets the traps of comparing keys as zero-padded big-endian words: one of a few
/// stems ("", "a", "a\0", runs of zeros, 16 bytes that end a second word) and a tail of up to
/// 10 bytes from {0x00, 0x01, 0x80}, so that keys are prefixes of each other, differ only in
/// trailing zeros ("a" against "a\0"), share their first 16 bytes and end at every offset
/// within a word.
fn tricky_key(rng: &mut Rng) -> Vec<u8> {
    const STEMS: [&[u8]; 7] =
        [b"", b"a", b"a\0", &[0; 7], &[0; 8], &[0; 16], b"\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\0\0\0\0\x80"];
    let mut k = STEMS[rng.below(STEMS.len())].to_vec();
    for _ in 0..rng.below(11) {
        k.push([0u8, 0, 1, 0x80][rng.below(4)]);
    }
    k
}

/// (user key, Reverse(seq)) -> (kind, value): the internal-key order, by byte-wise comparison.
type OrderModel = std::collections::BTreeMap<(Vec<u8>, std::cmp::Reverse<u64>), (ValueKind, Vec<u8>)>;

/// The memtable holds exactly the model's entries, in the model's order (both directions),
/// and seeks and gets land where the model says.
fn check_against(m: &Arc<MemTable>, model: &OrderModel, rng: &mut Rng, last_seq: u64) {
    let entries: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|((k, s), (kind, v))| (internal_key(k, s.0, *kind), v.clone())).collect();
    assert_eq!(m.len(), entries.len());
    let mut it = m.iter();
    check_scans(&mut it, &entries);
    for _ in 0..400 {
        let k = tricky_key(rng);
        let snap = rng.next() % (last_seq + 2);
        let target = seek_key(&k, snap);
        let i = entries.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
        it.seek(&target).unwrap();
        check_at(&it, &entries, (i < entries.len()).then_some(i));
        let want = model
            .range((k.clone(), std::cmp::Reverse(snap))..)
            .next()
            .filter(|((uk, _), _)| *uk == k)
            .map(|(_, (kind, v))| (*kind, Bytes::from(v.clone())));
        assert_eq!(m.get(&k, snap), want, "get {k:?} at {snap}");
    }
}

#[test]
fn keys_order_byte_wise_through_add_and_add_batch() {
    use strata_engine::{WriteBatch, SYSTEM_PREFIX};
    let mut rng = Rng(0x5eed_0bad_cafe_f00d);

    // One at a time, in random order.
    let m = Arc::new(MemTable::new());
    let mut model = OrderModel::new();
    for seq in 1..=3000u64 {
        let k = tricky_key(&mut rng);
        let kind = if rng.below(5) == 0 { ValueKind::Delete } else { ValueKind::Put };
        let v = if kind == ValueKind::Put { format!("v{seq}").into_bytes() } else { Vec::new() };
        m.add(seq, kind, &k, &v).unwrap();
        model.insert((k, std::cmp::Reverse(seq)), (kind, v));
    }
    check_against(&m, &model, &mut rng, 3000);

    // In batches (sorted before inserting): random order with repeated keys, ascending
    // batches, and system keys, which all share their first 8 bytes.
    let m = Arc::new(MemTable::new());
    let mut model = OrderModel::new();
    let mut seq = 1u64;
    for round in 0..120 {
        let mut keys: Vec<(bool, Vec<u8>)> =
            (0..1 + rng.below(60)).map(|_| (rng.below(4) == 0, tricky_key(&mut rng))).collect();
        if round % 3 == 0 {
            keys.sort();
            keys.dedup();
        }
        let mut b = WriteBatch::new();
        for (i, (system, k)) in keys.into_iter().enumerate() {
            let s = seq + i as u64;
            let put = rng.below(5) != 0;
            let v = if put { format!("v{s}").into_bytes() } else { Vec::new() };
            match (system, put) {
                (false, true) => b.put(&k, &v).unwrap(),
                (false, false) => b.delete(&k).unwrap(),
                (true, true) => b.put_system(&k, &v).unwrap(),
                (true, false) => b.delete_system(&k).unwrap(),
            }
            let stored = if system { [&SYSTEM_PREFIX[..], &k].concat() } else { k };
            let kind = if put { ValueKind::Put } else { ValueKind::Delete };
            model.insert((stored, std::cmp::Reverse(s)), (kind, v));
        }
        m.add_batch(seq, &b).unwrap();
        seq += u64::from(b.count());
    }
    check_against(&m, &model, &mut rng, seq - 1);
}
