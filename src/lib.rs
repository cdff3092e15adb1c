//! # stratadb-node
//!
//! The napi-rs binding between the `strata_engine` crate and the TypeScript API in `ts/`.
//! It is deliberately thin: each `#[napi]` item converts its arguments, calls one engine
//! method and maps the error. Anything that loops over keys belongs in the engine.
//!
//! ## Design
//!
//! **Where each call runs.** Crossing to the libuv thread pool and back costs more than an
//! in-memory write or read, so the hot paths run on the calling (JS) thread whenever that
//! cannot block, and fall back to one `napi::Task` (`src/tasks/<op>.rs`) otherwise:
//!
//! - *Writes without `sync`*: `tryPut` / `tryDel` / `tryWrite` call `Db::try_write`, which
//!   appends the batch to the WAL with one write(2) and inserts it into the memtable, or
//!   returns `WouldStall` (write lock held by another writer, memtable full so a rotation
//!   would fsync the old WAL or wait for a flush, or the database syncs every write). The
//!   TypeScript layer resolves the promise at once on success and uses `write` (a
//!   `WriteTask`) on `false`. Durability: the WAL bytes are in the OS before the promise
//!   resolves, so a process crash loses nothing acknowledged (an OS crash may).
//! - *Writes with `sync`* always go to the pool (`write`), where concurrent writers share
//!   fsyncs through the WAL's group commit. TypeScript keeps at most one write of a database
//!   on the pool and coalesces the writes made meanwhile into the next one, so writes apply
//!   in call order.
//! - *Reads*: `getCached` calls `Db::get_if_cached_with`, which answers from the memtables,
//!   the in-memory index and filter blocks and the block cache, and returns `undefined` when
//!   a data block would have to be read (then `get`, a `GetTask`). Cached-only mode is a
//!   thread-local flag checked where a data block is loaded (`cache::cached_only`).
//!   `getSync` always answers on the calling thread. The KV layer's point reads without a
//!   snapshot cross as `readAt(handle, keyLength, flags)` (`src/reader.rs`): a plain
//!   function of numbers, the key and value in a buffer registered once, no `this` to unwrap.
//! - *Iterators*: `nextBatchSync` calls `DbIterator::next_batch_if_cached` (seek included),
//!   which stops at the first block missing from the cache and remembers where it was, so
//!   the pool form `nextBatch` continues exactly there. The KV layer's iterators are numeric
//!   handles of their database (`cursorOpen` / `cursorRead` / `cursorNext` / `cursorClose`,
//!   `src/cursor.rs`): no napi object per iterator, and bounds, seek targets and in-memory
//!   batches cross through the `setIo` buffer (JavaScript copies each batch out at once).
//! - `open`, `getMany`, `clear`, `compactRange`, `flush`, `verify` and `close` always run on the pool;
//!   `snapshot`, `iterator`, `stats`, `drainEvents`, `isClosed` and the `close` of snapshots and iterators
//!   never wait on I/O and run on the calling thread.
//!
//! TypeScript also caps the calling-thread operations per event-loop turn (`ts/turns.ts`):
//! a loop of `await` on already settled promises would otherwise never let timers and I/O
//! run.
//!
//! **Buffer ownership and copies.** Synchronous functions borrow the caller's bytes (`&[u8]`)
//! for the duration of the call. Asynchronous tasks copy their inputs into owned `Vec<u8>` on
//! the JS thread before they are queued, so JavaScript may reuse or mutate its buffers right
//! away. Values read on the calling thread are copied once, from engine memory straight into
//! a JS-owned Buffer (`napi_create_buffer_copy`: no intermediate `Vec`, no finalizer); the
//! pool tasks move an engine-owned `Vec<u8>` into the Buffer. Never a view into engine
//! memory or a memory map.
//!
//! **Batching.** Writes cross the boundary as one packed buffer per batch (the engine's
//! packed-op layout, validated by `WriteBatch::from_packed_ops`); a single put or delete is
//! passed as key and value directly. Iterator entries cross as one packed Buffer per batch:
//! keys and values back to back, then a `u32` LE length per key and value, then the entry
//! count (`tasks::next_batch::pack_entries`); JavaScript slices it with `subarray`. A seek
//! travels with the batch read that follows it, so "seek + next 10" is one native call.
//!
//! **Errors.** Every engine error is mapped in exactly one place, `src/error.rs`, to a JS
//! `Error` whose `code` is a stable `STRATA_*` string. Panics never cross the boundary:
//! synchronous functions are `#[napi(catch_unwind)]` and wrap their body in
//! [`error::guard`]; every `Task::compute` runs its work inside [`error::guard`] too, so a
//! panic becomes a `STRATA_INTERNAL` error instead of aborting the process.

#![deny(clippy::unwrap_used)]

mod cursor;
mod database;
mod error;
mod iterator;
mod multiget;
mod options;
mod reader;
mod scan_probe;
mod snapshot;
mod tasks;

pub use database::NativeDatabase;
pub use iterator::NativeIterator;
pub use reader::read_at;
pub use snapshot::NativeSnapshot;
pub use tasks::panic::test_panic;

/// The version of the crate this binary was built from. The JS loader (`loader.js`) refuses a
/// binary whose version differs from the `stratadb` package's, so a stale local build or a
/// platform package of another release is never used.
#[napi_derive::napi]
pub fn native_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
