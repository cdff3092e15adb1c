//! `Options::read_only`: opening a database left with un-replayed WALs (a crash) changes
//! nothing on disk, reads see every acknowledged write, and every write fails with
//! `Error::ReadOnly`. A file system that refuses every mutation proves that no write is
//! even attempted (as root, a read-only directory cannot be simulated with permissions).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use strata_engine::file::{FileLock, Fs, RandomAccess, RealFs, WritableFile};
use strata_engine::{Db, Error, Options, WriteBatch};

/// Reads through the real file system; every mutation fails like `EROFS`.
#[derive(Debug)]
struct ReadOnlyFs;

fn erofs() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ReadOnlyFilesystem, "read-only file system (test)")
}

impl Fs for ReadOnlyFs {
    fn create(&self, _: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        Err(erofs())
    }
    fn open_append(&self, _: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        Err(erofs())
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        RealFs.read(path)
    }
    fn open_random_access(&self, path: &Path, use_mmap: bool) -> strata_engine::Result<Arc<dyn RandomAccess>> {
        RealFs.open_random_access(path, use_mmap)
    }
    fn file_size(&self, path: &Path) -> std::io::Result<u64> {
        RealFs.file_size(path)
    }
    fn rename(&self, _: &Path, _: &Path) -> std::io::Result<()> {
        Err(erofs())
    }
    fn remove_file(&self, _: &Path) -> std::io::Result<()> {
        Err(erofs())
    }
    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<OsString>> {
        RealFs.read_dir(dir)
    }
    fn create_dir_all(&self, _: &Path) -> std::io::Result<()> {
        Err(erofs())
    }
    fn sync_dir(&self, _: &Path) -> std::io::Result<()> {
        Err(erofs())
    }
    fn exists(&self, path: &Path) -> bool {
        RealFs.exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        RealFs.is_dir(path)
    }
    fn try_lock(&self, _: &Path) -> std::io::Result<Option<Box<dyn FileLock>>> {
        Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "cannot open LOCK for writing (test)"))
    }
}

/// Every file of `dir` with its bytes.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        out.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read"));
    }
    out
}

fn put(db: &Db, k: &str, v: &str) {
    let mut b = WriteBatch::new();
    b.put(k.as_bytes(), v.as_bytes()).expect("put");
    db.write(b, false).expect("write");
}

/// A database with SSTables and, on top, writes only in the WAL (dropped without close).
fn crashed_db(dir: &Path) {
    let db = Db::open(dir, Options { memtable_size: 4096, ..Options::default() }).expect("open");
    for i in 0..200 {
        put(&db, &format!("k{i:04}"), &format!("table-{i}"));
    }
    db.flush().expect("flush");
    for i in 0..50 {
        put(&db, &format!("k{i:04}"), &format!("wal-{i}"));
    }
    drop(db);
}

fn read_only(fs: Option<Arc<dyn Fs>>) -> Options {
    let mut o = Options { read_only: true, ..Options::default() };
    if let Some(fs) = fs {
        o.fs = fs;
    }
    o
}

#[test]
fn read_only_open_replays_in_memory_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    crashed_db(&dir);
    let before = snapshot_dir(&dir);
    assert!(before.keys().any(|n| n.ends_with(".wal")), "the crash left a WAL: {:?}", before.keys());

    for fs in [None, Some(Arc::new(ReadOnlyFs) as Arc<dyn Fs>)] {
        let db = Db::open(&dir, read_only(fs)).expect("read-only open");
        assert!(db.recovery_info().wal_records > 0, "the WAL was replayed (into memory)");
        assert_eq!(db.get(b"k0000", None).expect("get").as_deref(), Some(&b"wal-0"[..]));
        assert_eq!(db.get(b"k0100", None).expect("get").as_deref(), Some(&b"table-100"[..]));
        let problems = db.verify().expect("verify");
        assert!(problems.is_empty(), "verify found {problems:?}");

        let mut b = WriteBatch::new();
        b.put(b"x", b"y").expect("put");
        assert!(matches!(db.write(b, true), Err(Error::ReadOnly)));
        assert!(matches!(db.flush(), Err(Error::ReadOnly)));
        assert!(matches!(db.compact_range(None, None), Err(Error::ReadOnly)));
        db.close().expect("close");
        assert_eq!(snapshot_dir(&dir), before, "a read-only open and close changed the directory");
    }

    // A normal open afterwards still recovers everything.
    let db = Db::open(&dir, Options::default()).expect("open");
    assert_eq!(db.get(b"k0049", None).expect("get").as_deref(), Some(&b"wal-49"[..]));
    db.close().expect("close");
}

#[test]
fn read_only_never_creates_and_respects_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("missing");
    assert!(matches!(Db::open(&missing, read_only(None)), Err(Error::NotFound(_))));
    assert!(!missing.exists());

    let dir = tmp.path().join("db");
    let writer = Db::open(&dir, Options::default()).expect("open");
    assert!(matches!(Db::open(&dir, read_only(None)), Err(Error::Locked(_))), "a live writer keeps a reader out");
    writer.close().expect("close");
}
