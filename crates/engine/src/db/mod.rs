//! The database: ties the WAL, memtables, SSTables, manifest and background work together.
//!
//! Reads load the published sequence number while holding the current [`SuperVersion`]
//! (memtables + the SSTable version) stable, so every entry with a sequence number at or
//! below it is in that view, and no compaction installed later can have dropped a version
//! the view needs. Writes are serialised by one mutex that appends the batch to the WAL,
//! inserts it into the memtable and publishes the new sequence number; `sync` writers then
//! share fsyncs through the WAL's group commit. Two background threads flush immutable
//! memtables and compact SSTables; each change of the file set is made durable in the
//! manifest before it becomes visible and before any file it obsoletes is deleted.

mod background;
mod checkpoint;
mod multiget;
mod recovery;
mod scan_get;
mod scan_probe;
mod types;
mod write;

pub use multiget::Lookup;
pub use scan_get::{ScanGet, ScanGetOptions};
pub use scan_probe::{ProbeSide, ScanProbe, ScanProbeEnd, ScanProbeOptions};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, EventQueue};
use crate::file::Fs;
use crate::iter::concat::{ConcatIterator, IterSource};
use crate::iter::db_iter::DbIter;
use crate::iter::merge::MergingIterator;
use crate::iter::BoxedIter;
use crate::key::{self, SeqNo, ValueKind};
use crate::memtable::MemTable;
use crate::options::{Options, TableOptions};
use crate::stats::Counters;
use crate::table::Table;
use crate::version::{DirLock, FileMeta, ManifestState};
use crate::wal::{LogWriter, SyncHandle};

pub use checkpoint::CheckpointInfo;
pub use types::{ApproximateCount, DbStats, IterOptions, LevelStats, RangeOptions, RecoveryInfo, TryWrite};

/// An SSTable that belongs to a version. When the last version holding it is gone and a
/// compaction has made it obsolete, the file is deleted.
pub(crate) struct TableHandle {
    meta: FileMeta,
    table: Arc<Table>,
    obsolete: AtomicBool,
    cache: Option<Arc<BlockCache>>,
    fs: Arc<dyn Fs>,
}

impl TableHandle {
    fn user_range_contains(&self, user_key: &[u8]) -> bool {
        key::user_key(&self.meta.smallest) <= user_key && user_key <= key::user_key(&self.meta.largest)
    }
}

impl Drop for TableHandle {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // The manifest edit that superseded this file is durable (it is marked obsolete
            // only after that), and no version holds it any more. Open readers keep their own
            // mapping or descriptor, which stays valid after the unlink on Unix.
            crash_point("table.obsolete.before_unlink");
            let _ = self.fs.remove_file(self.table.path());
            crash_point("table.obsolete.after_unlink");
            if let Some(c) = &self.cache {
                c.remove_file(self.meta.number);
            }
        }
    }
}

impl std::fmt::Debug for TableHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableHandle").field("number", &self.meta.number).finish()
    }
}

impl IterSource for TableHandle {
    fn smallest(&self) -> &[u8] {
        &self.meta.smallest
    }
    fn largest(&self) -> &[u8] {
        &self.meta.largest
    }
    fn open_iter(&self) -> Result<BoxedIter> {
        Ok(Box::new(self.table.iter()))
    }
}

/// The live SSTables, per level (L0 newest first; deeper levels sorted by key).
#[derive(Debug, Default)]
pub(crate) struct Version {
    levels: Vec<Vec<Arc<TableHandle>>>,
}

/// An immutable memtable waiting for flush, with the WAL that holds its data.
#[derive(Debug)]
pub(crate) struct ImmMemTable {
    mem: Arc<MemTable>,
    wal_number: u64,
    wal_bytes: u64,
}

/// Everything a reader needs: the memtables and the SSTable version, swapped atomically.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    mem: Arc<MemTable>,
    /// The WAL holding the active memtable's data.
    mem_wal_number: u64,
    /// Newest first.
    imms: Vec<Arc<ImmMemTable>>,
    version: Arc<Version>,
}

pub(crate) struct WriteState {
    wal: LogWriter,
    wal_number: u64,
    sync_handle: Arc<SyncHandle>,
}

#[derive(Default)]
pub(crate) struct BgState {
    shutdown: bool,
    /// Bumped whenever flush or compaction may have work.
    generation: u64,
}

pub(crate) struct DbInner {
    path: PathBuf,
    opts: Options,
    table_opts: TableOptions,
    counters: Arc<Counters>,
    cache: Option<Arc<BlockCache>>,
    lock: Mutex<Option<DirLock>>,
    write: Mutex<WriteState>,
    /// Signalled when a flush finishes, so that stalled writers re-check.
    write_cv: Condvar,
    current: RwLock<Arc<SuperVersion>>,
    last_seq: AtomicU64,
    next_file_number: AtomicU64,
    /// The durable state, changed only by `install` (under this lock).
    manifest: Mutex<ManifestState>,
    snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    bg: Mutex<BgState>,
    bg_cv: Condvar,
    /// Serialises compaction jobs (background and manual).
    compaction_lock: Mutex<()>,
    poisoned: Mutex<Option<String>>,
    closed: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    recovery: RecoveryInfo,
    /// Flushes, compactions, stalls, recovery and failures, for `Db::drain_events`.
    events: EventQueue,
}

/// An open database. Cheap to clone; all clones share one instance. The database closes
/// when [`Db::close`] is called or when the last clone is dropped.
#[derive(Clone)]
pub struct Db {
    handle: Arc<DbHandle>,
}

struct DbHandle {
    inner: Arc<DbInner>,
}

impl Drop for DbHandle {
    fn drop(&mut self) {
        // A dropped handle (no explicit close) does not flush: dropping may happen where
        // blocking for a flush is wrong (a JavaScript finalizer); the WAL keeps the writes.
        let _ = self.inner.close_with(false);
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.inner().path).finish()
    }
}

/// A consistent read view of the database as of one sequence number. While any clone is
/// alive, compaction keeps the versions it can see.
#[derive(Debug, Clone)]
pub struct Snapshot {
    inner: Arc<SnapshotInner>,
}

#[derive(Debug)]
struct SnapshotInner {
    seq: SeqNo,
    db: std::sync::Weak<DbInner>,
}

impl Drop for SnapshotInner {
    fn drop(&mut self) {
        if let Some(db) = self.db.upgrade() {
            let mut snaps = db.snapshots.lock();
            if let Some(n) = snaps.get_mut(&self.seq) {
                *n -= 1;
                if *n == 0 {
                    snaps.remove(&self.seq);
                }
            }
        }
    }
}

impl Snapshot {
    /// The sequence number this snapshot reads at.
    pub fn sequence(&self) -> SeqNo {
        self.inner.seq
    }
}

impl Db {
    /// Opens (or creates) the database in `path`, recovering from the manifest and WAL.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let inner = recovery::open(path.as_ref(), options)?;
        // Read-only: no flush or compaction thread, so nothing is ever written.
        if !inner.opts.read_only {
            background::start(&inner)?;
        }
        Ok(Db { handle: Arc::new(DbHandle { inner }) })
    }

    fn inner(&self) -> &Arc<DbInner> {
        &self.handle.inner
    }

    /// The directory of this database.
    pub fn path(&self) -> &Path {
        &self.inner().path
    }

    /// What recovery found when this database was opened (WAL records replayed, tails cut).
    pub fn recovery_info(&self) -> &RecoveryInfo {
        &self.inner().recovery
    }

    /// Reads the newest value of `key` (as of `snapshot` if given). A missing key is `Ok(None)`.
    /// `key` is a user key: one starting with [`crate::SYSTEM_PREFIX`] is `InvalidArgument`.
    pub fn get(&self, key: &[u8], snapshot: Option<&Snapshot>) -> Result<Option<Vec<u8>>> {
        self.get_with(key, snapshot, |v| v.map(<[u8]>::to_vec))
    }

    /// Like [`Db::get`], but lends the value to `f` instead of copying it out (`None` when
    /// missing), so a caller can copy it straight to where it is needed.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        snapshot: Option<&Snapshot>,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R> {
        crate::keyspace::check_user_key(key)?;
        let inner = self.inner();
        inner.check_open()?;
        let (seq, sv) = inner.read_view(snapshot.map(Snapshot::sequence));
        Ok(f(inner.get_in(&sv, key, seq)?.as_deref()))
    }

    /// Like [`Db::get`], answered only from memory (memtables, in-memory index and filter
    /// blocks, the block cache): `Ok(None)` when the answer needs a disk read, so the caller
    /// can retry with [`Db::get`] on a thread that may block. `Ok(Some(None))` = missing.
    pub fn get_if_cached(&self, key: &[u8], snapshot: Option<&Snapshot>) -> Result<Option<Option<Vec<u8>>>> {
        self.get_if_cached_with(key, snapshot, |v| v.map(<[u8]>::to_vec))
    }

    /// [`Db::get_if_cached`] lending the value to `f` (called only when answered from memory).
    pub fn get_if_cached_with<R>(
        &self,
        key: &[u8],
        snapshot: Option<&Snapshot>,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<Option<R>> {
        match crate::cache::cached_only(|| self.get_with(key, snapshot, f)) {
            Ok(r) => Ok(Some(r)),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Applies a batch atomically; with `sync`, returns only once it is durable.
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        self.inner().write(batch, sync)
    }

    /// Applies a batch atomically without `sync`, only if that cannot block: the batch is
    /// appended to the WAL with one write(2) (so it survives a process crash once this
    /// returns) and inserted into the memtable. Returns [`TryWrite::WouldStall`] with the
    /// batch, untouched, when the write would have to wait: another writer holds the write
    /// lock, the memtable is full (rotating it fsyncs the old WAL and may wait for a flush),
    /// or the database syncs every write. The caller then uses [`Db::write`] on a thread that
    /// may block.
    pub fn try_write(&self, batch: WriteBatch) -> Result<TryWrite> {
        self.inner().try_write(batch)
    }

    /// Writes one key.
    pub fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value)?;
        self.write(b, sync)
    }

    /// Deletes one key.
    pub fn delete(&self, key: &[u8], sync: bool) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key)?;
        self.write(b, sync)
    }

    /// Takes a snapshot of the current state.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let inner = self.inner();
        inner.check_open()?;
        let mut snaps = inner.snapshots.lock();
        let seq = inner.last_seq.load(Ordering::Acquire);
        *snaps.entry(seq).or_insert(0) += 1;
        Ok(Snapshot { inner: Arc::new(SnapshotInner { seq, db: Arc::downgrade(inner) }) })
    }

    /// Opens an iterator over one consistent view (the snapshot if given, else now), in the
    /// range's keyspace: a user iterator never returns a key at or above
    /// [`crate::SYSTEM_PREFIX`]; a system iterator takes relative bounds and seek targets and
    /// returns keys with the prefix stripped.
    pub fn iter(&self, opts: IterOptions) -> Result<DbIterator> {
        let inner = self.inner();
        inner.check_open()?;
        let (seq, sv) = inner.read_view(opts.snapshot.as_ref().map(Snapshot::sequence));
        Ok(DbIterator {
            db: Arc::clone(inner),
            iter: inner.db_iter(&sv, seq, &opts.range),
            remaining: opts.range.limit,
            limit: opts.range.limit,
            started: false,
            anchor: Anchor::Start,
            lost: None,
            peeked: None,
            _snapshot: opts.snapshot,
            _sv: sv,
        })
    }

    /// Deletes every key in the range atomically (no write can interleave); returns how
    /// many keys were deleted. A user range (even unbounded) never deletes system keys; a
    /// system range deletes the system keys in its (relative) bounds.
    pub fn clear(&self, range: RangeOptions, sync: bool) -> Result<u64> {
        self.inner().clear(&range, None, sync)
    }

    /// Like [`Db::clear`], but deletes the keys of the range that are visible in `snapshot`
    /// (`None`: now): keys written after the snapshot are kept, keys present in it are
    /// deleted even if they changed since. Atomic like `clear`.
    pub fn clear_at(&self, range: RangeOptions, snapshot: Option<&Snapshot>, sync: bool) -> Result<u64> {
        self.inner().clear(&range, snapshot.map(Snapshot::sequence), sync)
    }

    /// Estimates the number of entries in a key range of the range's keyspace (`limit` and
    /// `reverse` are ignored) without reading any data block: O(log n) per live SSTable
    /// (its in-memory index and properties) plus a walk of at most about twice
    /// [`MEMTABLE_COUNT_LIMIT`](crate::memtable::MEMTABLE_COUNT_LIMIT) entries per memtable.
    /// See `docs/format.md`, "Approximate counts", for how the figures are derived.
    pub fn approximate_count(&self, range: &RangeOptions) -> Result<ApproximateCount> {
        self.inner().approximate_count(range)
    }

    /// Flushes the memtable, then compacts the key range `[start, end]` (all keys when both
    /// are `None`) down the levels, waiting until done.
    pub fn compact_range(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        self.inner().compact_range(start, end)
    }

    /// Writes the memtable to an SSTable and waits until it is done.
    pub fn flush(&self) -> Result<()> {
        self.inner().flush_and_wait()
    }

    /// Writes an openable copy of the database to `target` (which must not exist, or be an
    /// empty directory) while writes continue: every write up to the returned sequence number
    /// and none after. SSTables are hard-linked where the file system allows, else copied.
    pub fn checkpoint(&self, target: impl AsRef<Path>) -> Result<CheckpointInfo> {
        self.inner().checkpoint(target.as_ref())
    }

    /// Takes up to `max` of the events recorded since the last call (flushes, compactions,
    /// write stalls, the recovery at open, failures), oldest first, with the number of
    /// events dropped meanwhile because the queue was full
    /// ([`EVENT_QUEUE_CAPACITY`](crate::events::EVENT_QUEUE_CAPACITY)). Works after `close`,
    /// so the last events can still be read.
    pub fn drain_events(&self, max: usize) -> (Vec<Event>, u64) {
        self.inner().events.drain(max)
    }

    /// Current statistics.
    pub fn stats(&self) -> Result<DbStats> {
        self.inner().stats()
    }

    /// Reads every block of every live SSTable and every live WAL, checking every checksum
    /// and ordering invariant. Returns the problems found (empty when clean).
    pub fn verify(&self) -> Result<Vec<Error>> {
        self.inner().verify()
    }

    /// Closes the database: writes the memtable to an SSTable (with
    /// [`Options::flush_on_close`], the default), stops background work, syncs the WAL and
    /// releases the lock. Later calls fail with `Closed`; closing twice is fine. Dropping a
    /// `Db` without `close` does the same without the flush.
    pub fn close(&self) -> Result<()> {
        self.inner().close()
    }

    /// True once `close` has been called.
    pub fn is_closed(&self) -> bool {
        self.inner().closed.load(Ordering::Acquire)
    }
}

impl DbInner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.opts.read_only {
            return Err(Error::ReadOnly);
        }
        if let Some(why) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned(why.clone()));
        }
        Ok(())
    }

    /// Puts the database in read-only mode after a failure that may have lost durability.
    fn poison(&self, err: &Error) {
        let mut p = self.poisoned.lock();
        if p.is_none() {
            *p = Some(err.to_string());
            self.events.push(std::time::Duration::ZERO, EventKind::BackgroundError { message: err.to_string() });
        }
    }

    fn super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.current.read())
    }

    /// The view a read uses: the current [`SuperVersion`] and the sequence number to read at
    /// (the snapshot's, or the published one loaded while the SuperVersion cannot change).
    /// Loading the sequence number before taking the view is a race: a compaction installed
    /// in between may already have dropped an old version that this sequence number still
    /// needs (it was hidden by a newer one), so a get could miss a key that exists.
    fn read_view(&self, snapshot: Option<SeqNo>) -> (SeqNo, Arc<SuperVersion>) {
        let cur = self.current.read();
        let seq = snapshot.unwrap_or_else(|| self.last_seq.load(Ordering::Acquire));
        (seq, Arc::clone(&cur))
    }

    fn get_in(&self, sv: &SuperVersion, user_key: &[u8], seq: SeqNo) -> Result<Option<bytes::Bytes>> {
        let found = |r: (ValueKind, bytes::Bytes)| match r.0 {
            ValueKind::Put => Some(r.1),
            ValueKind::Delete => None,
        };
        if let Some(r) = sv.mem.get(user_key, seq) {
            return Ok(found(r));
        }
        for imm in &sv.imms {
            if let Some(r) = imm.mem.get(user_key, seq) {
                return Ok(found(r));
            }
        }
        let mut levels = sv.version.levels.iter();
        if let Some(l0) = levels.next() {
            for t in l0 {
                if t.meta.min_seq > seq || !t.user_range_contains(user_key) {
                    continue;
                }
                if let Some(r) = t.table.get(user_key, seq)? {
                    return Ok(found(r));
                }
            }
        }
        for level in levels {
            let idx = level.partition_point(|t| key::user_key(&t.meta.largest) < user_key);
            if let Some(t) = level.get(idx) {
                if t.user_range_contains(user_key) {
                    if let Some(r) = t.table.get(user_key, seq)? {
                        return Ok(found(r));
                    }
                }
            }
        }
        Ok(None)
    }

    fn internal_iters(sv: &SuperVersion) -> Vec<BoxedIter> {
        let mut children: Vec<BoxedIter> = Vec::new();
        children.push(Box::new(sv.mem.iter()));
        for imm in &sv.imms {
            children.push(Box::new(imm.mem.iter()));
        }
        let mut levels = sv.version.levels.iter();
        if let Some(l0) = levels.next() {
            for t in l0 {
                children.push(Box::new(t.table.iter()));
            }
        }
        for level in levels {
            if !level.is_empty() {
                let sources: Vec<Arc<dyn IterSource>> =
                    level.iter().map(|t| Arc::clone(t) as Arc<dyn IterSource>).collect();
                children.push(Box::new(ConcatIterator::new(sources)));
            }
        }
        children
    }

    fn db_iter(&self, sv: &SuperVersion, seq: SeqNo, range: &RangeOptions) -> DbIter {
        let merged = MergingIterator::new(Self::internal_iters(sv));
        let (lower, upper) = range.keyspace.stored_bounds(&range.lower, &range.upper);
        DbIter::new(Box::new(merged), seq, lower, upper, range.reverse).in_keyspace(range.keyspace)
    }

    fn approximate_count(&self, range: &RangeOptions) -> Result<ApproximateCount> {
        self.check_open()?;
        let sv = self.super_version();
        let (lower, upper) = range.keyspace.stored_bounds(&range.lower, &range.upper);
        let (lower, upper) = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
        if range_is_empty(lower, upper) {
            return Ok(ApproximateCount::default());
        }
        let mut estimate = 0f64;
        let mut bound = 0u64;
        let mems = std::iter::once(&sv.mem).chain(sv.imms.iter().map(|imm| &imm.mem));
        for mem in mems {
            let c = mem.approximate_count(lower, upper, crate::memtable::MEMTABLE_COUNT_LIMIT);
            estimate += c.estimate;
            bound = bound.saturating_add(c.upper);
        }
        for level in &sv.version.levels {
            for t in level {
                let c = t.table.approximate_count(lower, upper);
                estimate += c.estimate;
                bound = bound.saturating_add(c.upper);
            }
        }
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a non-negative count")]
        let estimate = (estimate.round() as u64).min(bound);
        Ok(ApproximateCount { estimate, upper: bound })
    }

    fn oldest_snapshot_list(&self) -> Vec<SeqNo> {
        self.snapshots.lock().keys().copied().collect()
    }

    fn close(&self) -> Result<()> {
        self.close_with(self.opts.flush_on_close)
    }

    fn close_with(&self, flush: bool) -> Result<()> {
        // Flush while the background threads still run. A poisoned database writes nothing;
        // a failed flush poisons it, and the close still completes (the writes stay in the
        // synced WAL and are replayed at the next open).
        let flushed = if flush && self.check_writable().is_ok() { self.flush_and_wait() } else { Ok(()) };
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut bg = self.bg.lock();
            bg.shutdown = true;
            self.bg_cv.notify_all();
        }
        self.write_cv.notify_all();
        let threads: Vec<_> = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        let res = {
            let mut w = self.write.lock();
            w.wal.sync()
        };
        // Release the directory lock even if the final sync failed.
        *self.lock.lock() = None;
        flushed.and(res)
    }
}

/// True when no key can lie within the bounds (the lower one is above the upper one, or
/// they meet and one of them excludes the meeting point).
fn range_is_empty(lower: std::ops::Bound<&[u8]>, upper: std::ops::Bound<&[u8]>) -> bool {
    use std::ops::Bound::{Excluded, Included};
    match (lower, upper) {
        (Included(l), Included(u)) => l > u,
        (Included(l) | Excluded(l), Excluded(u)) | (Excluded(l), Included(u)) => l >= u,
        _ => false,
    }
}

/// A cursor over user keys and values at one consistent view.
pub struct DbIterator {
    db: Arc<DbInner>,
    iter: DbIter,
    remaining: Option<u64>,
    /// The range's limit (`remaining` never grows past it).
    limit: Option<u64>,
    started: bool,
    /// Where the cursor is, in a form it can be re-placed from (see `next_batch_if_cached`).
    anchor: Anchor,
    /// Set when a cached-only read gave up midway: the inner cursor's state is unknown and
    /// must be re-placed at this anchor before the next read.
    lost: Option<Anchor>,
    /// An entry read while re-placing the cursor, to be returned next.
    peeked: Option<(Vec<u8>, Vec<u8>)>,
    _snapshot: Option<Snapshot>,
    _sv: Arc<SuperVersion>,
}

/// One `(key, value)` entry returned by a [`DbIterator`].
pub type Entry = (Vec<u8>, Vec<u8>);

/// A position of a [`DbIterator`] that can be re-established by seeking.
#[derive(Debug, Clone)]
enum Anchor {
    /// Not started: the next read starts at the range's beginning (or end, reversed).
    Start,
    /// Just sought to this target; nothing returned since.
    Seek(Vec<u8>),
    /// The last entry returned had this key.
    After(Vec<u8>),
}

impl std::fmt::Debug for DbIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIterator").field("remaining", &self.remaining).finish()
    }
}

impl DbIterator {
    /// The next entry, or `None` at the end (or once the limit is reached).
    #[allow(clippy::should_implement_trait, reason = "a fallible cursor: it returns Result<Option<_>>")]
    pub fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let e = self.next_one()?;
        if let Some((k, _)) = &e {
            self.anchor = Anchor::After(k.clone());
        }
        Ok(e)
    }

    fn next_one(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.db.check_open()?;
        if self.remaining == Some(0) {
            return Ok(None);
        }
        self.replace_cursor()?;
        let e = match self.peeked.take() {
            Some(e) => Some(e),
            None => {
                if !self.started {
                    self.iter.seek_to_start()?;
                    self.started = true;
                }
                self.iter.next_entry()?
            }
        };
        if e.is_some() {
            self.remaining = self.remaining.map(|r| r.saturating_sub(1));
        }
        Ok(e)
    }

    /// Re-places the inner cursor after a cached-only read gave up midway.
    fn replace_cursor(&mut self) -> Result<()> {
        let Some(anchor) = self.lost.take() else { return Ok(()) };
        let r = match &anchor {
            Anchor::Start => {
                self.started = false;
                Ok(())
            }
            Anchor::Seek(t) => self.iter.seek(t),
            Anchor::After(k) => self.iter.seek(k).and_then(|()| {
                if let Some(e) = self.iter.next_entry()? {
                    if e.0 != *k {
                        self.peeked = Some(e);
                    }
                }
                Ok(())
            }),
        };
        match r {
            Ok(()) => {
                if !matches!(anchor, Anchor::Start) {
                    self.started = true;
                }
                Ok(())
            }
            Err(e) => {
                self.peeked = None;
                self.lost = Some(anchor);
                Err(e)
            }
        }
    }

    fn next_batch_into(
        &mut self,
        max_entries: usize,
        max_bytes: usize,
        out: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        let mut bytes = 0;
        while out.len() < max_entries.max(1) && bytes < max_bytes.max(1) {
            match self.next_one()? {
                Some(e) => {
                    bytes += e.0.len() + e.1.len();
                    out.push(e);
                }
                None => break,
            }
        }
        if let Some((k, _)) = out.last() {
            self.anchor = Anchor::After(k.clone());
        }
        Ok(())
    }

    /// Up to `max_entries` entries, stopping early once `max_bytes` of keys and values are
    /// gathered (at least one entry is returned unless the iterator is exhausted). An empty
    /// result means the end.
    pub fn next_batch(&mut self, max_entries: usize, max_bytes: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(max_entries.min(1024));
        self.next_batch_into(max_entries, max_bytes, &mut out)?;
        Ok(out)
    }

    /// Like [`DbIterator::seek`] (when `seek` is given) followed by
    /// [`DbIterator::next_batch`], served only from memory: it stops at the first data block
    /// missing from the block cache. Returns `Ok(None)` when it could not return anything
    /// without a disk read (call the blocking forms then; they continue exactly where this
    /// stopped), or `Ok(Some(entries))`, possibly fewer than asked for; an empty result means
    /// the end.
    pub fn next_batch_if_cached(
        &mut self,
        seek: Option<&[u8]>,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Option<Vec<Entry>>> {
        let mut out = Vec::with_capacity(max_entries.min(1024));
        let r = crate::cache::cached_only(|| {
            if let Some(t) = seek {
                self.seek(t)?;
            }
            self.next_batch_into(max_entries, max_bytes, &mut out)
        });
        match r {
            Ok(()) => Ok(Some(out)),
            Err(Error::WouldBlock) => {
                if self.lost.is_none() {
                    self.peeked = None;
                    self.lost = Some(match out.last() {
                        Some((k, _)) => Anchor::After(k.clone()),
                        None => self.anchor.clone(),
                    });
                }
                if let Some((k, _)) = out.last() {
                    self.anchor = Anchor::After(k.clone());
                }
                Ok(if out.is_empty() { None } else { Some(out) })
            }
            Err(e) => Err(e),
        }
    }

    /// Gives `n` entries back to the limit: entries this iterator returned that its caller
    /// dropped unseen (a read-ahead batch discarded by a seek), so the limit counts only
    /// what the caller saw. No effect without a limit.
    pub fn give_back(&mut self, n: u64) {
        if let (Some(r), Some(limit)) = (self.remaining, self.limit) {
            self.remaining = Some(r.saturating_add(n).min(limit));
        }
    }

    /// Moves to the first key `>= target` (forward) or the last key `<= target` (reverse),
    /// within the iterator's bounds and keyspace (`target` is relative to the keyspace, as the
    /// bounds are). The limit keeps counting from where it was.
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.db.check_open()?;
        self.lost = None;
        self.peeked = None;
        self.anchor = Anchor::Seek(target.to_vec());
        if let Err(e) = self.iter.seek(target) {
            self.lost = Some(self.anchor.clone());
            return Err(e);
        }
        self.started = true;
        Ok(())
    }
}
