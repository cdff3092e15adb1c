//! MergingIterator: random walks with direction switches against a sorted model, duplicate
//! keys across children, and error propagation.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::cmp::Ordering;
use std::sync::Arc;

use strata_engine::iter::{BoxedIter, InternalIterator, MergingIterator};
use strata_engine::key::{compare_internal, internal_key, seek_key, ValueKind};
use strata_engine::memtable::MemTable;
use strata_engine::{Error, Result};

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

fn key_of(i: usize) -> Vec<u8> {
    format!("k{:02}", i).into_bytes()
}

fn check_at(it: &dyn InternalIterator, model: &[(Vec<u8>, Vec<u8>)], pos: Option<usize>, step: usize) {
    match pos {
        None => assert!(!it.valid(), "step {step}: expected invalid, at {:?}", it.key()),
        Some(i) => {
            assert!(it.valid(), "step {step}: expected entry {i}");
            assert_eq!(it.key(), model[i].0.as_slice(), "step {step}");
            assert_eq!(it.value(), model[i].1.as_slice(), "step {step}");
        }
    }
}

/// Random walk over `it`, checking against `model` (sorted in the iterator's order).
fn random_walk(it: &mut dyn InternalIterator, model: &[(Vec<u8>, Vec<u8>)], rng: &mut Rng, steps: usize, keys: usize) {
    let mut pos: Option<usize> = None;
    for step in 0..steps {
        match rng.below(9) {
            8 => {
                // A forward seek: a target at or after the current entry (or anywhere when
                // there is none: then it is a fresh seek).
                let floor = pos.map(|p| model[p].0.clone());
                let mut target = seek_key(&key_of(rng.below(keys + 2)), rng.below(400) as u64);
                if let Some(f) = floor.clone().filter(|f| compare_internal(&target, f) == Ordering::Less) {
                    target = if rng.below(2) == 0 {
                        f
                    } else {
                        model[pos.unwrap() + rng.below(model.len() - pos.unwrap())].0.clone()
                    };
                    it.seek_forward(&target).unwrap();
                } else if floor.is_some() {
                    it.seek_forward(&target).unwrap();
                } else {
                    it.seek(&target).unwrap();
                }
                let i = model.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
                // On the current entry's own key a forward-positioned merge stays put (with
                // copies of one internal key in several children, which the engine never
                // writes, a seek goes back to the first copy: either is that key).
                let i = match pos {
                    Some(p)
                        if compare_internal(&model[p].0, &target) == Ordering::Equal
                            && it.value() == model[p].1.as_slice() =>
                    {
                        p
                    }
                    _ => i,
                };
                pos = (i < model.len()).then_some(i);
            }
            0 => {
                it.seek_to_first().unwrap();
                pos = (!model.is_empty()).then_some(0);
            }
            1 => {
                it.seek_to_last().unwrap();
                pos = model.len().checked_sub(1);
            }
            2 => {
                let target = seek_key(&key_of(rng.below(keys + 2)), rng.below(400) as u64);
                it.seek(&target).unwrap();
                let i = model.partition_point(|e| compare_internal(&e.0, &target) == Ordering::Less);
                pos = (i < model.len()).then_some(i);
            }
            3 => {
                let target = seek_key(&key_of(rng.below(keys + 2)), rng.below(400) as u64);
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
        check_at(it, model, pos, step);
    }
}

#[test]
fn merge_random_walk_with_direction_switches() {
    let mut rng = Rng(0xdead_beef);
    for round in 0..20 {
        let nchildren = 1 + round % 6;
        let keys = 25;
        let tables: Vec<Arc<MemTable>> = (0..nchildren).map(|_| Arc::new(MemTable::new())).collect();
        let mut model = Vec::new();
        for seq in 1..=(rng.below(300) as u64) {
            let t = rng.below(nchildren);
            let k = key_of(rng.below(keys));
            let kind = if rng.below(4) == 0 { ValueKind::Delete } else { ValueKind::Put };
            let v = if kind == ValueKind::Put { format!("v{seq}").into_bytes() } else { Vec::new() };
            tables[t].add(seq, kind, &k, &v).unwrap();
            model.push((internal_key(&k, seq, kind), v));
        }
        model.sort_by(|a, b| compare_internal(&a.0, &b.0));
        let children: Vec<BoxedIter> = tables.iter().map(|t| Box::new(t.iter()) as BoxedIter).collect();
        let mut it = MergingIterator::new(children);
        assert_eq!(it.num_children(), nchildren);
        random_walk(&mut it, &model, &mut rng, 2000, keys);
    }
}

#[test]
fn merge_explicit_direction_switch() {
    let a = Arc::new(MemTable::new());
    let b = Arc::new(MemTable::new());
    let c = Arc::new(MemTable::new());
    a.add(1, ValueKind::Put, b"a", b"a1").unwrap();
    b.add(2, ValueKind::Put, b"b", b"b2").unwrap();
    c.add(3, ValueKind::Put, b"c", b"c3").unwrap();
    a.add(4, ValueKind::Put, b"d", b"d4").unwrap();
    b.add(5, ValueKind::Put, b"b", b"b5").unwrap();
    let children: Vec<BoxedIter> = vec![Box::new(a.iter()), Box::new(b.iter()), Box::new(c.iter())];
    let mut it = MergingIterator::new(children);
    let val = |it: &MergingIterator| String::from_utf8(it.value().to_vec()).unwrap();
    it.seek_to_first().unwrap();
    assert_eq!(val(&it), "a1");
    it.next().unwrap();
    assert_eq!(val(&it), "b5");
    it.next().unwrap();
    assert_eq!(val(&it), "b2");
    it.prev().unwrap();
    assert_eq!(val(&it), "b5");
    it.prev().unwrap();
    assert_eq!(val(&it), "a1");
    it.prev().unwrap();
    assert!(!it.valid());
    it.seek_for_prev(&internal_key(b"c", 0, ValueKind::Delete)).unwrap();
    assert_eq!(val(&it), "c3");
    it.next().unwrap();
    assert_eq!(val(&it), "d4");
    it.prev().unwrap();
    assert_eq!(val(&it), "c3");
    it.prev().unwrap();
    assert_eq!(val(&it), "b2");
    it.next().unwrap();
    assert_eq!(val(&it), "c3");
    it.next().unwrap();
    it.next().unwrap();
    assert!(!it.valid());
}

#[test]
fn merge_with_no_children_or_empty_children() {
    let mut it = MergingIterator::new(Vec::new());
    it.seek_to_first().unwrap();
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    assert!(!it.valid());
    assert_eq!(it.key(), b"");
    let e = Arc::new(MemTable::new());
    let mut it = MergingIterator::new(vec![Box::new(e.iter()), Box::new(e.iter())]);
    it.seek(b"whatever").unwrap();
    assert!(!it.valid());
    it.next().unwrap();
    it.prev().unwrap();
    assert!(!it.valid());
}

#[test]
fn merge_identical_keys_in_several_children_are_ordered_by_child() {
    // The same internal key in three children: merged order is by child index, in both directions.
    let mut rng = Rng(77);
    let tables: Vec<Arc<MemTable>> = (0..3).map(|_| Arc::new(MemTable::new())).collect();
    let mut model = Vec::new();
    for k in 0..10 {
        for (t, table) in tables.iter().enumerate() {
            if rng.below(3) != 0 {
                let v = format!("t{t}").into_bytes();
                table.add(5, ValueKind::Put, &key_of(k), &v).unwrap();
                model.push((internal_key(&key_of(k), 5, ValueKind::Put), v));
            }
        }
    }
    // `model` is already in (key, child) order.
    let children: Vec<BoxedIter> = tables.iter().map(|t| Box::new(t.iter()) as BoxedIter).collect();
    let mut it = MergingIterator::new(children);
    random_walk(&mut it, &model, &mut rng, 3000, 10);
}

/// Wraps an iterator and fails once its budget of positioning calls is spent.
struct Failing {
    inner: BoxedIter,
    budget: usize,
}

impl Failing {
    fn spend(&mut self) -> Result<()> {
        if self.budget == 0 {
            return Err(Error::corruption(None, None, "injected"));
        }
        self.budget -= 1;
        Ok(())
    }
}

impl InternalIterator for Failing {
    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn key(&self) -> &[u8] {
        self.inner.key()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.spend()?;
        self.inner.seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.spend()?;
        self.inner.seek_to_last()
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.spend()?;
        self.inner.seek(target)
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.spend()?;
        self.inner.seek_for_prev(target)
    }
    fn next(&mut self) -> Result<()> {
        self.spend()?;
        self.inner.next()
    }
    fn prev(&mut self) -> Result<()> {
        self.spend()?;
        self.inner.prev()
    }
}

#[test]
fn merge_propagates_child_errors() {
    let a = Arc::new(MemTable::new());
    let b = Arc::new(MemTable::new());
    for i in 0..10u64 {
        a.add(i + 1, ValueKind::Put, &key_of(i as usize * 2), b"a").unwrap();
        b.add(i + 100, ValueKind::Put, &key_of(i as usize * 2 + 1), b"b").unwrap();
    }
    let failing = Failing { inner: Box::new(b.iter()), budget: 4 };
    let mut it = MergingIterator::new(vec![Box::new(a.iter()), Box::new(failing)]);
    it.seek_to_first().unwrap();
    let mut steps = 0;
    let err = loop {
        match it.next() {
            Ok(()) => {
                assert!(it.valid());
                steps += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Corruption { .. }));
    assert!(steps < 20);
    assert!(!it.valid(), "invalid after an error");
    assert_eq!(it.key(), b"");
    assert!(it.seek_to_first().is_err());
}
