//! PROVISIONAL in-memory implementation of the public `Db` API, so that the binding and the
//! TypeScript layer can be built against the final signatures while the LSM internals are
//! being written. It is replaced by the real engine before anything lands; do not rely on
//! anything but the signatures.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::key::{SeqNo, ValueKind};
use crate::options::Options;

/// A key range with optional limit and direction, used by iterators and `clear`.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    /// Lower bound on user keys.
    pub lower: Bound<Vec<u8>>,
    /// Upper bound on user keys.
    pub upper: Bound<Vec<u8>>,
    /// Iterate from the largest key down.
    pub reverse: bool,
    /// Stop after this many entries.
    pub limit: Option<u64>,
}

impl Default for RangeOptions {
    fn default() -> Self {
        RangeOptions { lower: Bound::Unbounded, upper: Bound::Unbounded, reverse: false, limit: None }
    }
}

/// Options for [`Db::iter`].
#[derive(Debug, Clone, Default)]
pub struct IterOptions {
    /// Range, direction and limit.
    pub range: RangeOptions,
    /// Read as of this snapshot (default: a fresh implicit snapshot).
    pub snapshot: Option<Snapshot>,
}

/// A consistent read view of the database as of one sequence number.
#[derive(Debug, Clone)]
pub struct Snapshot {
    seq: SeqNo,
}

impl Snapshot {
    /// The sequence number this snapshot reads at.
    pub fn sequence(&self) -> SeqNo {
        self.seq
    }
}

/// Files and bytes in one level.
#[derive(Debug, Clone, Default)]
pub struct LevelStats {
    /// Number of SSTables.
    pub files: u64,
    /// Total bytes of those SSTables.
    pub bytes: u64,
}

/// A point-in-time summary of the engine's state and counters.
#[derive(Debug, Clone, Default)]
pub struct DbStats {
    /// Per level, from L0 down.
    pub levels: Vec<LevelStats>,
    /// Approximate bytes in the active memtable.
    pub memtable_bytes: u64,
    /// Immutable memtables waiting for flush.
    pub immutable_memtables: u64,
    /// Bytes in live WAL files.
    pub wal_bytes: u64,
    /// Block-cache hits.
    pub block_cache_hits: u64,
    /// Block-cache misses.
    pub block_cache_misses: u64,
    /// Bytes currently held by the block cache.
    pub block_cache_bytes: u64,
    /// Point lookups answered "absent" by a bloom filter.
    pub bloom_negatives: u64,
    /// Memtable flushes completed.
    pub flushes: u64,
    /// Bytes written by flushes.
    pub flush_bytes: u64,
    /// Compactions completed.
    pub compactions: u64,
    /// Bytes read by compactions.
    pub compaction_bytes_read: u64,
    /// Bytes written by compactions.
    pub compaction_bytes_written: u64,
    /// Bytes of keys and values written by users.
    pub user_bytes_written: u64,
    /// (WAL + flush + compaction bytes written) / user bytes written.
    pub write_amplification: f64,
    /// WAL fsyncs performed.
    pub wal_syncs: u64,
    /// Writes that asked for sync.
    pub sync_writes: u64,
    /// The last sequence number assigned.
    pub last_sequence: u64,
    /// Snapshots currently held.
    pub live_snapshots: u64,
}

type Versions = BTreeMap<Vec<u8>, Vec<(SeqNo, Option<Vec<u8>>)>>;

struct Inner {
    path: PathBuf,
    data: Mutex<(SeqNo, Versions)>,
    closed: AtomicBool,
}

/// An open database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.inner.path).finish()
    }
}

fn visible(versions: &[(SeqNo, Option<Vec<u8>>)], seq: SeqNo) -> Option<&Vec<u8>> {
    versions.iter().rev().find(|(s, _)| *s <= seq).and_then(|(_, v)| v.as_ref())
}

impl Db {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            if !options.create_if_missing {
                return Err(Error::NotFound(path));
            }
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(Db {
            inner: Arc::new(Inner { path, data: Mutex::new((0, BTreeMap::new())), closed: AtomicBool::new(false) }),
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The directory of this database.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads the newest value of `key` (as of `snapshot` if given). A missing key is `Ok(None)`.
    pub fn get(&self, key: &[u8], snapshot: Option<&Snapshot>) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        let g = self.inner.data.lock();
        let seq = snapshot.map_or(g.0, |s| s.seq);
        Ok(g.1.get(key).and_then(|v| visible(v, seq)).cloned())
    }

    /// Applies a batch atomically; with `sync`, returns only once it is durable.
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let _ = sync;
        self.check_open()?;
        let mut g = self.inner.data.lock();
        for op in batch.iter() {
            let op = op?;
            g.0 += 1;
            let seq = g.0;
            let v = (op.kind == ValueKind::Put).then(|| op.value.to_vec());
            g.1.entry(op.key.to_vec()).or_default().push((seq, v));
        }
        Ok(())
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
        self.check_open()?;
        Ok(Snapshot { seq: self.inner.data.lock().0 })
    }

    /// Opens an iterator.
    pub fn iter(&self, opts: IterOptions) -> Result<DbIterator> {
        self.check_open()?;
        let g = self.inner.data.lock();
        let seq = opts.snapshot.as_ref().map_or(g.0, |s| s.seq);
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> =
            g.1.range((opts.range.lower.clone(), opts.range.upper.clone()))
                .filter_map(|(k, v)| visible(v, seq).map(|v| (k.clone(), v.clone())))
                .collect();
        if opts.range.reverse {
            entries.reverse();
        }
        Ok(DbIterator { db: self.clone(), entries, pos: 0, remaining: opts.range.limit, reverse: opts.range.reverse })
    }

    /// Deletes every key in the range atomically; returns how many were deleted.
    pub fn clear(&self, range: RangeOptions, sync: bool) -> Result<u64> {
        let mut it = self.iter(IterOptions { range, snapshot: None })?;
        let mut b = WriteBatch::new();
        while let Some((k, _)) = it.next()? {
            b.delete(&k)?;
        }
        let n = u64::from(b.count());
        self.write(b, sync)?;
        Ok(n)
    }

    /// Compacts the key range (all keys when both bounds are `None`).
    pub fn compact_range(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        let _ = (start, end);
        self.check_open()
    }

    /// Flushes the memtable to an SSTable.
    pub fn flush(&self) -> Result<()> {
        self.check_open()
    }

    /// Current statistics.
    pub fn stats(&self) -> Result<DbStats> {
        self.check_open()?;
        Ok(DbStats { last_sequence: self.inner.data.lock().0, ..DbStats::default() })
    }

    /// Closes the database. Later calls fail with `Closed`; closing twice is fine.
    pub fn close(&self) -> Result<()> {
        self.inner.closed.store(true, Ordering::Release);
        Ok(())
    }

    /// True once `close` has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

/// A cursor over user keys and values at one snapshot.
pub struct DbIterator {
    db: Db,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    pos: usize,
    remaining: Option<u64>,
    reverse: bool,
}

impl DbIterator {
    /// The next entry, or `None` at the end.
    pub fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.db.check_open()?;
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let e = self.entries.get(self.pos).cloned();
        if e.is_some() {
            self.pos += 1;
            self.remaining = self.remaining.map(|r| r - 1);
        }
        Ok(e)
    }

    /// Up to `max_entries` entries, stopping early once `max_bytes` of keys and values are
    /// gathered (at least one entry is returned unless the iterator is exhausted).
    pub fn next_batch(&mut self, max_entries: usize, max_bytes: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_entries && bytes < max_bytes {
            match self.next()? {
                Some(e) => {
                    bytes += e.0.len() + e.1.len();
                    out.push(e);
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Moves to the first key `>= target` (forward) or the last key `<= target` (reverse),
    /// within the iterator's bounds.
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.db.check_open()?;
        self.pos = if self.reverse {
            self.entries.iter().position(|(k, _)| k.as_slice() <= target).unwrap_or(self.entries.len())
        } else {
            self.entries.iter().position(|(k, _)| k.as_slice() >= target).unwrap_or(self.entries.len())
        };
        Ok(())
    }
}
