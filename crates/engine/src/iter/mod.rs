//! The iterator trait every source of entries implements (memtable, block, table,
//! concatenated level, merge), so that they compose.

use crate::error::Result;

pub mod compaction_filter;
pub mod concat;
pub mod db_iter;
pub mod merge;

pub use compaction_filter::CompactionFilter;
pub use concat::{ConcatIterator, IterSource};
pub use db_iter::DbIter;
pub use merge::MergingIterator;

/// A cursor over internal entries in internal-key order (see [`crate::key`]).
///
/// Positioning methods return `Err` on I/O or corruption; after an error the iterator is
/// invalid. `key`/`value` may only be called while `valid()`; implementations return an
/// empty slice otherwise (never panic).
pub trait InternalIterator: Send {
    /// True when positioned on an entry.
    fn valid(&self) -> bool;
    /// The encoded internal key of the current entry.
    fn key(&self) -> &[u8];
    /// The value of the current entry (empty for tombstones).
    fn value(&self) -> &[u8];
    /// Positions on the first entry.
    fn seek_to_first(&mut self) -> Result<()>;
    /// Positions on the last entry.
    fn seek_to_last(&mut self) -> Result<()>;
    /// Positions on the first entry whose key is `>= target` in internal order.
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Positions as [`InternalIterator::seek`] does, for a `target` at or after where the
    /// iterator is: not below its current key (when valid) nor below the target of its last
    /// seek (when it was positioned forward since by seeks and `next` only). Iterators that
    /// can, move forward from where they are (staying on an entry already `>= target`, seeking
    /// inside the current block) instead of searching afresh: a probe cursor whose targets
    /// ascend. A target below that position gives an unspecified position (callers that
    /// cannot promise the order use `seek`); a target equal to the current key stays on the
    /// current entry (one internal key in several children of a merge, which the engine
    /// never writes, is not gone back over). The default is `seek`.
    fn seek_forward(&mut self, target: &[u8]) -> Result<()> {
        self.seek(target)
    }
    /// Positions on the last entry whose key is `<= target` in internal order.
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()>;
    /// Moves to the next entry (may become invalid).
    fn next(&mut self) -> Result<()>;
    /// Moves to the previous entry (may become invalid).
    fn prev(&mut self) -> Result<()>;
}

/// Boxed iterator, the form merge iterators hold.
pub type BoxedIter = Box<dyn InternalIterator>;
