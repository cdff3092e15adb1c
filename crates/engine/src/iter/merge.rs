//! The merging iterator: a sorted view over any number of child iterators.
//!
//! Children are compared by internal key; ties (the same internal key in two children, which
//! the engine does not produce but which must not break the iterator) are ordered by child
//! index, so the merged order is a total order over `(key, child)` and direction switches are
//! exact. Selection is a linear scan, which beats a heap for the small child counts of an LSM
//! tree (typically fewer than 20).

use std::cmp::Ordering;

use crate::error::Result;
use crate::iter::{BoxedIter, InternalIterator};
use crate::key::compare_internal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
}

/// Merges several [`InternalIterator`]s into one, in internal-key order, in both directions.
pub struct MergingIterator {
    children: Vec<BoxedIter>,
    current: Option<usize>,
    direction: Direction,
    /// Positioned forward by seeks and `next` since the last backward move or error: every
    /// child is at its first entry at or after the last target, an invalid child has none.
    forward: bool,
}

impl std::fmt::Debug for MergingIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergingIterator")
            .field("children", &self.children.len())
            .field("current", &self.current)
            .field("direction", &self.direction)
            .finish()
    }
}

impl MergingIterator {
    /// Merges `children`. The result starts unpositioned.
    pub fn new(children: Vec<BoxedIter>) -> MergingIterator {
        MergingIterator { children, current: None, direction: Direction::Forward, forward: false }
    }

    /// Number of children.
    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    fn cur(&self) -> Option<&BoxedIter> {
        self.current.and_then(|i| self.children.get(i))
    }

    /// Picks the child with the smallest `(key, index)`.
    fn find_smallest(&mut self) {
        let mut best: Option<(usize, &[u8])> = None;
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            match best {
                Some((_, k)) if compare_internal(c.key(), k) != Ordering::Less => {}
                _ => best = Some((i, c.key())),
            }
        }
        self.current = best.map(|(i, _)| i);
    }

    /// Picks the child with the largest `(key, index)`.
    fn find_largest(&mut self) {
        let mut best: Option<(usize, &[u8])> = None;
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            match best {
                Some((_, k)) if compare_internal(c.key(), k) == Ordering::Less => {}
                _ => best = Some((i, c.key())),
            }
        }
        self.current = best.map(|(i, _)| i);
    }

    /// Runs `f` and leaves the iterator invalid if it fails.
    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if r.is_err() {
            self.current = None;
            self.forward = false;
        }
        r
    }

    /// Re-positions every non-current child just after the current `(key, index)`.
    fn switch_to_forward(&mut self, cur: usize) -> Result<()> {
        let key = self.cur().map(|c| c.key().to_vec()).unwrap_or_default();
        for (i, c) in self.children.iter_mut().enumerate() {
            if i == cur {
                continue;
            }
            c.seek(&key)?;
            // Children before `cur` order before it on equal keys: skip past them.
            if i < cur {
                while c.valid() && compare_internal(c.key(), &key) == Ordering::Equal {
                    c.next()?;
                }
            }
        }
        self.direction = Direction::Forward;
        Ok(())
    }

    /// Re-positions every non-current child just before the current `(key, index)`.
    fn switch_to_reverse(&mut self, cur: usize) -> Result<()> {
        let key = self.cur().map(|c| c.key().to_vec()).unwrap_or_default();
        for (i, c) in self.children.iter_mut().enumerate() {
            if i == cur {
                continue;
            }
            c.seek_for_prev(&key)?;
            // Children after `cur` order after it on equal keys: step back before them.
            if i > cur {
                while c.valid() && compare_internal(c.key(), &key) == Ordering::Equal {
                    c.prev()?;
                }
            }
        }
        self.direction = Direction::Reverse;
        Ok(())
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.cur().is_some_and(|c| c.valid())
    }

    fn key(&self) -> &[u8] {
        match self.cur() {
            Some(c) if c.valid() => c.key(),
            _ => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match self.cur() {
            Some(c) if c.valid() => c.value(),
            _ => &[],
        }
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.guard(|s| {
            s.forward = false;
            for c in &mut s.children {
                c.seek_to_first()?;
            }
            s.direction = Direction::Forward;
            s.forward = true;
            s.find_smallest();
            Ok(())
        })
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.guard(|s| {
            s.forward = false;
            for c in &mut s.children {
                c.seek_to_last()?;
            }
            s.direction = Direction::Reverse;
            s.find_largest();
            Ok(())
        })
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.guard(|s| {
            s.forward = false;
            for c in &mut s.children {
                c.seek(target)?;
            }
            s.direction = Direction::Forward;
            s.forward = true;
            s.find_smallest();
            Ok(())
        })
    }

    fn seek_forward(&mut self, target: &[u8]) -> Result<()> {
        if !self.forward || self.direction != Direction::Forward {
            return self.seek(target);
        }
        // Every child is at or after the current entry: when it is not below the target,
        // nothing moves (the common case of a probe cursor over a dense posting list).
        let Some(cur) = self.cur().filter(|c| c.valid()) else {
            // Every child is exhausted at or before the target: nothing is at or after it.
            return Ok(());
        };
        if compare_internal(cur.key(), target) != Ordering::Less {
            return Ok(());
        }
        self.guard(|s| {
            for c in &mut s.children {
                // An exhausted child has nothing at or after the last target, so nothing here.
                if c.valid() && compare_internal(c.key(), target) == Ordering::Less {
                    c.seek_forward(target)?;
                }
            }
            s.find_smallest();
            Ok(())
        })
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.guard(|s| {
            s.forward = false;
            for c in &mut s.children {
                c.seek_for_prev(target)?;
            }
            s.direction = Direction::Reverse;
            s.find_largest();
            Ok(())
        })
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current.filter(|_| self.valid()) else {
            return Ok(());
        };
        self.guard(|s| {
            if s.direction != Direction::Forward {
                s.switch_to_forward(cur)?;
            }
            if let Some(c) = s.children.get_mut(cur) {
                c.next()?;
            }
            s.find_smallest();
            Ok(())
        })
    }

    fn prev(&mut self) -> Result<()> {
        let Some(cur) = self.current.filter(|_| self.valid()) else {
            return Ok(());
        };
        self.guard(|s| {
            s.forward = false;
            if s.direction != Direction::Reverse {
                s.switch_to_reverse(cur)?;
            }
            if let Some(c) = s.children.get_mut(cur) {
                c.prev()?;
            }
            s.find_largest();
            Ok(())
        })
    }
}
