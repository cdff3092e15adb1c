//! Iterators as numeric handles of their `NativeDatabase` (`cursorOpen` / `cursorRead` /
//! `cursorNext` / `cursorClose`): no napi object, wrapper or finalizer per iterator, and the
//! range bounds, seek targets and in-memory batches cross through the buffer registered with
//! `setIo`, so a short range read (`{ gte, limit: 10 }`) passes only numbers and returns
//! its entries in a buffer that is reused. `NativeIterator` stays for the callers that need
//! an object (the abstract-level layer, the query layer's key cursors).
//!
//! A handle is only valid on the database that issued it; a closed or unknown handle gives
//! `STRATA_ITERATOR_NOT_OPEN`. JavaScript closes its handles (the KV layer tracks every open
//! iterator and closes them with the database); any left open are released with the
//! `NativeDatabase`.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, BufferSlice, Either, Null};
use napi::{Env, Result};
use napi_derive::napi;
use parking_lot::Mutex;
use strata_engine::{DbIterator, IterOptions, Keyspace, RangeOptions};

use crate::database::{copy_buffer, NativeDatabase};
use crate::error::{err, guard, invalid, BindingResult, EngineResultExt, ErrorCode};
use crate::iterator::{lock_for_read, IterSlot};
use crate::snapshot::{self, NativeSnapshot};
use crate::tasks::next_batch::{iterator_outcome, not_open, pack_entries, NextBatchTask};

/// `cursorOpen` flags.
const LOWER_EXCLUSIVE: u32 = 1;
const UPPER_EXCLUSIVE: u32 = 2;
const REVERSE: u32 = 4;
const SYSTEM: u32 = 8;

/// The open iterators of one database, by handle.
#[derive(Default)]
pub(crate) struct Cursors {
    open: HashMap<u32, IterSlot>,
    next: u32,
}

impl Cursors {
    fn insert(&mut self, slot: IterSlot) -> u32 {
        // Handles count up and wrap; one still open is skipped, so a handle never names
        // two iterators.
        loop {
            self.next = self.next.wrapping_add(1);
            if !self.open.contains_key(&self.next) {
                self.open.insert(self.next, slot);
                return self.next;
            }
        }
    }
}

/// `io[at..at + len]`, or `None` for a negative length (no bound / no seek).
fn io_part(io: &[u8], at: usize, len: i32) -> BindingResult<Option<&[u8]>> {
    let Ok(len) = usize::try_from(len) else { return Ok(None) };
    at.checked_add(len)
        .and_then(|end| io.get(at..end))
        .map(Some)
        .ok_or_else(|| invalid(format!("cursor: {len} bytes at {at} exceed the buffer of {} bytes", io.len())))
}

/// Packs entries (the layout of `pack_entries`) into `out`; `None` when they do not fit.
fn pack_into(entries: &[(Vec<u8>, Vec<u8>)], out: &mut [u8]) -> BindingResult<Option<usize>> {
    let data: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    let total = data + entries.len() * 8 + 4;
    let Some(out) = out.get_mut(..total) else { return Ok(None) };
    let len32 = |n: usize| u32::try_from(n).map_err(|_| err(ErrorCode::Internal, "entry too large for a batch"));
    let (mut d, mut l) = (0, data);
    for (k, v) in entries {
        out[d..d + k.len()].copy_from_slice(k);
        d += k.len();
        out[d..d + v.len()].copy_from_slice(v);
        d += v.len();
        out[l..l + 4].copy_from_slice(&len32(k.len())?.to_le_bytes());
        out[l + 4..l + 8].copy_from_slice(&len32(v.len())?.to_le_bytes());
        l += 8;
    }
    out[l..l + 4].copy_from_slice(&len32(entries.len())?.to_le_bytes());
    Ok(Some(total))
}

impl NativeDatabase {
    fn cursor_slot(&self, handle: u32) -> BindingResult<IterSlot> {
        self.cursors.lock().open.get(&handle).cloned().ok_or_else(not_open)
    }

    /// `cursorOpen` with `first`: opens the iterator and reads its first batch from memory
    /// into `io` (see `cursor_open`). When the batch cannot be handed over (too large for
    /// `io`, or the read failed), the iterator is opened afresh, so no entry is lost and an
    /// error is reported by the first read, where a caller expects it.
    fn open_and_read(&self, opts: IterOptions, max: usize) -> BindingResult<DbIterator> {
        let mut it = self.db.iter(opts.clone()).js()?;
        let mut io = self.io.lock();
        let Some(io) = io.as_mut() else {
            return Err(invalid("cursorOpen: no buffer registered (setIo)".to_string()));
        };
        let Some(status_at) = io.len().checked_sub(4) else {
            return Err(invalid("cursorOpen: the registered buffer is too small".to_string()));
        };
        let mut status = NOT_READ;
        match it.next_batch_if_cached(None, max, FIRST_BYTES) {
            Ok(None) => {}
            Ok(Some(entries)) => match pack_into(&entries, &mut io[..status_at])? {
                Some(n) => status = u32::try_from(n).unwrap_or(NOT_READ),
                None => it = self.db.iter(opts).js()?,
            },
            Err(_) => it = self.db.iter(opts).js()?,
        }
        io[status_at..].copy_from_slice(&status.to_le_bytes());
        Ok(it)
    }
}

/// The byte budget of a batch read by `cursorOpen` (the `BATCH_BYTES` of ts/iterator.ts).
const FIRST_BYTES: usize = 64 * 1024;
/// `cursorOpen`'s status for "no first batch read".
const NOT_READ: u32 = u32::MAX;

#[napi]
impl NativeDatabase {
    /// Opens an iterator and returns its handle. The bounds lie in the `setIo` buffer: the
    /// lower one at offset 0 (`lowerLen` bytes, negative: unbounded), the upper one right after
    /// it (`upperLen`). `flags`: 1 lower bound exclusive, 2 upper bound exclusive, 4 reverse,
    /// 8 system keyspace. `limit`: negative or infinite for none.
    ///
    /// `first` > 0 also reads the first batch (up to `first` entries, at most `FIRST_BYTES`
    /// of keys and values) in the same call, served only from memory like `cursorRead`: the
    /// packed batch is written over the `setIo` buffer and its length into the buffer's last
    /// 4 bytes (`u32` LE), or `0xFFFF_FFFF` there when nothing was read (a block not in
    /// memory, a batch too large for the buffer, or an error, which the next read reports):
    /// then read with `cursorRead` / `cursorNext` as usual, from the range's start.
    #[napi(catch_unwind)]
    pub fn cursor_open(
        &self,
        lower_len: i32,
        upper_len: i32,
        flags: u32,
        limit: f64,
        snapshot: Option<&NativeSnapshot>,
        first: Option<u32>,
    ) -> Result<u32, ErrorCode> {
        guard(|| {
            let range = {
                let io = self.io.lock();
                let Some(io) = io.as_ref() else {
                    return Err(invalid("cursorOpen: no buffer registered (setIo)".to_string()));
                };
                let lower = io_part(io, 0, lower_len)?;
                let upper = io_part(io, usize::try_from(lower_len).unwrap_or(0), upper_len)?;
                let bound = |b: Option<&[u8]>, exclusive: bool| match b {
                    None => Bound::Unbounded,
                    Some(k) if exclusive => Bound::Excluded(k.to_vec()),
                    Some(k) => Bound::Included(k.to_vec()),
                };
                let limit = if limit < 0.0 || limit.is_infinite() {
                    None
                } else if limit.fract() == 0.0 && limit < 2f64.powi(53) {
                    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked above")]
                    Some(limit as u64)
                } else {
                    return Err(invalid(format!("limit must be a non-negative integer, got {limit}")));
                };
                RangeOptions {
                    lower: bound(lower, flags & LOWER_EXCLUSIVE != 0),
                    upper: bound(upper, flags & UPPER_EXCLUSIVE != 0),
                    reverse: flags & REVERSE != 0,
                    limit,
                    keyspace: if flags & SYSTEM != 0 { Keyspace::System } else { Keyspace::User },
                }
            };
            let opts = IterOptions { range, snapshot: snapshot::resolve(snapshot)? };
            let it = match first {
                Some(max) if max > 0 => self.open_and_read(opts, max as usize)?,
                _ => self.db.iter(opts).js()?,
            };
            Ok(self.cursors.lock().insert(Arc::new(Mutex::new(Some(it)))))
        })
    }

    /// `NativeIterator.nextBatchSync` of a handle: the packed batch written over the `setIo`
    /// buffer, returning its length; a Buffer when it does not fit there; `null` when nothing
    /// could be read without a disk read (or another read of this iterator is running: use
    /// `cursorNext`; with a seek, that read is waited for instead, so the seek is never
    /// dropped). The seek target, if any, is `seek` or else `io[..seekLen]` (negative
    /// `seekLen`: no seek).
    #[napi(catch_unwind, ts_return_type = "number | Buffer | null")]
    pub fn cursor_read<'env>(
        &self,
        env: &'env Env,
        handle: u32,
        max_entries: u32,
        max_bytes: u32,
        seek_len: i32,
        seek: Option<&[u8]>,
    ) -> Result<Either<Either<u32, BufferSlice<'env>>, Null>, ErrorCode> {
        guard(|| {
            let slot = self.cursor_slot(handle)?;
            let Some(mut slot) = lock_for_read(&slot, seek.is_some() || seek_len >= 0) else {
                return Ok(Either::B(Null));
            };
            let it = slot.as_mut().ok_or_else(not_open)?;
            let mut io = self.io.lock();
            let Some(io) = io.as_mut() else {
                return Err(invalid("cursorRead: no buffer registered (setIo)".to_string()));
            };
            let target = match seek {
                Some(s) => Some(s),
                None => io_part(io, 0, seek_len)?,
            };
            let result = it.next_batch_if_cached(target, max_entries.max(1) as usize, max_bytes.max(1) as usize);
            let Some(entries) = iterator_outcome(&mut slot, result)? else { return Ok(Either::B(Null)) };
            match pack_into(&entries, io)? {
                #[expect(clippy::cast_possible_truncation, reason = "at most the buffer's length")]
                Some(n) => Ok(Either::A(Either::A(n as u32))),
                None => Ok(Either::A(Either::B(copy_buffer(env, &pack_entries(&entries)?)?))),
            }
        })
    }

    /// `NativeIterator.nextBatch` of a handle (on the thread pool).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn cursor_next(
        &self,
        handle: u32,
        max_entries: u32,
        max_bytes: u32,
        seek: Option<&[u8]>,
    ) -> Result<AsyncTask<NextBatchTask>, ErrorCode> {
        Ok(AsyncTask::new(NextBatchTask {
            slot: self.cursor_slot(handle)?,
            max_entries: max_entries.max(1) as usize,
            max_bytes: max_bytes.max(1) as usize,
            seek: seek.map(<[u8]>::to_vec),
        }))
    }

    /// Gives `count` entries back to the iterator's limit: the first batch `cursorOpen` read,
    /// dropped unseen by a seek (the limit counts only entries the caller saw).
    #[napi(catch_unwind)]
    pub fn cursor_give_back(&self, handle: u32, count: u32) -> Result<(), ErrorCode> {
        guard(|| {
            let slot = self.cursor_slot(handle)?;
            let mut slot = slot.lock();
            slot.as_mut().ok_or_else(not_open)?.give_back(u64::from(count));
            Ok(())
        })
    }

    /// Releases an iterator. Idempotent; a pending `cursorNext` finishes first.
    #[napi(catch_unwind)]
    pub fn cursor_close(&self, handle: u32) {
        if let Some(slot) = self.cursors.lock().open.remove(&handle) {
            slot.lock().take();
        }
    }
}
