//! `NativeDatabase.flush`.

use napi::{Env, Task};
use strata_engine::Db;

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Flushes the memtable off the JS thread.
pub struct FlushTask {
    pub(crate) db: Db,
}

impl Task for FlushTask {
    type Output = BindingResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| self.db.flush().js()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
