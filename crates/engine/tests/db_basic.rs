//! End-to-end behaviour of `Db`: reads, writes, iterators, snapshots, clear, lock, stats.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::ops::Bound;

use strata_engine::{Db, Error, IterOptions, Options, RangeOptions, WriteBatch};

fn small_opts() -> Options {
    let mut o = Options::default();
    o.memtable_size = 64 * 1024;
    o.block_size = 1024;
    o.compaction.target_file_size = 64 * 1024;
    o.compaction.base_level_size = 256 * 1024;
    o
}

fn collect(db: &Db, opts: IterOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db.iter(opts).expect("iter");
    let mut out = Vec::new();
    while let Some(e) = it.next().expect("next") {
        out.push(e);
    }
    out
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

#[test]
fn put_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), small_opts()).unwrap();
        db.put(b"a", b"1", false).unwrap();
        db.put(b"b", b"2", true).unwrap();
        db.delete(b"a", false).unwrap();
        assert_eq!(db.get(b"a", None).unwrap(), None);
        assert_eq!(db.get(b"b", None).unwrap(), Some(b"2".to_vec()));
        db.close().unwrap();
        assert!(matches!(db.get(b"b", None), Err(Error::Closed)));
    }
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(db.get(b"a", None).unwrap(), None);
    assert_eq!(db.get(b"b", None).unwrap(), Some(b"2".to_vec()));
}

#[test]
fn second_open_is_locked_until_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert!(matches!(Db::open(dir.path(), small_opts()), Err(Error::Locked(_))));
    db.close().unwrap();
    let db2 = Db::open(dir.path(), small_opts()).unwrap();
    db2.close().unwrap();
}

#[test]
fn many_writes_flush_compact_and_survive_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        let db = Db::open(dir.path(), small_opts()).unwrap();
        for round in 0..4u32 {
            for i in 0..5000u32 {
                let k = key((i * 7919) % 6000);
                let v = format!("value-{round}-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes();
                db.put(&k, &v, false).unwrap();
                model.insert(k, v);
            }
            for i in (0..6000u32).step_by(13) {
                db.delete(&key(i), false).unwrap();
                model.remove(&key(i));
            }
        }
        let stats = db.stats().unwrap();
        assert!(stats.flushes > 0, "expected flushes, got {stats:?}");
        // Dropped without close: recovery must replay the WAL.
    }
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let got = collect(&db, IterOptions::default());
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want);
    for (k, v) in model.iter().take(500) {
        assert_eq!(db.get(k, None).unwrap().as_ref(), Some(v));
    }
    db.compact_range(None, None).unwrap();
    let stats = db.stats().unwrap();
    assert!(stats.compactions > 0);
    assert_eq!(stats.levels[0].files, 0, "{stats:?}");
    assert!(collect(&db, IterOptions::default()) == want);
    assert!(db.verify().unwrap().is_empty());
}

#[test]
fn snapshots_and_iterators_read_one_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    for i in 0..2000 {
        db.put(&key(i), b"old", false).unwrap();
    }
    let snap = db.snapshot().unwrap();
    let mut it = db.iter(IterOptions::default()).unwrap();
    for i in 0..2000 {
        db.put(&key(i), b"new", false).unwrap();
    }
    db.delete(&key(5), false).unwrap();
    db.flush().unwrap();
    db.compact_range(None, None).unwrap();
    let mut n = 0;
    while let Some((_, v)) = it.next().unwrap() {
        assert_eq!(v, b"old");
        n += 1;
    }
    assert_eq!(n, 2000);
    assert_eq!(db.get(&key(5), Some(&snap)).unwrap(), Some(b"old".to_vec()));
    assert_eq!(db.get(&key(5), None).unwrap(), None);
    let at_snap = collect(&db, IterOptions { snapshot: Some(snap.clone()), ..IterOptions::default() });
    assert_eq!(at_snap.len(), 2000);
    assert!(at_snap.iter().all(|(_, v)| v == b"old"));
}

#[test]
fn bounds_reverse_limit_and_seek() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let mut b = WriteBatch::new();
    for i in 0..100 {
        b.put(&key(i), &key(i)).unwrap();
    }
    db.write(b, false).unwrap();
    let range = RangeOptions {
        lower: Bound::Included(key(10)),
        upper: Bound::Excluded(key(20)),
        reverse: true,
        limit: Some(3),
        ..RangeOptions::default()
    };
    let got: Vec<_> = collect(&db, IterOptions { range, snapshot: None }).into_iter().map(|e| e.0).collect();
    assert_eq!(got, vec![key(19), key(18), key(17)]);
    let mut it = db.iter(IterOptions::default()).unwrap();
    it.seek(&key(50)).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, key(50));
    let batch = it.next_batch(10, 1 << 20).unwrap();
    assert_eq!(batch.len(), 10);
    assert_eq!(batch[0].0, key(51));
}

#[test]
fn clear_is_atomic_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    for i in 0..100 {
        db.put(&key(i), b"v", false).unwrap();
    }
    let snap = db.snapshot().unwrap();
    let n = db
        .clear(
            RangeOptions { lower: Bound::Included(key(10)), upper: Bound::Excluded(key(90)), ..Default::default() },
            false,
        )
        .unwrap();
    assert_eq!(n, 80);
    assert_eq!(collect(&db, IterOptions::default()).len(), 20);
    assert_eq!(collect(&db, IterOptions { snapshot: Some(snap), ..Default::default() }).len(), 100);
}

/// `clear_at` deletes what the snapshot sees: keys written after it stay, keys present in it
/// go even when changed since; `reverse` and `limit` pick which ones.
#[test]
fn clear_at_a_snapshot_deletes_the_keys_it_sees() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    for i in 0..10 {
        db.put(&key(i), b"old", false).unwrap();
    }
    let snap = db.snapshot().unwrap();
    db.put(&key(3), b"changed", false).unwrap();
    db.put(&key(20), b"new", false).unwrap();
    let n =
        db.clear_at(RangeOptions { reverse: true, limit: Some(2), ..Default::default() }, Some(&snap), false).unwrap();
    assert_eq!(n, 2);
    assert_eq!(db.get(&key(9), None).unwrap(), None);
    assert_eq!(db.get(&key(8), None).unwrap(), None);
    assert_eq!(db.get(&key(20), None).unwrap().as_deref(), Some(&b"new"[..]));
    let n = db.clear_at(RangeOptions::default(), Some(&snap), false).unwrap();
    assert_eq!(n, 10, "the snapshot still sees all ten keys");
    let keys: Vec<_> = collect(&db, IterOptions::default()).into_iter().map(|e| e.0).collect();
    assert_eq!(keys, vec![key(20)]);
    assert_eq!(collect(&db, IterOptions { snapshot: Some(snap), ..Default::default() }).len(), 10);
}

#[test]
fn oversized_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert!(matches!(db.put(&vec![1u8; 70_000], b"v", false), Err(Error::InvalidArgument(_))));
    assert_eq!(db.stats().unwrap().last_sequence, 0);
}

/// The empty key is a key like any other (abstract-level's suite and LevelDB allow it): it
/// sorts first, survives flush, compaction and reopen, and can be a range bound.
#[test]
fn empty_key_is_a_valid_key() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), small_opts()).unwrap();
        db.put(b"", b"empty", false).unwrap();
        db.put(b"\x00", b"zero", false).unwrap();
        db.put(b"a", b"A", false).unwrap();
        assert_eq!(db.get(b"", None).unwrap().as_deref(), Some(&b"empty"[..]));
        let all = collect(&db, IterOptions::default());
        assert_eq!(all[0], (b"".to_vec(), b"empty".to_vec()));
        assert_eq!(all.len(), 3);
        let upto_empty = IterOptions {
            range: RangeOptions { upper: Bound::Included(Vec::new()), ..Default::default() },
            ..Default::default()
        };
        assert_eq!(collect(&db, upto_empty), vec![(b"".to_vec(), b"empty".to_vec())]);
        let after_empty = IterOptions {
            range: RangeOptions { lower: Bound::Excluded(Vec::new()), reverse: true, ..Default::default() },
            ..Default::default()
        };
        assert_eq!(collect(&db, after_empty).len(), 2);
        db.compact_range(None, None).unwrap();
        assert_eq!(db.get(b"", None).unwrap().as_deref(), Some(&b"empty"[..]));
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(db.get(b"", None).unwrap().as_deref(), Some(&b"empty"[..]));
    db.delete(b"", false).unwrap();
    assert_eq!(db.get(b"", None).unwrap(), None);
    assert_eq!(collect(&db, IterOptions::default()).len(), 2);
}

#[test]
fn steady_overwrites_keep_file_count_bounded() {
    for style in [strata_engine::CompactionStyle::Leveled, strata_engine::CompactionStyle::SizeTiered] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small_opts();
        o.compaction.style = style;
        let db = Db::open(dir.path(), o.clone()).unwrap();
        let value = vec![7u8; 100];
        let mut max_files = 0;
        for round in 0..30u32 {
            for i in 0..2000u32 {
                db.put(&key((i * 31 + round) % 2000), &value, false).unwrap();
            }
            let s = db.stats().unwrap();
            max_files = max_files.max(s.levels.iter().map(|l| l.files).sum::<u64>());
        }
        // 2000 keys of ~120 bytes fit in a handful of files; flushes add at most the
        // stop trigger's worth of L0 files before compaction catches up.
        assert!(max_files <= (o.compaction.l0_stop_trigger + 12) as u64, "{style:?}: {max_files} files");
        let s = db.stats().unwrap();
        assert!(s.compactions > 0, "{style:?}: no compaction ran: {s:?}");
        assert_eq!(collect(&db, IterOptions::default()).len(), 2000);
    }
}

/// Large batches are inserted into the memtable in key order: the last operation on a key in
/// a batch still wins, and reads see every key of the batch (before and after reopen).
#[test]
fn large_batch_with_repeated_keys_keeps_the_last_operation() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut b = WriteBatch::new();
    let mut model = BTreeMap::new();
    // Keys in descending order, each written three times: put, delete, and a final put or delete.
    for i in (0..500u32).rev() {
        b.put(&key(i), b"first").unwrap();
        b.delete(&key(i)).unwrap();
        if i % 3 == 0 {
            b.delete(&key(i)).unwrap();
            model.remove(&key(i));
        } else {
            let v = format!("last{i}").into_bytes();
            b.put(&key(i), &v).unwrap();
            model.insert(key(i), v);
        }
    }
    db.write(b, false).unwrap();
    let check = |db: &Db| {
        for i in 0..500u32 {
            assert_eq!(db.get(&key(i), None).unwrap(), model.get(&key(i)).cloned(), "key {i}");
        }
        let all = collect(db, IterOptions::default());
        assert_eq!(all, model.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>());
    };
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    check(&db);
}
