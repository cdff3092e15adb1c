//! ConcatIterator over a run of memtables standing in for SSTables: lazy opening, walks and
//! seeks across source boundaries, and errors from `open_iter`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use strata_engine::iter::{BoxedIter, ConcatIterator, InternalIterator, IterSource};
use strata_engine::key::{compare_internal, internal_key, seek_key, ValueKind};
use strata_engine::memtable::MemTable;
use strata_engine::{Error, Result};

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

fn key_of(i: usize) -> Vec<u8> {
    format!("k{:03}", i).into_bytes()
}

/// A memtable posing as a table file.
struct MemSource {
    mem: Arc<MemTable>,
    smallest: Vec<u8>,
    largest: Vec<u8>,
    opens: Arc<AtomicUsize>,
    fail: bool,
}

impl MemSource {
    fn new(mem: Arc<MemTable>, opens: Arc<AtomicUsize>) -> Self {
        let mut it = mem.iter();
        it.seek_to_first().unwrap();
        let smallest = it.key().to_vec();
        it.seek_to_last().unwrap();
        let largest = it.key().to_vec();
        MemSource { mem, smallest, largest, opens, fail: false }
    }
}

impl IterSource for MemSource {
    fn smallest(&self) -> &[u8] {
        &self.smallest
    }
    fn largest(&self) -> &[u8] {
        &self.largest
    }
    fn open_iter(&self) -> Result<BoxedIter> {
        if self.fail {
            return Err(Error::corruption(None, None, "cannot open"));
        }
        self.opens.fetch_add(1, AtomicOrdering::Relaxed);
        Ok(Box::new(self.mem.iter()))
    }
}

/// Builds `n` sources over consecutive key ranges; returns them and the sorted model.
/// A user key's versions may straddle two sources, as in a real level.
type Model = Vec<(Vec<u8>, Vec<u8>)>;

fn build(n: usize, rng: &mut Rng, opens: &Arc<AtomicUsize>) -> (Vec<Arc<dyn IterSource>>, Model) {
    let mut model = Vec::new();
    let mut seq = 1000u64;
    for k in 0..(n * 10) {
        for _ in 0..(1 + rng.below(3)) {
            seq -= 1;
            let kind = if rng.below(4) == 0 { ValueKind::Delete } else { ValueKind::Put };
            let v = if kind == ValueKind::Put { format!("v{seq}").into_bytes() } else { Vec::new() };
            model.push((internal_key(&key_of(k), seq, kind), v));
        }
    }
    model.sort_by(|a, b| compare_internal(&a.0, &b.0));
    // Cut the sorted run into `n` non-empty pieces at random points.
    let mut cuts: Vec<usize> = (1..model.len()).collect();
    for i in (1..cuts.len()).rev() {
        cuts.swap(i, rng.below(i + 1));
    }
    let mut cuts: Vec<usize> = cuts.into_iter().take(n - 1).collect();
    cuts.sort_unstable();
    cuts.insert(0, 0);
    cuts.push(model.len());
    let mut sources: Vec<Arc<dyn IterSource>> = Vec::new();
    for w in cuts.windows(2) {
        let mem = Arc::new(MemTable::new());
        for (ikey, v) in &model[w[0]..w[1]] {
            let p = strata_engine::key::parse_internal_key(ikey).unwrap();
            mem.add(p.seq, p.kind, p.user_key, v).unwrap();
        }
        sources.push(Arc::new(MemSource::new(mem, Arc::clone(opens))));
    }
    (sources, model)
}

fn check_at(it: &dyn InternalIterator, model: &[(Vec<u8>, Vec<u8>)], pos: Option<usize>, step: usize) {
    match pos {
        None => assert!(!it.valid(), "step {step}: expected invalid"),
        Some(i) => {
            assert!(it.valid(), "step {step}: expected entry {i}");
            assert_eq!(it.key(), model[i].0.as_slice(), "step {step}");
            assert_eq!(it.value(), model[i].1.as_slice(), "step {step}");
        }
    }
}

#[test]
fn concat_random_walk_matches_model() {
    let mut rng = Rng(4242);
    for n in 1..=6 {
        let opens = Arc::new(AtomicUsize::new(0));
        let (sources, model) = build(n, &mut rng, &opens);
        let mut it = ConcatIterator::new(sources);
        assert!(!it.valid());
        // Full scans.
        it.seek_to_first().unwrap();
        for i in 0..model.len() {
            check_at(&it, &model, Some(i), i);
            it.next().unwrap();
        }
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        for i in (0..model.len()).rev() {
            check_at(&it, &model, Some(i), i);
            it.prev().unwrap();
        }
        assert!(!it.valid());
        let mut pos: Option<usize> = None;
        for step in 0..3000 {
            match rng.below(9) {
                8 => {
                    // A forward seek to a target at or after the current entry.
                    let Some(p) = pos else { continue };
                    let j = p + rng.below(model.len() - p);
                    let target = if rng.below(2) == 0 {
                        model[j].0.clone()
                    } else {
                        seek_key(strata_engine::key::user_key(&model[j].0), rng.below(1100) as u64)
                    };
                    let target = if compare_internal(&target, &model[p].0) == Ordering::Less {
                        model[p].0.clone()
                    } else {
                        target
                    };
                    it.seek_forward(&target).unwrap();
                    let i = model.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
                    pos = (i < model.len()).then_some(i);
                }
                0 => {
                    it.seek_to_first().unwrap();
                    pos = Some(0);
                }
                1 => {
                    it.seek_to_last().unwrap();
                    pos = Some(model.len() - 1);
                }
                2 => {
                    let target = seek_key(&key_of(rng.below(n * 10 + 2)), rng.below(1100) as u64);
                    it.seek(&target).unwrap();
                    let i = model.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
                    pos = (i < model.len()).then_some(i);
                }
                3 => {
                    let target = seek_key(&key_of(rng.below(n * 10 + 2)), rng.below(1100) as u64);
                    it.seek_for_prev(&target).unwrap();
                    let i = model.partition_point(|e| compare_internal(&e.0, &target) != Ordering::Greater);
                    pos = i.checked_sub(1);
                }
                4 | 5 => {
                    it.next().unwrap();
                    pos = pos.and_then(|p| (p + 1 < model.len()).then_some(p + 1));
                }
                _ => {
                    it.prev().unwrap();
                    pos = pos.and_then(|p| p.checked_sub(1));
                }
            }
            check_at(&it, &model, pos, step);
        }
    }
}

#[test]
fn concat_opens_only_what_it_needs() {
    let mut rng = Rng(99);
    let opens = Arc::new(AtomicUsize::new(0));
    let (sources, model) = build(5, &mut rng, &opens);
    let third_smallest = sources[2].smallest().to_vec();
    let mut it = ConcatIterator::new(sources);
    assert_eq!(opens.load(AtomicOrdering::Relaxed), 0, "nothing opened before positioning");
    it.seek(&third_smallest).unwrap();
    assert_eq!(opens.load(AtomicOrdering::Relaxed), 1);
    assert_eq!(it.key(), third_smallest.as_slice());
    // Seeking within the same source re-uses the open iterator.
    it.seek(&third_smallest).unwrap();
    assert_eq!(opens.load(AtomicOrdering::Relaxed), 1);
    // Stepping back over the boundary opens the previous source only.
    it.prev().unwrap();
    assert_eq!(opens.load(AtomicOrdering::Relaxed), 2);
    let i = model.iter().position(|e| e.0 == third_smallest).unwrap();
    assert_eq!(it.key(), model[i - 1].0.as_slice());
    // A seek past everything opens nothing and leaves the iterator invalid.
    it.seek(&seek_key(b"zzz", 5)).unwrap();
    assert!(!it.valid());
    assert_eq!(opens.load(AtomicOrdering::Relaxed), 2);
    it.seek_for_prev(&seek_key(b"a", 5)).unwrap();
    assert!(!it.valid());
}

#[test]
fn concat_empty_run() {
    let mut it = ConcatIterator::new(Vec::new());
    it.seek_to_first().unwrap();
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    assert!(!it.valid());
    it.seek(b"anything").unwrap();
    assert!(!it.valid());
    it.seek_for_prev(b"anything").unwrap();
    assert!(!it.valid());
    it.next().unwrap();
    it.prev().unwrap();
    assert_eq!(it.key(), b"");
    assert_eq!(it.value(), b"");
}

#[test]
fn concat_open_errors_propagate() {
    let opens = Arc::new(AtomicUsize::new(0));
    let a = Arc::new(MemTable::new());
    a.add(1, ValueKind::Put, b"a", b"1").unwrap();
    let b = Arc::new(MemTable::new());
    b.add(2, ValueKind::Put, b"b", b"2").unwrap();
    let mut bad = MemSource::new(b, Arc::clone(&opens));
    bad.fail = true;
    let sources: Vec<Arc<dyn IterSource>> = vec![Arc::new(MemSource::new(a, Arc::clone(&opens))), Arc::new(bad)];
    let mut it = ConcatIterator::new(sources);
    it.seek_to_first().unwrap();
    assert_eq!(it.value(), b"1");
    assert!(it.next().is_err());
    assert!(!it.valid());
    assert!(it.seek_to_last().is_err());
    it.seek_to_first().unwrap();
    assert!(it.valid());
}
