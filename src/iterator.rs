//! `NativeIterator`: a cursor that crosses to JavaScript in batches.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Uint8Array};
use napi_derive::napi;
use parking_lot::Mutex;
use strata_engine::DbIterator;

use crate::tasks::next_batch::NextBatchTask;

/// Shared slot holding the engine iterator; `None` once closed.
pub(crate) type IterSlot = Arc<Mutex<Option<DbIterator>>>;

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
    /// the first key `>= seek` (forward) or the last key `<= seek` (reverse). Resolves to a
    /// flat array `[key0, value0, key1, value1, ...]`; an empty array means the end.
    /// Rejects with `STRATA_ITERATOR_NOT_OPEN` once the iterator or its database is closed.
    #[napi(ts_return_type = "Promise<Array<Buffer>>")]
    pub fn next_batch(&self, max_entries: u32, max_bytes: u32, seek: Option<Uint8Array>) -> AsyncTask<NextBatchTask> {
        AsyncTask::new(NextBatchTask {
            slot: self.slot.clone(),
            max_entries: max_entries.max(1) as usize,
            max_bytes: max_bytes.max(1) as usize,
            seek: seek.map(|s| s.to_vec()),
        })
    }

    /// Releases the iterator. Idempotent; a pending `nextBatch` finishes first.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.slot.lock().take();
    }
}
