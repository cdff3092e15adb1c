//! A deliberate panic, so tests can check that panics become `STRATA_INTERNAL` errors
//! instead of aborting the process. Not part of the public API.

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use napi::Result;

use crate::error::{guard, settle, BindingResult, ErrorCode};

/// Panics inside `compute`.
pub struct PanicTask;

impl Task for PanicTask {
    type Output = BindingResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| panic!("deliberate panic for testing (async)")))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output)
    }
}

/// Testing only: panics in native code, synchronously or (with `async`) on the thread pool.
#[napi(js_name = "__testPanic", ts_return_type = "Promise<void> | void")]
pub fn test_panic(run_async: bool) -> Result<Option<AsyncTask<PanicTask>>, ErrorCode> {
    if run_async {
        return Ok(Some(AsyncTask::new(PanicTask)));
    }
    guard(|| panic!("deliberate panic for testing (sync)"))
}
