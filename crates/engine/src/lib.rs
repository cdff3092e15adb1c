//! # strata-engine
//!
//! The storage engine of StrataDB: an LSM tree with a write-ahead log, an in-memory
//! memtable, block-based SSTables (LZ4, bloom filters, CRC32 per block), a manifest,
//! background flush and compaction, merge iterators, snapshots and atomic write batches.
//!
//! It is a plain Rust library: it knows nothing of JavaScript. The napi binding at the
//! repository root and the TypeScript API build on it.
//!
//! ## Limits
//! Keys are 0 to 65,536 bytes; values up to 256 MiB. One `Db` owns a directory at a time
//! (a second open fails with [`Error::Locked`]).
//!
//! ## Keyspaces
//! Keys starting with eight `0xff` bytes ([`SYSTEM_PREFIX`]) form the system keyspace, where
//! the layers above keep index postings and the index registry, written in the same atomic
//! batches as user records: user writes and reads reject such keys, user iteration and
//! `clear` never reach them (see [`keyspace`]). System keys (relative to the prefix) may be
//! up to [`MAX_SYSTEM_KEY_SIZE`] bytes.
//!
//! The on-disk formats are written down in `docs/format.md`.
#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]
#![warn(clippy::indexing_slicing)]

pub mod batch;
pub mod cache;
pub mod coding;
pub mod compaction;
pub mod crash;
pub mod error;
pub mod events;
pub mod file;
pub mod iter;
pub mod key;
pub mod keyspace;
pub mod memtable;
pub mod options;
pub mod stats;
pub mod table;
pub mod version;
pub mod wal;

mod db;

pub use batch::WriteBatch;
pub use db::{
    ApproximateCount, CheckpointInfo, Db, DbIterator, DbStats, IterOptions, LevelStats, Lookup, ProbeSide,
    RangeOptions, ScanGet, ScanGetOptions, ScanProbe, ScanProbeEnd, ScanProbeOptions, Snapshot, TryWrite,
};
pub use error::{Error, Result};
pub use events::{Event, EventKind};
pub use keyspace::{Keyspace, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};
pub use options::{CompactionOptions, CompactionStyle, Options, RecoveryMode, TableOptions, ZstdUse};
