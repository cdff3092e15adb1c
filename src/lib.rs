//! # stratadb-node
//!
//! The napi-rs binding between the `strata_engine` crate and the TypeScript API in `ts/`.
//! It is deliberately thin: each `#[napi]` item converts its arguments, calls one engine
//! method and maps the error. Anything that loops over keys belongs in the engine.
//!
//! ## Design
//!
//! **Sync/async policy.** Every call that may touch disk has an asynchronous form that runs
//! on the libuv thread pool as one `napi::Task` (`src/tasks/<op>.rs`, returned as an
//! `AsyncTask`): `open`, `get`, `getMany`, `write`, `nextBatch`, `clear`, `compactRange`,
//! `flush`, `verify` and `close`. Synchronous forms exist only where they pay: `getSync` and
//! `writeSync` (small point operations), plus cheap calls that never wait on I/O
//! (`snapshot`, `iterator`, `stats`, `isClosed`, `NativeSnapshot.close`, `NativeIterator.close`).
//!
//! **Buffer ownership.** Synchronous functions borrow the caller's bytes (`&[u8]`) for the
//! duration of the call. Asynchronous tasks copy their inputs into owned `Vec<u8>` on the
//! JS thread before they are queued, so JavaScript may reuse or mutate its buffers right
//! away. Results travel back as `Buffer`s built from engine-owned `Vec<u8>` (moved, never a
//! view into engine memory or a memory map).
//!
//! **Batching.** Writes cross the boundary as one packed buffer per batch (the engine's
//! packed-op layout, validated by `WriteBatch::from_packed_ops`). Reads from iterators cross
//! in batches: one `nextBatch(maxEntries, maxBytes)` call returns a flat array
//! `[key0, value0, key1, value1, ...]`.
//!
//! **Errors.** Every engine error is mapped in exactly one place, `src/error.rs`, to a JS
//! `Error` whose `code` is a stable `STRATA_*` string. Panics never cross the boundary:
//! synchronous functions are `#[napi(catch_unwind)]` and wrap their body in
//! [`error::guard`]; every `Task::compute` runs its work inside [`error::guard`] too, so a
//! panic becomes a `STRATA_INTERNAL` error instead of aborting the process.

#![deny(clippy::unwrap_used)]

mod database;
mod error;
mod iterator;
mod options;
mod snapshot;
mod tasks;

pub use database::NativeDatabase;
pub use iterator::NativeIterator;
pub use snapshot::NativeSnapshot;
pub use tasks::panic::test_panic;
