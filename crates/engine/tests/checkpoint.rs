//! `Db::checkpoint`: an openable copy at one sequence number, taken while writes continue —
//! exactly the writes up to the returned sequence, nothing after; SSTables shared by hard
//! links; the source unaffected; bad targets refused before anything is written.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::field_reassign_with_default)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use strata_engine::{Db, Error, IterOptions, Options, WriteBatch};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn small() -> Options {
    let mut o = Options::default();
    o.memtable_size = 32 << 10;
    o.block_size = 1024;
    o
}

fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db.iter(IterOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(kv) = it.next().unwrap() {
        out.push(kv);
    }
    out
}

#[test]
fn checkpoint_holds_exactly_the_writes_up_to_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db"), small()).unwrap();
    for i in 0..2000 {
        db.put(&key(i), format!("v{i}").as_bytes(), false).unwrap();
    }
    for i in (0..2000).step_by(7) {
        db.delete(&key(i), false).unwrap();
    }
    let want = all(&db);
    let target = dir.path().join("cp");
    let info = db.checkpoint(&target).unwrap();
    assert_eq!(info.sequence, db.snapshot().unwrap().sequence());
    assert!(info.files > 0);
    assert_eq!(info.linked, info.files, "same file system: every SSTable is a hard link");
    // The source goes on; the checkpoint does not see it.
    db.put(b"after", b"x", false).unwrap();
    let cp = Db::open(&target, Options::default()).unwrap();
    assert_eq!(all(&cp), want);
    assert!(cp.verify().unwrap().is_empty());
    assert_eq!(cp.recovery_info().wal_records, 0, "nothing to replay: the SSTables hold it all");
    cp.put(b"own", b"write", false).unwrap();
    cp.close().unwrap();
    assert_eq!(db.get(b"own", None).unwrap(), None, "the copies are independent");
    db.close().unwrap();
    let cp = Db::open(&target, Options::default()).unwrap();
    assert_eq!(cp.get(b"own", None).unwrap(), Some(b"write".to_vec()));
    assert_eq!(cp.get(b"after", None).unwrap(), None);
}

#[test]
fn checkpoint_under_concurrent_writes_is_a_prefix_of_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path().join("db"), small()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Batch i writes key(2i) and key(2i+1): one sequence number each, so the checkpoint's
    // sequence says exactly which batches it must hold.
    let writer = {
        let db = Arc::clone(&db);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) || i < 3000 {
                let mut b = WriteBatch::new();
                b.put(&key(2 * i), &i.to_be_bytes()).unwrap();
                b.put(&key(2 * i + 1), &i.to_be_bytes()).unwrap();
                db.write(b, false).unwrap();
                i += 1;
            }
            i
        })
    };
    let mut infos = Vec::new();
    for n in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let target = dir.path().join(format!("cp{n}"));
        infos.push((target.clone(), db.checkpoint(&target).unwrap()));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let mut last = 0;
    for (target, info) in infos {
        assert!(info.sequence >= last, "later checkpoints hold more");
        last = info.sequence;
        let cp = Db::open(&target, Options::default()).unwrap();
        let got = all(&cp);
        // Sequence numbers start at 1: batch i holds sequences 2i+1 and 2i+2.
        assert_eq!(info.sequence % 2, 0, "a checkpoint ends at a batch boundary");
        let batches = info.sequence / 2;
        assert!(batches <= written);
        assert_eq!(got.len() as u64, 2 * batches, "{target:?}: {} keys for sequence {}", got.len(), info.sequence);
        for (j, (k, v)) in got.iter().enumerate() {
            assert_eq!(k, &key(j as u64));
            assert_eq!(v, &((j as u64) / 2).to_be_bytes());
        }
        assert!(cp.verify().unwrap().is_empty());
        cp.close().unwrap();
    }
    // The source still has everything.
    assert_eq!(all(&db).len() as u64, 2 * written);
}

#[test]
fn bad_targets_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db"), small()).unwrap();
    db.put(b"a", b"1", false).unwrap();
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), b"mine").unwrap();
    assert!(matches!(db.checkpoint(&full), Err(Error::InvalidArgument(_))));
    assert_eq!(std::fs::read(full.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    assert!(matches!(db.checkpoint(dir.path().join("db")), Err(Error::InvalidArgument(_))));
    // An empty directory is fine, and a leftover temporary directory is not a checkpoint.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(dir.path().join("empty.checkpoint-tmp")).unwrap();
    std::fs::write(dir.path().join("empty.checkpoint-tmp").join("junk"), b"x").unwrap();
    db.checkpoint(&empty).unwrap();
    assert!(!dir.path().join("empty.checkpoint-tmp").exists());
    let cp = Db::open(&empty, Options::default()).unwrap();
    assert_eq!(cp.get(b"a", None).unwrap(), Some(b"1".to_vec()));
    db.close().unwrap();
    assert!(matches!(db.checkpoint(dir.path().join("x")), Err(Error::Closed)));
}

#[test]
fn checkpoint_of_an_empty_database_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db"), small()).unwrap();
    let info = db.checkpoint(dir.path().join("cp")).unwrap();
    assert_eq!((info.sequence, info.files), (0, 0));
    let cp = Db::open(dir.path().join("cp"), Options::default()).unwrap();
    assert!(all(&cp).is_empty());
}

#[test]
fn a_checkpoint_verifies_clean_when_opened_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db"), small()).unwrap();
    for i in 0..500 {
        db.put(&key(i), b"v", false).unwrap();
    }
    db.checkpoint(dir.path().join("cp")).unwrap();
    let mut ro = Options::default();
    ro.read_only = true;
    let cp = Db::open(dir.path().join("cp"), ro).unwrap();
    let problems = cp.verify().unwrap();
    assert!(problems.is_empty(), "no WAL to read is not a problem when nothing is unflushed: {problems:?}");
    assert_eq!(all(&cp).len(), 500);
}
