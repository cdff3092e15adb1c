//! Engine events: what the background work and recovery did, kept for an embedding program
//! to read (`Db::drain_events`), for logs and traces.
//!
//! The engine knows nothing of loggers: it appends plain structs to a bounded queue (the
//! oldest is dropped when full, and counted) and the program drains it when it likes. The
//! queue costs one short mutex hold per flush, compaction, stall or recovery; nothing on
//! the read path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Events kept before the oldest is dropped.
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// An immutable memtable was written to a new L0 table.
    Flush {
        /// The new table's file number.
        file: u64,
        /// Entries written (versions and tombstones included).
        entries: u64,
        /// Bytes of the new table.
        bytes: u64,
        /// The WAL whose data the table now holds.
        wal: u64,
    },
    /// Files were merged (or moved) from one level into the next.
    Compaction {
        /// Level the inputs came from.
        level: usize,
        /// Level the outputs went to.
        output_level: usize,
        /// File numbers read (inputs of `level` and overlapping files of `output_level`).
        inputs: Vec<u64>,
        /// File numbers written.
        outputs: Vec<u64>,
        /// Bytes read.
        bytes_read: u64,
        /// Bytes written (0 for a move).
        bytes_written: u64,
        /// One file moved down without being rewritten.
        trivial_move: bool,
        /// Why the picker chose it (`"manual"` for `compact_range`).
        reason: String,
    },
    /// A write waited for a flush because too many immutable memtables were waiting.
    WriteStall {
        /// Immutable memtables waiting when the stall began.
        immutable_memtables: u64,
        /// L0 files when the stall began (a deep L0 holds flushes back).
        l0_files: u64,
    },
    /// The database was opened: what recovery replayed and repaired.
    Recovery {
        /// WAL files replayed.
        wal_files: u64,
        /// Write batches replayed.
        wal_records: u64,
        /// A torn tail was cut from the newest WAL: its description.
        dropped_tail: Option<String>,
        /// Damaged WAL regions skipped (salvage mode).
        skipped: u64,
        /// Unreferenced files deleted.
        orphans_deleted: u64,
    },
    /// A failure made the database read-only.
    BackgroundError {
        /// The error.
        message: String,
    },
}

/// One event with its timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it ended, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// How long it took (zero for instant events).
    pub duration: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// A bounded queue of events.
#[derive(Debug, Default)]
pub struct EventQueue {
    queue: Mutex<VecDeque<Event>>,
    dropped: AtomicU64,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl EventQueue {
    /// Appends an event that ended now, dropping the oldest when full.
    pub fn push(&self, duration: Duration, kind: EventKind) {
        let e = Event { at_unix_ms: now_unix_ms(), duration, kind };
        let mut q = self.queue.lock();
        if q.len() >= EVENT_QUEUE_CAPACITY {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(e);
    }

    /// Takes up to `max` events, oldest first, and the number dropped since the last drain.
    pub fn drain(&self, max: usize) -> (Vec<Event>, u64) {
        let mut q = self.queue.lock();
        let n = max.min(q.len());
        let events = q.drain(..n).collect();
        (events, self.dropped.swap(0, Ordering::Relaxed))
    }
}
