//! `NativeDatabase.readMany` / `readManyAsync`: many point reads in one crossing.
//!
//! A page of query results reads ~100 records and an intersection probes hundreds of
//! postings; one call per key made the crossing (and a Buffer per value) most of the cost.
//! Keys go in as one packed buffer (`u32` LE length · key bytes, repeated); the answer comes
//! back as one Buffer: an `i32` LE per key (the value's length, -1 missing, -2 not in memory
//! in cached-only mode), then the values back to back in key order (none with length-only).
//! All keys are read at one view (`Db::get_many_with`).

use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, Uint8Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::ops::Bound;

use strata_engine::{Db, Keyspace, Lookup, RangeOptions, ScanGetOptions, Snapshot};

use crate::database::{copy_buffer, NativeDatabase};
use crate::error::{guard, invalid, settle, BindingResult, EngineResultExt, ErrorCode};
use crate::snapshot::{self, NativeSnapshot};

/// `readMany` flags.
const CACHED_ONLY: u32 = 1;
const LENGTH_ONLY: u32 = 2;
const SYSTEM: u32 = 4;

/// `scanAndGet` flags (2 = keys only, 4 = the scanned range is in the system keyspace).
const KEYS_ONLY: u32 = 2;

/// Splits `u32 LE length · bytes` records; a record that runs past the end is `InvalidArgument`.
fn unpack(packed: &[u8]) -> BindingResult<Vec<&[u8]>> {
    let mut keys = Vec::new();
    let mut rest = packed;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| invalid("readMany: truncated key length"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > strata_engine::MAX_SYSTEM_KEY_SIZE {
            return Err(invalid(format!("readMany: key of {len} bytes exceeds the limit")));
        }
        let (key, tail) = tail.split_at_checked(len).ok_or_else(|| invalid("readMany: truncated key"))?;
        keys.push(key);
        rest = tail;
    }
    Ok(keys)
}

fn read(db: &Db, packed: &[u8], flags: u32, snapshot: Option<&Snapshot>, cached_only: bool) -> BindingResult<Vec<u8>> {
    let keys = unpack(packed)?;
    if flags & SYSTEM == 0 {
        for k in &keys {
            crate::error::check_key(k)?;
        }
    }
    let keyspace = if flags & SYSTEM != 0 { Keyspace::System } else { Keyspace::User };
    let length_only = flags & LENGTH_ONLY != 0;
    let n = keys.len();
    let mut out = vec![0u8; 4 * n];
    let mut overflow = false;
    db.get_many_with(keyspace, &keys, snapshot, cached_only, |i, l| {
        let status: i32 = match l {
            Lookup::Missing => -1,
            Lookup::NotCached => -2,
            Lookup::Value(v) => {
                let Ok(len) = i32::try_from(v.len()) else {
                    overflow = true;
                    return;
                };
                if !length_only {
                    out.extend_from_slice(v);
                }
                len
            }
        };
        if let Some(slot) = out.get_mut(4 * i..4 * i + 4) {
            slot.copy_from_slice(&status.to_le_bytes());
        }
    })
    .js()?;
    if overflow {
        return Err(invalid("readMany: a value exceeds 2 GiB"));
    }
    Ok(out)
}

#[napi]
impl NativeDatabase {
    /// Reads the keys packed in `keys` (`u32` LE length · bytes, repeated) at one view on the
    /// calling thread. `flags`: 1 = cached only (a key whose answer needs a disk read is -2,
    /// the others are answered), 2 = lengths only (existence: no value bytes), 4 = system
    /// keys (relative to the system prefix). Returns an `i32` LE per key (value length, -1
    /// missing, -2 not in memory), then the values back to back.
    #[napi(catch_unwind)]
    pub fn read_many<'env>(
        &self,
        env: &'env Env,
        keys: &[u8],
        flags: u32,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<BufferSlice<'env>, ErrorCode> {
        guard(|| {
            let snapshot = snapshot::resolve(snapshot)?;
            let out = read(self.engine(), keys, flags, snapshot.as_ref(), flags & CACHED_ONLY != 0)?;
            copy_buffer(env, &out)
        })
    }

    /// Scans up to `max` keys of the range `[lower, upper)` (`upper` absent: to the end of
    /// the keyspace) from the first key `>= seek` when given, and reads the user record each
    /// names (the key without its first `strip` bytes), all at one view (`snapshot`, or the
    /// current state), on the calling thread from memory only. `flags`: 2 = keys only (no
    /// records read), 4 = the range is in the system keyspace (bounds and seek relative to
    /// its prefix). Returns `null` when a disk read would be needed, else one Buffer: the
    /// record keys and values back to back (key0 value0 key1 ...), then per key its length
    /// as `u32` LE and its value's length as `i32` LE (-1: no record; 0 with keys only), then
    /// the key count and 1 when more keys follow in the range (else 0), each `u32` LE.
    #[napi(catch_unwind, ts_return_type = "Buffer | null")]
    #[allow(clippy::too_many_arguments, reason = "a flat call: one crossing, no option object to convert")]
    pub fn scan_and_get<'env>(
        &self,
        env: &'env Env,
        lower: &[u8],
        upper: Option<&[u8]>,
        seek: Option<&[u8]>,
        max: u32,
        strip: u32,
        flags: u32,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<Option<BufferSlice<'env>>, ErrorCode> {
        guard(|| {
            let snapshot = snapshot::resolve(snapshot)?;
            match scan_get(self.engine(), lower, upper, seek, (max, strip, flags), snapshot.as_ref())? {
                Some(out) => Ok(Some(copy_buffer(env, &out)?)),
                None => Ok(None),
            }
        })
    }

    /// `readMany` on the thread pool (flag 1 is ignored: every key is answered).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_many_async(
        &self,
        keys: Uint8Array,
        flags: u32,
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<AsyncTask<ReadManyTask>, ErrorCode> {
        let snapshot = snapshot::resolve(snapshot)?;
        Ok(AsyncTask::new(ReadManyTask { db: self.engine().clone(), keys: keys.to_vec(), flags, snapshot }))
    }
}

/// `readManyAsync` off the JS thread.
pub struct ReadManyTask {
    db: Db,
    keys: Vec<u8>,
    flags: u32,
    snapshot: Option<Snapshot>,
}

impl Task for ReadManyTask {
    type Output = BindingResult<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(guard(|| {
            // Without an explicit snapshot the engine pins one view for the whole call.
            read(&self.db, &self.keys, self.flags, self.snapshot.as_ref(), false)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle(env, output).map(Buffer::from)
    }
}

/// Packs the keys of a scanned page and their records as `scanAndGet` and `scanProbe` answer
/// them: keys and values back to back, then per key its length (u32 LE) and its value's length
/// (i32 LE; -1: no record; 0 with keys only).
pub(crate) struct PagePacker {
    data: Vec<u8>,
    table: Vec<u8>,
    overflow: bool,
}

impl PagePacker {
    pub(crate) fn new(max: usize) -> Self {
        PagePacker { data: Vec::with_capacity(4096), table: Vec::with_capacity(8 * max.min(1024) + 8), overflow: false }
    }

    /// One key and its lookup (`None`: keys only).
    pub(crate) fn push(&mut self, key: &[u8], lookup: Option<Lookup<'_>>) {
        let value: Option<&[u8]> = match lookup {
            Some(Lookup::Value(v)) => Some(v),
            Some(Lookup::Missing | Lookup::NotCached) => None,
            None => Some(&[]),
        };
        let (Ok(kl), Ok(vl)) = (u32::try_from(key.len()), value.map_or(Ok(-1), |v| i32::try_from(v.len()))) else {
            self.overflow = true;
            return;
        };
        self.data.extend_from_slice(key);
        if let Some(v) = value {
            self.data.extend_from_slice(v);
        }
        self.table.extend_from_slice(&kl.to_le_bytes());
        self.table.extend_from_slice(&vl.to_le_bytes());
    }

    /// The keys and values followed by the length table; the caller appends its trailer.
    pub(crate) fn finish(mut self, call: &str) -> BindingResult<Vec<u8>> {
        if self.overflow {
            return Err(invalid(format!("{call}: a value exceeds 2 GiB")));
        }
        self.data.extend_from_slice(&self.table);
        Ok(self.data)
    }
}

/// The body of `scanAndGet` (`shape`: max, strip, flags); `None` when not in memory.
fn scan_get(
    db: &Db,
    lower: &[u8],
    upper: Option<&[u8]>,
    seek: Option<&[u8]>,
    shape: (u32, u32, u32),
    snapshot: Option<&Snapshot>,
) -> BindingResult<Option<Vec<u8>>> {
    let (max, strip, flags) = shape;
    let keyspace = if flags & SYSTEM != 0 { Keyspace::System } else { Keyspace::User };
    let range = RangeOptions {
        lower: Bound::Included(lower.to_vec()),
        upper: upper.map_or(Bound::Unbounded, |u| Bound::Excluded(u.to_vec())),
        keyspace,
        ..RangeOptions::default()
    };
    let opts = ScanGetOptions {
        range: &range,
        seek,
        max: max as usize,
        strip: strip as usize,
        records: if flags & KEYS_ONLY != 0 { None } else { Some(Keyspace::User) },
        snapshot,
        cached_only: true,
    };
    let mut page = PagePacker::new(max as usize);
    let found = db.scan_and_get(&opts, |key, lookup| page.push(key, lookup)).js()?;
    let Some(found) = found else { return Ok(None) };
    let mut data = page.finish("scanAndGet")?;
    let (Ok(n), more) = (u32::try_from(found.keys), u32::from(found.more)) else {
        return Err(invalid("scanAndGet: too many keys"));
    };
    data.extend_from_slice(&n.to_le_bytes());
    data.extend_from_slice(&more.to_le_bytes());
    Ok(Some(data))
}
