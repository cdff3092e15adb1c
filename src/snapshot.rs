//! `NativeSnapshot`: a read view pinned at one sequence number.

use napi_derive::napi;
use parking_lot::Mutex;
use strata_engine::Snapshot;

use crate::error::{err, BindingResult, ErrorCode};

/// A consistent read view. Pass it to `get`, `getMany` and `iterator`; release it with
/// `close()` (it is also released when garbage-collected).
#[napi]
pub struct NativeSnapshot {
    inner: Mutex<Option<Snapshot>>,
}

impl NativeSnapshot {
    pub(crate) fn new(s: Snapshot) -> Self {
        NativeSnapshot { inner: Mutex::new(Some(s)) }
    }

    /// A clone of the engine snapshot, or `STRATA_INVALID_ARGUMENT` once closed.
    pub(crate) fn get(&self) -> BindingResult<Snapshot> {
        self.inner.lock().clone().ok_or_else(|| err(ErrorCode::InvalidArgument, "snapshot is closed"))
    }
}

/// Resolves an optional snapshot argument.
pub(crate) fn resolve(s: Option<&NativeSnapshot>) -> BindingResult<Option<Snapshot>> {
    s.map(NativeSnapshot::get).transpose()
}

#[napi]
impl NativeSnapshot {
    /// Releases the snapshot. Idempotent.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.lock().take();
    }

    /// The sequence number this snapshot reads at (`-1` once closed).
    #[napi(getter, catch_unwind)]
    pub fn sequence(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "sequence numbers stay below 2^53")]
        self.inner.lock().as_ref().map_or(-1.0, |s| s.sequence() as f64)
    }
}
