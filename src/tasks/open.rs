//! `NativeDatabase.open`.

use napi::{Env, Task};
use strata_engine::Db;

use crate::database::NativeDatabase;
use crate::error::{guard, settle, BindingResult, EngineResultExt};
use crate::options::BindingOpenOptions;

/// Opens a database off the JS thread.
pub struct OpenTask {
    pub(crate) location: String,
    pub(crate) options: BindingOpenOptions,
}

impl Task for OpenTask {
    type Output = BindingResult<Db>;
    type JsValue = NativeDatabase;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            let options = self.options.to_engine()?;
            Db::open(&self.location, options).js()
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(|db| NativeDatabase::new(db, self.location.clone()))
    }
}
