//! The two-level (index → data block) bidirectional table iterator.

use std::cmp::Ordering;
use std::sync::Arc;

use super::block::BlockIter;
use super::reader::Table;
use crate::error::Result;
use crate::file::RandomAccess;
use crate::iter::InternalIterator;
use crate::key::compare_internal;

/// Iterates over every entry of a [`Table`] in internal-key order. Owns the table.
#[derive(Debug)]
pub struct TableIterator {
    table: Arc<Table>,
    /// Index of the data block `block` iterates.
    block_idx: usize,
    block: Option<BlockIter>,
    /// Check every block's CRC even when the table's reads skip it (compaction input).
    always_verify: bool,
    /// Read data blocks through this handle (verified, bypassing the cache) instead of the
    /// table's own reader: compaction input ([`Table::compaction_iter_from`]).
    source: Option<Arc<dyn RandomAccess>>,
}

impl TableIterator {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        TableIterator { table, block_idx: 0, block: None, always_verify: false, source: None }
    }

    /// An iterator that verifies every data block's checksum whatever
    /// `verify_checksums` says: compaction must never rewrite bytes it has not verified.
    pub(crate) fn new_verified(table: Arc<Table>) -> Self {
        TableIterator { table, block_idx: 0, block: None, always_verify: true, source: None }
    }

    /// A verifying iterator that reads every data block through `source`.
    pub(crate) fn new_streaming(table: Arc<Table>, source: Arc<dyn RandomAccess>) -> Self {
        TableIterator { table, block_idx: 0, block: None, always_verify: true, source: Some(source) }
    }

    /// Loads data block `i` (invalidating the iterator on error).
    fn load(&mut self, i: usize) -> Result<Option<&mut BlockIter>> {
        self.block = None;
        if i >= self.table.index.len() {
            return Ok(None);
        }
        let block = if let Some(file) = &self.source {
            self.table.read_data_block_from(file.as_ref(), i, true, false)?
        } else if self.always_verify {
            self.table.verified_data_block(i)?
        } else {
            self.table.data_block(i)?
        };
        self.block_idx = i;
        Ok(Some(self.block.insert(block.iter())))
    }

    fn first_of(&mut self, i: usize) -> Result<()> {
        if let Some(b) = self.load(i)? {
            b.seek_to_first();
        }
        self.check()
    }

    fn last_of(&mut self, i: usize) -> Result<()> {
        if let Some(b) = self.load(i)? {
            b.seek_to_last();
        }
        self.check()
    }

    /// A malformed entry met by the block cursor (blocks read lazily decode entries as they
    /// are reached) becomes this call's `Corruption` and leaves the iterator invalid.
    fn check(&mut self) -> Result<()> {
        if let Some(Err(e)) = self.block.as_ref().map(BlockIter::status) {
            self.block = None;
            return Err(self.table.data_block_error(self.block_idx, e));
        }
        Ok(())
    }

    fn current_valid(&self) -> bool {
        self.block.as_ref().is_some_and(BlockIter::valid)
    }
}

impl InternalIterator for TableIterator {
    fn valid(&self) -> bool {
        self.current_valid()
    }

    fn key(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::key)
    }

    fn value(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::value)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.first_of(0)
    }

    fn seek_to_last(&mut self) -> Result<()> {
        match self.table.index.len().checked_sub(1) {
            Some(i) => self.last_of(i),
            None => {
                self.block = None;
                Ok(())
            }
        }
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let i = self.table.find_block(target);
        if let Some(b) = self.load(i)? {
            // The block's last key is >= target, so this lands inside the block.
            b.seek(target);
        }
        self.check()
    }

    fn seek_forward(&mut self, target: &[u8]) -> Result<()> {
        if let Some(b) = self.block.as_mut().filter(|b| b.valid()) {
            if compare_internal(b.key(), target) != Ordering::Less {
                return Ok(());
            }
            // The target is within the current block (its last key is not below it): move
            // forward inside it, no index search, no block-cache lookup.
            if self
                .table
                .index
                .get(self.block_idx)
                .is_some_and(|e| compare_internal(&e.last_key, target) != Ordering::Less)
            {
                b.seek_forward(target);
                return self.check();
            }
        }
        self.seek(target)
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let i = self.table.find_block(target);
        if i >= self.table.index.len() {
            return self.seek_to_last();
        }
        if let Some(b) = self.load(i)? {
            b.seek_for_prev(target);
        }
        self.check()?;
        if !self.current_valid() {
            // Every key of block i is > target: the answer is the last key of block i-1.
            self.block = None;
            if let Some(p) = i.checked_sub(1) {
                self.last_of(p)?;
            }
        }
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if !b.valid() {
            return Ok(());
        }
        b.next();
        if !b.valid() {
            self.check()?;
            self.first_of(self.block_idx + 1)?;
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if !b.valid() {
            return Ok(());
        }
        b.prev();
        if !b.valid() {
            self.check()?;
            match self.block_idx.checked_sub(1) {
                Some(p) => self.last_of(p)?,
                None => self.block = None,
            }
        }
        Ok(())
    }
}
