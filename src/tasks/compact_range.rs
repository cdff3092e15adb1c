//! `NativeDatabase.compactRange`.

use napi::{Env, Task};
use strata_engine::Db;

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Compacts a key range off the JS thread.
pub struct CompactRangeTask {
    pub(crate) db: Db,
    pub(crate) start: Option<Vec<u8>>,
    pub(crate) end: Option<Vec<u8>>,
}

impl Task for CompactRangeTask {
    type Output = BindingResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| self.db.compact_range(self.start.as_deref(), self.end.as_deref()).js()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
