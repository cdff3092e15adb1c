//! Option objects exchanged with JavaScript. `ts/options.ts` normalizes user options (profiles,
//! `.env`, `STRATA_*` variables) and hands over a fully resolved `BindingOpenOptions`.

use std::ops::Bound;

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;
use strata_engine::{
    ApproximateCount, CompactionStyle, DbStats, Event, EventKind, Keyspace, Options, RangeOptions, RecoveryMode,
    ZstdUse,
};

use crate::error::{invalid, BindingResult};

/// Options for opening a database. Omitted fields take the engine defaults.
#[napi(object)]
#[derive(Default)]
pub struct BindingOpenOptions {
    /// Create the database if it does not exist (default true).
    pub create_if_missing: Option<bool>,
    /// Fail if the database already exists (default false).
    pub error_if_exists: Option<bool>,
    /// Open without writing anything to disk; writes fail with `STRATA_READ_ONLY` (default false).
    pub read_only: Option<bool>,
    /// Memtable size in bytes (default 32 MiB).
    pub memtable_size: Option<f64>,
    /// SSTable data block size in bytes (default 4096).
    pub block_size: Option<f64>,
    /// Bloom filter bits per key; 0 disables (default 10).
    pub bloom_bits_per_key: Option<f64>,
    /// LZ4 block compression (default true).
    pub compression: Option<bool>,
    /// Tables compressed with zstd instead of LZ4: `"off"` (default), `"bottommost"` or `"all"`.
    pub zstd: Option<String>,
    /// zstd level, 1–19 (default 3).
    pub zstd_level: Option<f64>,
    /// Sync every write unless it says otherwise (default false).
    pub sync: Option<bool>,
    /// Block cache capacity in bytes (default 32 MiB).
    pub block_cache_size: Option<f64>,
    /// Read SSTables through memory maps (default true).
    pub use_mmap: Option<bool>,
    /// `"leveled"` (default) or `"size-tiered"`.
    pub compaction_style: Option<String>,
    /// L0 files that trigger compaction (default 4).
    pub l0_compaction_trigger: Option<f64>,
    /// L0 files at which writes stall (default 20).
    pub l0_stop_trigger: Option<f64>,
    /// Size ratio between levels (default 10).
    pub level_size_ratio: Option<f64>,
    /// Number of levels (default 7).
    pub num_levels: Option<f64>,
    /// Target size of L1 in bytes (default 64 MiB).
    pub base_level_size: Option<f64>,
    /// Target SSTable size in bytes (default 16 MiB).
    pub target_file_size: Option<f64>,
    /// `"tolerate-corrupted-tail"` (default), `"point-in-time"` or `"salvage"`.
    pub wal_recovery: Option<String>,
}

fn uint(name: &str, v: f64) -> BindingResult<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
        return Err(invalid(format!("option {name} must be a non-negative integer, got {v}")));
    }
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked above")]
    Ok(v as u64)
}

fn usize_opt(name: &str, v: f64) -> BindingResult<usize> {
    usize::try_from(uint(name, v)?).map_err(|_| invalid(format!("option {name} is too large")))
}

impl BindingOpenOptions {
    /// Converts to engine options, validating every field.
    pub fn to_engine(&self) -> BindingResult<Options> {
        let mut o = Options::default();
        if let Some(v) = self.create_if_missing {
            o.create_if_missing = v;
        }
        if let Some(v) = self.error_if_exists {
            o.error_if_exists = v;
        }
        if let Some(v) = self.read_only {
            o.read_only = v;
        }
        if let Some(v) = self.memtable_size {
            o.memtable_size = usize_opt("memtableSize", v)?;
        }
        if let Some(v) = self.block_size {
            o.block_size = usize_opt("blockSize", v)?;
        }
        if let Some(v) = self.bloom_bits_per_key {
            o.bloom_bits_per_key = u32::try_from(uint("bloomBitsPerKey", v)?)
                .map_err(|_| invalid("option bloomBitsPerKey is too large"))?;
        }
        if let Some(v) = self.compression {
            o.compression = v;
        }
        if let Some(s) = &self.zstd {
            o.zstd = match s.as_str() {
                "off" => ZstdUse::Off,
                "bottommost" => ZstdUse::Bottommost,
                "all" => ZstdUse::All,
                other => return Err(invalid(format!("option zstd: unknown setting {other:?}"))),
            };
        }
        if let Some(v) = self.zstd_level {
            o.zstd_level =
                i32::try_from(uint("zstdLevel", v)?).map_err(|_| invalid("option zstdLevel is too large"))?;
        }
        if let Some(v) = self.sync {
            o.sync = v;
        }
        if let Some(v) = self.block_cache_size {
            o.block_cache_size = usize_opt("blockCacheSize", v)?;
        }
        if let Some(v) = self.use_mmap {
            o.use_mmap = v;
        }
        if let Some(s) = &self.compaction_style {
            o.compaction.style = match s.as_str() {
                "leveled" => CompactionStyle::Leveled,
                "size-tiered" => CompactionStyle::SizeTiered,
                other => return Err(invalid(format!("option compactionStyle: unknown style {other:?}"))),
            };
        }
        if let Some(v) = self.l0_compaction_trigger {
            o.compaction.l0_compaction_trigger = usize_opt("l0CompactionTrigger", v)?;
        }
        if let Some(v) = self.l0_stop_trigger {
            o.compaction.l0_stop_trigger = usize_opt("l0StopTrigger", v)?;
        }
        if let Some(v) = self.level_size_ratio {
            o.compaction.level_size_ratio = uint("levelSizeRatio", v)?;
        }
        if let Some(v) = self.num_levels {
            o.compaction.num_levels = usize_opt("numLevels", v)?;
        }
        if let Some(v) = self.base_level_size {
            o.compaction.base_level_size = uint("baseLevelSize", v)?;
        }
        if let Some(v) = self.target_file_size {
            o.compaction.target_file_size = uint("targetFileSize", v)?;
        }
        if let Some(s) = &self.wal_recovery {
            o.wal_recovery = match s.as_str() {
                "tolerate-corrupted-tail" => RecoveryMode::TolerateCorruptedTail,
                "point-in-time" => RecoveryMode::PointInTime,
                "salvage" => RecoveryMode::Salvage,
                other => return Err(invalid(format!("option walRecovery: unknown mode {other:?}"))),
            };
        }
        Ok(o)
    }
}

/// A key range. Bounds are raw bytes; at most one lower and one upper bound may be set.
/// With `system`, the range lies in StrataDB's system keyspace (keys stored under eight
/// `0xff` bytes): bounds and seek targets are relative to it and keys come back without the
/// prefix. Without it, the range never reaches a system key.
#[napi(object)]
#[derive(Default)]
pub struct BindingRange {
    /// Exclusive lower bound.
    pub gt: Option<Uint8Array>,
    /// Inclusive lower bound.
    pub gte: Option<Uint8Array>,
    /// Exclusive upper bound.
    pub lt: Option<Uint8Array>,
    /// Inclusive upper bound.
    pub lte: Option<Uint8Array>,
    /// Iterate from the largest key down.
    pub reverse: Option<bool>,
    /// Stop after this many entries (negative or absent: no limit).
    pub limit: Option<f64>,
    /// The range lies in the system keyspace (default false: the user keyspace).
    pub system: Option<bool>,
}

impl BindingRange {
    /// Converts to the engine's range, copying the bounds.
    pub fn to_engine(&self) -> BindingResult<RangeOptions> {
        let lower = match (&self.gt, &self.gte) {
            (Some(_), Some(_)) => return Err(invalid("range: gt and gte are mutually exclusive")),
            (Some(k), None) => Bound::Excluded(k.to_vec()),
            (None, Some(k)) => Bound::Included(k.to_vec()),
            (None, None) => Bound::Unbounded,
        };
        let upper = match (&self.lt, &self.lte) {
            (Some(_), Some(_)) => return Err(invalid("range: lt and lte are mutually exclusive")),
            (Some(k), None) => Bound::Excluded(k.to_vec()),
            (None, Some(k)) => Bound::Included(k.to_vec()),
            (None, None) => Bound::Unbounded,
        };
        let limit = match self.limit {
            None => None,
            Some(l) if l < 0.0 || l.is_infinite() => None,
            Some(l) => Some(uint("limit", l)?),
        };
        let keyspace = if self.system.unwrap_or(false) { Keyspace::System } else { Keyspace::User };
        Ok(RangeOptions { lower, upper, reverse: self.reverse.unwrap_or(false), limit, keyspace })
    }
}

/// What `approximateCount` returns.
#[napi(object)]
pub struct BindingApproximateCount {
    /// Best guess of the entries in the range (old versions and tombstones not yet compacted
    /// away count too).
    pub estimate: f64,
    /// No more live keys than this are in the range.
    pub upper: f64,
}

impl From<ApproximateCount> for BindingApproximateCount {
    fn from(c: ApproximateCount) -> Self {
        BindingApproximateCount { estimate: n(c.estimate), upper: n(c.upper) }
    }
}

/// Files and bytes in one level.
#[napi(object)]
pub struct BindingLevelStats {
    /// Number of SSTables.
    pub files: f64,
    /// Total bytes.
    pub bytes: f64,
}

/// Engine statistics (all counters as numbers).
#[napi(object)]
pub struct BindingStats {
    /// Per level, from L0 down.
    pub levels: Vec<BindingLevelStats>,
    /// Approximate bytes in the active memtable.
    pub memtable_bytes: f64,
    /// Immutable memtables waiting for flush.
    pub immutable_memtables: f64,
    /// Bytes in live WAL files.
    pub wal_bytes: f64,
    /// Block-cache hits.
    pub block_cache_hits: f64,
    /// Block-cache misses.
    pub block_cache_misses: f64,
    /// Bytes held by the block cache.
    pub block_cache_bytes: f64,
    /// Lookups answered "absent" by a bloom filter.
    pub bloom_negatives: f64,
    /// Memtable flushes completed.
    pub flushes: f64,
    /// Bytes written by flushes.
    pub flush_bytes: f64,
    /// Compactions completed.
    pub compactions: f64,
    /// Bytes read by compactions.
    pub compaction_bytes_read: f64,
    /// Bytes written by compactions.
    pub compaction_bytes_written: f64,
    /// Bytes of keys and values written by users.
    pub user_bytes_written: f64,
    /// (Flush + compaction bytes written) / user bytes written; WAL bytes not included.
    pub write_amplification: f64,
    /// Bytes appended to WAL files.
    pub wal_bytes_written: f64,
    /// Lookups that consulted a bloom filter.
    pub bloom_checks: f64,
    /// Why the database is read-only after a background failure (absent when writable).
    pub read_only_reason: Option<String>,
    /// WAL fsyncs performed.
    pub wal_syncs: f64,
    /// Writes that asked for sync.
    pub sync_writes: f64,
    /// The last sequence number assigned.
    pub last_sequence: f64,
    /// Snapshots currently held.
    pub live_snapshots: f64,
    /// Writes that waited for a flush (too many immutable memtables waiting).
    pub write_stalls: f64,
    /// Microseconds writes spent in those waits.
    pub write_stall_micros: f64,
    /// Estimated bytes compaction must rewrite to bring every level within its target.
    pub pending_compaction_bytes: f64,
}

/// One engine event (see `strata_engine::events`); the fields other than `kind`, `atMs` and
/// `durationMs` are set for the kinds they belong to.
#[napi(object)]
#[derive(Default)]
pub struct BindingEvent {
    /// `"flush"`, `"compaction"`, `"write_stall"`, `"recovery"` or `"background_error"`.
    pub kind: String,
    /// When it ended, in milliseconds since the Unix epoch.
    pub at_ms: f64,
    /// How long it took, in milliseconds (fractional).
    pub duration_ms: f64,
    /// Flush: the new table. Compaction: source level.
    pub file: Option<f64>,
    /// Flush: entries written.
    pub entries: Option<f64>,
    /// Flush: bytes of the new table.
    pub bytes: Option<f64>,
    /// Flush: the WAL it made redundant.
    pub wal: Option<f64>,
    /// Compaction: level of the inputs.
    pub level: Option<f64>,
    /// Compaction: level of the outputs.
    pub output_level: Option<f64>,
    /// Compaction: file numbers read.
    pub inputs: Option<Vec<f64>>,
    /// Compaction: file numbers written.
    pub outputs: Option<Vec<f64>>,
    /// Compaction: bytes read.
    pub bytes_read: Option<f64>,
    /// Compaction: bytes written.
    pub bytes_written: Option<f64>,
    /// Compaction: one file moved down without rewriting.
    pub trivial_move: Option<bool>,
    /// Compaction: why it was picked. Background error: the error.
    pub reason: Option<String>,
    /// Write stall: immutable memtables waiting.
    pub immutable_memtables: Option<f64>,
    /// Write stall: L0 files.
    pub l0_files: Option<f64>,
    /// Recovery: WAL files replayed.
    pub wal_files: Option<f64>,
    /// Recovery: write batches replayed.
    pub wal_records: Option<f64>,
    /// Recovery: the torn WAL tail that was cut.
    pub dropped_tail: Option<String>,
    /// Recovery: damaged WAL regions skipped.
    pub skipped: Option<f64>,
    /// Recovery: unreferenced files deleted.
    pub orphans_deleted: Option<f64>,
}

/// Events drained from the engine's queue.
#[napi(object)]
pub struct BindingEvents {
    /// Oldest first.
    pub events: Vec<BindingEvent>,
    /// Events dropped since the last drain because the queue was full.
    pub dropped: f64,
}

impl From<Event> for BindingEvent {
    fn from(e: Event) -> Self {
        let base = BindingEvent {
            at_ms: n(e.at_unix_ms),
            duration_ms: e.duration.as_secs_f64() * 1000.0,
            ..BindingEvent::default()
        };
        let files = |v: Vec<u64>| Some(v.into_iter().map(n).collect());
        match e.kind {
            EventKind::Flush { file, entries, bytes, wal } => BindingEvent {
                kind: "flush".into(),
                file: Some(n(file)),
                entries: Some(n(entries)),
                bytes: Some(n(bytes)),
                wal: Some(n(wal)),
                ..base
            },
            EventKind::Compaction {
                level,
                output_level,
                inputs,
                outputs,
                bytes_read,
                bytes_written,
                trivial_move,
                reason,
            } => BindingEvent {
                kind: "compaction".into(),
                level: Some(n(level as u64)),
                output_level: Some(n(output_level as u64)),
                inputs: files(inputs),
                outputs: files(outputs),
                bytes_read: Some(n(bytes_read)),
                bytes_written: Some(n(bytes_written)),
                trivial_move: Some(trivial_move),
                reason: Some(reason),
                ..base
            },
            EventKind::WriteStall { immutable_memtables, l0_files } => BindingEvent {
                kind: "write_stall".into(),
                immutable_memtables: Some(n(immutable_memtables)),
                l0_files: Some(n(l0_files)),
                ..base
            },
            EventKind::Recovery { wal_files, wal_records, dropped_tail, skipped, orphans_deleted } => BindingEvent {
                kind: "recovery".into(),
                wal_files: Some(n(wal_files)),
                wal_records: Some(n(wal_records)),
                dropped_tail,
                skipped: Some(n(skipped)),
                orphans_deleted: Some(n(orphans_deleted)),
                ..base
            },
            EventKind::BackgroundError { message } => {
                BindingEvent { kind: "background_error".into(), reason: Some(message), ..base }
            }
            _ => BindingEvent { kind: "unknown".into(), ..base },
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "statistics; exact below 2^53")]
fn n(v: u64) -> f64 {
    v as f64
}

impl From<DbStats> for BindingStats {
    fn from(s: DbStats) -> Self {
        BindingStats {
            levels: s.levels.iter().map(|l| BindingLevelStats { files: n(l.files), bytes: n(l.bytes) }).collect(),
            memtable_bytes: n(s.memtable_bytes),
            immutable_memtables: n(s.immutable_memtables),
            wal_bytes: n(s.wal_bytes),
            block_cache_hits: n(s.block_cache_hits),
            block_cache_misses: n(s.block_cache_misses),
            block_cache_bytes: n(s.block_cache_bytes),
            bloom_negatives: n(s.bloom_negatives),
            flushes: n(s.flushes),
            flush_bytes: n(s.flush_bytes),
            compactions: n(s.compactions),
            compaction_bytes_read: n(s.compaction_bytes_read),
            compaction_bytes_written: n(s.compaction_bytes_written),
            user_bytes_written: n(s.user_bytes_written),
            write_amplification: s.write_amplification,
            wal_bytes_written: n(s.wal_bytes_written),
            bloom_checks: n(s.bloom_checks),
            read_only_reason: s.read_only_reason,
            wal_syncs: n(s.wal_syncs),
            sync_writes: n(s.sync_writes),
            last_sequence: n(s.last_sequence),
            live_snapshots: n(s.live_snapshots),
            write_stalls: n(s.write_stalls),
            write_stall_micros: n(s.write_stall_micros),
            pending_compaction_bytes: n(s.pending_compaction_bytes),
        }
    }
}
