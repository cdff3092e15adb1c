//! `NativeDatabase`: the handle JavaScript holds on an open `strata_engine::Db`.

use napi::bindgen_prelude::{AsyncTask, Buffer, Uint8Array};
use napi_derive::napi;
use strata_engine::{Db, IterOptions, WriteBatch};

use napi::Result;

use crate::error::{check_key, guard, BindingResult, EngineResultExt, ErrorCode};
use crate::iterator::NativeIterator;
use crate::options::{BindingOpenOptions, BindingRange, BindingStats};
use crate::snapshot::{self, NativeSnapshot};
use crate::tasks::{
    clear::ClearTask, close::CloseTask, compact_range::CompactRangeTask, flush::FlushTask, get::GetTask,
    get_many::GetManyTask, open::OpenTask, verify::VerifyTask, write::WriteTask,
};

/// An open database. Created by `NativeDatabase.open`.
#[napi]
pub struct NativeDatabase {
    db: Db,
    location: String,
}

impl NativeDatabase {
    pub(crate) fn new(db: Db, location: String) -> Self {
        NativeDatabase { db, location }
    }
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

    /// Reads one key on the calling thread; `null` when missing.
    #[napi(catch_unwind)]
    pub fn get_sync(&self, key: &[u8], snapshot: Option<&NativeSnapshot>) -> Result<Option<Buffer>, ErrorCode> {
        guard(|| {
            check_key(key)?;
            let snapshot = snapshot::resolve(snapshot)?;
            Ok(self.db.get(key, snapshot.as_ref()).js()?.map(Buffer::from))
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
    /// per op) atomically, off the JS thread.
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

    /// Deletes every key in `range` atomically; resolves to the number deleted.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn clear(&self, range: BindingRange, sync: bool) -> Result<AsyncTask<ClearTask>, ErrorCode> {
        let range = range.to_engine()?;
        Ok(AsyncTask::new(ClearTask { db: self.db.clone(), range, sync }))
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

    /// Reads every block of every live file and checks every checksum and invariant off the
    /// JS thread; resolves to the problems found (empty when clean).
    #[napi(ts_return_type = "Promise<Array<BindingProblem>>")]
    pub fn verify(&self) -> AsyncTask<VerifyTask> {
        AsyncTask::new(VerifyTask { db: self.db.clone() })
    }

    /// Closes the database. Idempotent; later calls fail with `STRATA_CLOSED`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseTask> {
        AsyncTask::new(CloseTask { db: self.db.clone() })
    }
}
