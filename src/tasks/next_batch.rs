//! `NativeIterator.nextBatch`.

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

fn not_open() -> crate::error::BindingError {
    err(ErrorCode::IteratorNotOpen, "iterator is not open")
}

impl Task for NextBatchTask {
    type Output = BindingResult<Vec<(Vec<u8>, Vec<u8>)>>;
    type JsValue = Vec<Buffer>;

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
            match result {
                // The database was closed under the iterator: the iterator is over.
                Err(strata_engine::Error::Closed) => {
                    slot.take();
                    Err(not_open())
                }
                other => other.js(),
            }
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(|entries| {
            let mut flat = Vec::with_capacity(entries.len() * 2);
            for (k, v) in entries {
                flat.push(Buffer::from(k));
                flat.push(Buffer::from(v));
            }
            flat
        })
    }
}
