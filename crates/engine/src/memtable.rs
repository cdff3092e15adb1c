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

/// Bytes charged per entry on top of its key and value (skip-list node, pointers, trailer).
pub const ENTRY_OVERHEAD: usize = 32;

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

    /// A bidirectional iterator over all entries in internal-key order. It owns a reference
    /// to the memtable and starts unpositioned. Entries inserted while it runs may or may
    /// not be seen.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator { mem: Arc::clone(self), cur: None }
    }
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
