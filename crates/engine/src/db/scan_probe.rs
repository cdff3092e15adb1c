//! [`Db::scan_probe`]: the keys of one range that pass existence probes of other keys, and
//! the records they name, read at one view in one call.
//!
//! An intersection (`city = x AND tag = y`, `city = x AND NOT active = true`) is driven by
//! the postings of its most selective term; every other side is checked per candidate by
//! looking up `side prefix · record key`. Done from JavaScript, each candidate costs a Buffer,
//! a packed key and a crossing per batch; here a page of matches is one call: the driver's
//! postings are scanned in order, each candidate is probed against every side at the same
//! pinned view, and the matches' records are read. The engine knows nothing of indexes: a
//! probe is a system key `prefix · record key`, and a side passes when any of its prefixes
//! exists (a `must` side) or none does (a `must not` side).

use std::cmp::Ordering;

use super::{Db, DbInner, Lookup, RangeOptions, Snapshot, SuperVersion};
use crate::error::{Error, Result};
use crate::iter::{InternalIterator, MergingIterator};
use crate::key::{self, append_internal_key, compare_internal, SeqNo, ValueKind, KIND_FOR_SEEK};
use crate::keyspace::{check_user_key, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};

/// Answers "does this key exist at the view?" for keys that mostly ascend (one prefix's
/// postings, probed for candidates in primary-key order) by moving a merging iterator forward
/// instead of a point lookup per key: a probe just past the last one decodes the few entries
/// between them inside the block already in hand (or none, when the iterator is already past
/// the target), where a point lookup searches the memtables, every level's index and the
/// block cache afresh. A target below the previous one is sought afresh (same answer).
struct ProbeCursor {
    it: MergingIterator,
    /// The internal key of the last target (empty before the first).
    last: Vec<u8>,
    target: Vec<u8>,
}

impl ProbeCursor {
    fn new(sv: &SuperVersion) -> ProbeCursor {
        ProbeCursor { it: MergingIterator::new(DbInner::internal_iters(sv)), last: Vec::new(), target: Vec::new() }
    }

    /// Whether `stored` (a stored user key) has a live version visible at `seq`: the first
    /// entry at or after `stored · (seq, seek kind)` is its newest visible version, if any.
    fn holds(&mut self, stored: &[u8], seq: SeqNo) -> Result<bool> {
        self.target.clear();
        append_internal_key(&mut self.target, stored, seq.min(key::MAX_SEQ), KIND_FOR_SEEK);
        if !self.last.is_empty() && compare_internal(&self.target, &self.last) != Ordering::Less {
            self.it.seek_forward(&self.target)?;
        } else {
            self.it.seek(&self.target)?;
        }
        std::mem::swap(&mut self.last, &mut self.target);
        if !self.it.valid() {
            return Ok(false);
        }
        let parsed = key::parse_internal_key(self.it.key())?;
        Ok(parsed.user_key == stored && parsed.kind == ValueKind::Put)
    }
}

/// One probed side of a [`Db::scan_probe`].
#[derive(Debug, Clone, Copy)]
pub struct ProbeSide<'a> {
    /// System-key prefixes (relative to the system keyspace): the side holds a record key
    /// `k` when some `prefix · k` exists.
    pub prefixes: &'a [&'a [u8]],
    /// `true`: a match must not be held by this side (`false`: it must be).
    pub negated: bool,
}

/// What [`Db::scan_probe`] reads.
#[derive(Debug, Clone, Copy)]
pub struct ScanProbeOptions<'a> {
    /// The driver: the range whose keys are scanned (its `limit` is ignored).
    pub range: &'a RangeOptions,
    /// Start at the first key `>= seek` (relative to the range's keyspace) instead of the
    /// range's start.
    pub seek: Option<&'a [u8]>,
    /// Stop after this many matches.
    pub max_matches: usize,
    /// Stop after scanning this many keys of the range (a bound on the work of one call).
    pub max_scanned: usize,
    /// A scanned key's record key is the key without its first `strip` bytes.
    pub strip: usize,
    /// The sides every match is probed against.
    pub sides: &'a [ProbeSide<'a>],
    /// Read each match's user record (else keys only).
    pub records: bool,
    /// The view to read at (default: the current state, pinned once for the whole call).
    pub snapshot: Option<&'a Snapshot>,
    /// Serve the call from memory only: `Ok(None)` when any read needs the disk.
    pub cached_only: bool,
}

/// Why a [`Db::scan_probe`] stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScanProbeEnd {
    /// The range has no key after the last one scanned.
    #[default]
    RangeEnd,
    /// `max_matches` matches were found.
    Matches,
    /// `max_scanned` keys were scanned; the range may hold more.
    Scanned,
}

/// What [`Db::scan_probe`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanProbe {
    /// Keys of the range scanned.
    pub scanned: usize,
    /// Probe lookups made.
    pub probed: usize,
    /// Matches passed to the callback.
    pub matched: usize,
    /// Why the call stopped.
    pub end: ScanProbeEnd,
    /// The record key of the last key scanned (empty when none was).
    pub last: Vec<u8>,
}

impl Db {
    /// Scans `opts.range` from `opts.seek` and, for each key, probes its record key (the key
    /// without its first `opts.strip` bytes) against every side of `opts.sides`, all at one
    /// view; calls `f(record key, lookup)` in scan order for each key that passes every side,
    /// with the user record when `opts.records` (else `None`). Stops at `max_matches`
    /// matches, at `max_scanned` scanned keys, or at the range's end, and says which. A
    /// scanned key shorter than `strip`, a record key the user keyspace rejects (with
    /// `records`) or a probe key over [`MAX_SYSTEM_KEY_SIZE`] fails the call with
    /// `InvalidArgument`. With `cached_only`, `Ok(None)` when the call would need a disk
    /// read; `f` may have been called for the first matches by then, and the caller
    /// discards those calls.
    pub fn scan_probe(
        &self,
        opts: &ScanProbeOptions<'_>,
        mut f: impl FnMut(&[u8], Option<Lookup<'_>>),
    ) -> Result<Option<ScanProbe>> {
        let inner = self.inner();
        inner.check_open()?;
        let (seq, sv) = inner.read_view(opts.snapshot.map(Snapshot::sequence));
        let mut run = || -> Result<ScanProbe> {
            let mut it = inner.db_iter(&sv, seq, opts.range);
            match opts.seek {
                Some(t) => it.seek(t)?,
                None => it.seek_to_start()?,
            }
            let mut out = ScanProbe::default();
            let mut probe: Vec<u8> = Vec::with_capacity(64);
            // One forward cursor per prefix, opened at its first probe.
            let mut cursors: Vec<Vec<Option<ProbeCursor>>> =
                opts.sides.iter().map(|s| s.prefixes.iter().map(|_| None).collect()).collect();
            loop {
                if out.matched >= opts.max_matches {
                    out.end = ScanProbeEnd::Matches;
                    return Ok(out);
                }
                if out.scanned >= opts.max_scanned {
                    out.end = ScanProbeEnd::Scanned;
                    return Ok(out);
                }
                let Some((key, _)) = it.next_entry()? else {
                    out.end = ScanProbeEnd::RangeEnd;
                    return Ok(out);
                };
                let record = key.get(opts.strip..).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "scan_probe: a key of {} bytes is shorter than strip ({})",
                        key.len(),
                        opts.strip
                    ))
                })?;
                out.scanned += 1;
                out.last.clear();
                out.last.extend_from_slice(record);
                let mut pass = true;
                for (side, side_cursors) in opts.sides.iter().zip(cursors.iter_mut()) {
                    let mut held = false;
                    for (p, cursor) in side.prefixes.iter().zip(side_cursors.iter_mut()) {
                        let len = p.len() + record.len();
                        if len > MAX_SYSTEM_KEY_SIZE {
                            return Err(Error::InvalidArgument(format!(
                                "system key of {len} bytes exceeds the limit of {MAX_SYSTEM_KEY_SIZE} bytes"
                            )));
                        }
                        probe.clear();
                        probe.extend_from_slice(&SYSTEM_PREFIX);
                        probe.extend_from_slice(p);
                        probe.extend_from_slice(record);
                        out.probed += 1;
                        if cursor.get_or_insert_with(|| ProbeCursor::new(&sv)).holds(&probe, seq)? {
                            held = true;
                            break;
                        }
                    }
                    if held == side.negated {
                        pass = false;
                        break;
                    }
                }
                if !pass {
                    continue;
                }
                out.matched += 1;
                if opts.records {
                    check_user_key(record)?;
                    match inner.get_in(&sv, record, seq)? {
                        Some(v) => f(record, Some(Lookup::Value(&v))),
                        None => f(record, Some(Lookup::Missing)),
                    }
                } else {
                    f(record, None);
                }
            }
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
