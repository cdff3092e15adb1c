//! The write path: one mutex serialises WAL append, memtable insert and sequence
//! publication; `sync` writers share fsyncs through the WAL's group commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{DbInner, ImmMemTable, RangeOptions, SuperVersion, TryWrite, WriteState};
use crate::batch::WriteBatch;
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::key::{SeqNo, MAX_SEQ};
use crate::keyspace::Keyspace;
use crate::memtable::MemTable;
use crate::stats::Counters;
use crate::version::{sync_dir_with, wal_file_name};
use crate::wal::LogWriter;

/// Batches of at least this many operations are inserted into the memtable in key order.
const SORTED_INSERT_MIN: u32 = 64;

impl DbInner {
    pub(super) fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut w = self.write.lock();
        let pending = self.write_locked(&mut w, batch, sync)?;
        drop(w);
        self.finish_sync(pending)
    }

    pub(super) fn try_write(&self, batch: WriteBatch) -> Result<TryWrite> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(TryWrite::Written);
        }
        if self.opts.sync {
            return Ok(TryWrite::WouldStall(batch));
        }
        let Some(mut w) = self.write.try_lock() else {
            return Ok(TryWrite::WouldStall(batch));
        };
        if self.current.read().mem.approximate_size() >= self.opts.memtable_size {
            // Rotation fsyncs the old WAL and may wait for a flush: leave it to `write`.
            return Ok(TryWrite::WouldStall(batch));
        }
        let pending = self.write_locked(&mut w, batch, false)?;
        debug_assert!(pending.is_none());
        Ok(TryWrite::Written)
    }

    /// Appends and applies `batch` while the write lock is held. Returns what a `sync`
    /// writer must wait for after releasing the lock.
    pub(super) fn write_locked(
        &self,
        w: &mut parking_lot::MutexGuard<'_, WriteState>,
        mut batch: WriteBatch,
        sync: bool,
    ) -> Result<Option<(Arc<crate::wal::SyncHandle>, u64)>> {
        self.check_writable()?;
        self.make_room(w)?;
        let first = self.last_seq.load(Ordering::Relaxed) + 1;
        let last = first + u64::from(batch.count()) - 1;
        if last > MAX_SEQ {
            return Err(Error::InvalidArgument("sequence numbers exhausted".into()));
        }
        batch.set_sequence(first);
        let end = match w.wal.add_record(batch.data()) {
            Ok(end) => end,
            Err(e) => {
                self.poison(&e);
                return Err(e);
            }
        };
        // The record is in the OS (write(2) returned), not yet in the memtable, not synced.
        crash_point("wal.appended.before_sync");
        let sv = self.super_version();
        if batch.count() >= SORTED_INSERT_MIN {
            // Inserted in key order, each search of the skip list starts near the last one
            // (its nodes are in cache). Every entry keeps its own sequence number, and none is
            // visible before `last_seq` is published, so the insertion order changes nothing else.
            let mut ops = Vec::with_capacity(batch.count() as usize);
            for (i, op) in batch.iter().enumerate() {
                ops.push((first + i as u64, op?));
            }
            ops.sort_unstable_by(|a, b| a.1.key.cmp(b.1.key));
            for (seq, op) in ops {
                sv.mem.add(seq, op.kind, op.key, op.value);
            }
        } else {
            for (i, op) in batch.iter().enumerate() {
                let op = op?;
                sv.mem.add(first + i as u64, op.kind, op.key, op.value);
            }
        }
        self.last_seq.store(last, Ordering::Release);
        Counters::add(&self.counters.user_bytes_written, batch.user_bytes());
        Counters::add(&self.counters.wal_bytes_written, batch.data().len() as u64);
        if sync || self.opts.sync {
            Counters::add(&self.counters.sync_writes, 1);
            return Ok(Some((Arc::clone(&w.sync_handle), end)));
        }
        Ok(None)
    }

    pub(super) fn finish_sync(&self, pending: Option<(Arc<crate::wal::SyncHandle>, u64)>) -> Result<()> {
        if let Some((handle, end)) = pending {
            if let Err(e) = handle.sync_to(end) {
                self.poison(&e);
                return Err(e);
            }
            crash_point("wal.synced.before_ack");
        }
        Ok(())
    }

    /// Rotates the memtable and WAL when the memtable is full, stalling while too many
    /// immutable memtables wait for flush.
    fn make_room(&self, w: &mut parking_lot::MutexGuard<'_, WriteState>) -> Result<()> {
        let mut stall: Option<(std::time::Instant, EventKind)> = None;
        let result = loop {
            let sv = self.super_version();
            if sv.mem.approximate_size() < self.opts.memtable_size {
                break Ok(());
            }
            if sv.imms.len() >= self.opts.max_immutable_memtables.max(1) {
                // Wait for the flush thread; it signals write_cv after each flush.
                if let Err(e) = self.check_writable() {
                    break Err(e);
                }
                stall.get_or_insert_with(|| {
                    let l0_files = sv.version.levels.first().map_or(0, Vec::len) as u64;
                    (
                        std::time::Instant::now(),
                        EventKind::WriteStall { immutable_memtables: sv.imms.len() as u64, l0_files },
                    )
                });
                self.write_cv.wait_for(w, std::time::Duration::from_millis(100));
                continue;
            }
            break self.rotate_memtable(w);
        };
        if let Some((started, event)) = stall {
            let waited = started.elapsed();
            Counters::add(&self.counters.write_stalls, 1);
            Counters::add(&self.counters.write_stall_micros, u64::try_from(waited.as_micros()).unwrap_or(u64::MAX));
            self.events.push(waited, event);
        }
        result
    }

    /// Freezes the active memtable (if not empty) and starts a new WAL. The old WAL is
    /// synced first so that only the newest WAL can ever have a torn tail.
    pub(super) fn rotate_memtable(&self, w: &mut WriteState) -> Result<()> {
        let sv = self.super_version();
        if sv.mem.is_empty() {
            return Ok(());
        }
        let number = self.next_file_number.fetch_add(1, Ordering::AcqRel);
        let path = wal_file_name(&self.path, number);
        // The new WAL's directory entry must be durable before a sync write in it is acknowledged.
        let fs = self.opts.fs.as_ref();
        let result = w
            .wal
            .sync()
            .and_then(|()| {
                crash_point("wal.rotate.old_synced.before_create");
                LogWriter::create_with(fs, &path)
            })
            .and_then(|wal| {
                crash_point("wal.rotate.created.before_dir_sync");
                sync_dir_with(fs, &self.path)?;
                crash_point("wal.rotate.dir_synced.before_switch");
                Ok(wal)
            });
        let new_wal = match result {
            Ok(wal) => wal,
            Err(e) => {
                self.poison(&e);
                return Err(e);
            }
        };
        let sync_handle = new_wal.sync_handle()?;
        let old_wal = std::mem::replace(&mut w.wal, new_wal);
        let imm =
            Arc::new(ImmMemTable { mem: Arc::clone(&sv.mem), wal_number: w.wal_number, wal_bytes: old_wal.len() });
        w.wal_number = number;
        w.sync_handle = sync_handle;
        {
            let mut cur = self.current.write();
            let mut imms = Vec::with_capacity(cur.imms.len() + 1);
            imms.push(imm);
            imms.extend(cur.imms.iter().cloned());
            *cur = Arc::new(SuperVersion {
                mem: Arc::new(MemTable::new()),
                mem_wal_number: number,
                imms,
                version: Arc::clone(&cur.version),
            });
        }
        self.kick_background();
        Ok(())
    }

    /// Deletes the keys of `range` visible at `at` (default: now), in the range's keyspace.
    pub(super) fn clear(&self, range: &RangeOptions, at: Option<SeqNo>, sync: bool) -> Result<u64> {
        self.check_writable()?;
        let mut w = self.write.lock();
        // Under the write lock every committed write is in the view and none can interleave,
        // so the deletes below form one atomic batch over exactly the keys present now
        // (or, with `at`, the keys present at that snapshot).
        let (seq, sv) = self.read_view(at);
        let mut it = self.db_iter(&sv, seq, range);
        it.seek_to_start()?;
        let mut batch = WriteBatch::new();
        let mut n = 0u64;
        while range.limit.is_none_or(|l| n < l) {
            match it.next_entry()? {
                Some((k, _)) => {
                    // The iterator returns keys relative to the keyspace.
                    match range.keyspace {
                        Keyspace::User => batch.delete(&k)?,
                        Keyspace::System => batch.delete_system(&k)?,
                    }
                    n += 1;
                }
                None => break,
            }
        }
        drop(it);
        if n == 0 {
            return Ok(0);
        }
        let pending = self.write_locked(&mut w, batch, sync)?;
        drop(w);
        self.finish_sync(pending)?;
        Ok(n)
    }
}
