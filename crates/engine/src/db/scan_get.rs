//! [`Db::scan_and_get`]: the first keys of one range and the records they name, read at one
//! view in one call.
//!
//! A secondary index keeps its postings as keys `prefix · record key` in a range of their
//! own; a page of a one-term query is the first keys of that range and the records they
//! point to. Scanning the range and looking the records up at one pinned view gives a
//! consistent page without a snapshot, and the binding crosses once instead of once to open
//! a cursor, once per batch of keys and once for the records. The engine knows nothing of
//! indexes here: a scanned key maps to its record key by dropping its first `strip` bytes.

use super::{Db, Lookup, RangeOptions, Snapshot};
use crate::error::{Error, Result};
use crate::keyspace::{check_user_key, Keyspace, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};

/// What [`Db::scan_and_get`] reads.
#[derive(Debug, Clone, Copy)]
pub struct ScanGetOptions<'a> {
    /// The range whose keys are scanned (its keyspace, bounds and direction; its `limit` is
    /// ignored: `max` caps the keys).
    pub range: &'a RangeOptions,
    /// Start at the first key `>= seek` (forward; relative to the range's keyspace) instead
    /// of the range's start. A target outside the bounds is clamped to them.
    pub seek: Option<&'a [u8]>,
    /// At most this many keys.
    pub max: usize,
    /// A scanned key's record key is the key without its first `strip` bytes.
    pub strip: usize,
    /// The keyspace of the record keys, or `None` to read no records (keys only).
    pub records: Option<Keyspace>,
    /// The view to read at (default: the current state, pinned once for the whole call).
    pub snapshot: Option<&'a Snapshot>,
    /// Serve the call from memory only: `Ok(None)` when any key or record needs a disk read.
    pub cached_only: bool,
}

/// What [`Db::scan_and_get`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanGet {
    /// The keys passed to the callback.
    pub keys: usize,
    /// The range holds at least one more key after them (within its bounds).
    pub more: bool,
}

impl Db {
    /// Scans up to `opts.max` keys of `opts.range` (from `opts.seek` when given) and, for
    /// each, looks up its record key (the key without its first `opts.strip` bytes) in
    /// `opts.records`, all at one view; calls `f(record key, lookup)` in scan order, with
    /// `None` as the lookup when `records` is `None`. Returns how many keys were passed and
    /// whether more follow. A scanned key shorter than `strip`, or a record key its keyspace
    /// rejects, fails the call with `InvalidArgument`. With `cached_only`, `Ok(None)` when the
    /// call would need a disk read; `f` may have been called for the first keys by then, and
    /// the caller discards those calls.
    pub fn scan_and_get(
        &self,
        opts: &ScanGetOptions<'_>,
        mut f: impl FnMut(&[u8], Option<Lookup<'_>>),
    ) -> Result<Option<ScanGet>> {
        let inner = self.inner();
        inner.check_open()?;
        let (seq, sv) = inner.read_view(opts.snapshot.map(Snapshot::sequence));
        let mut run = || -> Result<ScanGet> {
            let mut it = inner.db_iter(&sv, seq, opts.range);
            match opts.seek {
                Some(t) => it.seek(t)?,
                None => it.seek_to_start()?,
            }
            let mut out = ScanGet::default();
            let mut stored: Vec<u8> = Vec::with_capacity(64);
            while out.keys < opts.max {
                let Some((key, _)) = it.next_entry()? else { return Ok(out) };
                let record = key.get(opts.strip..).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "scan_and_get: a key of {} bytes is shorter than strip ({})",
                        key.len(),
                        opts.strip
                    ))
                })?;
                match opts.records {
                    None => f(record, None),
                    Some(keyspace) => {
                        let lookup_key: &[u8] = match keyspace {
                            Keyspace::User => {
                                check_user_key(record)?;
                                record
                            }
                            Keyspace::System => {
                                if record.len() > MAX_SYSTEM_KEY_SIZE {
                                    return Err(Error::InvalidArgument(format!(
                                        "system key of {} bytes exceeds the limit of {MAX_SYSTEM_KEY_SIZE} bytes",
                                        record.len()
                                    )));
                                }
                                stored.clear();
                                stored.extend_from_slice(&SYSTEM_PREFIX);
                                stored.extend_from_slice(record);
                                &stored
                            }
                        };
                        match inner.get_in(&sv, lookup_key, seq)? {
                            Some(v) => f(record, Some(Lookup::Value(&v))),
                            None => f(record, Some(Lookup::Missing)),
                        }
                    }
                }
                out.keys += 1;
            }
            out.more = it.next_entry()?.is_some();
            Ok(out)
        };
        if !opts.cached_only {
            return run().map(Some);
        }
        match crate::cache::cached_only(run) {
            Ok(r) => Ok(Some(r)),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
