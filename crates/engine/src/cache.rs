//! The block cache: decoded data blocks shared by all tables, keyed by
//! `(file_number, block_offset)` and weighted by block size in bytes.

use std::cell::Cell;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::table::Block;

thread_local! {
    static CACHED_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` in "cached only" mode on this thread: a data block that is not in the block
/// cache is not read; the read fails with [`crate::Error::WouldBlock`] instead. This is how
/// the `*_if_cached` calls serve a read on the caller's thread only when it needs no disk I/O.
pub(crate) fn cached_only<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CACHED_ONLY.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(CACHED_ONLY.with(|c| c.replace(true)));
    f()
}

/// True inside [`cached_only`].
pub(crate) fn is_cached_only() -> bool {
    CACHED_ONLY.with(Cell::get)
}

#[derive(Debug, Clone, Copy, Default)]
struct BlockWeighter;

impl Weighter<(u64, u64), Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Arc<Block>) -> u64 {
        // Never 0: zero-weight entries would never be evicted.
        (block.size() as u64).max(1)
    }
}

/// A concurrent, size-bounded cache of decoded blocks.
pub struct BlockCache {
    cache: Cache<(u64, u64), Arc<Block>, BlockWeighter>,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.cache.capacity())
            .field("weight", &self.cache.weight())
            .field("len", &self.cache.len())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding up to `capacity_bytes` bytes of decoded blocks.
    pub fn new(capacity_bytes: usize) -> Self {
        let capacity = (capacity_bytes as u64).max(1);
        let estimated_items = (capacity_bytes / 4096).clamp(16, 1 << 20);
        BlockCache { cache: Cache::with_weighter(estimated_items, capacity, BlockWeighter) }
    }

    /// The block at `offset` of table `file`, if cached.
    pub fn get(&self, file: u64, offset: u64) -> Option<Arc<Block>> {
        self.cache.get(&(file, offset))
    }

    /// Caches a block (it may be evicted at once if larger than the cache).
    pub fn insert(&self, file: u64, offset: u64, block: Arc<Block>) {
        self.cache.insert((file, offset), block);
    }

    /// Total weight (bytes) of the cached blocks.
    pub fn weight(&self) -> u64 {
        self.cache.weight()
    }

    /// Drops every cached block of table `file` (linear in the cache size; used when a table
    /// is deleted, so its blocks do not linger until evicted).
    pub fn remove_file(&self, file: u64) {
        self.cache.retain(|(f, _), _| *f != file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, ValueKind};
    use crate::table::BlockBuilder;

    fn block(value_len: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(16);
        b.add(&internal_key(b"k", 1, ValueKind::Put), &vec![0u8; value_len]).expect("add");
        Arc::new(Block::new(bytes::Bytes::from(b.finish())).expect("block"))
    }

    #[test]
    fn weighted_by_bytes_and_bounded() {
        let c = BlockCache::new(10_000);
        c.insert(1, 0, block(1000));
        assert!(c.get(1, 0).is_some());
        assert!(c.get(1, 1).is_none() && c.get(2, 0).is_none());
        assert!(c.weight() >= 1000);
        for i in 0..100 {
            c.insert(2, i, block(1000));
        }
        assert!(c.weight() <= 10_000, "{}", c.weight());
        c.remove_file(2);
        assert!((0..100).all(|i| c.get(2, i).is_none()));
        fn send_sync<T: Send + Sync>() {}
        send_sync::<BlockCache>();
        send_sync::<crate::table::Table>();
        send_sync::<crate::table::TableIterator>();
    }
}
