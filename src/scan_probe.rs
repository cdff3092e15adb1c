//! `NativeDatabase.scanProbe`: a page of an intersection in one crossing (see
//! `Db::scan_probe`): the driver's postings scanned in order, each candidate probed against
//! the other sides' postings, the matches' records read, all at one view.

use napi::bindgen_prelude::BufferSlice;
use napi::{Env, Result};
use napi_derive::napi;
use std::ops::Bound;

use strata_engine::{Db, Keyspace, ProbeSide, RangeOptions, ScanProbeEnd, ScanProbeOptions, Snapshot};

use crate::database::{copy_buffer, NativeDatabase};
use crate::error::{guard, invalid, BindingResult, EngineResultExt, ErrorCode};
use crate::multiget::PagePacker;
use crate::snapshot::{self, NativeSnapshot};

/// `scanProbe` flags (2 = keys only: no records read).
const KEYS_ONLY: u32 = 2;

/// A side as it crosses: `negated` (u8: 0 or 1), then `count` (u32 LE), then `count`
/// prefixes, each `u32` LE length · bytes.
struct Side<'a> {
    negated: bool,
    prefixes: Vec<&'a [u8]>,
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> BindingResult<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n).ok_or_else(|| invalid(format!("scanProbe: truncated {what}")))?;
    *rest = tail;
    Ok(head)
}

fn take_u32(rest: &mut &[u8], what: &str) -> BindingResult<usize> {
    let b = take(rest, 4, what)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ok(u32::from_le_bytes(a) as usize)
}

fn unpack_sides(packed: &[u8]) -> BindingResult<Vec<Side<'_>>> {
    let mut sides = Vec::new();
    let mut rest = packed;
    while !rest.is_empty() {
        let negated = match take(&mut rest, 1, "side")? {
            [0] => false,
            [1] => true,
            _ => return Err(invalid("scanProbe: a side's negation flag must be 0 or 1")),
        };
        let count = take_u32(&mut rest, "side")?;
        if count == 0 {
            return Err(invalid("scanProbe: a side needs at least one prefix"));
        }
        let mut prefixes = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = take_u32(&mut rest, "prefix length")?;
            if len > strata_engine::MAX_SYSTEM_KEY_SIZE {
                return Err(invalid(format!("scanProbe: a prefix of {len} bytes exceeds the limit")));
            }
            prefixes.push(take(&mut rest, len, "prefix")?);
        }
        sides.push(Side { negated, prefixes });
    }
    Ok(sides)
}

/// The call's inputs: the driver range and seek, `(max matches, max scanned, strip, flags)`,
/// the packed sides.
struct Call<'a> {
    lower: &'a [u8],
    upper: Option<&'a [u8]>,
    seek: Option<&'a [u8]>,
    shape: (u32, u32, u32, u32),
    sides: &'a [u8],
}

/// The body of `scanProbe`; `None` when not in memory.
fn scan_probe(db: &Db, call: &Call<'_>, snapshot: Option<&Snapshot>) -> BindingResult<Option<Vec<u8>>> {
    let (max_matches, max_scanned, strip, flags) = call.shape;
    let sides = unpack_sides(call.sides)?;
    let sides: Vec<ProbeSide<'_>> =
        sides.iter().map(|s| ProbeSide { prefixes: &s.prefixes, negated: s.negated }).collect();
    let range = RangeOptions {
        lower: Bound::Included(call.lower.to_vec()),
        upper: call.upper.map_or(Bound::Unbounded, |u| Bound::Excluded(u.to_vec())),
        keyspace: Keyspace::System,
        ..RangeOptions::default()
    };
    let opts = ScanProbeOptions {
        range: &range,
        seek: call.seek,
        max_matches: max_matches as usize,
        max_scanned: (max_scanned as usize).max(1),
        strip: strip as usize,
        sides: &sides,
        records: flags & KEYS_ONLY == 0,
        snapshot,
        cached_only: true,
    };
    let mut page = PagePacker::new(max_matches as usize);
    let found = db.scan_probe(&opts, |key, lookup| page.push(key, lookup)).js()?;
    let Some(found) = found else { return Ok(None) };
    let end: u32 = match found.end {
        ScanProbeEnd::RangeEnd => 0,
        ScanProbeEnd::Matches => 1,
        ScanProbeEnd::Scanned => 2,
    };
    let (Ok(last), Ok(n), Ok(scanned), Ok(probed)) = (
        u32::try_from(found.last.len()),
        u32::try_from(found.matched),
        u32::try_from(found.scanned),
        u32::try_from(found.probed),
    ) else {
        return Err(invalid("scanProbe: too many keys"));
    };
    let mut data = page.finish("scanProbe")?;
    data.extend_from_slice(&found.last);
    for x in [last, n, scanned, probed, end] {
        data.extend_from_slice(&x.to_le_bytes());
    }
    Ok(Some(data))
}

#[napi]
impl NativeDatabase {
    /// Scans the system range `[lower, upper)` (from the first key `>= seek` when given) and
    /// keeps the keys whose record key (the key without its first `strip` bytes) passes every
    /// side of `sides` (repeated: negated as u8 0/1, a u32 LE count, then that many prefixes
    /// as u32 LE length · bytes; a side holds a record key `k` when some system key
    /// `prefix · k` exists, and a key passes a side it must be held by (negated 0) or must
    /// not be (negated 1)), reading each kept key's user record (flags 2: keys only), all at
    /// one view (`snapshot`, or the current state) on the calling thread from memory only.
    /// Stops after `maxMatches` kept keys or `maxScanned` scanned keys. Returns `null` when a
    /// disk read would be needed, else one Buffer: the kept record keys and values back to
    /// back, per kept key its length as u32 LE and its value's length as i32 LE (-1: no
    /// record; 0 with keys only), the last scanned record key, then as u32 LE: that key's
    /// length, the kept count, the scanned count, the probe count and why the call stopped
    /// (0: the range ended, 1: maxMatches, 2: maxScanned).
    #[napi(catch_unwind, ts_return_type = "Buffer | null")]
    #[allow(clippy::too_many_arguments, reason = "a flat call: one crossing, no option object to convert")]
    pub fn scan_probe<'env>(
        &self,
        env: &'env Env,
        lower: &[u8],
        upper: Option<&[u8]>,
        seek: Option<&[u8]>,
        max_matches: u32,
        max_scanned: u32,
        strip: u32,
        flags: u32,
        sides: &[u8],
        snapshot: Option<&NativeSnapshot>,
    ) -> Result<Option<BufferSlice<'env>>, ErrorCode> {
        guard(|| {
            let snapshot = snapshot::resolve(snapshot)?;
            let call = Call { lower, upper, seek, shape: (max_matches, max_scanned, strip, flags), sides };
            match scan_probe(self.engine(), &call, snapshot.as_ref())? {
                Some(out) => Ok(Some(copy_buffer(env, &out)?)),
                None => Ok(None),
            }
        })
    }
}
