//! An in-memory [`Fs`] that simulates power loss and injects I/O errors, modelled on
//! LevelDB's `FaultInjectionTestEnv` and RocksDB's `FaultInjectionTestFS`.
//!
//! The model:
//!
//! * A file is an inode with its current bytes (what reads see, the OS page cache) and its
//!   *durable* bytes (the content as of its last `sync_data`/`sync_all`).
//! * The namespace (path → inode) is tracked twice: the live one, changed at once by
//!   create/rename/remove, and the durable one, which takes the live entries of a directory
//!   only when that directory is synced ([`Fs::sync_dir`]).
//! * Directories themselves are durable as soon as they are created (a simplification: the
//!   engine creates its directory once, before any data goes in).
//! * [`FaultFs::power_off`] (or [`FaultFs::power_off_after`]) freezes the file system: every
//!   later operation fails with `EIO`. [`FaultFs::reset`] then produces the state after the
//!   crash with one of the [`ResetMode`]s and powers it back on. Handles opened before the
//!   reset keep failing.
//! * [`FaultFs::inject`] fails the Nth operation of a kind (optionally on paths containing
//!   a substring) once or persistently, with `EIO` or `ENOSPC`.
//! * Every operation is counted ([`FaultFs::ops`]) and, when tracing, recorded
//!   ([`FaultFs::trace`]). With a crash-capture hook set, the crash images (reset modes r1
//!   and r4, plus the unsynced namespace operations from which every r5 image can be
//!   built) right after every sync, directory sync, rename and removal are recorded
//!   ([`FaultFs::take_crash_points`]) for exhaustive crash-state testing.
//! * The namespace operations not yet covered by a directory sync are kept in issue
//!   order; reset mode r5 persists a random subset of them that respects same-name order
//!   ([`UnsyncedNames`] states the rule).
//!
//! SSTables opened for random access are read from a copy of the file's bytes taken at
//! open (the "map" is a byte buffer); each `read_at` counts as a read operation.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::fs::{FileLock, Fs, WritableFile};
use super::{check_range, RandomAccess};
use crate::error::{Error, Result};

/// The kinds of operation [`FaultFs`] counts, traces and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Creating (or truncating) a file for writing, or opening one for append.
    Create,
    /// Appending bytes to a file.
    Write,
    /// `sync_data` / `sync_all` of a file.
    Sync,
    /// Reading a whole file, or a `read_at` of a random-access file.
    Read,
    /// Opening a file for random access.
    Open,
    /// Renaming a file.
    Rename,
    /// Removing a file.
    Remove,
    /// Listing a directory.
    ReadDir,
    /// Creating a directory.
    CreateDir,
    /// Syncing a directory.
    SyncDir,
    /// Asking for a file's size.
    Metadata,
    /// Taking a file lock.
    Lock,
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// An I/O error (`EIO`).
    Eio,
    /// No space left on the device (`ENOSPC`, `ErrorKind::StorageFull`).
    Enospc,
}

/// Which operations an injected fault hits.
#[derive(Debug, Clone)]
pub struct FaultSpec {
    /// The operation kind to count, or `None` for every operation.
    pub kind: Option<OpKind>,
    /// Only operations on paths containing this string count (all paths when `None`).
    pub path_contains: Option<String>,
    /// The first matching operation to fail, counting from 1 from when the fault is set.
    pub nth: u64,
    /// Fail every matching operation from the Nth on, instead of only the Nth.
    pub persistent: bool,
    /// The error to return.
    pub error: FaultError,
}

impl FaultSpec {
    /// Fails the `nth` operation of `kind` (any kind when `None`) once, with `EIO`.
    pub fn once(kind: Option<OpKind>, nth: u64) -> Self {
        FaultSpec { kind, path_contains: None, nth, persistent: false, error: FaultError::Eio }
    }

    /// Fails every operation of `kind` (any kind when `None`) from the `nth` on, with `EIO`.
    pub fn from_nth(kind: Option<OpKind>, nth: u64) -> Self {
        FaultSpec { persistent: true, ..Self::once(kind, nth) }
    }
}

/// How [`FaultFs::reset`] turns the state at power-off into the state after the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMode {
    /// r1: every file keeps exactly its synced bytes.
    DropUnsynced,
    /// r2: every file keeps its synced bytes plus a random prefix of the bytes appended
    /// since its last sync.
    DropRandomSuffix,
    /// r3: r1, then the start of the lost region (up to 4 KiB after the synced length) is
    /// overwritten: a random prefix of the real bytes followed by zeros or random junk
    /// (a torn page or garbage append).
    TornPage,
    /// r4: r1, and files, renames and removals not covered by a directory sync are
    /// forgotten (the namespace reverts to what was last made durable).
    ForgetUnsyncedNames,
    /// r5: r1, and a random *consistent subset* of the namespace operations not covered
    /// by a directory sync survives (see [`UnsyncedNames`] for the rule); r4 and r1 are
    /// its two extremes.
    ForgetRandomUnsyncedNames,
}

impl ResetMode {
    /// All five modes, r1 to r5.
    pub const ALL: [ResetMode; 5] = [
        ResetMode::DropUnsynced,
        ResetMode::DropRandomSuffix,
        ResetMode::TornPage,
        ResetMode::ForgetUnsyncedNames,
        ResetMode::ForgetRandomUnsyncedNames,
    ];
}

/// One namespace operation not yet covered by a directory sync, as [`UnsyncedNames`]
/// replays it onto an [`FsImage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOp {
    /// A new directory entry `path` for a new file, whose durable content (at the crash)
    /// is `data`.
    Create {
        /// The new entry.
        path: PathBuf,
        /// The file's synced bytes at the time of the crash.
        data: Arc<Vec<u8>>,
    },
    /// A rename inside one directory (atomic: the entry moves or it does not). A rename
    /// across directories is recorded as a `Remove` in the source directory and a
    /// `Create` in the target directory.
    Rename {
        /// The old name.
        from: PathBuf,
        /// The new name (replaced if it existed).
        to: PathBuf,
    },
    /// An unlink.
    Remove {
        /// The removed entry.
        path: PathBuf,
    },
}

impl NameOp {
    fn touches(&self, other: &NameOp) -> bool {
        let mine: [Option<&PathBuf>; 2] = self.names();
        let theirs = other.names();
        mine.iter().flatten().any(|a| theirs.iter().flatten().any(|b| a == b))
    }

    fn names(&self) -> [Option<&PathBuf>; 2] {
        match self {
            NameOp::Create { path, .. } | NameOp::Remove { path } => [Some(path), None],
            NameOp::Rename { from, to } => [Some(from), Some(to)],
        }
    }
}

/// The namespace operations (create, rename, unlink) not yet covered by a directory sync
/// at a crash, in the order they were issued, and the rule deciding which subsets of them
/// a crash may persist.
///
/// **The rule.** A crash persists any subset `S` of these operations that is *closed
/// under same-name order*: if an operation is in `S`, so is every earlier unsynced
/// operation on any name it touches (a rename touches both its names). Each operation is
/// atomic (a rename of X to Y happened entirely or not at all) and operations on one name
/// persist in issue order; operations on different names persist independently, in any
/// order. That is the weakest ordering POSIX leaves a file system without a directory
/// fsync, and a superset of what journaling file systems produce: ext4 and XFS commit
/// metadata in journal transactions, so they persist a *prefix* of the operations, and
/// every prefix is closed. Every subset is replayed, in issue order, onto the r4 image
/// (the durable namespace); the empty subset is r4 and the full one is r1. File contents
/// are always the synced bytes (as in r1).
#[derive(Debug, Clone, Default)]
pub struct UnsyncedNames {
    /// The operations, oldest first.
    pub ops: Vec<NameOp>,
}

impl UnsyncedNames {
    /// Number of unsynced operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if every namespace operation was covered by a directory sync.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// For every operation, the earlier operations on a name it touches.
    fn direct_preds(&self) -> Vec<Vec<usize>> {
        (0..self.ops.len())
            .map(|j| {
                (0..j).filter(|&i| self.ops.get(i).zip(self.ops.get(j)).is_some_and(|(a, b)| a.touches(b))).collect()
            })
            .collect()
    }

    /// True if `subset` (one flag per operation) is allowed by the rule.
    pub fn is_consistent(&self, subset: &[bool]) -> bool {
        let on = |i: usize| subset.get(i).copied().unwrap_or(false);
        self.direct_preds().iter().enumerate().all(|(j, preds)| !on(j) || preds.iter().all(|&i| on(i)))
    }

    /// Every allowed subset, including the empty one (r4) and the full one (r1), when
    /// there are at most `max_ops` operations; `None` when there are more.
    pub fn all_consistent_subsets(&self, max_ops: usize) -> Option<Vec<Vec<bool>>> {
        let n = self.ops.len();
        if n > max_ops || n >= 20 {
            return None;
        }
        let preds = self.direct_preds();
        let mut out = Vec::new();
        for mask in 0u32..(1u32 << n) {
            let on = |i: usize| mask & (1 << i) != 0;
            if preds.iter().enumerate().all(|(j, p)| !on(j) || p.iter().all(|&i| on(i))) {
                out.push((0..n).map(on).collect());
            }
        }
        Some(out)
    }

    /// A random allowed subset drawn with `seed`. Half the draws keep each operation
    /// whose predecessors are kept with probability 1/2 (favouring early operations), the
    /// other half close a uniformly random set downwards (favouring late ones).
    pub fn random_subset(&self, seed: u64) -> Vec<bool> {
        let mut rng = Rng(seed);
        let n = self.ops.len();
        let preds = self.direct_preds();
        let mut on = vec![false; n];
        if rng.below(2) == 0 {
            for j in 0..n {
                let allowed = preds.get(j).is_some_and(|p| p.iter().all(|&i| on.get(i).copied().unwrap_or(false)));
                if allowed && rng.below(2) == 0 {
                    if let Some(f) = on.get_mut(j) {
                        *f = true;
                    }
                }
            }
        } else {
            for f in &mut on {
                *f = rng.below(2) == 0;
            }
            for j in (0..n).rev() {
                if on.get(j).copied().unwrap_or(false) {
                    for &i in preds.get(j).map(Vec::as_slice).unwrap_or(&[]) {
                        if let Some(f) = on.get_mut(i) {
                            *f = true;
                        }
                    }
                }
            }
        }
        on
    }

    /// The crash image when the operations flagged in `subset` persisted: `durable` is
    /// the r4 image (durable names, synced bytes).
    pub fn image(&self, durable: &FsImage, subset: &[bool]) -> FsImage {
        let mut img = durable.clone();
        for (op, _) in self.ops.iter().zip(subset).filter(|(_, on)| **on) {
            match op {
                NameOp::Create { path, data } => {
                    img.files.insert(path.clone(), Arc::clone(data));
                }
                NameOp::Rename { from, to } => {
                    if let Some(data) = img.files.remove(from) {
                        img.files.insert(to.clone(), data);
                    }
                }
                NameOp::Remove { path } => {
                    img.files.remove(path);
                }
            }
        }
        img
    }
}

/// One traced operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// The operation number (1-based, as counted by [`FaultFs::ops`]).
    pub op: u64,
    /// What it was.
    pub kind: OpKind,
    /// The file or directory it concerned.
    pub path: PathBuf,
}

/// An injected failure: which operation returned an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    /// The operation number.
    pub op: u64,
    /// Its kind.
    pub kind: OpKind,
    /// Its path.
    pub path: PathBuf,
    /// The error returned.
    pub error: FaultError,
}

/// A whole file-system state: files with their bytes, and directories.
#[derive(Debug, Clone, Default)]
pub struct FsImage {
    /// Every file and its content.
    pub files: BTreeMap<PathBuf, Arc<Vec<u8>>>,
    /// Every directory.
    pub dirs: BTreeSet<PathBuf>,
}

/// The crash states right after one persistence operation (see
/// [`FaultFs::set_crash_capture`]).
#[derive(Debug, Clone)]
pub struct CrashPoint {
    /// The operation after which the crash happens.
    pub entry: TraceEntry,
    /// What the capture hook returned when the operation completed.
    pub tag: u64,
    /// The state after the crash under reset mode r1.
    pub r1: FsImage,
    /// The state after the crash under reset mode r4.
    pub r4: FsImage,
    /// The namespace operations a crash here may or may not persist: every image
    /// `unsynced.image(&r4, subset)` for a consistent subset is a possible crash state
    /// (reset mode r5).
    pub unsynced: UnsyncedNames,
    /// The images under the extra modes set with [`FaultFs::set_crash_capture_modes`]
    /// (r2 and r3 seeded with the operation number).
    pub extra: Vec<(ResetMode, FsImage)>,
}

/// The hook called at every crash point; its result is stored as [`CrashPoint::tag`].
pub type CaptureHook = Arc<dyn Fn() -> u64 + Send + Sync>;

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Arc<Vec<u8>>,
    /// `data` may differ from `durable` (written or truncated since the last sync).
    dirty: bool,
}

/// A namespace operation not yet covered by a directory sync, by inode.
#[derive(Debug, Clone)]
enum PendingOp {
    Create { path: PathBuf, inode: u64 },
    Rename { from: PathBuf, to: PathBuf },
    Remove { path: PathBuf },
}

impl PendingOp {
    /// True if a sync of `dir` covers the operation.
    fn in_dir(&self, dir: &Path) -> bool {
        match self {
            PendingOp::Create { path, .. } | PendingOp::Remove { path } => path.parent() == Some(dir),
            PendingOp::Rename { to, .. } => to.parent() == Some(dir),
        }
    }
}

#[derive(Debug)]
struct ArmedFault {
    spec: FaultSpec,
    seen: u64,
}

#[derive(Default)]
struct State {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    live: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    /// Namespace operations since the last sync of their directory, oldest first. Applied
    /// in order to `durable_names` they give `live`.
    pending: Vec<PendingOp>,
    dirs: BTreeSet<PathBuf>,
    locks: HashSet<PathBuf>,
    generation: u64,
    powered_off: bool,
    power_off_at: Option<u64>,
    ops: u64,
    tracing: bool,
    trace: Vec<TraceEntry>,
    faults: Vec<ArmedFault>,
    injected: Vec<InjectedFault>,
    capture: Option<CaptureHook>,
    capture_modes: Vec<ResetMode>,
    crash_points: Vec<CrashPoint>,
}

fn eio(what: &str) -> std::io::Error {
    std::io::Error::other(format!("EIO (FaultFs: {what})"))
}

fn not_found(path: &Path) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, format!("FaultFs: {} does not exist", path.display()))
}

impl State {
    /// Counts and traces an operation and decides whether it fails.
    fn begin(&mut self, kind: OpKind, path: &Path) -> std::io::Result<u64> {
        if self.powered_off {
            return Err(eio("powered off"));
        }
        let op = self.ops + 1;
        if self.power_off_at.is_some_and(|at| op > at) {
            self.powered_off = true;
            return Err(eio("powered off"));
        }
        self.ops = op;
        if self.tracing {
            self.trace.push(TraceEntry { op, kind, path: path.to_path_buf() });
        }
        let path_str = path.to_string_lossy();
        let mut hit = None;
        for f in &mut self.faults {
            if f.spec.kind.is_some_and(|k| k != kind) {
                continue;
            }
            if f.spec.path_contains.as_deref().is_some_and(|s| !path_str.contains(s)) {
                continue;
            }
            f.seen += 1;
            let fire = if f.spec.persistent { f.seen >= f.spec.nth } else { f.seen == f.spec.nth };
            if fire && hit.is_none() {
                hit = Some(f.spec.error);
            }
        }
        if let Some(error) = hit {
            self.injected.push(InjectedFault { op, kind, path: path.to_path_buf(), error });
            return Err(match error {
                FaultError::Eio => eio(&format!("injected failure of {kind:?} op {op}")),
                FaultError::Enospc => std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!("ENOSPC (FaultFs: injected on {kind:?} op {op})"),
                ),
            });
        }
        Ok(op)
    }

    fn check_gen(&self, generation: u64) -> std::io::Result<()> {
        if generation != self.generation {
            return Err(eio("handle opened before the last reset"));
        }
        Ok(())
    }

    fn new_inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.inodes.insert(self.next_inode, Inode::default());
        self.next_inode
    }

    fn parent_exists(&self, path: &Path) -> bool {
        path.parent().is_none_or(|p| p.as_os_str().is_empty() || self.dirs.contains(p))
    }

    /// Records the crash images after a persistence operation, when capturing.
    fn captured(&mut self, op: u64, kind: OpKind, path: &Path) {
        let Some(hook) = self.capture.clone() else { return };
        let tag = hook();
        let r1 = self.crash_image(ResetMode::DropUnsynced, &mut Rng(0));
        let r4 = self.crash_image(ResetMode::ForgetUnsyncedNames, &mut Rng(0));
        let unsynced = self.unsynced();
        let extra = self.capture_modes.iter().map(|&m| (m, self.crash_image(m, &mut Rng(op)))).collect();
        self.crash_points.push(CrashPoint {
            entry: TraceEntry { op, kind, path: path.to_path_buf() },
            tag,
            r1,
            r4,
            unsynced,
            extra,
        });
    }

    /// The unsynced namespace operations, with the synced content of the files they create.
    fn unsynced(&self) -> UnsyncedNames {
        let ops = self
            .pending
            .iter()
            .map(|op| match op {
                PendingOp::Create { path, inode } => NameOp::Create {
                    path: path.clone(),
                    data: self.inodes.get(inode).map(|i| Arc::clone(&i.durable)).unwrap_or_default(),
                },
                PendingOp::Rename { from, to } => NameOp::Rename { from: from.clone(), to: to.clone() },
                PendingOp::Remove { path } => NameOp::Remove { path: path.clone() },
            })
            .collect();
        UnsyncedNames { ops }
    }

    /// The state a crash now would leave behind.
    fn crash_image(&self, mode: ResetMode, rng: &mut Rng) -> FsImage {
        if mode == ResetMode::ForgetRandomUnsyncedNames {
            let durable = self.crash_image(ResetMode::ForgetUnsyncedNames, rng);
            let unsynced = self.unsynced();
            let subset = unsynced.random_subset(rng.next());
            return unsynced.image(&durable, &subset);
        }
        let names = if mode == ResetMode::ForgetUnsyncedNames { &self.durable_names } else { &self.live };
        let mut files = BTreeMap::new();
        for (path, id) in names {
            let Some(inode) = self.inodes.get(id) else { continue };
            let synced = inode.durable.len();
            let appended = inode.data.len() > synced && inode.data.starts_with(&inode.durable);
            let content = match mode {
                ResetMode::DropUnsynced | ResetMode::ForgetUnsyncedNames | ResetMode::ForgetRandomUnsyncedNames => {
                    Arc::clone(&inode.durable)
                }
                ResetMode::DropRandomSuffix if appended => {
                    let extra = rng.below(inode.data.len() - synced + 1);
                    Arc::new(inode.data.get(..synced + extra).map(<[u8]>::to_vec).unwrap_or_default())
                }
                ResetMode::TornPage if appended => {
                    let lost = (inode.data.len() - synced).min(4096);
                    let real = rng.below(lost + 1);
                    let mut v = inode.data.get(..synced + real).map(<[u8]>::to_vec).unwrap_or_default();
                    let zeros = rng.below(2) == 0;
                    for _ in real..lost {
                        // Truncation to the low byte is the point: random junk.
                        #[allow(clippy::cast_possible_truncation)]
                        v.push(if zeros { 0 } else { rng.next() as u8 });
                    }
                    Arc::new(v)
                }
                ResetMode::DropRandomSuffix | ResetMode::TornPage => Arc::clone(&inode.durable),
            };
            files.insert(path.clone(), content);
        }
        FsImage { files, dirs: self.dirs.clone() }
    }

    /// Replaces everything with `image`, powered on, with no faults armed and no locks held.
    fn load(&mut self, image: &FsImage) {
        self.inodes.clear();
        self.live.clear();
        for (path, content) in &image.files {
            let id = self.new_inode();
            if let Some(inode) = self.inodes.get_mut(&id) {
                inode.data = content.as_ref().clone();
                inode.durable = Arc::clone(content);
            }
            self.live.insert(path.clone(), id);
        }
        self.durable_names = self.live.clone();
        self.pending.clear();
        self.dirs = image.dirs.clone();
        self.locks.clear();
        self.generation += 1;
        self.powered_off = false;
        self.power_off_at = None;
        self.faults.clear();
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("files", &self.live.len()).field("ops", &self.ops).finish_non_exhaustive()
    }
}

/// A small deterministic PRNG (SplitMix64) for the reset modes.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// The fault-injecting in-memory file system. Cloning gives another handle on the same
/// file system.
#[derive(Clone, Default)]
pub struct FaultFs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("FaultFs")
            .field("files", &st.live.len())
            .field("ops", &st.ops)
            .field("powered_off", &st.powered_off)
            .finish()
    }
}

impl FaultFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file system holding `image`, everything durable.
    pub fn from_image(image: &FsImage) -> Self {
        let fs = Self::new();
        fs.state.lock().load(image);
        fs
    }

    /// Number of operations performed so far.
    pub fn ops(&self) -> u64 {
        self.state.lock().ops
    }

    /// Starts (or stops) recording every operation in the trace.
    pub fn set_tracing(&self, on: bool) {
        self.state.lock().tracing = on;
    }

    /// The operations recorded while tracing.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.state.lock().trace.clone()
    }

    /// Arms a fault. Several may be armed at once; the first that fires wins.
    pub fn inject(&self, spec: FaultSpec) {
        self.state.lock().faults.push(ArmedFault { spec, seen: 0 });
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// Every fault injected so far (kept across resets until [`FaultFs::clear_injected`]).
    pub fn injected(&self) -> Vec<InjectedFault> {
        self.state.lock().injected.clone()
    }

    /// Number of faults injected so far.
    pub fn injected_count(&self) -> usize {
        self.state.lock().injected.len()
    }

    /// Forgets the list of injected faults.
    pub fn clear_injected(&self) {
        self.state.lock().injected.clear();
    }

    /// Cuts the power now: every later operation fails with `EIO` until [`FaultFs::reset`].
    pub fn power_off(&self) {
        self.state.lock().powered_off = true;
    }

    /// Cuts the power after `n` more operations have been performed.
    pub fn power_off_after(&self, n: u64) {
        let mut st = self.state.lock();
        st.power_off_at = Some(st.ops + n);
    }

    /// True once the power is off.
    pub fn is_powered_off(&self) -> bool {
        self.state.lock().powered_off
    }

    /// The state a crash now would leave under `mode` (`seed` drives r2 and r3).
    pub fn crash_image(&self, mode: ResetMode, seed: u64) -> FsImage {
        self.state.lock().crash_image(mode, &mut Rng(seed))
    }

    /// Crashes: replaces the state with the post-crash state under `mode` (`seed` drives r2
    /// and r3), powers back on, disarms faults and drops every lock. Handles opened before
    /// keep failing with `EIO`.
    pub fn reset(&self, mode: ResetMode, seed: u64) {
        let mut st = self.state.lock();
        let image = st.crash_image(mode, &mut Rng(seed));
        st.load(&image);
    }

    /// With a hook, records the r1 and r4 crash images right after every successful sync,
    /// directory sync, rename and removal, tagged with the hook's result; `None` stops.
    pub fn set_crash_capture(&self, hook: Option<CaptureHook>) {
        self.state.lock().capture = hook;
    }

    /// Also records, at every crash point, the image under each of `modes` (for r2 and
    /// r3, seeded with the operation number).
    pub fn set_crash_capture_modes(&self, modes: &[ResetMode]) {
        self.state.lock().capture_modes = modes.to_vec();
    }

    /// Records a crash point now (for example right after an operation is acknowledged),
    /// when a capture hook is set. Does not count as an operation.
    pub fn capture_now(&self, what: &Path) {
        let mut st = self.state.lock();
        let op = st.ops;
        st.captured(op, OpKind::Metadata, what);
    }

    /// Returns and forgets the recorded crash points.
    pub fn take_crash_points(&self) -> Vec<CrashPoint> {
        std::mem::take(&mut self.state.lock().crash_points)
    }

    /// The current (not necessarily durable) content of a file, without counting an operation.
    pub fn peek(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.state.lock();
        st.live.get(path).and_then(|id| st.inodes.get(id)).map(|i| i.data.clone())
    }

    /// The paths of every file, without counting an operation.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.state.lock().live.keys().cloned().collect()
    }

    fn open_writer(&self, path: &Path, truncate: bool) -> std::io::Result<Box<dyn WritableFile>> {
        let mut st = self.state.lock();
        st.begin(OpKind::Create, path)?;
        if !st.parent_exists(path) {
            return Err(not_found(path));
        }
        let id = match st.live.get(path).copied() {
            Some(id) => {
                if truncate {
                    if let Some(inode) = st.inodes.get_mut(&id) {
                        inode.data.clear();
                        inode.dirty = true;
                    }
                }
                id
            }
            None => {
                let id = st.new_inode();
                st.live.insert(path.to_path_buf(), id);
                st.pending.push(PendingOp::Create { path: path.to_path_buf(), inode: id });
                id
            }
        };
        Ok(Box::new(FaultFile {
            state: Arc::clone(&self.state),
            inode: id,
            path: path.to_path_buf(),
            generation: st.generation,
        }))
    }
}

#[derive(Debug)]
struct FaultFile {
    state: Arc<Mutex<State>>,
    inode: u64,
    path: PathBuf,
    generation: u64,
}

impl FaultFile {
    fn sync(&self) -> std::io::Result<()> {
        let mut st = self.state.lock();
        st.check_gen(self.generation)?;
        let op = st.begin(OpKind::Sync, &self.path)?;
        let inode = st.inodes.get_mut(&self.inode).ok_or_else(|| eio("inode vanished"))?;
        if inode.dirty {
            inode.durable = Arc::new(inode.data.clone());
            inode.dirty = false;
        }
        st.captured(op, OpKind::Sync, &self.path);
        Ok(())
    }
}

impl WritableFile for FaultFile {
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        let mut st = self.state.lock();
        st.check_gen(self.generation)?;
        st.begin(OpKind::Write, &self.path)?;
        let inode = st.inodes.get_mut(&self.inode).ok_or_else(|| eio("inode vanished"))?;
        inode.data.extend_from_slice(buf);
        inode.dirty = true;
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> std::io::Result<()> {
        self.sync()
    }
}

#[derive(Debug)]
struct FaultRandomAccess {
    state: Arc<Mutex<State>>,
    data: Bytes,
    path: PathBuf,
    generation: u64,
}

impl RandomAccess for FaultRandomAccess {
    fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        {
            let mut st = self.state.lock();
            st.check_gen(self.generation).map_err(|e| Error::io(&self.path, e))?;
            st.begin(OpKind::Read, &self.path).map_err(|e| Error::io(&self.path, e))?;
        }
        let (start, end) = check_range(&self.path, self.data.len() as u64, offset, len)?;
        Ok(self.data.slice(start..end))
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug)]
struct FaultLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    generation: u64,
}

impl FileLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        let mut st = self.state.lock();
        if st.generation == self.generation {
            st.locks.remove(&self.path);
        }
    }
}

impl Fs for FaultFs {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        self.open_writer(path, true)
    }

    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        self.open_writer(path, false)
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let mut st = self.state.lock();
        st.begin(OpKind::Read, path)?;
        let id = st.live.get(path).copied().ok_or_else(|| not_found(path))?;
        st.inodes.get(&id).map(|i| i.data.clone()).ok_or_else(|| eio("inode vanished"))
    }

    fn open_random_access(&self, path: &Path, _use_mmap: bool) -> Result<Arc<dyn RandomAccess>> {
        let mut st = self.state.lock();
        st.begin(OpKind::Open, path).map_err(|e| Error::io(path, e))?;
        let id = st.live.get(path).copied().ok_or_else(|| Error::io(path, not_found(path)))?;
        let data = st.inodes.get(&id).map(|i| Bytes::from(i.data.clone())).unwrap_or_default();
        Ok(Arc::new(FaultRandomAccess {
            state: Arc::clone(&self.state),
            data,
            path: path.to_path_buf(),
            generation: st.generation,
        }))
    }

    fn file_size(&self, path: &Path) -> std::io::Result<u64> {
        let mut st = self.state.lock();
        st.begin(OpKind::Metadata, path)?;
        let id = st.live.get(path).copied().ok_or_else(|| not_found(path))?;
        Ok(st.inodes.get(&id).map_or(0, |i| i.data.len() as u64))
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        let mut st = self.state.lock();
        let op = st.begin(OpKind::Rename, to)?;
        if !st.parent_exists(to) {
            return Err(not_found(to));
        }
        let id = st.live.remove(from).ok_or_else(|| not_found(from))?;
        st.live.insert(to.to_path_buf(), id);
        if from.parent() == to.parent() {
            st.pending.push(PendingOp::Rename { from: from.to_path_buf(), to: to.to_path_buf() });
        } else {
            st.pending.push(PendingOp::Remove { path: from.to_path_buf() });
            st.pending.push(PendingOp::Create { path: to.to_path_buf(), inode: id });
        }
        st.captured(op, OpKind::Rename, to);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        let mut st = self.state.lock();
        let op = st.begin(OpKind::Remove, path)?;
        st.live.remove(path).ok_or_else(|| not_found(path))?;
        st.pending.push(PendingOp::Remove { path: path.to_path_buf() });
        st.captured(op, OpKind::Remove, path);
        Ok(())
    }

    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<OsString>> {
        let mut st = self.state.lock();
        st.begin(OpKind::ReadDir, dir)?;
        if !st.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let mut names = Vec::new();
        for p in st.live.keys().chain(st.dirs.iter()) {
            if p.parent() == Some(dir) {
                if let Some(name) = p.file_name() {
                    names.push(name.to_os_string());
                }
            }
        }
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        let mut st = self.state.lock();
        st.begin(OpKind::CreateDir, dir)?;
        for a in dir.ancestors() {
            if a.as_os_str().is_empty() {
                break;
            }
            if st.live.contains_key(a) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("FaultFs: {} is a file", a.display()),
                ));
            }
            st.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        let mut st = self.state.lock();
        let op = st.begin(OpKind::SyncDir, dir)?;
        if !st.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        // The directory's live entries become durable: replaying its pending operations
        // onto the durable names gives exactly them (`live` = `durable_names` + `pending`),
        // in time proportional to the operations rather than to the files.
        let pending = std::mem::take(&mut st.pending);
        let (covered, rest): (Vec<PendingOp>, Vec<PendingOp>) = pending.into_iter().partition(|p| p.in_dir(dir));
        st.pending = rest;
        for op in covered {
            match op {
                PendingOp::Create { path, inode } => {
                    st.durable_names.insert(path, inode);
                }
                PendingOp::Rename { from, to } => {
                    if let Some(id) = st.durable_names.remove(&from) {
                        st.durable_names.insert(to, id);
                    }
                }
                PendingOp::Remove { path } => {
                    st.durable_names.remove(&path);
                }
            }
        }
        st.captured(op, OpKind::SyncDir, dir);
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.state.lock();
        st.live.contains_key(path) || st.dirs.contains(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.state.lock().dirs.contains(path)
    }

    fn try_lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn FileLock>>> {
        let mut st = self.state.lock();
        st.begin(OpKind::Lock, path)?;
        if !st.parent_exists(path) {
            return Err(not_found(path));
        }
        if st.locks.contains(path) {
            return Ok(None);
        }
        if !st.live.contains_key(path) {
            let id = st.new_inode();
            st.live.insert(path.to_path_buf(), id);
            st.pending.push(PendingOp::Create { path: path.to_path_buf(), inode: id });
        }
        st.locks.insert(path.to_path_buf());
        Ok(Some(Box::new(FaultLock {
            state: Arc::clone(&self.state),
            path: path.to_path_buf(),
            generation: st.generation,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn unsynced_bytes_and_names_are_lost_by_mode() {
        let fs = FaultFs::new();
        fs.create_dir_all(&p("/db")).unwrap();
        let f = fs.create(&p("/db/a")).unwrap();
        f.write_all(b"hello").unwrap();
        f.sync_data().unwrap();
        f.write_all(&[7u8; 5000]).unwrap();
        fs.sync_dir(&p("/db")).unwrap();
        let g = fs.create(&p("/db/b")).unwrap();
        g.write_all(b"x").unwrap();
        g.sync_all().unwrap();

        let r1 = fs.crash_image(ResetMode::DropUnsynced, 1);
        assert_eq!(r1.files[&p("/db/a")].as_slice(), b"hello");
        assert_eq!(r1.files[&p("/db/b")].as_slice(), b"x");
        let r4 = fs.crash_image(ResetMode::ForgetUnsyncedNames, 1);
        assert!(!r4.files.contains_key(&p("/db/b")));
        for seed in 0..20 {
            let r2 = fs.crash_image(ResetMode::DropRandomSuffix, seed);
            let a = &r2.files[&p("/db/a")];
            assert!(a.len() >= 5 && a.len() <= 5005 && a.starts_with(b"hello"));
            let r3 = fs.crash_image(ResetMode::TornPage, seed);
            assert_eq!(r3.files[&p("/db/a")].len(), 5 + 4096);
        }

        fs.power_off();
        assert!(f.write_all(b"more").is_err());
        assert!(fs.read(&p("/db/a")).is_err());
        fs.reset(ResetMode::ForgetUnsyncedNames, 0);
        assert_eq!(fs.read(&p("/db/a")).unwrap(), b"hello");
        assert!(fs.read(&p("/db/b")).is_err());
        // Handles from before the reset stay dead.
        assert!(f.write_all(b"more").is_err());
    }

    #[test]
    fn rename_and_remove_need_dir_sync() {
        let fs = FaultFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let f = fs.create(&p("/d/old")).unwrap();
        f.write_all(b"1").unwrap();
        f.sync_all().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        let t = fs.create(&p("/d/tmp")).unwrap();
        t.write_all(b"2").unwrap();
        t.sync_all().unwrap();
        fs.rename(&p("/d/tmp"), &p("/d/old")).unwrap();
        let img = fs.crash_image(ResetMode::ForgetUnsyncedNames, 0);
        assert_eq!(img.files[&p("/d/old")].as_slice(), b"1");
        fs.sync_dir(&p("/d")).unwrap();
        fs.remove_file(&p("/d/old")).unwrap();
        let img = fs.crash_image(ResetMode::ForgetUnsyncedNames, 0);
        assert_eq!(img.files[&p("/d/old")].as_slice(), b"2");
        assert!(!fs.crash_image(ResetMode::DropUnsynced, 0).files.contains_key(&p("/d/old")));
        let mut names = fs.read_dir(&p("/d")).unwrap();
        names.sort();
        assert!(names.is_empty());
    }

    #[test]
    fn subset_reset_keeps_consistent_subsets_of_unsynced_names() {
        let fs = FaultFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let a = fs.create(&p("/d/a")).unwrap();
        a.write_all(b"A").unwrap();
        a.sync_all().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        let t = fs.create(&p("/d/tmp")).unwrap();
        t.write_all(b"M").unwrap();
        t.sync_all().unwrap();
        fs.rename(&p("/d/tmp"), &p("/d/M")).unwrap();
        let b = fs.create(&p("/d/b")).unwrap();
        b.write_all(b"B").unwrap();
        fs.remove_file(&p("/d/a")).unwrap();
        let st = fs.state.lock();
        let u = st.unsynced();
        let r1 = st.crash_image(ResetMode::DropUnsynced, &mut Rng(0));
        let r4 = st.crash_image(ResetMode::ForgetUnsyncedNames, &mut Rng(0));
        drop(st);
        assert_eq!(u.len(), 4);
        // create tmp < rename tmp->M; create b and remove a are independent: 3 * 2 * 2.
        let subsets = u.all_consistent_subsets(4).unwrap();
        assert_eq!(subsets.len(), 12);
        assert!(u.all_consistent_subsets(3).is_none());
        assert!(!u.is_consistent(&[false, true, false, false]));
        let names = |img: &FsImage| img.files.keys().map(|k| k.display().to_string()).collect::<Vec<_>>().join(",");
        let mut seen = BTreeSet::new();
        for s in &subsets {
            assert!(u.is_consistent(s));
            let img = u.image(&r4, s);
            // The rename is atomic: never both names, never the renamed file without M's bytes.
            assert!(!(img.files.contains_key(&p("/d/tmp")) && img.files.contains_key(&p("/d/M"))));
            if let Some(m) = img.files.get(&p("/d/M")) {
                assert_eq!(m.as_slice(), b"M");
            }
            // Unsynced bytes are lost whatever the names do.
            if let Some(bb) = img.files.get(&p("/d/b")) {
                assert!(bb.is_empty());
            }
            seen.insert(names(&img));
        }
        assert_eq!(seen.len(), 12);
        assert!(seen.contains(&names(&r1)) && seen.contains(&names(&r4)));
        assert_eq!(names(&r4), "/d/a");
        assert_eq!(names(&r1), "/d/M,/d/b");
        let mut drawn = BTreeSet::new();
        for seed in 0..200 {
            assert!(u.is_consistent(&u.random_subset(seed)));
            drawn.insert(names(&fs.crash_image(ResetMode::ForgetRandomUnsyncedNames, seed)));
        }
        assert_eq!(drawn, seen, "random subsets reach every consistent subset");
        // A directory sync covers everything; a reset then forgets nothing.
        fs.sync_dir(&p("/d")).unwrap();
        {
            let st = fs.state.lock();
            assert_eq!(st.durable_names, st.live);
        }
        fs.power_off();
        fs.reset(ResetMode::ForgetRandomUnsyncedNames, 3);
        let mut left = fs.read_dir(&p("/d")).unwrap();
        left.sort();
        assert_eq!(left, vec![OsString::from("M"), OsString::from("b")]);
        assert!(fs.state.lock().pending.is_empty());
    }

    #[test]
    fn faults_fire_once_or_persistently_and_power_off_after() {
        let fs = FaultFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let f = fs.create(&p("/d/f")).unwrap();
        fs.inject(FaultSpec::once(Some(OpKind::Write), 2));
        f.write_all(b"a").unwrap();
        assert!(f.write_all(b"b").is_err());
        f.write_all(b"c").unwrap();
        assert_eq!(fs.peek(&p("/d/f")).unwrap(), b"ac");
        fs.clear_faults();
        fs.inject(FaultSpec {
            error: FaultError::Enospc,
            path_contains: Some("f".into()),
            ..FaultSpec::from_nth(None, 1)
        });
        let e = f.write_all(b"d").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(fs.injected().len(), 2);
        fs.clear_faults();
        fs.power_off_after(1);
        f.write_all(b"e").unwrap();
        assert!(f.write_all(b"f").is_err());
        assert!(fs.is_powered_off());
        let lock = fs.try_lock(&p("/d/LOCK")).unwrap_err();
        assert!(lock.to_string().contains("EIO"));
        fs.reset(ResetMode::DropUnsynced, 0);
        let l = fs.try_lock(&p("/d/LOCK")).unwrap().unwrap();
        assert!(fs.try_lock(&p("/d/LOCK")).unwrap().is_none());
        drop(l);
        assert!(fs.try_lock(&p("/d/LOCK")).unwrap().is_some());
    }
}
