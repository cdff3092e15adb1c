//! The concatenating iterator: one sorted run of non-overlapping tables (a level), opened
//! lazily, one table at a time.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::Result;
use crate::iter::{BoxedIter, InternalIterator};
use crate::key::compare_internal;

/// Something that can be iterated as part of a sorted run: typically one SSTable.
pub trait IterSource: Send + Sync {
    /// The smallest internal key it holds.
    fn smallest(&self) -> &[u8];
    /// The largest internal key it holds.
    fn largest(&self) -> &[u8];
    /// Opens an (unpositioned) iterator over its entries.
    fn open_iter(&self) -> Result<BoxedIter>;
}

/// Iterates a sorted, non-overlapping run of [`IterSource`]s as one sequence. Seeks
/// binary-search the sources by key range and open only the source needed; at most one
/// source iterator is open at a time.
pub struct ConcatIterator {
    sources: Vec<Arc<dyn IterSource>>,
    /// Index of the open source and its iterator.
    open: Option<(usize, BoxedIter)>,
}

impl std::fmt::Debug for ConcatIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcatIterator")
            .field("sources", &self.sources.len())
            .field("open", &self.open.as_ref().map(|(i, _)| *i))
            .finish()
    }
}

impl ConcatIterator {
    /// Concatenates `sources`, which must be sorted by key and must not overlap.
    pub fn new(sources: Vec<Arc<dyn IterSource>>) -> Self {
        ConcatIterator { sources, open: None }
    }

    /// Makes source `idx` the open one (re-using it if already open); `false` if out of range.
    fn open_source(&mut self, idx: usize) -> Result<bool> {
        if self.open.as_ref().is_some_and(|(i, _)| *i == idx) {
            return Ok(true);
        }
        let Some(src) = self.sources.get(idx) else {
            self.open = None;
            return Ok(false);
        };
        self.open = None;
        let it = src.open_iter()?;
        self.open = Some((idx, it));
        Ok(true)
    }

    fn iter_mut(&mut self) -> Option<&mut BoxedIter> {
        self.open.as_mut().map(|(_, it)| it)
    }

    /// While the open source is exhausted, moves to the start of the next one.
    fn skip_forward(&mut self) -> Result<()> {
        loop {
            let Some((idx, it)) = self.open.as_ref() else { return Ok(()) };
            if it.valid() {
                return Ok(());
            }
            let next = idx + 1;
            if !self.open_source(next)? {
                return Ok(());
            }
            if let Some(it) = self.iter_mut() {
                it.seek_to_first()?;
            }
        }
    }

    /// While the open source is exhausted, moves to the end of the previous one.
    fn skip_backward(&mut self) -> Result<()> {
        loop {
            let Some((idx, it)) = self.open.as_ref() else { return Ok(()) };
            if it.valid() {
                return Ok(());
            }
            let Some(prev) = idx.checked_sub(1) else {
                self.open = None;
                return Ok(());
            };
            self.open_source(prev)?;
            if let Some(it) = self.iter_mut() {
                it.seek_to_last()?;
            }
        }
    }

    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if r.is_err() {
            self.open = None;
        }
        r
    }
}

impl InternalIterator for ConcatIterator {
    fn valid(&self) -> bool {
        self.open.as_ref().is_some_and(|(_, it)| it.valid())
    }

    fn key(&self) -> &[u8] {
        match &self.open {
            Some((_, it)) if it.valid() => it.key(),
            _ => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match &self.open {
            Some((_, it)) if it.valid() => it.value(),
            _ => &[],
        }
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.guard(|s| {
            if s.open_source(0)? {
                if let Some(it) = s.iter_mut() {
                    it.seek_to_first()?;
                }
            }
            s.skip_forward()
        })
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.guard(|s| {
            let Some(last) = s.sources.len().checked_sub(1) else {
                s.open = None;
                return Ok(());
            };
            s.open_source(last)?;
            if let Some(it) = s.iter_mut() {
                it.seek_to_last()?;
            }
            s.skip_backward()
        })
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.guard(|s| {
            // The first source whose largest key is >= target.
            let idx = s.sources.partition_point(|src| compare_internal(src.largest(), target) == Ordering::Less);
            if !s.open_source(idx)? {
                return Ok(());
            }
            if let Some(it) = s.iter_mut() {
                it.seek(target)?;
            }
            s.skip_forward()
        })
    }

    fn seek_forward(&mut self, target: &[u8]) -> Result<()> {
        if let Some((idx, it)) = self.open.as_mut() {
            if it.valid() {
                if compare_internal(it.key(), target) != Ordering::Less {
                    return Ok(());
                }
                // Still inside the open source: move forward in it.
                if self.sources.get(*idx).is_some_and(|src| compare_internal(src.largest(), target) != Ordering::Less) {
                    let r = it.seek_forward(target);
                    return self.guard(|s| r.and_then(|()| s.skip_forward()));
                }
            }
        }
        self.seek(target)
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.guard(|s| {
            // The last source whose smallest key is <= target.
            let after = s.sources.partition_point(|src| compare_internal(src.smallest(), target) != Ordering::Greater);
            let Some(idx) = after.checked_sub(1) else {
                s.open = None;
                return Ok(());
            };
            s.open_source(idx)?;
            if let Some(it) = s.iter_mut() {
                it.seek_for_prev(target)?;
            }
            s.skip_backward()
        })
    }

    fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.guard(|s| {
            if let Some(it) = s.iter_mut() {
                it.next()?;
            }
            s.skip_forward()
        })
    }

    fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.guard(|s| {
            if let Some(it) = s.iter_mut() {
                it.prev()?;
            }
            s.skip_backward()
        })
    }
}
