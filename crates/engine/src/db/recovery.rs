//! Opening a database: lock, manifest, tables, WAL replay, orphan cleanup.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::{BgState, DbInner, RecoveryInfo, SuperVersion, TableHandle, Version, WriteState};
use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::events::{EventKind, EventQueue};
use crate::memtable::MemTable;
use crate::options::{Options, TableOptions};
use crate::stats::Counters;
use crate::table::Table;
use crate::version::{
    parse_file_name, read_manifest_with, sync_dir_with, table_file_name, wal_file_name, write_manifest_with, DirLock,
    FileKind, FileMeta, ManifestState, VersionEdit,
};
use crate::wal::{read_log_with, LogWriter, SyncHandle};

fn validate(opts: &Options) -> Result<()> {
    let bad = |what: &str| Err(Error::InvalidArgument(what.to_string()));
    if opts.memtable_size < 4096 {
        return bad("memtable_size must be at least 4096 bytes");
    }
    if opts.block_size < 256 || opts.block_size > (64 << 20) {
        return bad("block_size must be between 256 bytes and 64 MiB");
    }
    if opts.block_restart_interval == 0 {
        return bad("block_restart_interval must be at least 1");
    }
    if opts.bloom_bits_per_key > 64 {
        return bad("bloom_bits_per_key must be at most 64");
    }
    if !(1..=19).contains(&opts.zstd_level) {
        return bad("zstd_level must be between 1 and 19");
    }
    if opts.zstd != crate::options::ZstdUse::Off && !opts.compression {
        return bad("zstd needs compression on");
    }
    let c = &opts.compaction;
    if c.num_levels < 2 || c.num_levels > 16 {
        return bad("num_levels must be between 2 and 16");
    }
    if c.l0_compaction_trigger < 2 {
        return bad("l0_compaction_trigger must be at least 2");
    }
    if c.l0_stop_trigger < c.l0_compaction_trigger {
        return bad("l0_stop_trigger must be at least l0_compaction_trigger");
    }
    if c.level_size_ratio < 2 {
        return bad("level_size_ratio must be at least 2");
    }
    if c.target_file_size < 4096 || c.base_level_size < 4096 {
        return bad("target_file_size and base_level_size must be at least 4096 bytes");
    }
    Ok(())
}

pub(super) fn open(path: &Path, opts: Options) -> Result<Arc<DbInner>> {
    let started = std::time::Instant::now();
    validate(&opts)?;
    let fs = Arc::clone(&opts.fs);
    let read_only = opts.read_only;
    if !fs.exists(path) {
        if !opts.create_if_missing || read_only {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        fs.create_dir_all(path).map_err(|e| Error::io(path, e))?;
    } else if !fs.is_dir(path) {
        return Err(Error::InvalidArgument(format!("{} exists and is not a directory", path.display())));
    }
    let lock =
        if read_only { read_only_lock(fs.as_ref(), path)? } else { Some(DirLock::acquire_with(fs.as_ref(), path)?) };
    let existing = read_manifest_with(fs.as_ref(), path)?;
    if existing.is_some() && opts.error_if_exists {
        return Err(Error::AlreadyExists(path.to_path_buf()));
    }
    if existing.is_none() && (!opts.create_if_missing || read_only) {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    let mut state = existing.unwrap_or_else(|| ManifestState { next_file_number: 1, ..ManifestState::default() });
    let num_levels = opts.compaction.num_levels.max(state.levels.len());
    state.levels.resize_with(num_levels, Vec::new);

    let counters = Arc::new(Counters::default());
    let cache = (opts.block_cache_size > 0).then(|| Arc::new(BlockCache::new(opts.block_cache_size)));
    let table_opts = opts.table_options();

    // Open every live table, checking its size against the manifest.
    let mut live_tables = HashSet::new();
    let mut levels = Vec::with_capacity(num_levels);
    for files in &state.levels {
        let mut handles = Vec::with_capacity(files.len());
        for meta in files {
            live_tables.insert(meta.number);
            let table_path = table_file_name(path, meta.number);
            let file = fs.open_random_access(&table_path, opts.use_mmap)?;
            let table =
                Table::open_file(file, meta.number, Some(meta.size), &table_opts, cache.clone(), Arc::clone(&counters))
                    .map_err(|e| e.with_file(&table_path))?;
            handles.push(Arc::new(TableHandle {
                meta: meta.clone(),
                table,
                obsolete: AtomicBool::new(false),
                cache: cache.clone(),
                fs: Arc::clone(&fs),
            }));
        }
        levels.push(handles);
    }

    // Find WALs to replay and files nobody references.
    let mut wals = BTreeMap::new();
    let mut orphans = Vec::new();
    let mut max_number = 0u64;
    for name in fs.read_dir(path).map_err(|e| Error::io(path, e))? {
        let Some(name) = name.to_str() else { continue };
        let Some((kind, number)) = parse_file_name(name) else { continue };
        max_number = max_number.max(number);
        match kind {
            FileKind::Wal if number >= state.log_number => {
                wals.insert(number, path.join(name));
            }
            FileKind::Wal => orphans.push(path.join(name)),
            FileKind::Table if !live_tables.contains(&number) => orphans.push(path.join(name)),
            FileKind::Temp | FileKind::ManifestTemp => orphans.push(path.join(name)),
            _ => {}
        }
    }

    let mut recovery = RecoveryInfo::default();
    let mut last_seq = state.last_sequence;
    let mut next_file = state.next_file_number.max(max_number + 1);
    let mut mem = Arc::new(MemTable::new());
    let newest_wal = wals.keys().next_back().copied();
    let mut flushed: Vec<FileMeta> = Vec::new();
    let mut new_handles: Vec<Arc<TableHandle>> = Vec::new();
    for (&number, wal_path) in &wals {
        recovery.wal_files += 1;
        let mut apply = |_offset: u64, payload: &[u8]| -> Result<()> {
            let batch = WriteBatch::from_record(payload.to_vec())?;
            let first = batch.sequence();
            mem.add_batch(first, &batch)?;
            if batch.count() > 0 {
                last_seq = last_seq.max(first + u64::from(batch.count()) - 1);
            }
            recovery.wal_records += 1;
            Ok(())
        };
        let report = read_log_with(fs.as_ref(), wal_path, opts.wal_recovery, Some(number) == newest_wal, &mut apply)
            .map_err(|e| e.with_file(wal_path))?;
        if let Some((offset, why)) = report.dropped_tail {
            recovery.dropped_tail = Some((wal_path.clone(), offset, why));
        }
        for (offset, why) in report.skipped {
            recovery.skipped.push((wal_path.clone(), offset, why));
        }
        // Keep memtables bounded during replay: write full ones to L0 right away (read-only:
        // everything stays in memory).
        if !read_only && mem.approximate_size() >= opts.memtable_size {
            let number = next_file;
            next_file += 1;
            let h =
                super::background::write_l0_table(path, number, &mem, &table_opts, &opts, cache.clone(), &counters)?;
            flushed.push(h.meta.clone());
            new_handles.push(h);
            mem = Arc::new(MemTable::new());
        }
    }
    if read_only {
        return open_read_only(
            path,
            opts,
            state,
            levels,
            mem,
            newest_wal,
            last_seq,
            next_file,
            counters,
            cache,
            lock,
            recovery,
            started.elapsed(),
        );
    }
    if !mem.is_empty() {
        let number = next_file;
        next_file += 1;
        let h = super::background::write_l0_table(path, number, &mem, &table_opts, &opts, cache.clone(), &counters)?;
        flushed.push(h.meta.clone());
        new_handles.push(h);
    }

    // Record the recovered state durably before deleting anything, then start a fresh WAL.
    let wal_number = next_file;
    next_file += 1;
    let edit = VersionEdit {
        added: flushed.iter().rev().map(|m| (0usize, m.clone())).collect(),
        deleted: Vec::new(),
        log_number: Some(wal_number),
        last_sequence: Some(last_seq),
        next_file_number: Some(next_file),
    };
    state.apply(&edit);
    // New tables must be in the directory durably before the manifest names them.
    sync_dir_with(fs.as_ref(), path)?;
    write_manifest_with(fs.as_ref(), path, &state)?;
    crash_point("open.manifest_written.before_wal_create");
    // The new WAL is created only once that manifest is durable: until then the replayed
    // WALs must stay the newest, since only the newest WAL may have a torn tail. (Creating
    // it first let a second crash leave an empty newer WAL beside a torn one, and the next
    // open failed with `Corruption`.) A missing WAL numbered `log_number` is fine.
    let wal = LogWriter::create_with(fs.as_ref(), &wal_file_name(path, wal_number))?;
    let sync_handle = wal.sync_handle()?;
    // Its directory entry must be durable before a sync write in it is acknowledged.
    sync_dir_with(fs.as_ref(), path)?;
    for handle in new_handles.into_iter().rev() {
        if let Some(l0) = levels.first_mut() {
            l0.insert(0, handle);
        }
    }
    for p in wals.values() {
        crash_point("open.obsolete.before_unlink");
        let _ = fs.remove_file(p);
        crash_point("open.obsolete.after_unlink");
    }
    for p in &orphans {
        crash_point("open.obsolete.before_unlink");
        if fs.remove_file(p).is_ok() {
            recovery.orphans_deleted += 1;
        }
        crash_point("open.obsolete.after_unlink");
    }
    // Order L0 as the manifest does (newest first).
    if let (Some(l0), Some(meta_l0)) = (levels.first_mut(), state.levels.first()) {
        let pos: std::collections::HashMap<u64, usize> =
            meta_l0.iter().enumerate().map(|(i, m)| (m.number, i)).collect();
        l0.sort_by_key(|h| pos.get(&h.meta.number).copied().unwrap_or(usize::MAX));
    }

    let sv = SuperVersion {
        mem: Arc::new(MemTable::new()),
        mem_wal_number: wal_number,
        imms: Vec::new(),
        version: Arc::new(Version { levels }),
    };
    assemble(
        path,
        opts,
        table_opts,
        counters,
        cache,
        lock,
        wal,
        sync_handle,
        wal_number,
        sv,
        last_seq,
        next_file,
        state,
        recovery,
        started.elapsed(),
    )
}

/// The database of an open that has recovered its state: every other field starts empty.
#[allow(clippy::too_many_arguments)]
fn assemble(
    path: &Path,
    opts: Options,
    table_opts: TableOptions,
    counters: Arc<Counters>,
    cache: Option<Arc<BlockCache>>,
    lock: Option<DirLock>,
    wal: LogWriter,
    sync_handle: Arc<SyncHandle>,
    wal_number: u64,
    sv: SuperVersion,
    last_seq: u64,
    next_file: u64,
    state: ManifestState,
    recovery: RecoveryInfo,
    elapsed: std::time::Duration,
) -> Result<Arc<DbInner>> {
    Ok(Arc::new(DbInner {
        events: recovered_events(&recovery, elapsed),
        path: path.to_path_buf(),
        table_opts,
        counters,
        cache,
        lock: Mutex::new(lock),
        write: Mutex::new(WriteState { wal, wal_number, sync_handle }),
        write_cv: Condvar::new(),
        current: RwLock::new(Arc::new(sv)),
        last_seq: AtomicU64::new(last_seq),
        next_file_number: AtomicU64::new(next_file),
        manifest: Mutex::new(state),
        snapshots: Mutex::new(BTreeMap::new()),
        bg: Mutex::new(BgState::default()),
        bg_cv: Condvar::new(),
        compaction_lock: Mutex::new(()),
        poisoned: Mutex::new(None),
        closed: AtomicBool::new(false),
        threads: Mutex::new(Vec::new()),
        recovery,
        opts,
    }))
}

/// The lock of a read-only open: `LOCK` taken as usual when it can be, so a writer elsewhere
/// keeps us out (`Locked`); none when the directory cannot be written (nothing else can
/// change it through this user either) or has no `LOCK` file (creating one would modify
/// the directory).
fn read_only_lock(fs: &dyn crate::file::Fs, path: &Path) -> Result<Option<DirLock>> {
    if !fs.exists(&crate::version::lock_file_name(path)) {
        return Ok(None);
    }
    match DirLock::acquire_with(fs, path) {
        Ok(lock) => Ok(Some(lock)),
        Err(Error::Io { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The event queue of a newly opened database, holding its recovery event.
fn recovered_events(recovery: &RecoveryInfo, elapsed: std::time::Duration) -> EventQueue {
    let events = EventQueue::default();
    events.push(
        elapsed,
        EventKind::Recovery {
            wal_files: recovery.wal_files,
            wal_records: recovery.wal_records,
            dropped_tail: recovery
                .dropped_tail
                .as_ref()
                .map(|(file, offset, why)| format!("{} at offset {offset}: {why}", file.display())),
            skipped: recovery.skipped.len() as u64,
            orphans_deleted: recovery.orphans_deleted,
        },
    );
    events
}

/// Finishes a read-only open: the replayed WALs stay the memtable (and stay on disk,
/// untouched), no manifest or WAL is written, no orphan deleted.
#[allow(clippy::too_many_arguments)]
fn open_read_only(
    path: &Path,
    opts: Options,
    state: ManifestState,
    mut levels: Vec<Vec<Arc<TableHandle>>>,
    mem: Arc<MemTable>,
    newest_wal: Option<u64>,
    last_seq: u64,
    next_file: u64,
    counters: Arc<Counters>,
    cache: Option<Arc<BlockCache>>,
    lock: Option<DirLock>,
    recovery: RecoveryInfo,
    elapsed: std::time::Duration,
) -> Result<Arc<DbInner>> {
    if let (Some(l0), Some(meta_l0)) = (levels.first_mut(), state.levels.first()) {
        let pos: std::collections::HashMap<u64, usize> =
            meta_l0.iter().enumerate().map(|(i, m)| (m.number, i)).collect();
        l0.sort_by_key(|h| pos.get(&h.meta.number).copied().unwrap_or(usize::MAX));
    }
    let wal_number = newest_wal.unwrap_or(state.log_number);
    let wal = LogWriter::discarding(&wal_file_name(path, wal_number));
    let sync_handle = wal.sync_handle()?;
    let sv = SuperVersion { mem, mem_wal_number: wal_number, imms: Vec::new(), version: Arc::new(Version { levels }) };
    let table_opts = opts.table_options();
    assemble(
        path,
        opts,
        table_opts,
        counters,
        cache,
        lock,
        wal,
        sync_handle,
        wal_number,
        sv,
        last_seq,
        next_file,
        state,
        recovery,
        elapsed,
    )
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<DbInner>();
    let _ = Ordering::Relaxed;
}
