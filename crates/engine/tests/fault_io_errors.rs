//! T8: I/O error injection loop, fsync fail-stop (C6), ENOSPC, leaks, errors during recovery.
//!
//! A fixed workload of about 300 operations (puts, sync puts, deletes, batches, gets, two
//! flushes, one compaction and one reopen) runs over `FaultFs`. A fault-free run counts its
//! file operations (T). Then, for N = 1..T, the workload runs with operation N failing once
//! (`EIO`), and again with every operation from N on failing (SQLite's two modes). Pass:
//!
//! * every API call returns `Ok` or a typed error, never panics;
//! * after an injected write, sync, directory-sync, rename or create failure, no later
//!   write is acknowledged until the database is reopened (it is poisoned, C6);
//! * after the faults are disabled and the database reopened, every acknowledged write is
//!   present (no power loss here: unsynced acknowledged writes too), and `verify` is clean;
//! * after every close, no file handle, random-access handle (map) or lock of the database
//!   is still open (the file system is wrapped in a counting [`TrackedFs`]).
//!
//! ENOSPC variant: `ENOSPC_RUNS` runs fail SSTable creates, writes or syncs with
//! `StorageFull` from a random point of the flushes and compaction on. The database must stay
//! readable with every acknowledged write, surface the error, and lose nothing once space
//! is "freed" (faults cleared) and it is reopened.
//!
//! Errors during recovery: the state the workload leaves behind (a process crash, the
//! database not closed) is opened with operation N of the open path failing, for every N,
//! once and from N on. The open must succeed or fail with a typed error; a clean reopen then
//! loses no acknowledged write.
//!
//! Leaks on a real file system: the test binary re-executes itself (single-threaded) to run
//! the workload over `RealFs` with mmap, with and without random faults, and checks that
//! the entries of `/proc/self/fd` and the mappings of the database directory in
//! `/proc/self/maps` return to their baseline after every close.
//!
//! Soak (`STRATA_SOAK_SECS=<secs>`, or `STRATA_SOAK_RUNS=<n>`): random 5,000-operation
//! runs (puts, sync writes, deletes, batches, gets, scans, flushes, compactions, reopens) on
//! a random tiny geometry, with fault odds 1/32 for reads and 1/128 for writes, fsyncs,
//! directory fsyncs and renames (RocksDB's `read_fault_one_in` / `write_fault_one_in`),
//! seeded, until the time is up. Every poisoning fault must make the database read-only
//! within 5 s, after which no write may be acknowledged until the reopen (C6). After every
//! (re)open the recovered state is checked against the history; each run ends with an
//! error injected into the recovery of its final state, then a clean reopen, a history
//! check and `verify`. Prints `SOAK-SUMMARY T8: …`. Without the soak switch one run of 1,500
//! operations keeps this code exercised; `STRATA_T8_SOAK_OPS` changes the run length and
//! `STRATA_TEST_SEED` the base seed (run r uses base + r).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use common::history::{History, Op, Outcome};
use common::{env_u64, read_all, Rng, DB_PATH};
use strata_engine::file::fault::{FaultError, FaultFs, FaultSpec, FsImage, OpKind};
use strata_engine::file::{FileLock, Fs, RandomAccess, RealFs, WritableFile};
use strata_engine::{CompactionOptions, Db, Error, IterOptions, Options, Result, WriteBatch};

const WORKLOAD_OPS: usize = 300;
const ENOSPC_RUNS: u64 = 100;
const WORKERS: usize = 4;

#[derive(Debug, Clone)]
enum W {
    Put(Vec<u8>, Vec<u8>, bool),
    Delete(Vec<u8>),
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Flush,
    Compact,
    Reopen,
}

fn workload() -> Vec<W> {
    let mut rng = Rng::new(8);
    let key = |rng: &mut Rng| format!("key{:03}", rng.below(120)).into_bytes();
    let mut out = Vec::new();
    for i in 0..WORKLOAD_OPS {
        let op = match i {
            100 | 200 => W::Flush,
            150 => W::Reopen,
            250 => W::Compact,
            _ => match rng.below(100) {
                0..=54 => {
                    let mut v = format!("v{i}-").into_bytes();
                    let n = rng.range(10, 200) as usize;
                    v.extend(rng.bytes(n));
                    W::Put(key(&mut rng), v, rng.chance(10))
                }
                55..=69 => W::Delete(key(&mut rng)),
                70..=84 => {
                    let muts =
                        (0..3).map(|j| (key(&mut rng), (j != 2).then(|| format!("b{i}-{j}").into_bytes()))).collect();
                    W::Batch(muts)
                }
                _ => W::Get(key(&mut rng)),
            },
        };
        out.push(op);
    }
    out
}

/// A fault that [`TrackedFs`] injected at random.
#[derive(Debug, Clone)]
struct Injected {
    kind: OpKind,
    path: PathBuf,
    /// Injected on the thread that runs the workload (not a background thread).
    on_main: bool,
}

/// Random fault odds: one in `read` reads, one in `write` writes, fsyncs, directory fsyncs
/// and renames (0 = never).
#[derive(Debug)]
struct Odds {
    rng: Rng,
    read: u64,
    write: u64,
}

#[derive(Debug, Default)]
struct Shared {
    writers: AtomicI64,
    readers: AtomicI64,
    locks: AtomicI64,
    odds: Mutex<Option<Odds>>,
    injected: Mutex<Vec<Injected>>,
    main: Mutex<Option<ThreadId>>,
}

/// An [`Fs`] wrapper that counts the open writable files, random-access handles (maps) and
/// locks, and injects `EIO` at random odds (the soak). Cloning shares the counters.
#[derive(Debug, Clone)]
struct TrackedFs {
    inner: Arc<dyn Fs>,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TrackedFs {
    fn new(inner: Arc<dyn Fs>) -> Self {
        TrackedFs { inner, shared: Arc::default() }
    }

    fn over(fs: &FaultFs) -> Self {
        Self::new(Arc::new(fs.clone()))
    }

    /// Starts injecting faults at random (seeded) with the given odds; the calling thread is
    /// the workload's.
    fn set_odds(&self, seed: u64, read: u64, write: u64) {
        *lock(&self.shared.main) = Some(std::thread::current().id());
        *lock(&self.shared.odds) = Some(Odds { rng: Rng::new(seed), read, write });
    }

    /// Stops the random faults; returns the odds and generator for [`TrackedFs::resume`].
    fn pause(&self) -> Option<Odds> {
        lock(&self.shared.odds).take()
    }

    fn resume(&self, odds: Option<Odds>) {
        *lock(&self.shared.odds) = odds;
    }

    fn injected_len(&self) -> usize {
        lock(&self.shared.injected).len()
    }

    fn injected_since(&self, from: usize) -> Vec<Injected> {
        lock(&self.shared.injected).get(from..).map(<[Injected]>::to_vec).unwrap_or_default()
    }

    /// (writable files, random-access handles, locks) currently open.
    fn open_handles(&self) -> (i64, i64, i64) {
        let s = &self.shared;
        (s.writers.load(Ordering::SeqCst), s.readers.load(Ordering::SeqCst), s.locks.load(Ordering::SeqCst))
    }

    fn fault(&self, kind: OpKind, path: &Path) -> std::io::Result<()> {
        {
            let mut g = lock(&self.shared.odds);
            let Some(o) = g.as_mut() else { return Ok(()) };
            let one_in = match kind {
                OpKind::Read => o.read,
                OpKind::Write | OpKind::Sync | OpKind::SyncDir | OpKind::Rename => o.write,
                _ => 0,
            };
            if one_in == 0 || o.rng.below(one_in) != 0 {
                return Ok(());
            }
        }
        let on_main = *lock(&self.shared.main) == Some(std::thread::current().id());
        lock(&self.shared.injected).push(Injected { kind, path: path.to_path_buf(), on_main });
        Err(std::io::Error::other(format!("EIO (T8 soak: injected {kind:?} on {})", path.display())))
    }
}

#[derive(Debug)]
struct TrackedFile {
    inner: Box<dyn WritableFile>,
    fs: TrackedFs,
    path: PathBuf,
}

impl Drop for TrackedFile {
    fn drop(&mut self) {
        self.fs.shared.writers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WritableFile for TrackedFile {
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        self.fs.fault(OpKind::Write, &self.path)?;
        self.inner.write_all(buf)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.fs.fault(OpKind::Sync, &self.path)?;
        self.inner.sync_data()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        self.fs.fault(OpKind::Sync, &self.path)?;
        self.inner.sync_all()
    }
}

#[derive(Debug)]
struct TrackedRandomAccess {
    inner: Arc<dyn RandomAccess>,
    fs: TrackedFs,
}

impl Drop for TrackedRandomAccess {
    fn drop(&mut self) {
        self.fs.shared.readers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RandomAccess for TrackedRandomAccess {
    fn read_at(&self, offset: u64, len: usize) -> Result<bytes::Bytes> {
        self.fs.fault(OpKind::Read, self.inner.path()).map_err(|e| Error::io(self.inner.path(), e))?;
        self.inner.read_at(offset, len)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn path(&self) -> &Path {
        self.inner.path()
    }
}

#[derive(Debug)]
struct TrackedLock {
    _inner: Box<dyn FileLock>,
    fs: TrackedFs,
}

impl FileLock for TrackedLock {}

impl Drop for TrackedLock {
    fn drop(&mut self) {
        self.fs.shared.locks.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TrackedFs {
    fn writer(&self, f: std::io::Result<Box<dyn WritableFile>>, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        let inner = f?;
        self.shared.writers.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(TrackedFile { inner, fs: self.clone(), path: path.to_path_buf() }))
    }
}

impl Fs for TrackedFs {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        self.writer(self.inner.create(path), path)
    }
    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        self.writer(self.inner.open_append(path), path)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.fault(OpKind::Read, path)?;
        self.inner.read(path)
    }
    fn open_random_access(&self, path: &Path, use_mmap: bool) -> Result<Arc<dyn RandomAccess>> {
        let inner = self.inner.open_random_access(path, use_mmap)?;
        self.shared.readers.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(TrackedRandomAccess { inner, fs: self.clone() }))
    }
    fn file_size(&self, path: &Path) -> std::io::Result<u64> {
        self.inner.file_size(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.fault(OpKind::Rename, to)?;
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
        self.fault(OpKind::SyncDir, dir)?;
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }
    fn try_lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn FileLock>>> {
        let Some(inner) = self.inner.try_lock(path)? else { return Ok(None) };
        self.shared.locks.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Box::new(TrackedLock { _inner: inner, fs: self.clone() })))
    }
}

/// Fails unless every handle the database opened through `fs` has been closed.
fn check_no_open_handles(fs: &TrackedFs, when: &str) -> std::result::Result<(), String> {
    let (w, r, l) = fs.open_handles();
    if (w, r, l) != (0, 0, 0) {
        return Err(format!("{when}: handles still open: {w} writable files, {r} random-access handles, {l} locks"));
    }
    Ok(())
}

fn options(fs: &TrackedFs) -> Options {
    Options {
        memtable_size: 256 << 10,
        block_size: 512,
        block_cache_size: 0,
        compaction: CompactionOptions {
            l0_compaction_trigger: 4,
            num_levels: 4,
            target_file_size: 8 << 10,
            ..CompactionOptions::default()
        },
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

/// Calls `f`, turning a panic into a failure description.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> std::result::Result<Result<T>, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| format!("{what} panicked"))
}

/// Faults that must poison the database (C6).
fn poisoning(kind: OpKind) -> bool {
    matches!(kind, OpKind::Write | OpKind::Sync | OpKind::SyncDir | OpKind::Rename | OpKind::Create)
}

struct RunOutcome {
    hist: History,
    /// Some API call returned an error.
    saw_error: bool,
    /// The database, still open after the workload (`None` if an open failed).
    db: Option<Db>,
}

impl RunOutcome {
    /// Closes the database; true if that failed.
    fn close(&mut self) -> std::result::Result<bool, String> {
        let Some(db) = self.db.take() else { return Ok(false) };
        let s = self.hist.invoke(Op::Barrier("close"));
        let r = guarded("close", || db.close())?;
        self.hist.complete(s, &r);
        Ok(r.is_err())
    }
}

/// The number of poisoning faults `FaultFs` has injected so far.
fn fault_fs_poisoning(fs: &FaultFs) -> impl Fn() -> usize + '_ {
    move || fs.injected().iter().filter(|f| poisoning(f.kind)).count()
}

/// Runs the workload over `fs` at `path`; checks the C6 rule as it goes, with
/// `poisoning_faults` counting the poisoning faults injected so far.
fn run(
    fs: &TrackedFs,
    path: &Path,
    ops: &[W],
    poisoning_faults: &dyn Fn() -> usize,
) -> std::result::Result<RunOutcome, String> {
    let opts = options(fs);
    let mut hist = History::new();
    let mut saw_error = false;
    let mut db = match guarded("open", || Db::open(path, opts.clone()))? {
        Ok(db) => db,
        Err(_) => return Ok(RunOutcome { hist, saw_error: true, db: None }),
    };
    // Number of injected poisoning faults when the database was last (re)opened.
    let mut baseline = poisoning_faults();
    for (i, op) in ops.iter().enumerate() {
        let poisoned_before = poisoning_faults() > baseline;
        let write = |hist: &mut History, op: Op, f: &mut dyn FnMut() -> Result<()>| {
            let s = hist.invoke(op);
            let r = guarded("write", f)?;
            hist.complete(s, &r);
            if poisoned_before && r.is_ok() {
                return Err(format!("op {i}: a write was acknowledged after a poisoning fault"));
            }
            Ok(r.is_err())
        };
        let failed = match op {
            W::Put(k, v, sync) => {
                write(&mut hist, Op::Write { muts: vec![(k.clone(), Some(v.clone()))], sync: *sync }, &mut || {
                    db.put(k, v, *sync)
                })?
            }
            W::Delete(k) => {
                write(&mut hist, Op::Write { muts: vec![(k.clone(), None)], sync: false }, &mut || db.delete(k, false))?
            }
            W::Batch(muts) => write(&mut hist, Op::Write { muts: muts.clone(), sync: false }, &mut || {
                let mut b = WriteBatch::new();
                for (k, v) in muts {
                    match v {
                        Some(v) => b.put(k, v)?,
                        None => b.delete(k)?,
                    }
                }
                db.write(b, false)
            })?,
            W::Get(k) => {
                let r = guarded("get", || db.get(k, None))?;
                // Without indeterminate writes, a successful read must match the model.
                if let Ok(got) = &r {
                    if !hist.has_indeterminate() && got.as_ref() != hist.model().get(k) {
                        return Err(format!("op {i}: get returned a value that disagrees with the model"));
                    }
                }
                r.is_err()
            }
            W::Flush => {
                let s = hist.invoke(Op::Barrier("flush"));
                let r = guarded("flush", || db.flush())?;
                hist.complete(s, &r);
                r.is_err()
            }
            W::Compact => {
                let s = hist.invoke(Op::Barrier("compact"));
                let r = guarded("compact", || db.compact_range(None, None))?;
                hist.complete(s, &r);
                r.is_err()
            }
            W::Reopen => {
                let s = hist.invoke(Op::Barrier("close"));
                let r = guarded("close", || db.close())?;
                hist.complete(s, &r);
                let mut failed = r.is_err();
                let mut reopened = None;
                for _ in 0..2 {
                    match guarded("reopen", || Db::open(path, opts.clone()))? {
                        Ok(d) => {
                            reopened = Some(d);
                            break;
                        }
                        Err(_) => failed = true,
                    }
                }
                match reopened {
                    Some(d) => {
                        db = d;
                        baseline = poisoning_faults();
                    }
                    None => return Ok(RunOutcome { hist, saw_error: true, db: None }),
                }
                failed
            }
        };
        saw_error |= failed;
    }
    Ok(RunOutcome { hist, saw_error, db: Some(db) })
}

/// Runs the workload over `fs` (wrapped in a counting [`TrackedFs`]) at [`DB_PATH`].
fn run_fault_fs(fs: &FaultFs, ops: &[W]) -> (TrackedFs, std::result::Result<RunOutcome, String>) {
    let tfs = TrackedFs::over(fs);
    let res = run(&tfs, Path::new(DB_PATH), ops, &fault_fs_poisoning(fs));
    (tfs, res)
}

/// Disables faults, reopens and checks that every acknowledged write is there, that
/// `verify` is clean and that closing leaves no handle open.
fn check_after(
    fs: &FaultFs,
    tfs: &TrackedFs,
    path: &Path,
    hist: &History,
) -> std::result::Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    fs.clear_faults();
    check_reopen(tfs, path, hist)
}

/// With the random faults paused: reopens, checks `hist` (every acknowledged write),
/// `verify`, and that closing leaves no handle open.
fn check_reopen(
    tfs: &TrackedFs,
    path: &Path,
    hist: &History,
) -> std::result::Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    let odds = tfs.pause();
    check_no_open_handles(tfs, "before the check's reopen")?;
    let db = Db::open(path, options(tfs)).map_err(|e| format!("reopen without faults failed: {e}"))?;
    let state = read_all(&db).map_err(|e| format!("scan failed: {e}"))?;
    hist.check(hist.len(), &state, false)?;
    let problems = db.verify().map_err(|e| format!("verify failed: {e}"))?;
    if !problems.is_empty() {
        return Err(format!("verify: {problems:?}"));
    }
    db.close().map_err(|e| format!("close: {e}"))?;
    drop(db);
    check_no_open_handles(tfs, "after the check's close")?;
    tfs.resume(odds);
    Ok(state)
}

#[test]
fn io_error_loop_once_and_persistent() {
    common::watchdog("io_error_loop_once_and_persistent", 1800);
    let ops = workload();
    let fs = FaultFs::new();
    fs.set_tracing(true);
    let (tfs, out) = run_fault_fs(&fs, &ops);
    let mut out = out.expect("fault-free run");
    assert!(!out.close().expect("close"), "the fault-free close failed");
    assert!(!out.saw_error, "the fault-free run failed");
    assert!(out.hist.entries.iter().all(|e| e.outcome == Outcome::Ok));
    check_no_open_handles(&tfs, "after the fault-free run").expect("no leak");
    let trace = fs.trace();
    check_after(&fs, &tfs, Path::new(DB_PATH), &out.hist).expect("fault-free check");
    let total = trace.len() as u64;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for t in &trace {
        *kinds.entry(format!("{:?}", t.kind)).or_default() += 1;
    }
    let start = Instant::now();
    let jobs: Vec<(bool, u64)> = [false, true].iter().flat_map(|&p| (1..=total).map(move |n| (p, n))).collect();
    let next = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let errored = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&(persistent, n)) = jobs.get(i) else { return };
                let spec = if persistent { FaultSpec::from_nth(None, n) } else { FaultSpec::once(None, n) };
                let fs = FaultFs::new();
                fs.inject(spec);
                let (tfs, res) = run_fault_fs(&fs, &ops);
                let res = res.and_then(|mut out| {
                    if out.close()? || out.saw_error {
                        errored.fetch_add(1, Ordering::Relaxed);
                    }
                    check_no_open_handles(&tfs, "after the workload's close")?;
                    check_after(&fs, &tfs, Path::new(DB_PATH), &out.hist)
                        .map_err(|e| format!("{e}; injected {:?}", fs.injected()))
                });
                if let Err(e) = res {
                    let msg = format!("{} fault at op {n}: {e}", if persistent { "persistent" } else { "one-shot" });
                    eprintln!("FAIL {msg}");
                    failures.lock().expect("failures").push(msg);
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    println!(
        "T8 I/O errors: workload of {} ops = {total} file ops {kinds:?}; {} runs ({} with a surfaced error), {} failures \
         (including handles left open after close), {:.1} s",
        ops.len(),
        jobs.len(),
        errored.load(Ordering::Relaxed),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} runs failed; first: {}", failures.len(), failures[0]);
}

#[test]
fn enospc_in_flush_and_compaction() {
    common::watchdog("enospc_in_flush_and_compaction", 1800);
    let ops = workload();
    let fs = FaultFs::new();
    fs.set_tracing(true);
    run_fault_fs(&fs, &ops).1.expect("fault-free run").close().expect("close");
    // Every SSTable create, write and sync of the fault-free run, numbered per kind.
    let mut points: Vec<(OpKind, u64)> = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for t in fs.trace() {
        if matches!(t.kind, OpKind::Create | OpKind::Write | OpKind::Sync) && t.path.to_string_lossy().ends_with(".sst")
        {
            let n = seen.entry(format!("{:?}", t.kind)).or_default();
            *n += 1;
            points.push((t.kind, *n));
        }
    }
    assert!(!points.is_empty());
    let mut rng = Rng::new(28);
    let start = Instant::now();
    let mut surfaced = 0;
    for run_no in 0..ENOSPC_RUNS {
        let (kind, nth) = points[rng.below(points.len() as u64) as usize];
        let fs = FaultFs::new();
        fs.inject(FaultSpec {
            kind: Some(kind),
            path_contains: Some(".sst".into()),
            nth,
            persistent: true,
            error: FaultError::Enospc,
        });
        let ctx = format!("ENOSPC run {run_no} ({kind:?} #{nth} on .sst)");
        let (tfs, out) = run_fault_fs(&fs, &ops);
        let mut out = out.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        if fs.injected().is_empty() {
            out.close().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            continue;
        }
        assert!(out.saw_error, "{ctx}: ENOSPC was injected but no call reported an error");
        surfaced += 1;
        // The open database stays readable, with every acknowledged write, while the disk
        // is still full.
        if let Some(db) = &out.db {
            let state = read_all(db).unwrap_or_else(|e| panic!("{ctx}: read while full: {e}"));
            out.hist.check(out.hist.len(), &state, false).unwrap_or_else(|e| panic!("{ctx}: while full: {e}"));
            let st = db.stats().unwrap_or_else(|e| panic!("{ctx}: stats: {e}"));
            assert!(st.read_only_reason.is_some(), "{ctx}: not read-only after ENOSPC");
        }
        out.close().unwrap_or_else(|e| panic!("{ctx}: {e}"));
        check_no_open_handles(&tfs, &ctx).unwrap_or_else(|e| panic!("{e}"));
        // Space freed: nothing acknowledged is lost.
        check_after(&fs, &tfs, Path::new(DB_PATH), &out.hist)
            .unwrap_or_else(|e| panic!("{ctx}: after freeing space: {e}"));
    }
    println!(
        "T8 ENOSPC: {ENOSPC_RUNS} runs over {} SSTable write points, {surfaced} surfaced the error, 0 failures, {:.1} s",
        points.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(surfaced > ENOSPC_RUNS / 2);
}

#[test]
fn poisoned_error_is_typed() {
    // A WAL fsync failure poisons: later writes fail with `Poisoned` until reopen.
    let fs = FaultFs::new();
    let tfs = TrackedFs::over(&fs);
    let db = Db::open(Path::new(DB_PATH), options(&tfs)).expect("open");
    db.put(b"a", b"1", true).expect("put");
    fs.inject(FaultSpec::once(Some(OpKind::Sync), 1));
    assert!(matches!(db.put(b"b", b"2", true), Err(Error::Io { .. })));
    assert!(matches!(db.put(b"c", b"3", false), Err(Error::Poisoned(_))));
    assert!(db.get(b"a", None).expect("still readable").is_some());
    assert!(db.stats().expect("stats").read_only_reason.is_some());
    drop(db);
    let db = Db::open(Path::new(DB_PATH), options(&tfs)).expect("reopen");
    db.put(b"d", b"4", true).expect("writable after reopen");
    assert_eq!(db.get(b"a", None).expect("get"), Some(b"1".to_vec()));
    db.close().expect("close");
}

/// Regression (found by the one-shot loop at file ops 377 and 408): a compaction whose
/// manifest was renamed into place but whose directory sync failed deleted its output
/// tables, so the reopen found a manifest naming missing files and failed. The outputs
/// are now left for the next open's orphan cleanup.
#[test]
fn regression_compaction_install_dir_sync_failure_keeps_outputs() {
    let fs = FaultFs::new();
    let tfs = TrackedFs::over(&fs);
    let path = Path::new(DB_PATH);
    let db = Db::open(path, options(&tfs)).expect("open");
    let mut model = BTreeMap::new();
    for round in 0..2 {
        for i in 0..50u32 {
            let (k, v) = (format!("k{i:03}").into_bytes(), format!("r{round}-{i}").into_bytes());
            db.put(&k, &v, false).expect("put");
            model.insert(k, v);
        }
        db.flush().expect("flush");
    }
    // compact_range: the memtable is empty, so the first directory sync is the install's
    // (new tables), the second the manifest's after its rename.
    fs.inject(FaultSpec::once(Some(OpKind::SyncDir), 2));
    assert!(db.compact_range(None, None).is_err());
    assert_eq!(fs.injected().len(), 1);
    assert!(matches!(db.put(b"x", b"y", false), Err(Error::Poisoned(_))));
    drop(db);
    let db = Db::open(path, options(&tfs)).expect("reopen after the failed install");
    assert_eq!(read_all(&db).expect("scan"), model);
    assert!(db.verify().expect("verify").is_empty());
    db.close().expect("close");
}

/// The state a process crash would leave now: every file with its current bytes, whether
/// synced or not (the kernel keeps them), and the database directory. Powers `fs` off first
/// so that the image is one instant even while background threads run; the database that
/// used `fs` is dead afterwards (every operation fails) and can only be dropped.
fn process_crash_image(fs: &FaultFs) -> FsImage {
    fs.power_off();
    let mut image = FsImage::default();
    for p in fs.file_paths() {
        if let Some(bytes) = fs.peek(&p) {
            image.files.insert(p, Arc::new(bytes));
        }
    }
    for a in Path::new(DB_PATH).ancestors().filter(|a| !a.as_os_str().is_empty()) {
        image.dirs.insert(a.to_path_buf());
    }
    image
}

/// Number of file operations of a fault-free open of `image`.
fn open_ops(image: &FsImage, opts: &dyn Fn(&TrackedFs) -> Options) -> std::result::Result<u64, String> {
    let fs = FaultFs::from_image(image);
    let tfs = TrackedFs::over(&fs);
    let before = fs.ops();
    let db = Db::open(DB_PATH, opts(&tfs)).map_err(|e| format!("fault-free open of the crash image: {e}"))?;
    let n = fs.ops() - before;
    db.close().map_err(|e| format!("close: {e}"))?;
    Ok(n)
}

/// Opens `image` with `spec` armed (an I/O error during recovery). The open must succeed or
/// fail with a typed I/O error; if it succeeded, the database must hold every acknowledged
/// write. Then, faults cleared, a clean reopen must too, `verify` must be clean and no handle
/// may stay open. Returns true if the faulty open failed.
fn recover_with_fault(
    image: &FsImage,
    spec: FaultSpec,
    hist: &History,
    opts: &dyn Fn(&TrackedFs) -> Options,
) -> std::result::Result<bool, String> {
    let fs = FaultFs::from_image(image);
    let tfs = TrackedFs::over(&fs);
    fs.inject(spec);
    let path = Path::new(DB_PATH);
    let failed = match guarded("open with a recovery fault", || Db::open(path, opts(&tfs)))? {
        Ok(db) => {
            fs.clear_faults();
            let state = read_all(&db).map_err(|e| format!("scan after an open that survived the fault: {e}"))?;
            hist.check(hist.len(), &state, false).map_err(|e| format!("after an open that survived the fault: {e}"))?;
            let _ = db.close();
            false
        }
        Err(Error::Io { .. }) => true,
        Err(e) => return Err(format!("the open failed with {e:?}, not a typed I/O error")),
    };
    check_no_open_handles(&tfs, "after the open with a recovery fault")?;
    check_after(&fs, &tfs, path, hist).map_err(|e| format!("{e}; injected {:?}", fs.injected()))?;
    Ok(failed)
}

#[test]
fn io_error_during_recovery_every_op() {
    common::watchdog("io_error_during_recovery_every_op", 1800);
    let ops = workload();
    let fs = FaultFs::new();
    let (tfs, out) = run_fault_fs(&fs, &ops);
    let out = out.expect("fault-free run");
    assert!(!out.saw_error);
    // A process crash: the database is not closed; its WAL holds the writes since the last flush.
    let image = process_crash_image(&fs);
    let hist = out.hist.clone();
    drop(out);
    check_no_open_handles(&tfs, "after dropping the crashed database").expect("no leak");
    let opts = |t: &TrackedFs| options(t);
    let total = open_ops(&image, &opts).expect("count");
    let start = Instant::now();
    let (mut runs, mut failed) = (0, 0);
    for persistent in [false, true] {
        for n in 1..=total + 2 {
            let spec = if persistent { FaultSpec::from_nth(None, n) } else { FaultSpec::once(None, n) };
            let ctx = format!("{} fault at open op {n} of {total}", if persistent { "persistent" } else { "one-shot" });
            failed +=
                u64::from(recover_with_fault(&image, spec, &hist, &opts).unwrap_or_else(|e| panic!("{ctx}: {e}")));
            runs += 1;
        }
    }
    println!(
        "T8 recovery faults: open of the crash state = {total} file ops; {runs} runs (once + persistent), \
         {failed} opens failed with a typed I/O error, 0 lost writes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(failed > 0 && failed < runs);
}

const LEAK_CHILD_ENV: &str = "STRATA_T8_LEAK_CHILD";

/// Entries of `/proc/self/fd` (the listing's own descriptor included, so constant).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Mappings of files under `dir` in `/proc/self/maps`.
fn maps_under(dir: &Path) -> usize {
    let dir = dir.to_string_lossy();
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().filter(|l| l.contains(dir.as_ref())).count())
        .unwrap_or(0)
}

/// Run by `real_fs_descriptors_and_maps_return_to_baseline` in a child process, alone and
/// single-threaded, so that the process-wide counts only move with this database.
#[test]
fn real_fs_leak_child() {
    let Ok(root) = std::env::var(LEAK_CHILD_ENV) else { return };
    let root = PathBuf::from(root);
    let runs = env_u64("STRATA_T8_LEAK_RUNS").unwrap_or(12);
    let ops = workload();
    let (fds0, maps0) = (open_fds(), maps_under(&root));
    let (mut max_fds, mut max_maps, mut faults) = (0, 0, 0);
    for r in 0..runs {
        let path = root.join(format!("db{r}"));
        let tfs = TrackedFs::new(Arc::new(RealFs));
        // Odd runs: random faults (1/32 reads, 1/128 writes, syncs, renames) on the real disk.
        if r % 2 == 1 {
            tfs.set_odds(r, 32, 128);
        }
        let poisoning_faults = || tfs.injected_since(0).iter().filter(|f| poisoning(f.kind)).count();
        let mut out = run(&tfs, &path, &ops, &poisoning_faults).unwrap_or_else(|e| panic!("run {r}: {e}"));
        if out.db.is_some() {
            max_fds = max_fds.max(open_fds() - fds0);
            max_maps = max_maps.max(maps_under(&root) - maps0);
        }
        out.close().unwrap_or_else(|e| panic!("run {r}: {e}"));
        faults += tfs.injected_len();
        let _ = tfs.pause();
        let (fds, maps) = (open_fds(), maps_under(&root));
        assert_eq!((fds, maps), (fds0, maps0), "run {r}: descriptors and maps after close vs before open");
        check_no_open_handles(&tfs, &format!("run {r}")).unwrap_or_else(|e| panic!("{e}"));
        check_reopen(&tfs, &path, &out.hist).unwrap_or_else(|e| panic!("run {r}: {e}"));
        assert_eq!((open_fds(), maps_under(&root)), (fds0, maps0), "run {r}: after the check's close");
    }
    // The counts did see the database while it was open (mmap'd tables, WAL, LOCK).
    assert!(max_fds > 0 && max_maps > 0, "the check saw nothing: {max_fds} fds, {max_maps} maps");
    println!(
        "LEAK-CHILD OK: {runs} runs on RealFs (mmap), {faults} random faults; baseline {fds0} fds, {maps0} maps; \
         while open up to +{max_fds} fds and +{max_maps} maps; after every close: baseline"
    );
}

#[test]
fn real_fs_descriptors_and_maps_return_to_baseline() {
    if !Path::new("/proc/self/fd").is_dir() {
        println!("T8 leaks: no /proc, skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["real_fs_leak_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(LEAK_CHILD_ENV, dir.path())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "leak child failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().find_map(|l| l.find("LEAK-CHILD OK").map(|i| &l[i..])).expect("the child ran the check");
    println!("T8 leaks: {line}");
}

// ---------------------------------------------------------------------------------------
// Soak: random faults at RocksDB's odds for STRATA_SOAK_SECS.

const SOAK_OPS: usize = 5_000;
const READ_ONE_IN: u64 = 32;
const WRITE_ONE_IN: u64 = 128;
/// The history checker enumerates indeterminate writes; reopen before there are this many.
const MAX_INDETERMINATE: usize = 8;

#[derive(Debug, Default)]
struct SoakStats {
    runs: u64,
    ops: u64,
    acked_writes: u64,
    acked_sync_writes: u64,
    failed_calls: u64,
    faults: BTreeMap<String, u64>,
    faults_in_background: u64,
    read_only: u64,
    reopens: u64,
    failed_opens: u64,
    fallback_opens: u64,
    state_checks: u64,
    recovery_faults: u64,
    recovery_open_failed: u64,
    violations: Vec<String>,
}

/// One soak run's state.
struct Soak<'a> {
    tfs: TrackedFs,
    opts: Options,
    hist: History,
    /// Acknowledged state (valid while `indeterminate == 0`).
    model: BTreeMap<Vec<u8>, Vec<u8>>,
    indeterminate: usize,
    /// Faults already accounted for.
    seen: usize,
    st: &'a mut SoakStats,
}

type SoakResult<T> = std::result::Result<T, String>;

impl Soak<'_> {
    /// Every error the soak may see: I/O (injected), or the poisoned and closed states.
    fn typed(&self, what: &str, e: &Error) -> SoakResult<()> {
        match e {
            Error::Io { .. } | Error::Poisoned(_) | Error::Closed => Ok(()),
            other => Err(format!("{what}: unexpected error {other:?} (T8 damages no bytes)")),
        }
    }

    /// Accounts the faults injected since the last call; returns the first of them that must
    /// poison the database, described.
    fn new_faults(&mut self) -> Option<String> {
        let new = self.tfs.injected_since(self.seen);
        self.seen += new.len();
        for f in &new {
            *self.st.faults.entry(format!("{:?}", f.kind)).or_default() += 1;
            self.st.faults_in_background += u64::from(!f.on_main);
        }
        new.iter().find(|f| poisoning(f.kind)).map(|f| {
            format!(
                "{:?} of {} on {} thread",
                f.kind,
                f.path.display(),
                if f.on_main { "the workload" } else { "a background" }
            )
        })
    }

    /// With faults paused: reads everything, checks it against the history (every
    /// acknowledged write, any subset of the indeterminate ones) and restarts the history
    /// from that state.
    fn resolve(&mut self, db: &Db, when: &str) -> SoakResult<()> {
        let odds = self.tfs.pause();
        let state = read_all(db).map_err(|e| format!("{when}: scan without faults failed: {e}"));
        self.tfs.resume(odds);
        let state = state?;
        self.hist.check(self.hist.len(), &state, false).map_err(|e| format!("{when}: {e}"))?;
        self.st.state_checks += 1;
        let mut hist = History::new();
        let s = hist
            .invoke(Op::Write { muts: state.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(), sync: false });
        hist.complete(s, &Ok(()));
        self.hist = hist;
        self.model = state;
        self.indeterminate = 0;
        Ok(())
    }

    /// Opens under faults (up to 10 attempts, then without faults), then resolves.
    fn open(&mut self) -> SoakResult<Db> {
        for _ in 0..10 {
            check_no_open_handles(&self.tfs, "before an open")?;
            match guarded("open", || Db::open(DB_PATH, self.opts.clone()))? {
                Ok(db) => {
                    self.new_faults(); // faults of the open path are not C6 events
                    self.resolve(&db, "after a reopen under faults")?;
                    return Ok(db);
                }
                Err(e) => {
                    self.new_faults();
                    self.typed("open", &e)?;
                    self.st.failed_opens += 1;
                }
            }
        }
        check_no_open_handles(&self.tfs, "before the fault-free open")?;
        let odds = self.tfs.pause();
        let db = Db::open(DB_PATH, self.opts.clone()).map_err(|e| format!("open without faults failed: {e}"));
        self.tfs.resume(odds);
        let db = db?;
        self.st.fallback_opens += 1;
        self.new_faults();
        self.resolve(&db, "after a fault-free reopen")?;
        Ok(db)
    }

    fn close(&mut self, db: Db) -> SoakResult<()> {
        let s = self.hist.invoke(Op::Barrier("close"));
        let r = guarded("close", || db.close())?;
        self.hist.complete(s, &r);
        drop(db);
        self.new_faults();
        check_no_open_handles(&self.tfs, "after close")
    }

    /// Issues one write; returns whether it was acknowledged.
    fn write(
        &mut self,
        db: &Db,
        muts: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        sync: bool,
        read_only: bool,
    ) -> SoakResult<bool> {
        let s = self.hist.invoke(Op::Write { muts: muts.clone(), sync });
        let r = guarded("write", || {
            if let [(k, v)] = muts.as_slice() {
                return match v {
                    Some(v) => db.put(k, v, sync),
                    None => db.delete(k, sync),
                };
            }
            let mut b = WriteBatch::new();
            for (k, v) in &muts {
                match v {
                    Some(v) => b.put(k, v)?,
                    None => b.delete(k)?,
                }
            }
            db.write(b, sync)
        })?;
        self.hist.complete(s, &r);
        match &r {
            Ok(()) => {
                if read_only {
                    return Err("a write was acknowledged while the database was read-only (C6)".into());
                }
                self.st.acked_writes += 1;
                self.st.acked_sync_writes += u64::from(sync);
                common::history::apply(&mut self.model, &muts);
            }
            Err(e) => {
                self.typed("write", e)?;
                self.st.failed_calls += 1;
                if !common::history::certainly_not_applied(e) {
                    self.indeterminate += 1;
                }
            }
        }
        Ok(r.is_ok())
    }
}

fn soak_key(rng: &mut Rng) -> Vec<u8> {
    format!("k{:04}", rng.below(1000)).into_bytes()
}

fn soak_value(rng: &mut Rng, i: usize) -> Vec<u8> {
    let mut v = format!("v{i}-").into_bytes();
    let n = if rng.chance(2) { rng.range(2048, 8192) } else { rng.range(0, 400) };
    v.extend(rng.bytes(n as usize));
    v
}

/// Waits (up to 5 s) for the database to report read-only after the poisoning `fault`.
fn wait_read_only(db: &Db, fault: &str) -> SoakResult<()> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        match db.stats() {
            Ok(s) if s.read_only_reason.is_some() => return Ok(()),
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(format!("stats: {e}")),
        }
    }
    Err(format!("a failed {fault} did not make the database read-only within 5 s (C6)"))
}

/// One soak run: `SOAK_OPS` random operations under random faults, then an I/O error during
/// the recovery of the final (crashed) state, a clean reopen, the history check and `verify`.
fn soak_run(seed: u64, ops: usize, st: &mut SoakStats) -> SoakResult<()> {
    let mut rng = Rng::new(seed);
    let fs = FaultFs::new();
    let tfs = TrackedFs::over(&fs);
    let mut opts = common::tiny_options(&mut rng, &fs);
    opts.fs = Arc::new(tfs.clone());
    tfs.set_odds(seed ^ 0xFA17, READ_ONE_IN, WRITE_ONE_IN);
    let mut s = Soak { tfs, opts, hist: History::new(), model: BTreeMap::new(), indeterminate: 0, seen: 0, st };
    let mut db = s.open()?;
    let mut read_only = false;
    let mut hold = 0u64;
    for i in 0..ops {
        s.st.ops += 1;
        let ctx = |e: String| format!("op {i}: {e}");
        let r = rng.below(1000);
        match r {
            0..=519 => {
                let muts = match r {
                    0..=419 => vec![(soak_key(&mut rng), Some(soak_value(&mut rng, i)))],
                    420..=499 => vec![(soak_key(&mut rng), None)],
                    _ => (0..rng.range(2, 10))
                        .map(|_| {
                            (soak_key(&mut rng), if rng.chance(75) { Some(soak_value(&mut rng, i)) } else { None })
                        })
                        .collect(),
                };
                let sync = rng.chance(5);
                s.write(&db, muts, sync, read_only).map_err(ctx)?;
            }
            520..=819 | 956..=999 => {
                let k = soak_key(&mut rng);
                match guarded("get", || db.get(&k, None))? {
                    Ok(got) if s.indeterminate == 0 && got.as_ref() != s.model.get(&k) => {
                        return Err(ctx("get returned a value that disagrees with the acknowledged writes".into()));
                    }
                    Ok(_) => {}
                    Err(e) => s.typed("get", &e).map_err(ctx)?,
                }
            }
            820..=879 => {
                let from = soak_key(&mut rng);
                let scanned = guarded("scan", || {
                    let mut it = db.iter(IterOptions::default())?;
                    it.seek(&from)?;
                    let mut out = Vec::new();
                    while out.len() < 20 {
                        let Some(e) = it.next()? else { break };
                        out.push(e);
                    }
                    Ok(out)
                })?;
                match scanned {
                    Ok(got) if s.indeterminate == 0 => {
                        let want: Vec<_> =
                            s.model.range(from..).take(20).map(|(k, v)| (k.clone(), v.clone())).collect();
                        if got != want {
                            return Err(ctx("a scan disagrees with the acknowledged writes".into()));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => s.typed("scan", &e).map_err(ctx)?,
                }
            }
            880..=947 => {
                let name = if r < 940 { "flush" } else { "compact" };
                let seq = s.hist.invoke(Op::Barrier(name));
                let res = if r < 940 {
                    guarded(name, || db.flush())?
                } else {
                    guarded(name, || db.compact_range(None, None))?
                };
                s.hist.complete(seq, &res);
                if let Err(e) = &res {
                    s.typed(name, e).map_err(ctx)?;
                    s.st.failed_calls += 1;
                }
            }
            _ => {} // 948..=955: reopen, below
        }
        let reopen_now = (948..956).contains(&r);
        if let Some(fault) = s.new_faults() {
            if !read_only {
                wait_read_only(&db, &fault).map_err(ctx)?;
            }
        }
        if !read_only {
            read_only = db.stats().map_err(|e| ctx(format!("stats: {e}")))?.read_only_reason.is_some();
            if read_only {
                s.st.read_only += 1;
                hold = rng.range(1, 8);
            }
        }
        let release = read_only && {
            hold = hold.saturating_sub(1);
            hold == 0
        };
        if reopen_now || release || s.indeterminate >= MAX_INDETERMINATE {
            s.close(db).map_err(ctx)?;
            s.st.reopens += 1;
            db = s.open().map_err(ctx)?;
            read_only = false;
        }
    }
    // The run ends in a process crash; its recovery meets an I/O error at a random operation.
    let hist = s.hist.clone();
    let image = process_crash_image(&fs);
    drop(db);
    s.new_faults();
    check_no_open_handles(&s.tfs, "after the crash")?;
    let opts = s.opts.clone();
    let with_fs = |t: &TrackedFs| Options { fs: Arc::new(t.clone()), ..opts.clone() };
    let total = open_ops(&image, &with_fs)?;
    let n = rng.range(1, total);
    let spec = if rng.chance(50) { FaultSpec::from_nth(None, n) } else { FaultSpec::once(None, n) };
    s.st.recovery_faults += 1;
    s.st.recovery_open_failed += u64::from(
        recover_with_fault(&image, spec, &hist, &with_fs).map_err(|e| format!("recovery fault at open op {n}: {e}"))?,
    );
    s.st.runs += 1;
    Ok(())
}

#[test]
fn io_error_soak() {
    let secs = env_u64("STRATA_SOAK_SECS");
    let fixed = env_u64("STRATA_SOAK_RUNS");
    // Quick tier: one run, so that the soak code stays exercised.
    let runs_wanted = fixed.unwrap_or(if secs.is_some() { u64::MAX } else { 1 });
    // Quick tier: one shorter run. STRATA_T8_SOAK_OPS overrides.
    let ops = env_u64("STRATA_T8_SOAK_OPS")
        .map_or(if secs.is_some() || fixed.is_some() { SOAK_OPS } else { 1_500 }, |n| n as usize);
    let deadline = secs.map(|s| Instant::now() + Duration::from_secs(s));
    common::watchdog("io_error_soak", 1800 + secs.unwrap_or(0));
    let base = env_u64("STRATA_TEST_SEED").unwrap_or(if secs.is_some() {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() % 1_000_000)
    } else {
        1
    });
    println!("T8 soak: base seed {base}, {secs:?} s, {fixed:?} runs of {ops} ops");
    let start = Instant::now();
    let mut st = SoakStats::default();
    let mut attempted = 0u64;
    while attempted < runs_wanted && deadline.is_none_or(|d| Instant::now() < d || attempted == 0) {
        let seed = base + attempted;
        attempted += 1;
        let res =
            catch_unwind(AssertUnwindSafe(|| soak_run(seed, ops, &mut st))).unwrap_or_else(|_| Err("panicked".into()));
        if let Err(e) = res {
            let msg = format!("seed {seed} (replay: STRATA_TEST_SEED={seed} STRATA_SOAK_RUNS=1): {e}");
            eprintln!("T8 soak VIOLATION {msg}");
            st.violations.push(msg);
        }
    }
    let faults: u64 = st.faults.values().sum();
    println!(
        "SOAK-SUMMARY T8: {} runs of {ops} ops ({} ops, {} acked writes, {} sync) in {:.0} s; {faults} faults injected \
         {:?} ({} on background threads); {} read-only transitions; {} reopens ({} opens failed under faults, {} fault-free \
         fallbacks); {} state checks; {} recovery faults ({} failed the open); {} leaks; {} violations",
        st.runs,
        st.ops,
        st.acked_writes,
        st.acked_sync_writes,
        start.elapsed().as_secs_f64(),
        st.faults,
        st.faults_in_background,
        st.read_only,
        st.reopens,
        st.failed_opens,
        st.fallback_opens,
        st.state_checks,
        st.recovery_faults,
        st.recovery_open_failed,
        st.violations.iter().filter(|v| v.contains("handles still open")).count(),
        st.violations.len()
    );
    assert!(st.violations.is_empty(), "{} violations; first: {}", st.violations.len(), st.violations[0]);
    assert!(st.read_only > 0 && faults > 0, "the soak injected nothing");
}
