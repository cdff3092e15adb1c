//! The non-blocking entry points: `try_write`, `get_if_cached`, `next_batch_if_cached`.
#![allow(clippy::unwrap_used)]

use strata_engine::{Db, IterOptions, Options, RangeOptions, TryWrite, WriteBatch};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn val(i: u32) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat(60)).into_bytes()
}

fn batch(i: u32) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(&key(i), &val(i)).unwrap();
    b
}

#[test]
fn try_write_applies_or_hands_the_batch_back() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { memtable_size: 4096, max_immutable_memtables: 1, ..Options::default() };
    let db = Db::open(dir.path(), opts).unwrap();
    let (mut fast, mut stalled) = (0, 0);
    for i in 0..2000 {
        match db.try_write(batch(i)).unwrap() {
            TryWrite::Written => fast += 1,
            TryWrite::WouldStall(b) => {
                stalled += 1;
                db.write(b, false).unwrap();
            }
        }
    }
    assert!(fast > 1000, "fast {fast}");
    assert!(stalled > 0, "a 4 KiB memtable must make some writes stall");
    for i in 0..2000 {
        assert_eq!(db.get(&key(i), None).unwrap(), Some(val(i)));
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in (0..2000).step_by(7) {
        assert_eq!(db.get(&key(i), None).unwrap(), Some(val(i)));
    }
}

#[test]
fn try_write_defers_when_every_write_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { sync: true, ..Options::default() }).unwrap();
    assert!(matches!(db.try_write(batch(1)).unwrap(), TryWrite::WouldStall(_)));
    assert_eq!(db.get(&key(1), None).unwrap(), None);
}

/// A database whose data lives in SSTables, with a block cache far smaller than the data.
/// Positioned reads (no memory map), so a block missing from the block cache is "not in
/// memory" as far as the engine can tell: the cached-only calls must defer.
fn on_disk(dir: &std::path::Path, n: u32, cache: usize) -> Db {
    on_disk_with(dir, n, cache, false)
}

fn on_disk_with(dir: &std::path::Path, n: u32, cache: usize, use_mmap: bool) -> Db {
    let opts = Options { block_cache_size: cache, memtable_size: 64 << 10, use_mmap, ..Options::default() };
    let db = Db::open(dir, opts).unwrap();
    for i in 0..n {
        db.write(batch(i), false).unwrap();
    }
    db.flush().unwrap();
    db
}

#[test]
fn get_if_cached_answers_from_memory_or_defers() {
    let dir = tempfile::tempdir().unwrap();
    let db = on_disk(dir.path(), 5000, 8 << 10);
    // In the memtable: always answered.
    db.write(batch(99_999), false).unwrap();
    assert_eq!(db.get_if_cached(&key(99_999), None).unwrap(), Some(Some(val(99_999))));
    let (mut answered, mut deferred) = (0, 0);
    for i in 0..5000 {
        match db.get_if_cached(&key(i), None).unwrap() {
            Some(v) => {
                answered += 1;
                assert_eq!(v, Some(val(i)));
            }
            None => {
                deferred += 1;
                assert_eq!(db.get(&key(i), None).unwrap(), Some(val(i)));
            }
        }
    }
    assert!(answered > 0 && deferred > 0, "answered {answered}, deferred {deferred}");
    // With a cache that holds everything, a blocking read makes the next one answered from memory.
    // One flush into one table, so that no background compaction reads (and caches) blocks.
    let dir2 = tempfile::tempdir().unwrap();
    let opts = Options { block_cache_size: 32 << 20, memtable_size: 4 << 20, use_mmap: false, ..Options::default() };
    let db2 = Db::open(dir2.path(), opts).unwrap();
    for i in 0..2000 {
        db2.write(batch(i), false).unwrap();
    }
    db2.flush().unwrap();
    assert_eq!(db2.get_if_cached(&key(1500), None).unwrap(), None);
    assert_eq!(db2.get(&key(1500), None).unwrap(), Some(val(1500)));
    assert_eq!(db2.get_if_cached(&key(1500), None).unwrap(), Some(Some(val(1500))));
    // A key no bloom filter admits needs no block at all.
    assert_eq!(db.get_if_cached(b"absent-key", None).unwrap(), Some(None));
}

#[test]
fn get_if_cached_decodes_blocks_that_are_in_the_page_cache() {
    // Memory-mapped tables whose pages are in memory (just written, then reopened): a block
    // missing from the (tiny) block cache is decoded on the calling thread, not deferred.
    let dir = tempfile::tempdir().unwrap();
    let n = 5000;
    on_disk_with(dir.path(), n, 8 << 10, true).close().unwrap();
    let opts = Options { block_cache_size: 8 << 10, ..Options::default() };
    let db = Db::open(dir.path(), opts).unwrap();
    let before = db.stats().unwrap().block_cache_misses;
    for j in 0..n {
        let i = (j * 997) % n; // jump between blocks, so that the 8 KiB cache keeps missing
        assert_eq!(db.get_if_cached(&key(i), None).unwrap(), Some(Some(val(i))), "key {i}");
    }
    // They really were misses of the 8 KiB block cache, served from the mapped file.
    assert!(db.stats().unwrap().block_cache_misses - before > u64::from(n) / 2);
    let mut it = db.iter(IterOptions::default()).unwrap();
    let mut seen = 0;
    while let Some(b) = it.next_batch_if_cached(None, 100, 1 << 20).unwrap() {
        if b.is_empty() {
            break;
        }
        seen += b.len();
    }
    assert_eq!(seen, n as usize, "every batch of a scan is answered on the calling thread");
}

fn collect(db: &Db, reverse: bool, seek: Option<u32>, limit: Option<u64>, batch_size: usize) -> Vec<Vec<u8>> {
    let range = RangeOptions { reverse, limit, ..RangeOptions::default() };
    let mut it = db.iter(IterOptions { range, snapshot: None }).unwrap();
    let mut out = Vec::new();
    let mut target = seek.map(key);
    let (mut sync_batches, mut blocking) = (0, 0);
    loop {
        let b = match it.next_batch_if_cached(target.as_deref(), batch_size, 1 << 20).unwrap() {
            Some(b) => {
                sync_batches += 1;
                b
            }
            None => {
                // The seek given to the cached-only call is taken into account already.
                blocking += 1;
                it.next_batch(batch_size, 1 << 20).unwrap()
            }
        };
        target = None;
        if b.is_empty() {
            break;
        }
        out.extend(b.into_iter().map(|(k, _)| k));
    }
    assert!(sync_batches > 0);
    let _ = blocking;
    out
}

#[test]
fn next_batch_if_cached_continues_exactly_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let db = on_disk(dir.path(), n, 8 << 10);
    // Some newer versions and deletions in the memtable, over the SSTables.
    for i in (0..n).step_by(10) {
        db.write(batch(i), false).unwrap();
    }
    for i in (5..n).step_by(10) {
        db.delete(&key(i), false).unwrap();
    }
    let live: Vec<Vec<u8>> = (0..n).filter(|i| i % 10 != 5).map(key).collect();
    for batch_size in [1, 7, 100] {
        assert_eq!(collect(&db, false, None, None, batch_size), live);
        let mut rev = live.clone();
        rev.reverse();
        assert_eq!(collect(&db, true, None, None, batch_size), rev);
        let from = live.iter().position(|k| k.as_slice() >= key(1234).as_slice()).unwrap();
        assert_eq!(collect(&db, false, Some(1234), None, batch_size), live[from..].to_vec());
        assert_eq!(collect(&db, false, None, Some(321), batch_size), live[..321].to_vec());
    }
}
