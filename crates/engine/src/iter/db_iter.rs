//! The user-facing iterator: turns a stream of internal entries (many versions per user key,
//! tombstones, entries newer than the snapshot) into the visible `(key, value)` pairs of one
//! snapshot, within user-key bounds, forward or in reverse. In a keyspace with a prefix (the
//! system keyspace), seek targets and returned keys are relative to it.

use std::ops::Bound;

use crate::error::Result;
use crate::iter::BoxedIter;
use crate::key::{self, SeqNo, ValueKind};
use crate::keyspace::Keyspace;

/// Visible entries of a snapshot over an internal iterator, in one direction.
pub struct DbIter {
    inner: BoxedIter,
    seq: SeqNo,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    /// Put in front of seek targets and stripped from returned keys (empty: none).
    prefix: &'static [u8],
    started: bool,
    /// Forward only: the user key already yielded or found deleted; its older versions are skipped.
    skip: Option<Vec<u8>>,
}

impl std::fmt::Debug for DbIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIter")
            .field("seq", &self.seq)
            .field("lower", &self.lower)
            .field("upper", &self.upper)
            .field("reverse", &self.reverse)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// Where a user key lies relative to the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Below,
    Inside,
    Above,
}

impl DbIter {
    /// `inner` yields internal entries (possibly many versions per user key, tombstones,
    /// entries newer than `seq`).
    pub fn new(inner: BoxedIter, seq: SeqNo, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>, reverse: bool) -> DbIter {
        DbIter { inner, seq: seq.min(key::MAX_SEQ), lower, upper, reverse, prefix: &[], started: false, skip: None }
    }

    /// Makes seek targets and returned keys relative to `keyspace`'s prefix. The bounds given
    /// to [`DbIter::new`] stay bounds on stored keys, and must keep the iterator inside the
    /// keyspace (see [`Keyspace::stored_bounds`]).
    #[must_use]
    pub fn in_keyspace(mut self, keyspace: Keyspace) -> DbIter {
        self.prefix = keyspace.prefix();
        self
    }

    /// A stored user key as returned to the caller (relative to the keyspace's prefix).
    fn relative(&self, stored: &[u8]) -> Vec<u8> {
        stored.get(self.prefix.len()..).unwrap_or_default().to_vec()
    }

    /// The snapshot sequence number this iterator reads at.
    pub fn sequence(&self) -> SeqNo {
        self.seq
    }

    fn place(&self, uk: &[u8]) -> Place {
        let below = match &self.lower {
            Bound::Included(l) => uk < l.as_slice(),
            Bound::Excluded(l) => uk <= l.as_slice(),
            Bound::Unbounded => false,
        };
        if below {
            return Place::Below;
        }
        let above = match &self.upper {
            Bound::Included(u) => uk > u.as_slice(),
            Bound::Excluded(u) => uk >= u.as_slice(),
            Bound::Unbounded => false,
        };
        if above {
            Place::Above
        } else {
            Place::Inside
        }
    }

    /// Positions forward on the first version of the smallest user key `>= uk`
    /// visible at the snapshot (or later; `next_entry` filters).
    fn seek_forward_to(&mut self, uk: &[u8]) -> Result<()> {
        self.inner.seek(&key::seek_key(uk, self.seq))
    }

    /// Positions backward on the last (oldest) version of the largest user key `<= uk`.
    fn seek_reverse_to(&mut self, uk: &[u8]) -> Result<()> {
        self.inner.seek_for_prev(&key::internal_key(uk, 0, ValueKind::Delete))
    }

    /// Positions at the start: the first user key within bounds (forward) or the last
    /// (reverse). Called implicitly by the first [`DbIter::next_entry`] if not called before.
    pub fn seek_to_start(&mut self) -> Result<()> {
        self.started = true;
        self.skip = None;
        if self.reverse {
            match self.upper.clone() {
                Bound::Unbounded => self.inner.seek_to_last(),
                Bound::Included(u) => self.seek_reverse_to(&u),
                // The first internal key of `u`: everything at or before it is < u or u itself
                // (which `next_entry` skips as out of bounds).
                Bound::Excluded(u) => self.inner.seek_for_prev(&key::internal_key(&u, key::MAX_SEQ, ValueKind::Put)),
            }
        } else {
            match self.lower.clone() {
                Bound::Unbounded => self.inner.seek_to_first(),
                Bound::Included(l) => self.seek_forward_to(&l),
                Bound::Excluded(l) => {
                    // The last internal key of `l`: at or after it, only `l · (0, Delete)` can
                    // still be `l`, and `next_entry` skips it as out of bounds.
                    self.inner.seek(&key::internal_key(&l, 0, ValueKind::Delete))
                }
            }
        }
    }

    /// Forward: positions at the first user key `>= target` (clamped to the bounds).
    /// Reverse: the last user key `<= target` (clamped). `target` is relative to the keyspace.
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        if self.prefix.is_empty() {
            return self.seek_stored(target);
        }
        let mut stored = Vec::with_capacity(self.prefix.len() + target.len());
        stored.extend_from_slice(self.prefix);
        stored.extend_from_slice(target);
        self.seek_stored(&stored)
    }

    fn seek_stored(&mut self, target: &[u8]) -> Result<()> {
        match self.place(target) {
            Place::Below if !self.reverse => return self.seek_to_start(),
            Place::Above if self.reverse => return self.seek_to_start(),
            _ => {}
        }
        self.started = true;
        self.skip = None;
        if self.reverse {
            self.seek_reverse_to(target)
        } else {
            self.seek_forward_to(target)
        }
    }

    /// The next visible `(user_key, value)` in the iterator's direction, or `None` when
    /// exhausted. Visible = the newest version with sequence `<=` the snapshot; if that
    /// version is a delete, the key is hidden.
    pub fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if !self.started {
            self.seek_to_start()?;
        }
        if self.reverse {
            self.next_reverse()
        } else {
            self.next_forward()
        }
    }

    fn next_forward(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        while self.inner.valid() {
            let parsed = key::parse_internal_key(self.inner.key())?;
            if self.skip.as_deref() == Some(parsed.user_key) || parsed.seq > self.seq {
                self.inner.next()?;
                continue;
            }
            match self.place(parsed.user_key) {
                Place::Above => return Ok(None),
                Place::Below => {
                    // Only reachable after an external seek below the bounds; jump in.
                    self.skip = Some(parsed.user_key.to_vec());
                    self.inner.next()?;
                    continue;
                }
                Place::Inside => {}
            }
            // The newest visible version of this user key. `skip` keeps its allocation from
            // key to key (one allocation fewer per entry).
            let mut uk = self.skip.take().unwrap_or_default();
            uk.clear();
            uk.extend_from_slice(parsed.user_key);
            let kind = parsed.kind;
            let out = (kind == ValueKind::Put).then(|| (self.relative(&uk), self.inner.value().to_vec()));
            self.skip = Some(uk);
            self.inner.next()?;
            if out.is_some() {
                return Ok(out);
            }
        }
        Ok(None)
    }

    fn next_reverse(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        while self.inner.valid() {
            let uk = key::parse_internal_key(self.inner.key())?.user_key.to_vec();
            match self.place(&uk) {
                Place::Below => return Ok(None),
                Place::Above => {
                    // Skip the out-of-bounds key by jumping before all its versions.
                    self.inner.seek_for_prev(&key::internal_key(&uk, key::MAX_SEQ, ValueKind::Put))?;
                    if self.inner.valid() && key::user_key(self.inner.key()) == uk.as_slice() {
                        self.inner.prev()?;
                    }
                    continue;
                }
                Place::Inside => {}
            }
            // Walk this user key's versions from oldest to newest, keeping the newest visible.
            let mut newest: Option<(ValueKind, Vec<u8>)> = None;
            while self.inner.valid() {
                let parsed = key::parse_internal_key(self.inner.key())?;
                if parsed.user_key != uk.as_slice() {
                    break;
                }
                if parsed.seq <= self.seq {
                    let value = match parsed.kind {
                        ValueKind::Put => self.inner.value().to_vec(),
                        ValueKind::Delete => Vec::new(),
                    };
                    newest = Some((parsed.kind, value));
                }
                self.inner.prev()?;
            }
            if let Some((ValueKind::Put, value)) = newest {
                let key = if self.prefix.is_empty() { uk } else { self.relative(&uk) };
                return Ok(Some((key, value)));
            }
        }
        Ok(None)
    }
}
