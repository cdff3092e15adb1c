//! The one place where engine errors become JavaScript errors.
//!
//! Each error carries a stable string `code` (the napi-rs custom status pattern:
//! `napi::Error<ErrorCode>` with `ErrorCode: AsRef<str>`). Codes are part of the public API;
//! messages are not. `ts/errors.ts` mirrors this table.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{Env, JsError};

/// Stable error codes surfaced to JavaScript as `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Another instance holds the database's lock.
    Locked,
    /// Stored data is damaged.
    Corruption,
    /// An operating-system I/O error.
    IoError,
    /// The database is closed.
    Closed,
    /// Bad argument (empty or oversized key, malformed batch, bad option).
    InvalidArgument,
    /// The database is read-only after a background failure.
    Poisoned,
    /// A write, flush or compaction on a database opened with `readOnly`.
    ReadOnly,
    /// The database does not exist and `createIfMissing` is false.
    NotFound,
    /// The database exists and `errorIfExists` is true.
    Exists,
    /// The iterator was closed (explicitly or by closing the database).
    IteratorNotOpen,
    /// A bug: a caught panic or an unexpected engine error.
    Internal,
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        match self {
            ErrorCode::Locked => "STRATA_LOCKED",
            ErrorCode::Corruption => "STRATA_CORRUPTION",
            ErrorCode::IoError => "STRATA_IO_ERROR",
            ErrorCode::Closed => "STRATA_CLOSED",
            ErrorCode::InvalidArgument => "STRATA_INVALID_ARGUMENT",
            ErrorCode::Poisoned => "STRATA_POISONED",
            ErrorCode::ReadOnly => "STRATA_READ_ONLY",
            ErrorCode::NotFound => "STRATA_NOT_FOUND",
            ErrorCode::Exists => "STRATA_EXISTS",
            ErrorCode::IteratorNotOpen => "STRATA_ITERATOR_NOT_OPEN",
            ErrorCode::Internal => "STRATA_INTERNAL",
        }
    }
}

/// A JS-bound error with a stable code.
pub type BindingError = napi::Error<ErrorCode>;
/// Result of a binding call.
pub type BindingResult<T> = napi::Result<T, ErrorCode>;

/// Builds a coded error.
pub fn err(code: ErrorCode, message: impl ToString) -> BindingError {
    napi::Error::new(code, message)
}

/// Builds a `STRATA_INTERNAL` error.
pub fn internal(message: impl ToString) -> BindingError {
    err(ErrorCode::Internal, message)
}

/// Builds a `STRATA_INVALID_ARGUMENT` error.
pub fn invalid(message: impl ToString) -> BindingError {
    err(ErrorCode::InvalidArgument, message)
}

/// The stable code of an engine error. The one mapping of the binding.
pub fn code_of(e: &strata_engine::Error) -> ErrorCode {
    use strata_engine::Error as E;
    match e {
        E::Io { .. } => ErrorCode::IoError,
        E::Corruption { .. } => ErrorCode::Corruption,
        E::Locked(_) => ErrorCode::Locked,
        E::Closed => ErrorCode::Closed,
        E::Poisoned(_) => ErrorCode::Poisoned,
        E::ReadOnly => ErrorCode::ReadOnly,
        E::InvalidArgument(_) => ErrorCode::InvalidArgument,
        E::AlreadyExists(_) => ErrorCode::Exists,
        E::NotFound(_) => ErrorCode::NotFound,
        // Only the `*_if_cached` calls raise it, and they turn it into "not in memory".
        E::WouldBlock => ErrorCode::Internal,
        _ => ErrorCode::Internal,
    }
}

/// The file and byte offset an engine error points at, when it names them
/// (`Corruption { file, offset }`, or the path of an `Io` error).
pub fn location(e: &strata_engine::Error) -> (Option<&std::path::Path>, Option<u64>) {
    use strata_engine::Error as E;
    match e {
        E::Corruption { file, offset, .. } => (file.as_deref(), *offset),
        E::Io { path, .. } => (path.as_deref(), None),
        _ => (None, None),
    }
}

/// Maps an engine error to a coded binding error.
pub fn from_engine(e: strata_engine::Error) -> BindingError {
    err(code_of(&e), e)
}

/// `.js()` on engine results: maps the error through [`from_engine`].
pub trait EngineResultExt<T> {
    /// Maps the engine error to a coded binding error.
    fn js(self) -> BindingResult<T>;
}

impl<T> EngineResultExt<T> for strata_engine::Result<T> {
    fn js(self) -> BindingResult<T> {
        self.map_err(from_engine)
    }
}

/// Runs `f`, turning a panic into a `STRATA_INTERNAL` error.
pub fn guard<T>(f: impl FnOnce() -> BindingResult<T>) -> BindingResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(err(ErrorCode::Internal, format!("internal error (panic in native code): {msg}")))
        }
    }
}

/// Settles a task's outcome on the JS thread. `Task` errors are `napi::Error<Status>`,
/// which would lose our code, so the coded error is first built as a JS `Error` object
/// (with `code` set) and handed back as a reference to that object.
pub fn settle<T>(env: Env, outcome: BindingResult<T>) -> napi::Result<T> {
    outcome.map_err(|e| napi::Error::from(JsError::from(e).into_unknown(env)))
}

/// Checks a user key the way the engine does (any length up to the limit, empty included;
/// not in the system keyspace), before any work is queued.
pub fn check_key(key: &[u8]) -> BindingResult<()> {
    if key.len() > strata_engine::batch::MAX_KEY_SIZE {
        return Err(invalid(format!(
            "key of {} bytes exceeds the limit of {} bytes",
            key.len(),
            strata_engine::batch::MAX_KEY_SIZE
        )));
    }
    strata_engine::keyspace::check_user_key(key).js()
}
