//! `NativeDatabase.clear`.

use napi::{Env, Task};
use strata_engine::{Db, RangeOptions, Snapshot};

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Deletes a key range atomically off the JS thread.
pub struct ClearTask {
    pub(crate) db: Db,
    pub(crate) range: RangeOptions,
    pub(crate) sync: bool,
    pub(crate) snapshot: Option<Snapshot>,
}

impl Task for ClearTask {
    type Output = BindingResult<u64>;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| self.db.clear_at(self.range.clone(), self.snapshot.as_ref(), self.sync).js()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        #[expect(clippy::cast_precision_loss, reason = "a count of keys, below 2^53")]
        settle(env, output).map(|n| n as f64)
    }
}
