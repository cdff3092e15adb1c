//! `NativeDatabase.get`.

use napi::bindgen_prelude::Buffer;
use napi::{Env, Task};
use strata_engine::{Db, Snapshot};

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Reads one key off the JS thread.
pub struct GetTask {
    pub(crate) db: Db,
    pub(crate) key: Vec<u8>,
    pub(crate) snapshot: Option<Snapshot>,
}

impl Task for GetTask {
    type Output = BindingResult<Option<Vec<u8>>>;
    type JsValue = Option<Buffer>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| self.db.get(&self.key, self.snapshot.as_ref()).js()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(|v| v.map(Buffer::from))
    }
}
