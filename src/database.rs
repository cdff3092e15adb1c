//! `NativeDatabase`: the handle JavaScript holds on an open `strata_engine::Db`.

use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, Either3, Null, Uint8Array, Undefined};
use napi::{Env, Result};
use napi_derive::napi;
use parking_lot::Mutex;
use strata_engine::{Db, IterOptions, TryWrite, WriteBatch};

use crate::error::{check_key, guard, internal, invalid, BindingResult, EngineResultExt, ErrorCode};
use crate::iterator::NativeIterator;
use crate::options::{BindingApproximateCount, BindingEvents, BindingOpenOptions, BindingRange, BindingStats};
use crate::snapshot::{self, NativeSnapshot};
use crate::tasks::{
    checkpoint::CheckpointTask, clear::ClearTask, close::CloseTask, compact_range::CompactRangeTask, flush::FlushTask,
    get::GetTask, get_many::GetManyTask, open::OpenTask, verify::VerifyTask, write::WriteTask,
};

/// An open database. Created by `NativeDatabase.open`.
#[napi]
pub struct NativeDatabase {
    pub(crate) db: Db,
    location: String,
    /// The buffer `readHere` reads keys from and writes values to, registered once by
    /// `setIo` (a reference to the JS Buffer, so it stays alive while registered).
    pub(crate) io: Mutex<Option<Buffer>>,
    /// The iterators opened by `cursorOpen`, by handle (`src/cursor.rs`).
    pub(crate) cursors: Mutex<crate::cursor::Cursors>,
    /// The handles from `readerOpen` (`src/reader.rs`), released with the database.
    readers: Mutex<Vec<u32>>,
}

/// `readHere` flags.
pub(crate) const READ_CACHED_ONLY: u32 = 1;
pub(crate) const READ_LENGTH_ONLY: u32 = 2;

impl Drop for NativeDatabase {
    fn drop(&mut self) {
        for h in self.readers.get_mut().drain(..) {
            crate::reader::close(h);
        }
    }
}

/// The body of `getInto`, `readHere` and `readAt`: `io[..key_len]` holds the key; the value
/// is written over `io` from offset 0 (see `get_into`).
pub(crate) fn read_into(
    db: &Db,
    io: &mut [u8],
    key_len: u32,
    cached_only: bool,
    length_only: bool,
    snapshot: Option<&NativeSnapshot>,
) -> BindingResult<i64> {
    let key_len = key_len as usize;
    let Some(key) = io.get(..key_len) else {
        return Err(invalid(format!("key length {key_len} exceeds the buffer of {} bytes", io.len())));
    };
    check_key(key)?;
    // The value overwrites the key, so the lookup works on a copy of the key (on the
    // stack for the usual short keys).
    let mut stack = [0u8; 256];
    let heap: Vec<u8>;
    let key: &[u8] = match stack.get_mut(..key_len) {
        Some(dst) => {
            dst.copy_from_slice(key);
            dst
        }
        None => {
            heap = key.to_vec();
            &heap
        }
    };
    let snapshot = snapshot::resolve(snapshot)?;
    let copy_out = |v: Option<&[u8]>| -> i64 {
        match v {
            None => -1,
            Some(v) => {
                if length_only {
                    return v.len() as i64;
                }
                if let Some(dst) = io.get_mut(..v.len()) {
                    dst.copy_from_slice(v);
                }
                v.len() as i64
            }
        }
    };
    if cached_only {
        Ok(db.get_if_cached_with(key, snapshot.as_ref(), copy_out).js()?.unwrap_or(-2))
    } else {
        Ok(db.get_with(key, snapshot.as_ref(), copy_out).js()?)
    }
}

impl NativeDatabase {
    pub(crate) fn new(db: Db, location: String) -> Self {
        NativeDatabase { db, location, io: Mutex::new(None), cursors: Mutex::default(), readers: Mutex::default() }
    }

    /// The engine handle (for the `#[napi] impl` blocks in other files, e.g. `multiget.rs`).
    pub(crate) fn engine(&self) -> &Db {
        &self.db
    }

    fn try_batch(&self, batch: WriteBatch) -> BindingResult<bool> {
        Ok(matches!(self.db.try_write(batch).js()?, TryWrite::Written))
    }
}

/// Copies engine bytes into a new JS-owned Buffer (one copy, no finalizer).
pub(crate) fn copy_buffer<'env>(env: &'env Env, bytes: &[u8]) -> BindingResult<BufferSlice<'env>> {
    BufferSlice::copy_from(env, bytes).map_err(|e| internal(e.reason))
}

#[napi]
impl NativeDatabase {
    /// Opens (or creates) the database at `location` off the JS thread.
    #[napi(ts_return_type = "Promise<NativeDatabase>")]
    pub fn open(location: String, options: Option<BindingOpenOptions>) -> AsyncTask<OpenTask> {
        AsyncTask::new(OpenTask { location, options: options.unwrap_or_default() })
    }

    /// The directory this database lives in.
    #[napi(getter)]
    pub fn location(&self) -> String {
        self.location.clone()
    }

    /// True once `close` has run.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.db.is_closed()
    }

    /// Reads one key; resolves to `null` when missing.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn get(&self, key: Uint8Array, snapshot: Option<&NativeSnapshot>) -> Result<AsyncTask<GetTask>, ErrorCode> {
        check_key(&key)?;
        let snapshot = snapshot::resolve(snapshot)?;
        Ok(AsyncTask::new(GetTask { db: self.db.clone(), key: key.to_vec(), snapshot }))
    }

    /// Reads one key on the calling thread; `null` when missing. The value is copied once,
    /// from engine memory straight into the returned Buffer.
    #[napi(catch_unwind)]
    pub fn get_sync<'env>(
        &self,
        env: &'env Env,
        key: &[u8],
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<Option<BufferSlice<'env>>, ErrorCode> {
        guard(|| {
            check_key(key)?;
            let snapshot = snapshot::resolve(snapshot)?;
            self.db.get_with(key, snapshot.as_ref(), |v| v.map(|v| copy_buffer(env, v)).transpose()).js()?
        })
    }

    /// The allocation-free read of `getSync`/`get`/`has` on the calling thread. `io[..key_len]`
    /// holds the key; the value is written over `io` from offset 0. Returns the value's
    /// length (when it exceeds `io.length` nothing is written and the caller reads it with
    /// `getSync`), -1 when the key is missing, or -2 with `cached_only` when the answer is
    /// not in memory (read it on the pool with `get`). With `length_only` (for `has`) the
    /// value is not copied at all. One shared buffer in each direction instead of a new
    /// Buffer per value: creating a Buffer is most of a small read's cost.
    #[napi(catch_unwind)]
    pub fn get_into(
        &self,
        mut io: BufferSlice,
        key_len: u32,
        cached_only: bool,
        length_only: bool,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<i64, ErrorCode> {
        guard(|| read_into(&self.db, &mut io, key_len, cached_only, length_only, snapshot))
    }

    /// Registers `io` as the buffer of `readHere` (replacing any earlier one).
    #[napi(catch_unwind)]
    pub fn set_io(&self, io: Buffer) {
        *self.io.lock() = Some(io);
    }

    /// `getInto` through the buffer registered with `setIo`: only numbers cross (the key's
    /// length and flags, 1 = cached only, 2 = length only), no Buffer argument to borrow per
    /// call. Same results as `getInto`.
    #[napi(catch_unwind)]
    pub fn read_here(&self, key_len: u32, flags: u32, snapshot: Option<&NativeSnapshot>) -> Result<i64, ErrorCode> {
        guard(|| {
            let mut slot = self.io.lock();
            let Some(io) = slot.as_mut() else {
                return Err(invalid("readHere: no buffer registered (setIo)".to_string()));
            };
            read_into(&self.db, io, key_len, flags & READ_CACHED_ONLY != 0, flags & READ_LENGTH_ONLY != 0, snapshot)
        })
    }

    /// Registers `io` for `readAt` (`src/reader.rs`) and returns the handle. Released by
    /// `readerClose` or with this object.
    #[napi(catch_unwind)]
    pub fn reader_open(&self, io: Buffer) -> Result<u32, ErrorCode> {
        guard(|| {
            let h = crate::reader::open(self.db.clone(), io)?;
            self.readers.lock().push(h);
            Ok(h)
        })
    }

    /// Releases a handle from `readerOpen`. Idempotent.
    #[napi(catch_unwind)]
    pub fn reader_close(&self, handle: u32) {
        self.readers.lock().retain(|h| *h != handle);
        crate::reader::close(handle);
    }

    /// Reads one key on the calling thread if that needs no disk read: the value, `null`
    /// when missing, or `undefined` when the answer is not in memory (then use `get`).
    #[napi(catch_unwind, ts_return_type = "Buffer | null | undefined")]
    pub fn get_cached<'env>(
        &self,
        env: &'env Env,
        key: &[u8],
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<Either3<BufferSlice<'env>, Null, Undefined>, ErrorCode> {
        guard(|| {
            check_key(key)?;
            let snapshot = snapshot::resolve(snapshot)?;
            let found = self
                .db
                .get_if_cached_with(key, snapshot.as_ref(), |v| v.map(|v| copy_buffer(env, v)).transpose())
                .js()?;
            Ok(match found.transpose()? {
                None => Either3::C(()),
                Some(None) => Either3::B(Null),
                Some(Some(b)) => Either3::A(b),
            })
        })
    }

    /// Reads many keys at one consistent view; resolves to values in key order (`null` when missing).
    #[napi(ts_return_type = "Promise<Array<Buffer | null>>")]
    pub fn get_many(
        &self,
        keys: Vec<Uint8Array>,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<AsyncTask<GetManyTask>, ErrorCode> {
        let keys = keys
            .iter()
            .map(|k| {
                check_key(k)?;
                Ok(k.to_vec())
            })
            .collect::<BindingResult<Vec<_>>>()?;
        let snapshot = snapshot::resolve(snapshot)?;
        Ok(AsyncTask::new(GetManyTask { db: self.db.clone(), keys, snapshot }))
    }

    /// Applies a packed batch (`kind u8 · varint key_len · key · [varint value_len · value]`
    /// per op; kinds 0 = delete, 1 = put, 2 = system delete, 3 = system put, system keys
    /// relative to the system prefix) atomically, off the JS thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write(&self, ops: Uint8Array, sync: bool) -> AsyncTask<WriteTask> {
        AsyncTask::new(WriteTask { db: self.db.clone(), ops: ops.to_vec(), sync })
    }

    /// Applies a packed batch atomically on the calling thread.
    #[napi(catch_unwind)]
    pub fn write_sync(&self, ops: &[u8], sync: bool) -> Result<(), ErrorCode> {
        guard(|| {
            let batch = WriteBatch::from_packed_ops(ops).js()?;
            self.db.write(batch, sync).js()
        })
    }

    /// Applies a packed batch without sync on the calling thread if that cannot block (see
    /// `Db::try_write`): `true` once written (in the OS, visible), `false` when it would have
    /// to wait (nothing written: use `write`).
    #[napi(catch_unwind)]
    pub fn try_write(&self, ops: &[u8]) -> Result<bool, ErrorCode> {
        guard(|| self.try_batch(WriteBatch::from_packed_ops(ops).js()?))
    }

    /// `tryWrite` of one put, without packing in JavaScript.
    #[napi(catch_unwind)]
    pub fn try_put(&self, key: &[u8], value: &[u8]) -> Result<bool, ErrorCode> {
        guard(|| {
            let mut b = WriteBatch::with_capacity(key.len() + value.len() + 12);
            b.put(key, value).js()?;
            self.try_batch(b)
        })
    }

    /// `tryWrite` of one delete.
    #[napi(catch_unwind)]
    pub fn try_del(&self, key: &[u8]) -> Result<bool, ErrorCode> {
        guard(|| {
            let mut b = WriteBatch::with_capacity(key.len() + 6);
            b.delete(key).js()?;
            self.try_batch(b)
        })
    }

    /// Opens an iterator over `range`, reading at `snapshot` (default: now).
    #[napi(catch_unwind)]
    pub fn iterator(
        &self,
        range: BindingRange,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<NativeIterator, ErrorCode> {
        guard(|| {
            let range = range.to_engine()?;
            let snapshot = snapshot::resolve(snapshot)?;
            Ok(NativeIterator::new(self.db.iter(IterOptions { range, snapshot }).js()?))
        })
    }

    /// Takes a snapshot of the current state.
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> Result<NativeSnapshot, ErrorCode> {
        guard(|| Ok(NativeSnapshot::new(self.db.snapshot().js()?)))
    }

    /// Deletes every key in `range` atomically; resolves to the number deleted. With
    /// `snapshot`, deletes the keys of the range visible in that snapshot.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn clear(
        &self,
        range: BindingRange,
        sync: bool,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<AsyncTask<ClearTask>, ErrorCode> {
        let range = range.to_engine()?;
        let snapshot = snapshot::resolve(snapshot)?;
        Ok(AsyncTask::new(ClearTask { db: self.db.clone(), range, sync, snapshot }))
    }

    /// Estimates the number of entries in `range` (`limit` and `reverse` are ignored) from
    /// the memtables and the SSTables' in-memory indexes, without reading a data block, on the
    /// calling thread. `estimate` counts old versions and tombstones too; `upper` is a true
    /// upper bound on the live keys in the range.
    #[napi(catch_unwind)]
    pub fn approximate_count(&self, range: BindingRange) -> Result<BindingApproximateCount, ErrorCode> {
        guard(|| Ok(self.db.approximate_count(&range.to_engine()?).js()?.into()))
    }

    /// Compacts the key range `[start, end]` (everything when both are omitted).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact_range(&self, start: Option<Uint8Array>, end: Option<Uint8Array>) -> AsyncTask<CompactRangeTask> {
        AsyncTask::new(CompactRangeTask {
            db: self.db.clone(),
            start: start.map(|s| s.to_vec()),
            end: end.map(|e| e.to_vec()),
        })
    }

    /// Flushes the memtable to an SSTable.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> AsyncTask<FlushTask> {
        AsyncTask::new(FlushTask { db: self.db.clone() })
    }

    /// Current engine statistics.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<BindingStats, ErrorCode> {
        guard(|| Ok(self.db.stats().js()?.into()))
    }

    /// Takes up to `max` engine events (flushes, compactions, stalls, recovery, failures)
    /// recorded since the last call, oldest first. Also works after `close`.
    #[napi(catch_unwind)]
    pub fn drain_events(&self, max: u32) -> Result<BindingEvents, ErrorCode> {
        guard(|| {
            let (events, dropped) = self.db.drain_events(max as usize);
            Ok(BindingEvents { events: events.into_iter().map(Into::into).collect(), dropped: n_dropped(dropped) })
        })
    }

    /// Reads every block of every live file and checks every checksum and invariant off the
    /// JS thread; resolves to the problems found (empty when clean).
    #[napi(ts_return_type = "Promise<Array<BindingProblem>>")]
    pub fn verify(&self) -> AsyncTask<VerifyTask> {
        AsyncTask::new(VerifyTask { db: self.db.clone() })
    }

    /// Writes an openable copy of the database to `target` (absent, or an empty directory)
    /// off the JS thread while writes continue; resolves to what it holds.
    #[napi(ts_return_type = "Promise<BindingCheckpoint>")]
    pub fn checkpoint(&self, target: String) -> AsyncTask<CheckpointTask> {
        AsyncTask::new(CheckpointTask { db: self.db.clone(), target })
    }

    /// Closes the database. Idempotent; later calls fail with `STRATA_CLOSED`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseTask> {
        AsyncTask::new(CloseTask { db: self.db.clone() })
    }
}

#[expect(clippy::cast_precision_loss, reason = "a count; exact below 2^53")]
fn n_dropped(v: u64) -> f64 {
    v as f64
}
