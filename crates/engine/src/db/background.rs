//! Background work: flushing immutable memtables to L0 and compacting SSTables, plus the
//! on-demand forms (`flush`, `compact_range`), statistics and verification.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DbInner, DbStats, LevelStats, SuperVersion, TableHandle, Version};
use crate::cache::BlockCache;
use crate::compaction::{pick_compaction, pick_manual, CompactionPick};
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::file::{ReadAhead, READ_AHEAD_CHUNK};
use crate::iter::compaction_filter::CompactionFilter;
use crate::iter::merge::MergingIterator;
use crate::iter::{BoxedIter, InternalIterator};
use crate::key;
use crate::memtable::MemTable;
use crate::options::{Options, TableOptions};
use crate::stats::Counters;
use crate::table::{Table, TableBuilder, TableProperties};
use crate::version::{sync_dir_with, table_file_name, wal_file_name, write_manifest_with, FileMeta, VersionEdit};
use crate::wal::read_log_with;

pub(super) fn start(inner: &Arc<DbInner>) -> Result<()> {
    let mut threads = inner.threads.lock();
    for (name, body) in [("strata-flush", flush_loop as fn(&Arc<DbInner>)), ("strata-compact", compaction_loop)] {
        let db = Arc::clone(inner);
        let t = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(&db))
            .map_err(|e| Error::io(&inner.path, e))?;
        threads.push(t);
    }
    drop(threads);
    inner.kick_background();
    Ok(())
}

fn meta_from(number: u64, props: &TableProperties) -> FileMeta {
    FileMeta {
        number,
        size: props.file_size,
        smallest: props.smallest_key.clone(),
        largest: props.largest_key.clone(),
        min_seq: props.min_seq,
        max_seq: props.max_seq,
        num_entries: props.num_entries,
        num_deletions: props.num_deletions,
    }
}

fn open_handle(
    path: &Path,
    meta: FileMeta,
    table_opts: &TableOptions,
    opts: &Options,
    cache: Option<Arc<BlockCache>>,
    counters: &Arc<Counters>,
) -> Result<Arc<TableHandle>> {
    let file_path = table_file_name(path, meta.number);
    let file = opts.fs.open_random_access(&file_path, opts.use_mmap)?;
    let table = Table::open_file(file, meta.number, Some(meta.size), table_opts, cache.clone(), Arc::clone(counters))
        .map_err(|e| e.with_file(&file_path))?;
    Ok(Arc::new(TableHandle { meta, table, obsolete: AtomicBool::new(false), cache, fs: Arc::clone(&opts.fs) }))
}

/// Writes every entry of `mem` into a new L0 table `number` and opens it.
pub(super) fn write_l0_table(
    path: &Path,
    number: u64,
    mem: &Arc<MemTable>,
    table_opts: &TableOptions,
    opts: &Options,
    cache: Option<Arc<BlockCache>>,
    counters: &Arc<Counters>,
) -> Result<Arc<TableHandle>> {
    let file_path = table_file_name(path, number);
    let file = opts.fs.create(&file_path).map_err(|e| Error::io(&file_path, e))?;
    let mut builder = TableBuilder::with_file(file, file_path.clone(), table_opts.clone());
    let mut it = mem.iter();
    it.seek_to_first()?;
    while it.valid() {
        builder.add(it.key(), it.value())?;
        it.next()?;
    }
    let props = builder.finish()?;
    Counters::add(&counters.flushes, 1);
    Counters::add(&counters.flush_bytes, props.file_size);
    open_handle(path, meta_from(number, &props), table_opts, opts, cache, counters)
}

impl DbInner {
    pub(super) fn kick_background(&self) {
        let mut bg = self.bg.lock();
        bg.generation += 1;
        self.bg_cv.notify_all();
    }

    fn shutting_down(&self) -> bool {
        self.bg.lock().shutdown
    }

    /// Makes `edit` durable in the manifest, then publishes the new version. Files the edit
    /// deletes are marked obsolete and unlinked once no reader holds them.
    fn install(&self, mut edit: VersionEdit, added: Vec<Arc<TableHandle>>, flushed_wal: Option<u64>) -> Result<()> {
        if !added.is_empty() {
            // The new tables' directory entries must be durable before a manifest names them.
            if let Err(e) = sync_dir_with(self.opts.fs.as_ref(), &self.path) {
                self.poison(&e);
                return Err(e);
            }
            crash_point("install.dir_synced.before_manifest");
        }
        let mut manifest = self.manifest.lock();
        let mut state = manifest.clone();
        edit.next_file_number = Some(self.next_file_number.load(Ordering::Acquire));
        edit.last_sequence = Some(state.last_sequence.max(self.last_seq.load(Ordering::Acquire)));
        state.apply(&edit);
        if let Err(e) = write_manifest_with(self.opts.fs.as_ref(), &self.path, &state) {
            self.poison(&e);
            return Err(e);
        }
        let mut cur = self.current.write();
        let mut by_number: HashMap<u64, Arc<TableHandle>> = HashMap::new();
        for level in &cur.version.levels {
            for h in level {
                by_number.insert(h.meta.number, Arc::clone(h));
            }
        }
        for h in added {
            by_number.insert(h.meta.number, h);
        }
        let mut levels = Vec::with_capacity(state.levels.len());
        for files in &state.levels {
            let mut hs = Vec::with_capacity(files.len());
            for m in files {
                let h = by_number.remove(&m.number).ok_or_else(|| {
                    Error::corruption(None, None, format!("version install: table {} has no open handle", m.number))
                })?;
                hs.push(h);
            }
            levels.push(hs);
        }
        // What is left was deleted by the edit.
        for h in by_number.values() {
            h.obsolete.store(true, Ordering::Release);
        }
        let imms = match flushed_wal {
            Some(n) => cur.imms.iter().filter(|i| i.wal_number != n).cloned().collect(),
            None => cur.imms.clone(),
        };
        *cur = Arc::new(SuperVersion {
            mem: Arc::clone(&cur.mem),
            mem_wal_number: cur.mem_wal_number,
            imms,
            version: Arc::new(Version { levels }),
        });
        *manifest = state;
        Ok(())
    }

    fn flush_one(&self) -> Result<bool> {
        let sv = self.super_version();
        let Some(imm) = sv.imms.last().cloned() else { return Ok(false) };
        // Stall flushes (and so, through the immutable-memtable limit, writes) while L0 is
        // too deep for compaction to keep up.
        while self.super_version().version.levels.first().map_or(0, Vec::len) >= self.opts.compaction.l0_stop_trigger {
            if self.shutting_down() {
                return Ok(false);
            }
            self.kick_background();
            let mut bg = self.bg.lock();
            self.bg_cv.wait_for(&mut bg, Duration::from_millis(50));
        }
        let started = Instant::now();
        let number = self.next_file_number.fetch_add(1, Ordering::AcqRel);
        let handle = write_l0_table(
            &self.path,
            number,
            &imm.mem,
            &self.table_opts,
            &self.opts,
            self.cache.clone(),
            &self.counters,
        )?;
        // WALs older than the next unflushed memtable are no longer needed.
        let next_log = sv.imms.iter().rev().nth(1).map_or(sv.mem_wal_number, |i| i.wal_number);
        let edit = VersionEdit {
            added: vec![(0, handle.meta.clone())],
            deleted: Vec::new(),
            log_number: Some(next_log),
            last_sequence: None,
            next_file_number: None,
        };
        let event = EventKind::Flush {
            file: number,
            entries: handle.meta.num_entries,
            bytes: handle.meta.size,
            wal: imm.wal_number,
        };
        self.install(edit, vec![handle], Some(imm.wal_number))?;
        self.events.push(started.elapsed(), event);
        crash_point("flush.wal.before_unlink");
        let _ = self.opts.fs.remove_file(&wal_file_name(&self.path, imm.wal_number));
        crash_point("flush.wal.after_unlink");
        self.write_cv.notify_all();
        self.kick_background();
        Ok(true)
    }

    fn run_compaction(&self, pick: &CompactionPick) -> Result<()> {
        let started = Instant::now();
        if pick.is_trivial_move() && !(pick.bottommost && pick.inputs.iter().any(|m| m.num_deletions > 0)) {
            // One file whose range overlaps nothing below: move it without rewriting.
            let edit = VersionEdit {
                added: pick.inputs.iter().map(|m| (pick.output_level, m.clone())).collect(),
                deleted: pick.inputs.iter().map(|m| (pick.level, m.number)).collect(),
                ..VersionEdit::default()
            };
            self.install(edit, Vec::new(), None)?;
            Counters::add(&self.counters.compactions, 1);
            let files: Vec<u64> = pick.inputs.iter().map(|m| m.number).collect();
            self.events.push(
                started.elapsed(),
                EventKind::Compaction {
                    level: pick.level,
                    output_level: pick.output_level,
                    inputs: files.clone(),
                    outputs: files,
                    bytes_read: 0,
                    bytes_written: 0,
                    trivial_move: true,
                    reason: pick.reason.to_string(),
                },
            );
            return Ok(());
        }
        let sv = self.super_version();
        let mut handles: HashMap<u64, Arc<TableHandle>> = HashMap::new();
        for level in &sv.version.levels {
            for h in level {
                handles.insert(h.meta.number, Arc::clone(h));
            }
        }
        let mut children: Vec<BoxedIter> = Vec::new();
        let mut deleted = Vec::new();
        let mut bytes_read = 0;
        for (level, metas) in [(pick.level, &pick.inputs), (pick.output_level, &pick.overlapping)] {
            for m in metas {
                let h = handles.get(&m.number).ok_or_else(|| {
                    Error::corruption(
                        None,
                        None,
                        format!("compaction input {} is not in the current version", m.number),
                    )
                })?;
                // Compaction verifies every input block even when reads skip checksums, and
                // reads each input front to back in chunks with positioned reads: through the
                // table's map it would fault the whole file into RSS (see `file::ReadAhead`).
                let path = h.table.path();
                let file = self.opts.fs.open_random_access(path, false).map_err(|e| e.with_file(path))?;
                let file = Arc::new(ReadAhead::new(file, READ_AHEAD_CHUNK));
                children.push(Box::new(h.table.compaction_iter_from(file)?));
                deleted.push((level, m.number));
                bytes_read += m.size;
            }
        }
        let mut merged = MergingIterator::new(children);
        merged.seek_to_first()?;
        // Load the newest sequence number before the snapshot list: a snapshot registered after
        // the list was read then has a sequence number at or above `latest`, so every version
        // it needs is kept. (The other order could drop a version a new snapshot still sees.)
        let latest = self.last_seq.load(Ordering::Acquire);
        let mut filter = CompactionFilter::new(self.oldest_snapshot_list(), latest, pick.bottommost);
        let split = pick.output_level > 0;
        let target = self.opts.compaction.target_file_size;
        let mut outputs: Vec<Arc<TableHandle>> = Vec::new();
        let mut builder: Option<(u64, TableBuilder)> = None;
        let mut last_user_key: Vec<u8> = Vec::new();
        let output_opts = self.opts.compaction_table_options(pick.bottommost);
        let result = (|| -> Result<()> {
            while merged.valid() {
                let k = merged.key();
                if filter.should_drop(k)? {
                    merged.next()?;
                    continue;
                }
                let uk = key::user_key(k);
                let full = builder.as_ref().is_some_and(|(_, b)| b.estimated_size() >= target);
                if split && full && uk != last_user_key.as_slice() {
                    if let Some((n, b)) = builder.take() {
                        outputs.push(self.finish_output(n, b)?);
                        // One output is complete and synced; the next is not created yet.
                        crash_point("compaction.between_outputs");
                    }
                }
                if builder.is_none() {
                    let n = self.next_file_number.fetch_add(1, Ordering::AcqRel);
                    let p = table_file_name(&self.path, n);
                    let f = self.opts.fs.create(&p).map_err(|e| Error::io(&p, e))?;
                    builder = Some((n, TableBuilder::with_file(f, p, output_opts.clone())));
                }
                if let Some((_, b)) = builder.as_mut() {
                    b.add(k, merged.value())?;
                }
                last_user_key.clear();
                last_user_key.extend_from_slice(uk);
                merged.next()?;
            }
            if let Some((n, b)) = builder.take() {
                outputs.push(self.finish_output(n, b)?);
            }
            Ok(())
        })();
        if let Err(e) = result {
            if let Some((n, _)) = builder.take() {
                let _ = self.opts.fs.remove_file(&table_file_name(&self.path, n));
            }
            for o in &outputs {
                o.obsolete.store(true, Ordering::Release);
            }
            return Err(e);
        }
        let written: u64 = outputs.iter().map(|h| h.meta.size).sum();
        let event = EventKind::Compaction {
            level: pick.level,
            output_level: pick.output_level,
            inputs: deleted.iter().map(|&(_, n)| n).collect(),
            outputs: outputs.iter().map(|h| h.meta.number).collect(),
            bytes_read,
            bytes_written: written,
            trivial_move: false,
            reason: pick.reason.to_string(),
        };
        let edit = VersionEdit {
            added: outputs.iter().map(|h| (pick.output_level, h.meta.clone())).collect(),
            deleted,
            log_number: None,
            last_sequence: None,
            next_file_number: None,
        };
        // If the install fails, the outputs are left in place: the manifest naming them may
        // have reached the disk (a failed directory sync after the rename), so deleting them
        // could leave a manifest that names missing files. Files no manifest names are
        // deleted as orphans by the next open.
        self.install(edit, outputs, None)?;
        Counters::add(&self.counters.compactions, 1);
        Counters::add(&self.counters.compaction_bytes_read, bytes_read);
        Counters::add(&self.counters.compaction_bytes_written, written);
        self.events.push(started.elapsed(), event);
        Ok(())
    }

    fn finish_output(&self, number: u64, builder: TableBuilder) -> Result<Arc<TableHandle>> {
        let props = builder.finish()?;
        open_handle(
            &self.path,
            meta_from(number, &props),
            &self.table_opts,
            &self.opts,
            self.cache.clone(),
            &self.counters,
        )
    }

    pub(super) fn flush_and_wait(&self) -> Result<()> {
        self.check_writable()?;
        {
            let mut w = self.write.lock();
            self.rotate_memtable(&mut w)?;
        }
        loop {
            if self.super_version().imms.is_empty() {
                return Ok(());
            }
            self.check_writable()?;
            let mut bg = self.bg.lock();
            self.bg_cv.wait_for(&mut bg, Duration::from_millis(20));
        }
    }

    pub(super) fn compact_range(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        self.flush_and_wait()?;
        let levels = self.opts.compaction.num_levels;
        for level in 0..levels {
            // Bounded: each pick moves the range's files of `level` down one level.
            for _ in 0..64 {
                self.check_writable()?;
                let _guard = self.compaction_lock.lock();
                let state = self.manifest.lock().clone();
                let Some(pick) = pick_manual(&state, &self.opts.compaction, start, end, level) else { break };
                if let Err(e) = self.run_compaction(&pick) {
                    self.poison(&e);
                    return Err(e);
                }
                if pick.output_level == pick.level {
                    break;
                }
            }
        }
        Ok(())
    }

    pub(super) fn stats(&self) -> Result<DbStats> {
        self.check_open()?;
        let sv = self.super_version();
        let c = &self.counters;
        let levels: Vec<LevelStats> = sv
            .version
            .levels
            .iter()
            .map(|l| LevelStats { files: l.len() as u64, bytes: l.iter().map(|h| h.meta.size).sum() })
            .collect();
        let wal_now = self.write.lock().wal.len();
        let pending_compaction_bytes =
            crate::compaction::pending_compaction_bytes(&self.manifest.lock(), &self.opts.compaction);
        let user = Counters::get(&c.user_bytes_written);
        let flush_bytes = Counters::get(&c.flush_bytes);
        let comp_written = Counters::get(&c.compaction_bytes_written);
        #[expect(clippy::cast_precision_loss, reason = "a ratio for display")]
        let write_amplification = if user == 0 { 0.0 } else { (flush_bytes + comp_written) as f64 / user as f64 };
        Ok(DbStats {
            levels,
            memtable_bytes: sv.mem.approximate_size() as u64,
            immutable_memtables: sv.imms.len() as u64,
            wal_bytes: wal_now + sv.imms.iter().map(|i| i.wal_bytes).sum::<u64>(),
            block_cache_hits: Counters::get(&c.block_cache_hits),
            block_cache_misses: Counters::get(&c.block_cache_misses),
            block_cache_bytes: self.cache.as_ref().map_or(0, |c| c.weight()),
            bloom_negatives: Counters::get(&c.bloom_negatives),
            bloom_checks: Counters::get(&c.bloom_checks),
            flushes: Counters::get(&c.flushes),
            flush_bytes,
            compactions: Counters::get(&c.compactions),
            compaction_bytes_read: Counters::get(&c.compaction_bytes_read),
            compaction_bytes_written: comp_written,
            user_bytes_written: user,
            write_amplification,
            wal_syncs: self.write.lock().sync_handle.syncs_performed() + Counters::get(&c.wal_syncs),
            sync_writes: Counters::get(&c.sync_writes),
            last_sequence: self.last_seq.load(Ordering::Acquire),
            live_snapshots: self.snapshots.lock().values().map(|&n| n as u64).sum(),
            wal_bytes_written: Counters::get(&c.wal_bytes_written),
            read_only_reason: self.poisoned.lock().clone(),
            write_stalls: Counters::get(&c.write_stalls),
            write_stall_micros: Counters::get(&c.write_stall_micros),
            pending_compaction_bytes,
        })
    }

    pub(super) fn verify(&self) -> Result<Vec<Error>> {
        self.check_open()?;
        let sv = self.super_version();
        let mut problems = Vec::new();
        let state = self.manifest.lock().clone();
        if let Err(e) = state.check_invariants() {
            problems.push(e);
        }
        for level in &sv.version.levels {
            for h in level {
                let p = h.table.path();
                match self.opts.fs.file_size(p) {
                    Ok(len) if len != h.meta.size => problems.push(Error::corruption(
                        Some(p.to_path_buf()),
                        None,
                        format!("size mismatch: manifest says {} bytes, file has {len}", h.meta.size),
                    )),
                    Ok(_) => {}
                    Err(e) => problems.push(Error::io(p, e)),
                }
                problems.extend(h.table.verify());
            }
        }
        let mut wal_numbers: HashSet<u64> = sv.imms.iter().map(|i| i.wal_number).collect();
        wal_numbers.insert(sv.mem_wal_number);
        let mut wal_numbers: Vec<u64> = wal_numbers.into_iter().collect();
        wal_numbers.sort_unstable();
        for n in wal_numbers {
            let p = wal_file_name(&self.path, n);
            let mode = crate::options::RecoveryMode::TolerateCorruptedTail;
            let res = read_log_with(self.opts.fs.as_ref(), &p, mode, true, &mut |_, payload| {
                crate::batch::WriteBatch::from_record(payload.to_vec()).map(|_| ())
            });
            if let Err(e) = res {
                // A flush that finished after `sv` was taken deletes the WAL it made
                // redundant: a missing WAL that is no longer live is not a problem.
                let missing = matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
                let now = self.super_version();
                let still_live = now.mem_wal_number == n || now.imms.iter().any(|i| i.wal_number == n);
                // A read-only open creates no WAL: the one the manifest names next may be
                // absent (a checkpoint, a cleanly closed database) while nothing is in it.
                let absent_read_only = self.opts.read_only && n == now.mem_wal_number && now.mem.is_empty();
                if !missing || (still_live && !absent_read_only) {
                    problems.push(e.with_file(&p));
                }
            }
        }
        Ok(problems)
    }
}

fn flush_loop(db: &Arc<DbInner>) {
    let mut seen = 0;
    loop {
        {
            let mut bg = db.bg.lock();
            while !bg.shutdown && bg.generation == seen && db.super_version().imms.is_empty() {
                db.bg_cv.wait_for(&mut bg, Duration::from_millis(200));
            }
            if bg.shutdown {
                return;
            }
            seen = bg.generation;
        }
        loop {
            match db.flush_one() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    db.poison(&e);
                    db.write_cv.notify_all();
                    return;
                }
            }
        }
    }
}

fn compaction_loop(db: &Arc<DbInner>) {
    let mut seen = 0;
    loop {
        {
            let mut bg = db.bg.lock();
            while !bg.shutdown && bg.generation == seen {
                db.bg_cv.wait_for(&mut bg, Duration::from_millis(500));
                if bg.generation == seen {
                    break;
                }
            }
            if bg.shutdown {
                return;
            }
            seen = bg.generation;
        }
        if db.poisoned.lock().is_some() {
            continue;
        }
        loop {
            if db.shutting_down() {
                return;
            }
            let guard = db.compaction_lock.lock();
            let state = db.manifest.lock().clone();
            let Some(pick) = pick_compaction(&state, &db.opts.compaction, &HashSet::new()) else { break };
            let res = db.run_compaction(&pick);
            drop(guard);
            if let Err(e) = res {
                db.poison(&e);
                break;
            }
            db.kick_background();
        }
    }
}
