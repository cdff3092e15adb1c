//! Engine options. Each field documents its trade-off and its default; the TypeScript layer
//! and the README repeat them.

/// How WAL recovery treats damaged records (RocksDB's recovery modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Default. A partial last record, or zeros/garbage after the last good record of the
    /// newest WAL, is cut and reported; any other damage fails `open` with `Corruption`.
    #[default]
    TolerateCorruptedTail,
    /// Recover up to the first damaged record and drop everything after it.
    PointInTime,
    /// Skip damaged records and keep every intact one.
    Salvage,
}

/// How background compaction shapes the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompactionStyle {
    /// Default. L0 files are merged into L1; each level is `level_size_ratio` times larger
    /// than the one above it. Low space and read amplification.
    #[default]
    Leveled,
    /// Sorted runs of similar size are merged together. Lower write amplification, more
    /// space and read amplification.
    SizeTiered,
}

/// Compaction triggers and shape.
#[derive(Debug, Clone)]
pub struct CompactionOptions {
    /// Leveled (default) or size-tiered.
    pub style: CompactionStyle,
    /// Number of L0 files (leveled) or sorted runs (size-tiered) that triggers a compaction. Default 4.
    pub l0_compaction_trigger: usize,
    /// Number of L0 files at which writes stall until compaction catches up. Default 20.
    pub l0_stop_trigger: usize,
    /// Size ratio between adjacent levels (leveled), or the largest size ratio between runs
    /// merged together (size-tiered). Default 10.
    pub level_size_ratio: u64,
    /// Number of levels including L0. Default 7.
    pub num_levels: usize,
    /// Target total size of L1 in bytes. Default 64 MiB.
    pub base_level_size: u64,
    /// Target size of one SSTable written by compaction. Default 16 MiB.
    pub target_file_size: u64,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            style: CompactionStyle::Leveled,
            l0_compaction_trigger: 4,
            l0_stop_trigger: 20,
            level_size_ratio: 10,
            num_levels: 7,
            base_level_size: 64 << 20,
            target_file_size: 16 << 20,
        }
    }
}

/// Options for opening a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory and an empty database if none exists. Default true.
    pub create_if_missing: bool,
    /// Fail if a database already exists. Default false.
    pub error_if_exists: bool,
    /// Size at which the memtable becomes immutable and is flushed. Larger means fewer,
    /// bigger L0 files and longer recovery. Default 32 MiB.
    pub memtable_size: usize,
    /// Number of immutable memtables waiting for flush before writes stall. Default 2.
    pub max_immutable_memtables: usize,
    /// Uncompressed size of an SSTable data block. Smaller blocks read less per lookup;
    /// larger blocks compress better. Default 4096.
    pub block_size: usize,
    /// Keys between restart points inside a block. Default 16.
    pub block_restart_interval: usize,
    /// Bloom filter bits per key; 0 disables filters. 10 gives about 1% false positives. Default 10.
    pub bloom_bits_per_key: u32,
    /// Compress blocks with LZ4 (kept raw when LZ4 does not save at least 1/8). Default true.
    pub compression: bool,
    /// Which tables compress their blocks with zstd at [`Options::zstd_level`] instead of LZ4
    /// (smaller on disk, slower to decode on a block-cache miss). Needs `compression`.
    /// Default [`ZstdUse::Off`].
    pub zstd: ZstdUse,
    /// zstd level, 1–19. Default 3.
    pub zstd_level: i32,
    /// Capacity of the decompressed block cache in bytes. Default 32 MiB.
    pub block_cache_size: usize,
    /// Read SSTables through memory maps (true) or positioned reads (false). Default true.
    pub use_mmap: bool,
    /// Make every write durable (fdatasync) before it returns, unless the write says
    /// otherwise. Default false.
    pub sync: bool,
    /// WAL recovery mode. Default `TolerateCorruptedTail`.
    pub wal_recovery: RecoveryMode,
    /// Compaction style and triggers.
    pub compaction: CompactionOptions,
    /// Verify block checksums on every read from disk. Default true.
    pub verify_checksums: bool,
    /// On a clean `close`, write the memtable to an SSTable first, so that the database is
    /// left compressed, with an empty WAL, and the next open replays nothing. Default true;
    /// false closes faster and leaves the memtable's writes in the WAL (they are synced
    /// either way).
    pub flush_on_close: bool,
    /// Open without changing anything on disk: the WALs are replayed into memory only (no
    /// L0 table, manifest or new WAL is written, and no file is deleted), no background
    /// flush or compaction runs, and every write, flush or compaction fails with
    /// [`Error::ReadOnly`](crate::Error::ReadOnly). Never creates the database. Works on a
    /// read-only directory: the `LOCK` file is then not taken (nor created when missing).
    /// Default false.
    pub read_only: bool,
    /// The file system every file operation goes through. Default [`RealFs`](crate::file::RealFs),
    /// the operating system's; tests use [`FaultFs`](crate::file::fault::FaultFs) to simulate
    /// power loss and I/O errors.
    pub fs: std::sync::Arc<dyn crate::file::Fs>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            error_if_exists: false,
            memtable_size: 32 << 20,
            max_immutable_memtables: 2,
            block_size: 4096,
            block_restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: true,
            zstd: ZstdUse::Off,
            zstd_level: 3,
            block_cache_size: 32 << 20,
            use_mmap: true,
            sync: false,
            wal_recovery: RecoveryMode::TolerateCorruptedTail,
            compaction: CompactionOptions::default(),
            verify_checksums: true,
            flush_on_close: true,
            read_only: false,
            fs: crate::file::real_fs(),
        }
    }
}

/// The subset of options that shape SSTables, handed to the table builder and reader.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// See [`Options::block_size`].
    pub block_size: usize,
    /// See [`Options::block_restart_interval`].
    pub block_restart_interval: usize,
    /// See [`Options::bloom_bits_per_key`].
    pub bloom_bits_per_key: u32,
    /// See [`Options::compression`].
    pub compression: bool,
    /// Compress with zstd at this level instead of LZ4 (when `compression` is on).
    pub zstd_level: Option<i32>,
    /// See [`Options::verify_checksums`].
    pub verify_checksums: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        Options::default().table_options()
    }
}

impl Options {
    /// The table-shaping part of these options.
    pub fn table_options(&self) -> TableOptions {
        TableOptions {
            block_size: self.block_size,
            block_restart_interval: self.block_restart_interval,
            bloom_bits_per_key: self.bloom_bits_per_key,
            compression: self.compression,
            zstd_level: (self.zstd == ZstdUse::All).then_some(self.zstd_level),
            verify_checksums: self.verify_checksums,
        }
    }

    /// The table options of a compaction's outputs: zstd also when [`ZstdUse::Bottommost`]
    /// and the compaction writes the bottom of the tree.
    pub fn compaction_table_options(&self, bottommost: bool) -> TableOptions {
        let mut t = self.table_options();
        if self.zstd == ZstdUse::Bottommost && bottommost {
            t.zstd_level = Some(self.zstd_level);
        }
        t
    }
}

/// Which SSTables are compressed with zstd instead of LZ4 (see [`Options::zstd`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZstdUse {
    /// Every table uses LZ4.
    #[default]
    Off,
    /// Tables written by a compaction into the bottom of the tree (no older data below its
    /// output), where most of the data lives; flushes and upper levels keep LZ4.
    Bottommost,
    /// Every table, flushes included.
    All,
}
