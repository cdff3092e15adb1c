//! `NativeIterator`: a cursor that crosses to JavaScript in batches.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, BufferSlice, Uint8Array};
use napi::Env;
use napi_derive::napi;
use parking_lot::{Mutex, MutexGuard};
use strata_engine::DbIterator;

use crate::database::copy_buffer;
use crate::error::{guard, ErrorCode};
use crate::tasks::next_batch::{iterator_outcome, not_open, pack_entries, NextBatchTask};

/// Shared slot holding the engine iterator; `None` once closed.
pub(crate) type IterSlot = Arc<Mutex<Option<DbIterator>>>;

/// The slot for a read on the calling thread. When another read of this iterator holds it
/// (a `nextBatch` on the pool): `None` if there is no seek (nothing is lost, the caller falls
/// back to the pool, which queues behind that read), else waits for that read to finish, so
/// a seek given to a synchronous read is always applied (returning `null` there would drop
/// it: the fallback `nextBatch` carries no seek).
pub(crate) fn lock_for_read(slot: &IterSlot, seeking: bool) -> Option<MutexGuard<'_, Option<DbIterator>>> {
    match slot.try_lock() {
        Some(guard) => Some(guard),
        None if seeking => Some(slot.lock()),
        None => None,
    }
}

/// A cursor over a key range at one snapshot. Entries come out in batches.
#[napi]
pub struct NativeIterator {
    slot: IterSlot,
}

impl NativeIterator {
    pub(crate) fn new(it: DbIterator) -> Self {
        NativeIterator { slot: Arc::new(Mutex::new(Some(it))) }
    }
}

#[napi]
impl NativeIterator {
    /// Reads up to `maxEntries` entries (stopping early once `maxBytes` of keys and values are
    /// gathered; at least one entry unless exhausted). When `seek` is given, first moves to
    /// the first key `>= seek` (forward) or the last key `<= seek` (reverse). Resolves to one
    /// packed Buffer: keys and values back to back, then `u32` LE lengths (key0, value0, ...),
    /// then the entry count as `u32` LE; a count of 0 means the end.
    /// Rejects with `STRATA_ITERATOR_NOT_OPEN` once the iterator or its database is closed.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn next_batch(&self, max_entries: u32, max_bytes: u32, seek: Option<Uint8Array>) -> AsyncTask<NextBatchTask> {
        AsyncTask::new(NextBatchTask {
            slot: self.slot.clone(),
            max_entries: max_entries.max(1) as usize,
            max_bytes: max_bytes.max(1) as usize,
            seek: seek.map(|s| s.to_vec()),
        })
    }

    /// `nextBatch` on the calling thread, served only from memory: the packed batch (possibly
    /// shorter than asked for), or `null` when nothing could be read without a disk read or
    /// another read of this iterator is running (then use `nextBatch`, which continues exactly
    /// where this stopped; a `seek` given here has been taken into account either way: with a
    /// seek, a running read is waited for rather than answered with `null`).
    #[napi(catch_unwind)]
    pub fn next_batch_sync<'env>(
        &self,
        env: &'env Env,
        max_entries: u32,
        max_bytes: u32,
        seek: Option<&[u8]>,
    ) -> Result<Option<BufferSlice<'env>>, napi::Error<ErrorCode>> {
        guard(|| {
            let Some(mut slot) = lock_for_read(&self.slot, seek.is_some()) else { return Ok(None) };
            let it = slot.as_mut().ok_or_else(not_open)?;
            let result = it.next_batch_if_cached(seek, max_entries.max(1) as usize, max_bytes.max(1) as usize);
            match iterator_outcome(&mut slot, result)? {
                Some(entries) => Ok(Some(copy_buffer(env, &pack_entries(&entries)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Releases the iterator. Idempotent; a pending `nextBatch` finishes first.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.slot.lock().take();
    }
}
