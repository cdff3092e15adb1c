//! `NativeDatabase.checkpoint`.

use napi::{Env, Task};
use napi_derive::napi;
use strata_engine::Db;

use crate::error::{guard, settle, BindingResult, EngineResultExt};

/// What `checkpoint` wrote.
#[napi(object)]
pub struct BindingCheckpoint {
    /// Every write up to this sequence number is in the checkpoint, none after it.
    pub sequence: f64,
    /// SSTables in the checkpoint.
    pub files: f64,
    /// Of those, how many are hard links to the live files (the rest were copied).
    pub linked: f64,
    /// Total size of the SSTables in bytes.
    pub bytes: f64,
}

/// Writes a checkpoint off the JS thread.
pub struct CheckpointTask {
    pub(crate) db: Db,
    pub(crate) target: String,
}

impl Task for CheckpointTask {
    type Output = BindingResult<BindingCheckpoint>;
    type JsValue = BindingCheckpoint;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            let info = self.db.checkpoint(&self.target).js()?;
            #[expect(clippy::cast_precision_loss, reason = "sequence numbers, counts and sizes stay below 2^53")]
            Ok(BindingCheckpoint {
                sequence: info.sequence as f64,
                files: info.files as f64,
                linked: info.linked as f64,
                bytes: info.bytes as f64,
            })
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
