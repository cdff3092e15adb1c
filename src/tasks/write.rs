//! `NativeDatabase.write`.

use napi::{Env, Task};
use strata_engine::{Db, WriteBatch};

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Validates and applies a packed batch off the JS thread.
pub struct WriteTask {
    pub(crate) db: Db,
    pub(crate) ops: Vec<u8>,
    pub(crate) sync: bool,
}

impl Task for WriteTask {
    type Output = BindingResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            let batch = WriteBatch::from_packed_ops(&self.ops).js()?;
            self.db.write(batch, self.sync).js()
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
