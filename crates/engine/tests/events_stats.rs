//! The engine's monitoring surface: the event queue (`Db::drain_events`) and the counters
//! added for it (write stalls and their time, pending compaction bytes).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default, clippy::indexing_slicing)]

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use strata_engine::file::{real_fs, FileLock, Fs, RandomAccess, WritableFile};
use strata_engine::{Db, EventKind, Options, Result, WriteBatch};

fn small_opts() -> Options {
    let mut o = Options::default();
    o.memtable_size = 16 * 1024;
    o.block_size = 1024;
    o.compaction.target_file_size = 16 * 1024;
    o.compaction.base_level_size = 64 * 1024;
    o
}

fn fill(db: &Db, from: u32, n: u32) {
    for i in from..from + n {
        db.put(format!("key{i:08}").as_bytes(), &[b'v'; 100], false).unwrap();
    }
}

#[test]
fn recovery_flush_and_compaction_events_carry_their_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let (events, dropped) = db.drain_events(100);
    assert_eq!(dropped, 0);
    assert!(matches!(events.as_slice(), [e] if matches!(e.kind, EventKind::Recovery { wal_files: 0, .. })));

    fill(&db, 0, 50);
    db.flush().unwrap();
    let (events, _) = db.drain_events(100);
    let flushes: Vec<_> = events.iter().filter(|e| matches!(e.kind, EventKind::Flush { .. })).collect();
    assert_eq!(flushes.len(), 1);
    let stats = db.stats().unwrap();
    if let EventKind::Flush { entries, bytes, file, .. } = &flushes[0].kind {
        assert_eq!(*entries, 50);
        assert_eq!(*bytes, stats.flush_bytes);
        assert_eq!(stats.levels[0].files, 1);
        assert!(*file > 0);
    }
    assert!(flushes[0].at_unix_ms > 0);

    fill(&db, 50, 50);
    db.compact_range(None, None).unwrap();
    let (events, _) = db.drain_events(100);
    let stats = db.stats().unwrap();
    let (mut read, mut written, mut n) = (0, 0, 0);
    for e in &events {
        if let EventKind::Compaction {
            inputs, outputs, bytes_read, bytes_written, reason, output_level, level, ..
        } = &e.kind
        {
            assert!(!inputs.is_empty() && !outputs.is_empty(), "{e:?}");
            assert!(output_level >= level);
            assert!(!reason.is_empty());
            read += bytes_read;
            written += bytes_written;
            n += 1;
        }
    }
    assert_eq!(n, stats.compactions);
    assert_eq!(read, stats.compaction_bytes_read);
    assert_eq!(written, stats.compaction_bytes_written);
    assert!(db.drain_events(100).0.is_empty(), "drained events are gone");
    db.close().unwrap();
    // The queue can still be read after close (the flush at close left nothing to flush).
    let _ = db.drain_events(100);
}

#[test]
fn recovery_event_counts_replayed_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small_opts();
    o.flush_on_close = false;
    {
        let db = Db::open(dir.path(), o.clone()).unwrap();
        fill(&db, 0, 7);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), o).unwrap();
    let (events, _) = db.drain_events(10);
    match &events[0].kind {
        EventKind::Recovery { wal_files, wal_records, dropped_tail, .. } => {
            assert!(*wal_files >= 1);
            assert_eq!(*wal_records, 7);
            assert!(dropped_tail.is_none());
        }
        other => panic!("expected recovery, got {other:?}"),
    }
}

#[test]
fn pending_compaction_bytes_counts_a_due_l0_and_drops_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small_opts();
    o.compaction.l0_compaction_trigger = 4;
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(db.stats().unwrap().pending_compaction_bytes, 0);
    db.compact_range(None, None).unwrap();
    fill(&db, 0, 10);
    db.flush().unwrap();
    // One L0 file is below the trigger: nothing is due.
    let s = db.stats().unwrap();
    if s.levels[0].files < 4 {
        assert_eq!(s.pending_compaction_bytes, 0);
    }
    db.compact_range(None, None).unwrap();
    assert_eq!(db.stats().unwrap().pending_compaction_bytes, 0);
}

#[test]
fn pending_compaction_bytes_function_follows_the_targets() {
    use strata_engine::compaction::pending_compaction_bytes;
    use strata_engine::version::{FileMeta, ManifestState};
    let mut opts = strata_engine::CompactionOptions::default();
    opts.l0_compaction_trigger = 2;
    opts.base_level_size = 1000;
    opts.level_size_ratio = 10;
    opts.num_levels = 4;
    let file = |number: u64, size: u64, lo: &str, hi: &str| FileMeta {
        number,
        size,
        smallest: strata_engine::key::internal_key(lo.as_bytes(), 1, strata_engine::key::ValueKind::Put),
        largest: strata_engine::key::internal_key(hi.as_bytes(), 1, strata_engine::key::ValueKind::Put),
        min_seq: 1,
        max_seq: 1,
        num_entries: 1,
        num_deletions: 0,
    };
    let mut state = ManifestState { levels: vec![Vec::new(); 4], ..ManifestState::default() };
    state.levels[0].push(file(1, 300, "a", "b"));
    assert_eq!(pending_compaction_bytes(&state, &opts), 0, "one L0 file, trigger 2");
    state.levels[0].push(file(2, 200, "a", "b"));
    assert_eq!(pending_compaction_bytes(&state, &opts), 500, "L0 due: all of it");
    state.levels[1].push(file(3, 1500, "a", "z"));
    assert_eq!(pending_compaction_bytes(&state, &opts), 1000, "plus L1's 500 bytes over its 1000");
    state.levels[3].push(file(4, 1_000_000, "a", "z"));
    assert_eq!(pending_compaction_bytes(&state, &opts), 1000, "the last level never counts");
}

/// A file system whose table creations wait until the gate opens.
#[derive(Debug)]
struct GatedFs {
    inner: Arc<dyn Fs>,
    open: Mutex<bool>,
    cv: Condvar,
}

impl GatedFs {
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Fs for GatedFs {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        if path.extension().is_some_and(|e| e == "sst") {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
        }
        self.inner.create(path)
    }
    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn open_random_access(&self, path: &Path, use_mmap: bool) -> Result<Arc<dyn RandomAccess>> {
        self.inner.open_random_access(path, use_mmap)
    }
    fn file_size(&self, path: &Path) -> std::io::Result<u64> {
        self.inner.file_size(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove_file(path)
    }
    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<OsString>> {
        self.inner.read_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }
    fn try_lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn FileLock>>> {
        self.inner.try_lock(path)
    }
}

#[test]
fn a_write_waiting_for_a_flush_is_counted_as_a_stall_with_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(GatedFs { inner: real_fs(), open: Mutex::new(false), cv: Condvar::new() });
    let mut o = small_opts();
    o.memtable_size = 4096;
    o.max_immutable_memtables = 1;
    o.fs = fs.clone();
    let db = Db::open(dir.path(), o).unwrap();
    let big = vec![b'x'; 5000];
    let put = |k: &str| {
        let mut b = WriteBatch::new();
        b.put(k.as_bytes(), &big).unwrap();
        db.write(b, false).unwrap();
    };
    put("a"); // fills the memtable
    put("b"); // rotates it: the flush blocks at the gate; "b" fills the new memtable
    assert_eq!(db.stats().unwrap().write_stalls, 0);
    // The flush cannot finish until the gate opens, so the next write must wait for it.
    let opener = {
        let fs = Arc::clone(&fs);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            fs.release();
        })
    };
    put("c");
    opener.join().unwrap();
    let s = db.stats().unwrap();
    assert_eq!(s.write_stalls, 1);
    assert!(s.write_stall_micros > 0);
    let (events, _) = db.drain_events(100);
    let stalls: Vec<_> = events.iter().filter(|e| matches!(e.kind, EventKind::WriteStall { .. })).collect();
    assert_eq!(stalls.len(), 1);
    assert!(matches!(stalls[0].kind, EventKind::WriteStall { immutable_memtables: 1, .. }));
    assert!(!stalls[0].duration.is_zero());
    db.close().unwrap();
}

#[test]
fn a_failed_flush_is_reported_once_as_a_background_error() {
    use strata_engine::file::fault::{FaultFs, FaultSpec, OpKind};
    let fs = Arc::new(FaultFs::new());
    let mut o = small_opts();
    o.fs = fs.clone();
    let db = Db::open("/db", o).unwrap();
    let _ = db.drain_events(100);
    fill(&db, 0, 10);
    fs.inject(FaultSpec { path_contains: Some(".sst".into()), ..FaultSpec::from_nth(Some(OpKind::Create), 1) });
    assert!(db.flush().is_err());
    let reason = db.stats().unwrap().read_only_reason.unwrap();
    let (events, _) = db.drain_events(100);
    let errors: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BackgroundError { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors, vec![reason]);
    assert!(!events.iter().any(|e| matches!(e.kind, EventKind::Flush { .. })));
    let _ = db.close();
}

#[test]
fn the_queue_keeps_the_newest_events_and_counts_the_dropped() {
    let q = strata_engine::events::EventQueue::default();
    let cap = strata_engine::events::EVENT_QUEUE_CAPACITY;
    for i in 0..cap + 5 {
        q.push(Duration::ZERO, EventKind::BackgroundError { message: i.to_string() });
    }
    let (first, dropped) = q.drain(3);
    assert_eq!(dropped, 5);
    assert!(matches!(&first[0].kind, EventKind::BackgroundError { message } if message == "5"));
    let (rest, dropped) = q.drain(usize::MAX);
    assert_eq!(dropped, 0);
    assert_eq!(rest.len(), cap - 3);
}
