//! `NativeDatabase.getMany`.

use napi::bindgen_prelude::Buffer;
use napi::{Env, Task};
use strata_engine::{Db, Snapshot};

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// Reads many keys at one view off the JS thread.
pub struct GetManyTask {
    pub(crate) db: Db,
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) snapshot: Option<Snapshot>,
}

impl Task for GetManyTask {
    type Output = BindingResult<Vec<Option<Vec<u8>>>>;
    type JsValue = Vec<Option<Buffer>>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            // Without an explicit snapshot, pin one so all keys are read at the same view.
            let snapshot = match &self.snapshot {
                Some(s) => s.clone(),
                None => self.db.snapshot().js()?,
            };
            self.keys.iter().map(|k| self.db.get(k, Some(&snapshot)).js()).collect()
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(|vs| vs.into_iter().map(|v| v.map(Buffer::from)).collect())
    }
}
