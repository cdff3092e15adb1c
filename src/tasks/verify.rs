//! `NativeDatabase.verify`.

use napi::{Env, Task};
use napi_derive::napi;
use strata_engine::Db;

use crate::error::{code_of, guard, location, settle, BindingResult, EngineResultExt};

/// One problem found by `verify`.
#[napi(object)]
pub struct BindingProblem {
    /// The stable `STRATA_*` code of the problem (`STRATA_CORRUPTION`, `STRATA_IO_ERROR`, ...).
    pub code: String,
    /// Human-readable description (not stable).
    pub message: String,
    /// The file concerned, when known.
    pub file: Option<String>,
    /// Byte offset of the damage within `file`, when known.
    pub offset: Option<f64>,
}

impl From<&strata_engine::Error> for BindingProblem {
    fn from(e: &strata_engine::Error) -> Self {
        let (file, offset) = location(e);
        #[expect(clippy::cast_precision_loss, reason = "file offsets stay below 2^53")]
        BindingProblem {
            code: code_of(e).as_ref().to_string(),
            message: e.to_string(),
            file: file.map(|p| p.display().to_string()),
            offset: offset.map(|o| o as f64),
        }
    }
}

/// Reads and checks every live file off the JS thread.
pub struct VerifyTask {
    pub(crate) db: Db,
}

impl Task for VerifyTask {
    type Output = BindingResult<Vec<BindingProblem>>;
    type JsValue = Vec<BindingProblem>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| Ok(self.db.verify().js()?.iter().map(BindingProblem::from).collect())))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}
