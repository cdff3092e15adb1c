//! `NativeDatabase.close`.

use napi::{Env, Task};
use strata_engine::Db;

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Closes the database off the JS thread (the real engine flushes and joins its workers).
pub struct CloseTask {
    pub(crate) db: Db,
}

impl Task for CloseTask {
    type Output = BindingResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| self.db.close().js()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
