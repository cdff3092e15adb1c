//! Plain data types of the public API: ranges, iterator options, statistics.

use std::ops::Bound;

use crate::keyspace::Keyspace;

/// A key range with optional limit and direction, used by iterators, `clear` and
/// `approximate_count`.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    /// Lower bound on keys (relative to the keyspace).
    pub lower: Bound<Vec<u8>>,
    /// Upper bound on keys (relative to the keyspace).
    pub upper: Bound<Vec<u8>>,
    /// Iterate from the largest key down.
    pub reverse: bool,
    /// Stop after this many entries.
    pub limit: Option<u64>,
    /// The keyspace the range lies in (default: the user's). A user range never reaches the
    /// system keyspace, whatever its bounds; a system range's bounds, seek targets and
    /// returned keys are relative to [`crate::SYSTEM_PREFIX`].
    pub keyspace: Keyspace,
}

impl Default for RangeOptions {
    fn default() -> Self {
        RangeOptions {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
            reverse: false,
            limit: None,
            keyspace: Keyspace::User,
        }
    }
}

/// Result of [`super::Db::approximate_count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApproximateCount {
    /// Best guess of the number of entries in the range. It counts stored entries, so old
    /// versions and tombstones not yet compacted away count too: after overwrites and deletes
    /// it may be higher than the number of live keys.
    pub estimate: u64,
    /// An upper bound on the number of live keys in the range at the time of the call
    /// (`estimate <= upper`).
    pub upper: u64,
}

/// Options for [`Db::iter`].
#[derive(Debug, Clone, Default)]
pub struct IterOptions {
    /// Range, direction and limit.
    pub range: RangeOptions,
    /// Read as of this snapshot (default: a fresh implicit snapshot).
    pub snapshot: Option<super::Snapshot>,
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
    /// (flush + compaction bytes written) / user bytes written. WAL bytes are not included
    /// (see `wal_bytes_written`).
    pub write_amplification: f64,
    /// WAL fsyncs performed.
    pub wal_syncs: u64,
    /// Writes that asked for sync.
    pub sync_writes: u64,
    /// The last sequence number assigned.
    pub last_sequence: u64,
    /// Snapshots currently held.
    pub live_snapshots: u64,
    /// Point lookups that consulted a bloom filter.
    pub bloom_checks: u64,
    /// Bytes appended to WAL files.
    pub wal_bytes_written: u64,
    /// Set when a background failure made the database read-only.
    pub read_only_reason: Option<String>,
    /// Writes that waited for a flush (too many immutable memtables waiting).
    pub write_stalls: u64,
    /// Microseconds writes spent in those waits.
    pub write_stall_micros: u64,
    /// Estimated bytes compaction must rewrite to bring every level within its target (see
    /// `compaction::pending_compaction_bytes`).
    pub pending_compaction_bytes: u64,
}

/// What recovery found when the database was opened.
#[derive(Debug, Clone, Default)]
pub struct RecoveryInfo {
    /// WAL files replayed.
    pub wal_files: u64,
    /// Write batches replayed from WALs.
    pub wal_records: u64,
    /// A torn or garbage tail cut from the newest WAL: (file, offset, reason).
    pub dropped_tail: Option<(std::path::PathBuf, u64, String)>,
    /// Damaged WAL regions skipped (salvage mode): (file, offset, reason).
    pub skipped: Vec<(std::path::PathBuf, u64, String)>,
    /// Files found in the directory that no manifest references, deleted at open.
    pub orphans_deleted: u64,
}

/// Outcome of [`super::Db::try_write`].
#[derive(Debug)]
#[must_use]
pub enum TryWrite {
    /// Applied: in the WAL (handed to the OS) and visible to reads.
    Written,
    /// Not applied, because it would have had to wait; here is the batch back.
    WouldStall(crate::batch::WriteBatch),
}
