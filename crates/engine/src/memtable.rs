//! The memtable: an ordered in-memory map of internal keys to values, backed by a lock-free
//! skip list. One writer at a time inserts (the DB serialises writers) while any number of
//! readers look up keys or iterate.
//!
//! Entries are never removed: a memtable only grows until it is frozen and flushed.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;

use crate::error::Result;
use crate::iter::InternalIterator;
use crate::key::{self, SeqNo, ValueKind};
use crate::stats::RangeEstimate;

/// Bytes charged per entry on top of its key and value (skip-list node, pointers, trailer).
pub const ENTRY_OVERHEAD: usize = 32;

/// Entries an approximate count visits at most in one memtable before it extrapolates.
pub const MEMTABLE_COUNT_LIMIT: usize = 4096;

/// An encoded internal key ordered by [`key::compare_internal`].
#[derive(Debug, Clone)]
struct IKey(Bytes);

impl PartialEq for IKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for IKey {}

impl PartialOrd for IKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IKey {
    fn cmp(&self, other: &Self) -> Ordering {
        key::compare_internal(&self.0, &other.0)
    }
}

/// An in-memory sorted table of internal entries.
#[derive(Debug)]
pub struct MemTable {
    map: SkipMap<IKey, Bytes>,
    size: AtomicUsize,
    max_seq: AtomicU64,
}

impl Default for MemTable {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTable {
    /// An empty memtable.
    pub fn new() -> MemTable {
        MemTable { map: SkipMap::new(), size: AtomicUsize::new(0), max_seq: AtomicU64::new(0) }
    }

    /// Inserts one entry. Called by one writer at a time (the DB serialises writers) while
    /// any number of readers run. Inserting the same `(user_key, seq, kind)` twice replaces
    /// the value.
    pub fn add(&self, seq: SeqNo, kind: ValueKind, user_key: &[u8], value: &[u8]) {
        let ikey = key::internal_key(user_key, seq, kind);
        let charge = ikey.len() + value.len() + ENTRY_OVERHEAD;
        self.map.insert(IKey(Bytes::from(ikey)), Bytes::copy_from_slice(value));
        self.size.fetch_add(charge, AtomicOrdering::Relaxed);
        self.max_seq.fetch_max(seq, AtomicOrdering::Release);
    }

    /// The newest entry of `user_key` with sequence `<= seq`: `Some((kind, value))`; `None`
    /// if the memtable has no visible entry for it. A tombstone is returned as
    /// `Some((ValueKind::Delete, empty))`, so the caller knows to stop looking further down.
    pub fn get(&self, user_key: &[u8], seq: SeqNo) -> Option<(ValueKind, Bytes)> {
        if self.map.is_empty() {
            // No lookup key to build (an allocation) for the empty memtable of a database
            // that is only read.
            return None;
        }
        let target = IKey(Bytes::from(key::seek_key(user_key, seq.min(key::MAX_SEQ))));
        let entry = self.map.lower_bound(Bound::Included(&target))?;
        let parsed = key::parse_internal_key(&entry.key().0).ok()?;
        if parsed.user_key != user_key {
            return None;
        }
        Some((parsed.kind, entry.value().clone()))
    }

    /// Approximate memory used: the sum of keys, values and a fixed per-entry overhead.
    pub fn approximate_size(&self) -> usize {
        self.size.load(AtomicOrdering::Relaxed)
    }

    /// Number of entries (every version and tombstone counts).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing has been inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The largest sequence number inserted (0 if empty). Published after the entry: a
    /// reader that observes `max_seq() == s` also finds the entry inserted with `s`.
    pub fn max_seq(&self) -> SeqNo {
        self.max_seq.load(AtomicOrdering::Acquire)
    }

    /// Counts the entries (every version and tombstone) whose user key lies within the
    /// bounds, visiting at most `2 * limit + 3` entries.
    ///
    /// 1. Walk the range from its start. If it ends within `limit` entries, that is the exact
    ///    count (`estimate == upper`).
    /// 2. Otherwise count the entries below the range (walking up from the first entry) and
    ///    above it (walking down from the last), at most `limit / 2` each. Those entries are
    ///    certainly outside, so `upper` = entries in the memtable − both counts. When both
    ///    walks reach the range, `upper` is the exact count and the estimate.
    /// 3. Otherwise interpolate key positions: with `first` and `last` the first and last user
    ///    keys in the range (two O(log n) seeks) and `stop` the first key the walk of step 1
    ///    did not count, the `limit` entries counted cover the fraction
    ///    `(pos(stop) - pos(first)) / (pos(last) - pos(first))` of the range, where `pos` reads
    ///    the 8 bytes after the common prefix of `first` and `last` as a big-endian number;
    ///    the estimate is `limit / fraction`, kept between `limit + 1` and `upper` (their
    ///    midpoint when the keys do not tell). This assumes keys spread evenly over byte
    ///    values after their common prefix; keys that use few byte values per position
    ///    (decimal text) can make it far off, within those limits.
    pub fn approximate_count(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>, limit: usize) -> RangeEstimate {
        let below = |uk: &[u8]| match lower {
            Bound::Included(l) => uk < l,
            Bound::Excluded(l) => uk <= l,
            Bound::Unbounded => false,
        };
        let above = |uk: &[u8]| match upper {
            Bound::Included(u) => uk > u,
            Bound::Excluded(u) => uk >= u,
            Bound::Unbounded => false,
        };
        let start = match lower {
            // The first internal key of `l` (its largest trailer) ...
            Bound::Included(l) => Bound::Included(IKey(Bytes::from(key::seek_key(l, key::MAX_SEQ)))),
            // ... and the last one (the smallest trailer): everything after it is past `l`.
            Bound::Excluded(l) => Bound::Excluded(IKey(Bytes::from(key::internal_key(l, 0, ValueKind::Delete)))),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut visited = 0usize;
        let mut first: Option<IKey> = None;
        let mut stop: Option<IKey> = None;
        for e in self.map.range((start, Bound::Unbounded)) {
            if above(key::user_key(&e.key().0)) {
                break;
            }
            if visited == limit {
                stop = Some(e.key().clone());
                break;
            }
            if visited == 0 {
                first = Some(e.key().clone());
            }
            visited += 1;
        }
        let (Some(stop), Some(first)) = (stop, first) else {
            return RangeEstimate { estimate: visited as f64, upper: visited as u64 };
        };
        // More than `limit` entries in the range: count what lies outside it, from both ends.
        let side = limit / 2;
        let outside = |it: &mut dyn Iterator<Item = crossbeam_skiplist::map::Entry<'_, IKey, Bytes>>,
                       out: &dyn Fn(&[u8]) -> bool| {
            let n = it.take(side + 1).take_while(|e| out(key::user_key(&e.key().0))).count();
            (n.min(side) as u64, n <= side)
        };
        let (n_below, below_done) = outside(&mut self.map.iter(), &below);
        let (n_above, above_done) = outside(&mut self.map.iter().rev(), &above);
        // Entries are never removed, and entries inserted meanwhile only make the memtable
        // longer, so this stays a bound; it is at least what the walk of step 1 saw.
        let bound = (self.map.len() as u64).saturating_sub(n_below + n_above).max(visited as u64 + 1);
        if below_done && above_done {
            return RangeEstimate { estimate: bound as f64, upper: bound };
        }
        let last = match upper {
            Bound::Included(u) => {
                self.map.upper_bound(Bound::Included(&IKey(Bytes::from(key::internal_key(u, 0, ValueKind::Delete)))))
            }
            Bound::Excluded(u) => {
                self.map.upper_bound(Bound::Excluded(&IKey(Bytes::from(key::seek_key(u, key::MAX_SEQ)))))
            }
            Bound::Unbounded => self.map.back(),
        }
        .map(|e| e.key().clone());
        let low = visited as f64 + 1.0;
        let high = bound as f64;
        let fraction = last.and_then(|last| {
            let (f, s, l) = (key::user_key(&first.0), key::user_key(&stop.0), key::user_key(&last.0));
            let common = f.iter().zip(l).take_while(|(a, b)| a == b).count();
            let (pf, ps, pl) = (key_position(f, common), key_position(s, common), key_position(l, common));
            (pl > pf && ps > pf).then(|| (ps - pf) / (pl - pf))
        });
        let estimate = match fraction {
            Some(fr) => (visited as f64 / fr).clamp(low, high),
            None => (low + high) / 2.0,
        };
        RangeEstimate { estimate, upper: bound }
    }

    /// A bidirectional iterator over all entries in internal-key order. It owns a reference
    /// to the memtable and starts unpositioned. Entries inserted while it runs may or may
    /// not be seen.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator { mem: Arc::clone(self), cur: None }
    }
}

/// The 8 bytes of `key` after its first `skip` bytes (zero-padded) as a big-endian number.
fn key_position(key: &[u8], skip: usize) -> f64 {
    let mut buf = [0u8; 8];
    let tail = key.get(skip..).unwrap_or_default();
    for (dst, src) in buf.iter_mut().zip(tail) {
        *dst = *src;
    }
    #[allow(clippy::cast_precision_loss, reason = "an interpolation; 53 bits of precision are plenty")]
    let pos = u64::from_be_bytes(buf) as f64;
    pos
}

/// An [`InternalIterator`] over a [`MemTable`]. Holds no borrow of the skip list between
/// calls: it remembers the current entry and re-finds its neighbours (O(log n) per step).
#[derive(Debug)]
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    cur: Option<(IKey, Bytes)>,
}

impl MemTableIterator {
    fn set(&mut self, entry: Option<crossbeam_skiplist::map::Entry<'_, IKey, Bytes>>) {
        self.cur = entry.map(|e| (e.key().clone(), e.value().clone()));
    }

    fn target(ikey: &[u8]) -> IKey {
        IKey(Bytes::copy_from_slice(ikey))
    }
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.cur.is_some()
    }

    fn key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |(k, _)| &k.0)
    }

    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |(_, v)| v)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let mem = Arc::clone(&self.mem);
        self.set(mem.map.front());
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let mem = Arc::clone(&self.mem);
        self.set(mem.map.back());
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let mem = Arc::clone(&self.mem);
        let t = Self::target(target);
        self.set(mem.map.lower_bound(Bound::Included(&t)));
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let mem = Arc::clone(&self.mem);
        let t = Self::target(target);
        self.set(mem.map.upper_bound(Bound::Included(&t)));
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        if let Some((cur, _)) = self.cur.take() {
            let mem = Arc::clone(&self.mem);
            self.set(mem.map.lower_bound(Bound::Excluded(&cur)));
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if let Some((cur, _)) = self.cur.take() {
            let mem = Arc::clone(&self.mem);
            self.set(mem.map.upper_bound(Bound::Excluded(&cur)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_sees_newest_visible_version() {
        let m = MemTable::new();
        assert!(m.is_empty());
        m.add(1, ValueKind::Put, b"a", b"a1");
        m.add(3, ValueKind::Put, b"a", b"a3");
        m.add(5, ValueKind::Delete, b"a", b"");
        m.add(2, ValueKind::Put, b"b", b"b2");
        assert_eq!(m.len(), 4);
        assert_eq!(m.max_seq(), 5);
        assert_eq!(m.get(b"a", 0), None);
        assert_eq!(m.get(b"a", 1), Some((ValueKind::Put, Bytes::from_static(b"a1"))));
        assert_eq!(m.get(b"a", 2), Some((ValueKind::Put, Bytes::from_static(b"a1"))));
        assert_eq!(m.get(b"a", 4), Some((ValueKind::Put, Bytes::from_static(b"a3"))));
        assert_eq!(m.get(b"a", 5), Some((ValueKind::Delete, Bytes::new())));
        assert_eq!(m.get(b"b", 1), None);
        assert_eq!(m.get(b"b", u64::MAX), Some((ValueKind::Put, Bytes::from_static(b"b2"))));
        assert_eq!(m.get(b"", 9), None);
        assert_eq!(m.get(b"ab", 9), None);
        assert!(m.approximate_size() >= 4 * ENTRY_OVERHEAD);
    }
}
