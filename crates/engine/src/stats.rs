//! Counters the engine keeps while it runs, read by `Db::stats`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters shared by every component (relaxed atomics: they are statistics).
#[derive(Debug, Default)]
pub struct Counters {
    /// Block-cache lookups that found the block.
    pub block_cache_hits: AtomicU64,
    /// Block-cache lookups that had to read the block from the file.
    pub block_cache_misses: AtomicU64,
    /// Point lookups that a bloom filter answered "absent" without reading a data block.
    pub bloom_negatives: AtomicU64,
    /// Point lookups that consulted a bloom filter.
    pub bloom_checks: AtomicU64,
    /// Memtables flushed to L0.
    pub flushes: AtomicU64,
    /// Bytes written by flushes.
    pub flush_bytes: AtomicU64,
    /// Compactions completed.
    pub compactions: AtomicU64,
    /// Bytes read by compactions.
    pub compaction_bytes_read: AtomicU64,
    /// Bytes written by compactions.
    pub compaction_bytes_written: AtomicU64,
    /// Bytes of user keys and values written through the WAL.
    pub user_bytes_written: AtomicU64,
    /// Bytes appended to WAL files.
    pub wal_bytes_written: AtomicU64,
    /// WAL fsyncs performed (group commit makes this lower than the number of sync writes).
    pub wal_syncs: AtomicU64,
    /// Writes that asked for `sync`.
    pub sync_writes: AtomicU64,
    /// Writes that waited for a flush because too many immutable memtables were waiting.
    pub write_stalls: AtomicU64,
    /// Microseconds writes spent in those waits.
    pub write_stall_micros: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What one source of entries (a memtable or an SSTable) contributes to
/// [`Db::approximate_count`](crate::Db::approximate_count).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RangeEstimate {
    /// Best guess of the entries (versions and tombstones included) in the range.
    pub estimate: f64,
    /// No more entries than this can be in the range (so no more live keys either).
    pub upper: u64,
}
