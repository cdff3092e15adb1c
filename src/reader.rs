//! Point reads through a numeric handle (`readerOpen` / `readAt` / `readerClose`): the
//! cheapest crossing of `getSync`/`get`/`has` without a snapshot. `readAt` is a plain
//! function of numbers (handle, key length, flags), not a method, so napi-rs neither checks
//! the type tag of `this` nor unwraps it; the key lies in the buffer registered with the
//! handle and the value is written over it (the `getInto` layout, see `NativeDatabase`).
//!
//! Handles live in a thread-local table: a database's handle is only valid on the JS thread
//! that opened it (another thread, e.g. a worker, sees `STRATA_CLOSED`). A slot is reused
//! after `readerClose` with a new generation in the handle's high bits, so a stale handle
//! never reads another database. The table holds a clone of the `Db`; JavaScript closes the
//! handle when the database closes, and `NativeDatabase`'s drop releases it too.

use std::cell::RefCell;

use napi::bindgen_prelude::Buffer;
use napi::Result;
use napi_derive::napi;
use strata_engine::Db;

use crate::database::{read_into, READ_CACHED_ONLY, READ_LENGTH_ONLY};
use crate::error::{err, guard, ErrorCode};

/// Slots per table before the generation bits (2^20 databases open at once per thread).
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

struct Reader {
    db: Db,
    io: Buffer,
}

#[derive(Default)]
struct Table {
    /// `(generation, reader)` per slot.
    slots: Vec<(u32, Option<Reader>)>,
    free: Vec<u32>,
}

thread_local! {
    static READERS: RefCell<Table> = RefCell::new(Table::default());
}

/// Registers `db` with `io`; returns the handle (never 0).
pub(crate) fn open(db: Db, io: Buffer) -> Result<u32, ErrorCode> {
    READERS.with(|t| {
        let mut t = t.try_borrow_mut().map_err(|_| busy())?;
        let reader = Some(Reader { db, io });
        let index = match t.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(t.slots.len())
                    .ok()
                    .filter(|i| *i < INDEX_MASK)
                    .ok_or_else(|| err(ErrorCode::Internal, "too many databases open on this thread for readerOpen"))?;
                t.slots.push((0, None));
                i
            }
        };
        let slot = &mut t.slots[index as usize];
        slot.0 = (slot.0 + 1) & (u32::MAX >> INDEX_BITS);
        slot.1 = reader;
        // Generation >= 1, so a handle is never 0.
        Ok((slot.0 << INDEX_BITS) | index)
    })
}

/// Releases `handle` (idempotent; unknown handles are ignored).
pub(crate) fn close(handle: u32) {
    // At thread exit the table may already be gone: nothing left to release then.
    let _ = READERS.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            let index = handle & INDEX_MASK;
            if let Some(slot) = t.slots.get_mut(index as usize) {
                if slot.0 == handle >> INDEX_BITS && slot.1.take().is_some() {
                    t.free.push(index);
                }
            }
        }
    });
}

fn busy() -> napi::Error<ErrorCode> {
    err(ErrorCode::Internal, "reader table in use (re-entrant call)")
}

/// `readHere` through a handle from `readerOpen`, without a snapshot: the value's length
/// (written over the registered buffer from offset 0 when it fits), -1 when missing, -2 with
/// flag 1 (cached only) when the answer is not in memory; flag 2 = length only. An unknown
/// or released handle gives `STRATA_CLOSED`.
#[napi(catch_unwind)]
pub fn read_at(handle: u32, key_len: u32, flags: u32) -> Result<i64, ErrorCode> {
    guard(|| {
        READERS.with(|t| {
            let mut t = t.try_borrow_mut().map_err(|_| busy())?;
            let r = match t.slots.get_mut((handle & INDEX_MASK) as usize) {
                Some((generation, Some(r))) if *generation == handle >> INDEX_BITS => r,
                _ => return Err(err(ErrorCode::Closed, "database is closed")),
            };
            read_into(&r.db, &mut r.io, key_len, flags & READ_CACHED_ONLY != 0, flags & READ_LENGTH_ONLY != 0, None)
        })
    })
}
