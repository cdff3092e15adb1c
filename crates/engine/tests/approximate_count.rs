//! `Db::approximate_count` against a model: exact in small memtables, close to the truth over
//! SSTables, `upper` never below the live keys of the range (after overwrites, deletes,
//! flushes and compactions), 0/0 outside the data, and the keyspaces kept apart.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::field_reassign_with_default)]

use std::collections::BTreeMap;
use std::ops::Bound;

use strata_engine::memtable::MEMTABLE_COUNT_LIMIT;
use strata_engine::{ApproximateCount, Db, Keyspace, Options, RangeOptions, WriteBatch};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// Big memtable (nothing flushes unless asked), small blocks (many per table).
fn opts() -> Options {
    let mut o = Options::default();
    o.memtable_size = 64 << 20;
    o.block_size = 512;
    o.compaction.target_file_size = 256 << 10;
    o
}

fn range(lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> RangeOptions {
    RangeOptions { lower, upper, ..RangeOptions::default() }
}

fn between(lo: u64, hi: u64) -> RangeOptions {
    range(Bound::Included(key(lo)), Bound::Excluded(key(hi)))
}

fn count(db: &Db, r: &RangeOptions) -> ApproximateCount {
    let c = db.approximate_count(r).unwrap();
    assert!(c.estimate <= c.upper, "{c:?} for {r:?}");
    c
}

fn put_range(db: &Db, keys: impl Iterator<Item = u64>, value_len: usize) {
    let mut b = WriteBatch::new();
    for i in keys {
        b.put(&key(i), &vec![b'v'; value_len]).unwrap();
    }
    db.write(b, false).unwrap();
}

fn live_in(model: &BTreeMap<Vec<u8>, Vec<u8>>, r: &RangeOptions) -> u64 {
    model.range::<Vec<u8>, _>((r.lower.clone(), r.upper.clone())).count() as u64
}

#[test]
fn memtable_counts_are_exact_up_to_the_visit_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    put_range(&db, 0..3000, 10);
    for (lo, hi) in [(0, 3000), (10, 20), (100, 2100), (2999, 3000), (5, 5)] {
        let c = count(&db, &between(lo, hi));
        assert_eq!((c.estimate, c.upper), (hi - lo, hi - lo), "[{lo}, {hi})");
    }
    assert_eq!(count(&db, &RangeOptions::default()), ApproximateCount { estimate: 3000, upper: 3000 });
    let excl = range(Bound::Excluded(key(10)), Bound::Included(key(20)));
    assert_eq!(count(&db, &excl).estimate, 10);
    // Outside the data, and an inverted range.
    assert_eq!(count(&db, &between(5000, 6000)), ApproximateCount::default());
    assert_eq!(count(&db, &between(20, 10)), ApproximateCount::default());
    // Overwrites and deletes add entries: the estimate counts them, the bound holds.
    put_range(&db, 0..100, 10);
    let mut b = WriteBatch::new();
    for i in 100..200 {
        b.delete(&key(i)).unwrap();
    }
    db.write(b, false).unwrap();
    let c = count(&db, &between(0, 300));
    assert_eq!(c.estimate, 500);
    assert!(c.upper >= 200);
}

#[test]
fn memtable_counts_extrapolate_beyond_the_visit_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    // Binary big-endian keys (evenly spread byte values: interpolation works) ...
    let n = 40_000u64;
    let bkey = |i: u64| [b"b".as_slice(), &i.to_be_bytes()].concat();
    for chunk in 0..(n / 5000) {
        let mut b = WriteBatch::new();
        for i in chunk * 5000..(chunk + 1) * 5000 {
            b.put(&bkey(i), b"v").unwrap();
        }
        db.write(b, false).unwrap();
    }
    assert!(n as usize > 4 * MEMTABLE_COUNT_LIMIT);
    let bbetween = |lo: u64, hi: u64| range(Bound::Included(bkey(lo)), Bound::Excluded(bkey(hi)));
    for (lo, hi) in [(1000, 31_000), (0, 5000), (20_000, 40_000), (30_000, 39_000), (5000, 13_000)] {
        let c = count(&db, &bbetween(lo, hi));
        let truth = hi - lo;
        assert!(c.upper >= truth, "[{lo}, {hi}): {c:?}");
        assert!(c.estimate * 10 >= truth * 9 && c.estimate * 10 <= truth * 11, "[{lo}, {hi}): {c:?} vs {truth}");
    }
    // Ranges that leave little outside them are counted exactly (from both ends).
    assert_eq!(count(&db, &bbetween(0, n)), ApproximateCount { estimate: n, upper: n });
    assert_eq!(count(&db, &bbetween(1000, n - 1000)), ApproximateCount { estimate: n - 2000, upper: n - 2000 });
    // ... and decimal text keys (few byte values per position: the interpolation is poor, but
    // the bound holds and the estimate stays between what was seen and the bound).
    put_range(&db, 0..20_000, 4);
    for (lo, hi) in [(0, 20_000), (1000, 15_000), (0, 5000), (10_000, 20_000)] {
        let c = count(&db, &between(lo, hi));
        let truth = hi - lo;
        assert!(c.upper >= truth && c.estimate > MEMTABLE_COUNT_LIMIT as u64, "[{lo}, {hi}): {c:?}");
    }
    let c = count(&db, &RangeOptions::default());
    assert_eq!((c.estimate, c.upper), (n + 20_000, n + 20_000));
}

#[test]
fn sstable_counts_follow_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.memtable_size = 128 << 10;
    o.compression = false;
    let db = Db::open(dir.path(), o.clone()).unwrap();
    let n = 20_000u64;
    for chunk in 0..20 {
        put_range(&db, chunk * 1000..(chunk + 1) * 1000, 20);
    }
    db.compact_range(None, None).unwrap();
    assert!(db.stats().unwrap().levels.iter().map(|l| l.files).sum::<u64>() > 1, "several tables");
    // The whole key space: every table is inside, so the count is exact.
    assert_eq!(count(&db, &RangeOptions::default()), ApproximateCount { estimate: n, upper: n });
    for (lo, hi) in [(0, n), (1000, 2000), (5000, 15_000), (19_990, 20_000), (123, 124), (0, 1)] {
        let c = count(&db, &between(lo, hi));
        let truth = hi - lo;
        assert!(c.upper >= truth, "[{lo}, {hi}): {c:?}");
        // Within two data blocks (about 20 entries of 20-byte values in 512-byte blocks) or 10%.
        let slack = (truth / 10).max(60);
        assert!(c.estimate.abs_diff(truth) <= slack, "[{lo}, {hi}): {c:?} vs {truth}");
    }
    // Ranges beside the data, and a gap between two keys.
    assert_eq!(count(&db, &range(Bound::Unbounded, Bound::Excluded(key(0)))), ApproximateCount::default());
    assert_eq!(count(&db, &range(Bound::Excluded(key(n - 1)), Bound::Unbounded)), ApproximateCount::default());
    assert_eq!(count(&db, &between(n + 10, n + 20)), ApproximateCount::default());
    let gap = range(Bound::Excluded(key(500)), Bound::Excluded(key(501)));
    assert!(count(&db, &gap).upper >= 1, "a gap inside a block is not known to be empty");
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(count(&db, &RangeOptions::default()), ApproximateCount { estimate: n, upper: n });
}

#[test]
fn uneven_blocks_keep_the_bound() {
    // Blocks of very different entry counts (tiny values, then huge ones): the average
    // entries per block is far from the count of the tiny-value blocks; the bound must hold.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    put_range(&db, 0..2000, 1);
    put_range(&db, 2000..2200, 4000);
    db.flush().unwrap();
    for (lo, hi) in [(0, 2000), (0, 100), (500, 1500), (1990, 2010), (2000, 2200)] {
        let c = count(&db, &between(lo, hi));
        assert!(c.upper >= hi - lo, "[{lo}, {hi}): {c:?}");
    }
}

#[test]
fn mixed_memtable_and_sstables_against_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.memtable_size = 48 << 10;
    let db = Db::open(dir.path(), o).unwrap();
    let mut model = BTreeMap::new();
    let mut state = 7u64;
    let mut rand = move |n: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    for round in 0..40 {
        let mut b = WriteBatch::new();
        for _ in 0..250 {
            let i = rand(5000);
            if rand(4) == 0 {
                b.delete(&key(i)).unwrap();
                model.remove(&key(i));
            } else {
                let v = vec![b'x'; 1 + rand(60) as usize];
                b.put(&key(i), &v).unwrap();
                model.insert(key(i), v);
            }
        }
        db.write(b, false).unwrap();
        if round % 9 == 8 {
            db.compact_range(None, None).unwrap();
        }
        for _ in 0..20 {
            let lo = rand(5200);
            let hi = lo + rand(2000);
            let r = match rand(3) {
                0 => between(lo, hi),
                1 => range(Bound::Unbounded, Bound::Included(key(hi))),
                _ => range(Bound::Excluded(key(lo)), Bound::Unbounded),
            };
            let c = count(&db, &r);
            let live = live_in(&model, &r);
            assert!(c.upper >= live, "round {round} {r:?}: {c:?}, {live} live");
        }
    }
    // Fully compacted, with no old versions left: the estimate is close again.
    db.compact_range(None, None).unwrap();
    let all = count(&db, &RangeOptions::default());
    assert_eq!(all.estimate, model.len() as u64);
    let c = count(&db, &between(1000, 4000));
    let live = live_in(&model, &between(1000, 4000));
    assert!(c.upper >= live && c.estimate.abs_diff(live) <= live / 10 + 60, "{c:?} vs {live}");
}

#[test]
fn keyspaces_are_counted_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut b = WriteBatch::new();
    for i in 0..1000 {
        b.put(&key(i), b"user").unwrap();
    }
    for i in 0..300 {
        b.put_system(&key(i), b"").unwrap();
    }
    b.put(&[0xff; 7], b"the largest user key").unwrap();
    db.write(b, false).unwrap();
    let system = |r: RangeOptions| RangeOptions { keyspace: Keyspace::System, ..r };
    let check_exact = |db: &Db| {
        assert_eq!(count(db, &RangeOptions::default()), ApproximateCount { estimate: 1001, upper: 1001 });
        assert_eq!(count(db, &system(RangeOptions::default())), ApproximateCount { estimate: 300, upper: 300 });
        assert_eq!(count(db, &system(between(100, 200))).estimate, 100);
        // User bounds that reach into the system keyspace are clipped.
        let beyond = range(Bound::Included(key(500)), Bound::Included(vec![0xff; 12]));
        assert_eq!(count(db, &beyond).estimate, 501);
        let above = range(Bound::Included(vec![0xff; 8]), Bound::Unbounded);
        assert_eq!(count(db, &above), ApproximateCount::default());
        assert_eq!(count(db, &system(between(300, 400))), ApproximateCount::default());
    };
    check_exact(&db);
    db.flush().unwrap();
    db.compact_range(None, None).unwrap();
    // Over SSTables: tables holding both keyspaces are cut at the prefix.
    let user = count(&db, &RangeOptions::default());
    let sys = count(&db, &system(RangeOptions::default()));
    assert!(user.upper >= 1001 && sys.upper >= 300, "{user:?} {sys:?}");
    assert!(user.estimate.abs_diff(1001) <= 60 && sys.estimate.abs_diff(300) <= 60, "{user:?} {sys:?}");
    let above = range(Bound::Included(vec![0xff; 8]), Bound::Unbounded);
    assert_eq!(count(&db, &above), ApproximateCount::default());
    assert_eq!(count(&db, &system(between(300, 400))), ApproximateCount::default());
    let mid = count(&db, &system(between(100, 200)));
    assert!(mid.upper >= 100 && mid.estimate.abs_diff(100) <= 60, "{mid:?}");
}
