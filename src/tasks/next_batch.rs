//! `NativeIterator.nextBatch`, and the packed layout every batch of entries crosses in.

use napi::bindgen_prelude::Buffer;
use napi::{Env, Task};

use crate::error::{err, guard, settle, BindingResult, EngineResultExt, ErrorCode};
use crate::iterator::IterSlot;

/// Reads one batch of entries off the JS thread.
pub struct NextBatchTask {
    pub(crate) slot: IterSlot,
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
    pub(crate) seek: Option<Vec<u8>>,
}

pub(crate) fn not_open() -> crate::error::BindingError {
    err(ErrorCode::IteratorNotOpen, "iterator is not open")
}

/// Packs entries into one buffer: every key and value back to back, then a table of
/// `u32` LE lengths (key0, value0, key1, value1, ...), then the entry count as `u32` LE.
/// JavaScript slices it with `subarray`: one allocation and one boundary crossing per batch.
pub(crate) fn pack_entries(entries: &[(Vec<u8>, Vec<u8>)]) -> BindingResult<Vec<u8>> {
    let data: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(data + entries.len() * 8 + 4);
    for (k, v) in entries {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    let len32 = |n: usize| u32::try_from(n).map_err(|_| err(ErrorCode::Internal, "entry too large for a batch"));
    for (k, v) in entries {
        out.extend_from_slice(&len32(k.len())?.to_le_bytes());
        out.extend_from_slice(&len32(v.len())?.to_le_bytes());
    }
    out.extend_from_slice(&len32(entries.len())?.to_le_bytes());
    Ok(out)
}

/// Maps the outcome of an iterator read: once the database is closed under the iterator,
/// the iterator is over (its slot is emptied).
pub(crate) fn iterator_outcome<T>(
    slot: &mut Option<strata_engine::DbIterator>,
    result: strata_engine::Result<T>,
) -> BindingResult<T> {
    match result {
        Err(strata_engine::Error::Closed) => {
            slot.take();
            Err(not_open())
        }
        other => other.js(),
    }
}

impl Task for NextBatchTask {
    type Output = BindingResult<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            let mut slot = self.slot.lock();
            let it = slot.as_mut().ok_or_else(not_open)?;
            let result = (|| {
                if let Some(target) = self.seek.take() {
                    it.seek(&target)?;
                }
                it.next_batch(self.max_entries, self.max_bytes)
            })();
            pack_entries(&iterator_outcome(&mut slot, result)?)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(Buffer::from)
    }
}
