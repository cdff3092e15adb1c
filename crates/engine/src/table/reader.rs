//! Opens, reads and verifies SSTables.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::block::Block;
use super::filter::BloomFilter;
use super::format::{read_block, BlockHandle, Footer, BLOCK_TRAILER_LEN, FOOTER_LEN};
use super::iter::TableIterator;
use super::properties::TableProperties;
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::file::{open_random_access, RandomAccess};
use crate::key::{
    append_internal_key, compare_internal, parse_internal_key, user_key, SeqNo, ValueKind, KIND_FOR_SEEK,
};
use crate::options::TableOptions;
use crate::stats::{Counters, RangeEstimate};

thread_local! {
    /// Scratch buffers of point lookups on this thread: the seek target and the key of the
    /// entry found. Reused so that a get allocates nothing in the table it reads.
    static LOOKUP: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Re-bases an error raised while decoding the contents of the block at `h`. Those offsets
/// count bytes of the *decoded* (possibly decompressed) contents, which are not file
/// offsets: the error reports the block's file offset, and the position inside the contents
/// moves to the message.
fn in_block(e: Error, h: BlockHandle) -> Error {
    match e {
        Error::Corruption { file, offset, what } => Error::Corruption {
            file,
            offset: Some(h.offset),
            what: match offset {
                Some(o) => format!("{what} (at byte {o} of the block contents)"),
                None => what,
            },
        },
        other => other,
    }
}

/// One index entry: the last key of a data block and where the block is.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub(crate) last_key: Vec<u8>,
    pub(crate) handle: BlockHandle,
}

/// The index's search words, so that finding a block is a binary search over one contiguous
/// array of numbers rather than one key (a pointer chase and a `memcmp`) per step: per index
/// entry, the 8 bytes of its user key that follow the prefix every index key of the table
/// shares, read big-endian and zero-padded ([`key_word`]). User keys in order have words in
/// (non-strict) order, so a word below the target's means a smaller key and one above a
/// larger key; only entries whose word equals the target's are compared in full.
///
/// The search touches few cache lines: it first searches `tops`, the last word of each group
/// of [`GROUP`] words (one 64-byte line; an eighth of the array, so it stays in the CPU
/// cache across reads), then one group of `words` — instead of a binary search whose last
/// steps each land on a line of the whole array that no read used recently.
#[derive(Debug, Default)]
struct IndexWords {
    /// The user-key prefix shared by every index key.
    prefix: Vec<u8>,
    /// One word per index entry.
    words: Vec<u64>,
    /// Per group of `GROUP` consecutive words, its last (largest) word.
    tops: Vec<u64>,
}

/// Words per group of [`IndexWords::tops`]: 8 × 8 bytes = one cache line.
const GROUP: usize = 8;

/// The 8 bytes of `uk` after its first `skip`, big-endian, zero-padded.
#[inline]
fn key_word(uk: &[u8], skip: usize) -> u64 {
    let rest = uk.get(skip..).unwrap_or_default();
    let mut w = [0u8; 8];
    let n = rest.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), rest.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(w)
}

impl IndexWords {
    fn new(index: &[IndexEntry]) -> IndexWords {
        let (Some(first), Some(last)) = (index.first(), index.last()) else {
            return IndexWords::default();
        };
        let (a, b) = (user_key(&first.last_key), user_key(&last.last_key));
        // Keys between two keys in order share every prefix those two share.
        let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let prefix = a.get(..n).unwrap_or_default().to_vec();
        let words: Vec<u64> = index.iter().map(|e| key_word(user_key(&e.last_key), n)).collect();
        let tops = words.chunks(GROUP).filter_map(|g| g.last().copied()).collect();
        IndexWords { prefix, words, tops }
    }

    /// The first position whose word is `>= w` (`words.len()` when none is): the first group
    /// whose last word is `>= w` holds it, since every word of an earlier group is `< w`.
    fn lower_bound(&self, w: u64) -> usize {
        let g = self.tops.partition_point(|&x| x < w);
        let start = (g * GROUP).min(self.words.len());
        let group = self.words.get(start..(start + GROUP).min(self.words.len())).unwrap_or_default();
        start + group.partition_point(|&x| x < w)
    }

    /// How many words from position `lo` on equal `w` (words there are `>= w`, so the equal
    /// ones come first): a galloping search, which reads the line at `lo` only when no word
    /// or a few are equal (the usual case) and stays logarithmic for long runs.
    fn ties_from(&self, lo: usize, w: u64) -> usize {
        let rest = self.words.get(lo..).unwrap_or_default();
        let mut end = 1usize;
        while end <= rest.len() && rest.get(end - 1) == Some(&w) {
            end *= 2;
        }
        // Every word before `end / 2` equals `w`; none from `end - 1` on does (or it is past
        // the end).
        let known = end / 2;
        let upto = (end - 1).min(rest.len());
        known + rest.get(known..upto).map_or(0, |r| r.partition_point(|&x| x == w))
    }
}

/// An open SSTable. The index, filter and properties are held in memory; data blocks are
/// read on demand through the block cache.
#[derive(Debug)]
pub struct Table {
    file: Arc<dyn RandomAccess>,
    file_number: u64,
    file_size: u64,
    pub(crate) index: Vec<IndexEntry>,
    words: IndexWords,
    filter: Option<BloomFilter>,
    props: TableProperties,
    verify_checksums: bool,
    cache: Option<Arc<BlockCache>>,
    counters: Arc<Counters>,
}

impl Table {
    /// Opens and validates footer, index, properties and filter. `expected_size` (from the
    /// manifest) must equal the file size if given, else `Corruption("size mismatch")`.
    /// Never reads past the end; a truncated or damaged file is a `Corruption` naming the file.
    pub fn open(
        path: &Path,
        file_number: u64,
        expected_size: Option<u64>,
        opts: &TableOptions,
        use_mmap: bool,
        cache: Option<Arc<BlockCache>>,
        counters: Arc<Counters>,
    ) -> Result<Arc<Table>> {
        let file = open_random_access(path, use_mmap)?;
        Self::open_file(file, file_number, expected_size, opts, cache, counters).map_err(|e| e.with_file(path))
    }

    /// [`Table::open`] over an already opened file (from any [`Fs`](crate::file::Fs)).
    pub fn open_file(
        file: Arc<dyn RandomAccess>,
        file_number: u64,
        expected_size: Option<u64>,
        opts: &TableOptions,
        cache: Option<Arc<BlockCache>>,
        counters: Arc<Counters>,
    ) -> Result<Arc<Table>> {
        let path = file.path().to_path_buf();
        let corrupt = |offset: Option<u64>, what: String| Error::corruption(Some(path.clone()), offset, what);
        let size = file.size();
        if let Some(expected) = expected_size {
            if expected != size {
                return Err(corrupt(None, format!("size mismatch: file is {size} bytes, manifest says {expected}")));
            }
        }
        if size < FOOTER_LEN as u64 {
            return Err(corrupt(Some(0), format!("file of {size} bytes is too short for a table footer")));
        }
        let footer_offset = size - FOOTER_LEN as u64;
        let footer_bytes = file.read_at(footer_offset, FOOTER_LEN)?;
        let footer = Footer::decode(&footer_bytes, footer_offset).map_err(|e| e.at_offset(footer_offset))?;

        let at = |h: BlockHandle| move |e: Error| in_block(e, h);
        let props_bytes = read_block(file.as_ref(), footer.properties, true)?;
        let mut props = TableProperties::decode(&props_bytes).map_err(at(footer.properties))?;
        props.file_size = size;
        let filter_bytes = read_block(file.as_ref(), footer.filter, true)?;
        let filter = BloomFilter::decode(&filter_bytes).map_err(at(footer.filter))?;
        let index_bytes = read_block(file.as_ref(), footer.index, true)?;
        let index_block = Arc::new(Block::new(index_bytes).map_err(at(footer.index))?);

        let index_err = |what: String| corrupt(Some(footer.index.offset), format!("index block: {what}"));
        let mut index = Vec::with_capacity(index_block.num_entries().unwrap_or_default());
        let mut it = index_block.iter();
        it.seek_to_first();
        let mut expected_offset = 0u64;
        while it.valid() {
            let handle = BlockHandle::decode(it.value()).map_err(at(footer.index))?;
            if handle.offset != expected_offset {
                return Err(index_err(format!("data block at {} where {expected_offset} was expected", handle.offset)));
            }
            expected_offset = handle
                .end_with_trailer()
                .filter(|e| *e <= footer.filter.offset)
                .ok_or_else(|| index_err(format!("data block at {} overruns the data region", handle.offset)))?;
            index.push(IndexEntry { last_key: it.key().to_vec(), handle });
            it.next();
        }
        if expected_offset != footer.filter.offset {
            return Err(index_err(format!(
                "data blocks end at {expected_offset} but the filter starts at {}",
                footer.filter.offset
            )));
        }
        let props_err = |what: String| corrupt(Some(footer.properties.offset), format!("properties: {what}"));
        if props.data_blocks != index.len() as u64 {
            return Err(props_err(format!("{} data blocks but the index has {}", props.data_blocks, index.len())));
        }
        if index.last().map(|e| e.last_key.as_slice()) != Some(props.largest_key.as_slice()) {
            return Err(props_err("largest key differs from the last index key".into()));
        }
        parse_internal_key(&props.smallest_key).map_err(|e| props_err(format!("smallest key: {e}")))?;
        if compare_internal(&props.smallest_key, &props.largest_key) == Ordering::Greater
            || props.min_seq > props.max_seq
            || props.num_entries < props.data_blocks
            || props.num_deletions > props.num_entries
        {
            return Err(props_err("inconsistent statistics".into()));
        }
        Ok(Arc::new(Table {
            file,
            file_number,
            file_size: size,
            words: IndexWords::new(&index),
            index,
            filter,
            props,
            verify_checksums: opts.verify_checksums,
            cache,
            counters,
        }))
    }

    /// Reads and decodes data block `i` from the file, checking that its last key matches
    /// the index. A block whose CRC was checked (`verify`) is opened lazily ([`Block::lazy`]:
    /// its entries are checked as reads reach them) unless `walk` asks for the validating
    /// walk ([`Block::new`]), which a block read without its CRC always gets.
    fn read_data_block(&self, i: usize, verify: bool, walk: bool) -> Result<Arc<Block>> {
        self.read_data_block_from(self.file.as_ref(), i, verify, walk)
    }

    /// [`Table::read_data_block`] from another handle on the same file (compaction's
    /// [`ReadAhead`](crate::file::ReadAhead)); the cache is not involved.
    pub(crate) fn read_data_block_from(
        &self,
        file: &dyn RandomAccess,
        i: usize,
        verify: bool,
        walk: bool,
    ) -> Result<Arc<Block>> {
        let entry = self.index.get(i).ok_or_else(|| {
            Error::corruption(Some(self.path().to_path_buf()), None, format!("data block {i} out of range"))
        })?;
        let h = entry.handle;
        let contents = read_block(file, h, verify)?;
        let in_this = |e: Error| in_block(e.with_file(self.path()), h);
        let (block, last_key) = if verify && !walk {
            let block = Block::lazy(contents).map_err(in_this)?;
            let mut last_key = Vec::new();
            block.last_key_into(&mut last_key).map_err(in_this)?;
            (block, last_key)
        } else {
            Block::decode(contents).map_err(in_this)?
        };
        let block = Arc::new(block);
        if last_key != entry.last_key {
            return Err(Error::corruption(
                Some(self.path().to_path_buf()),
                Some(h.offset),
                "data block's last key differs from its index key",
            ));
        }
        Ok(block)
    }

    /// A `Corruption` met inside data block `i` (offset relative to its contents), as an
    /// error naming the file and the block's file offset.
    pub(crate) fn data_block_error(&self, i: usize, e: Error) -> Error {
        match self.index.get(i) {
            Some(entry) => in_block(e.with_file(self.path()), entry.handle),
            None => e.with_file(self.path()),
        }
    }

    /// Data block `i`, through the cache.
    pub(crate) fn data_block(&self, i: usize) -> Result<Arc<Block>> {
        let offset = self.index.get(i).map_or(0, |e| e.handle.offset);
        if let Some(cache) = &self.cache {
            if let Some(b) = cache.get(self.file_number, offset) {
                Counters::add(&self.counters.block_cache_hits, 1);
                return Ok(b);
            }
        }
        if crate::cache::is_cached_only() {
            // Not decoded yet, but a block whose bytes are in the page cache (a memory-mapped
            // file) is decoded here: that costs microseconds, a trip to the thread pool tens.
            let resident = self.index.get(i).is_some_and(|e| {
                usize::try_from(e.handle.size)
                    .ok()
                    .and_then(|n| n.checked_add(BLOCK_TRAILER_LEN))
                    .is_some_and(|n| self.file.is_resident(e.handle.offset, n))
            });
            if !resident {
                return Err(Error::WouldBlock);
            }
        }
        if self.cache.is_some() {
            Counters::add(&self.counters.block_cache_misses, 1);
        }
        let block = self.read_data_block(i, self.verify_checksums, false)?;
        if let Some(cache) = &self.cache {
            cache.insert(self.file_number, offset, Arc::clone(&block));
        }
        Ok(block)
    }

    /// Data block `i` with its checksum verified even when `verify_checksums` is off. The
    /// cache is used only when it holds verified blocks (`verify_checksums` on); otherwise the
    /// block is read from the file and checked.
    pub(crate) fn verified_data_block(&self, i: usize) -> Result<Arc<Block>> {
        if self.verify_checksums {
            return self.data_block(i);
        }
        self.read_data_block(i, true, false)
    }

    /// Index of the first data block whose last key is `>= target`, or `index.len()`.
    pub(crate) fn find_block(&self, target: &[u8]) -> usize {
        let below = |e: &IndexEntry| compare_internal(&e.last_key, target) == Ordering::Less;
        let uk = user_key(target);
        let skip = self.words.prefix.len();
        if uk.get(..skip) != Some(self.words.prefix.as_slice()) || self.words.words.len() != self.index.len() {
            // Outside the range the shared prefix spans (or no words): the plain search.
            return self.index.partition_point(below);
        }
        let w = key_word(uk, skip);
        let lo = self.words.lower_bound(w);
        let ties = self.words.ties_from(lo, w);
        lo + self.index.get(lo..lo + ties).map_or(0, |tied| tied.partition_point(below))
    }

    /// The newest entry of `user_key` with sequence `<= seq`: `Some((kind, value))` (value
    /// empty for `Delete`), `None` if the table has none. Consults the bloom filter, then the
    /// index, then one data block.
    pub fn get(&self, user_key_: &[u8], seq: SeqNo) -> Result<Option<(ValueKind, Bytes)>> {
        if let Some(f) = &self.filter {
            Counters::add(&self.counters.bloom_checks, 1);
            if !f.may_contain(user_key_) {
                Counters::add(&self.counters.bloom_negatives, 1);
                return Ok(None);
            }
        }
        LOOKUP.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                let (target, key) = &mut *bufs;
                self.get_with_buffers(user_key_, seq, target, key)
            }
            // Not reachable today (nothing in a lookup calls back into one); stay correct.
            Err(_) => self.get_with_buffers(user_key_, seq, &mut Vec::new(), &mut Vec::new()),
        })
    }

    fn get_with_buffers(
        &self,
        user_key_: &[u8],
        seq: SeqNo,
        target: &mut Vec<u8>,
        key: &mut Vec<u8>,
    ) -> Result<Option<(ValueKind, Bytes)>> {
        target.clear();
        append_internal_key(target, user_key_, seq, KIND_FOR_SEEK);
        let i = self.find_block(target);
        if i >= self.index.len() {
            return Ok(None);
        }
        let block = self.data_block(i)?;
        let Some(value) = block.seek_point(target, key).map_err(|e| self.data_block_error(i, e))? else {
            return Ok(None);
        };
        if user_key(key) != user_key_ {
            return Ok(None);
        }
        let parsed = parse_internal_key(key).map_err(|e| e.with_file(self.path()))?;
        let value = match parsed.kind {
            ValueKind::Put => block.slice(value),
            ValueKind::Delete => Bytes::new(),
        };
        Ok(Some((parsed.kind, value)))
    }

    /// Estimates the entries whose user key lies within the bounds from the in-memory index
    /// and properties alone (no data block is read; two binary searches of the index).
    ///
    /// The data blocks that can hold such an entry are the run from the first block whose
    /// last user key is not below `lower` to the first block whose last user key is above
    /// `upper` (a block starts after its predecessor's last key, so no later block can). With
    /// `avg = num_entries / data_blocks`, the estimate counts `avg` per block of the run, half
    /// of it for each end block that may be only partly inside (one block partly inside
    /// counts half). Per-block entry counts are not stored, so the bound is the one the
    /// counts allow: every block outside the run holds at least one entry, hence at most
    /// `num_entries - (data_blocks - run)` entries are in the run. A table whose key range
    /// misses the bounds contributes nothing; one entirely inside contributes `num_entries`
    /// exactly.
    pub fn approximate_count(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> RangeEstimate {
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
        let n = self.index.len();
        let smallest = user_key(&self.props.smallest_key);
        let largest = user_key(&self.props.largest_key);
        if n == 0 || below(largest) || above(smallest) {
            return RangeEstimate::default();
        }
        // Both predicates hold for a prefix of the index (its keys increase).
        let first = self.index.partition_point(|e| below(user_key(&e.last_key)));
        let not_above = self.index.partition_point(|e| !above(user_key(&e.last_key)));
        let last = not_above.min(n - 1);
        if first > last {
            return RangeEstimate::default();
        }
        let run = last - first + 1;
        let whole_low = first == 0 && !below(smallest);
        let whole_high = not_above == n;
        let weight = if run == 1 {
            if whole_low && whole_high {
                1.0
            } else {
                0.5
            }
        } else {
            run as f64 - if whole_low { 0.0 } else { 0.5 } - if whole_high { 0.0 } else { 0.5 }
        };
        let entries = self.props.num_entries;
        let avg = entries as f64 / n as f64;
        RangeEstimate { estimate: weight * avg, upper: entries.saturating_sub((n - run) as u64) }
    }

    /// A bidirectional two-level iterator over the whole table.
    pub fn iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self))
    }

    /// A table iterator for compaction input: like [`Table::iter`], but every data block's
    /// CRC is checked even when `verify_checksums` is off, so that a compaction never
    /// rewrites damaged bytes under a fresh checksum.
    pub fn compaction_iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new_verified(Arc::clone(self))
    }

    /// A compaction input iterator that reads the data blocks through `file`, another handle
    /// on this table's file (a [`ReadAhead`](crate::file::ReadAhead) over positioned reads),
    /// instead of the table's own reader and the block cache: every block's CRC is checked,
    /// and neither the page-cache pages of the file (through a memory map) nor the cache
    /// keep what compaction read. `Corruption` if `file` is not this table's size.
    pub fn compaction_iter_from(self: &Arc<Self>, file: Arc<dyn RandomAccess>) -> Result<TableIterator> {
        if file.size() != self.file_size {
            return Err(Error::corruption(
                Some(self.path().to_path_buf()),
                None,
                format!("size mismatch: file is {} bytes, the open table {}", file.size(), self.file_size),
            ));
        }
        Ok(TableIterator::new_streaming(Arc::clone(self), file))
    }

    /// The table's properties.
    pub fn properties(&self) -> &TableProperties {
        &self.props
    }

    /// The table's file number.
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    /// The table's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The table's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Reads every data block (bypassing the cache), checks every CRC, decodes it, and checks
    /// that keys strictly increase across the whole table and match the index and the
    /// properties (count, deletions, smallest/largest key) and that the bloom filter holds
    /// every key. Returns every problem found (empty = clean).
    pub fn verify(&self) -> Vec<Error> {
        let mut errors = Vec::new();
        let path = self.path().to_path_buf();
        let mut prev_key: Option<Vec<u8>> = None;
        let mut first_key: Option<Vec<u8>> = None;
        let (mut entries, mut deletions) = (0u64, 0u64);
        let mut all_blocks_read = true;
        for (i, entry) in self.index.iter().enumerate() {
            let block = match self.read_data_block(i, true, true) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(e);
                    all_blocks_read = false;
                    prev_key = None;
                    continue;
                }
            };
            let mut it = block.iter();
            it.seek_to_first();
            if let Some(p) = &prev_key {
                if compare_internal(p, it.key()) != Ordering::Less {
                    errors.push(Error::corruption(
                        Some(path.clone()),
                        Some(entry.handle.offset),
                        "first key of the block does not follow the previous block's last key",
                    ));
                }
            }
            if first_key.is_none() && i == 0 {
                first_key = Some(it.key().to_vec());
            }
            while it.valid() {
                entries += 1;
                if let Ok(p) = parse_internal_key(it.key()) {
                    if p.kind == ValueKind::Delete {
                        deletions += 1;
                    }
                    if let Some(f) = &self.filter {
                        if !f.may_contain(p.user_key) {
                            errors.push(Error::corruption(
                                Some(path.clone()),
                                Some(entry.handle.offset),
                                "bloom filter is missing a key of this block",
                            ));
                        }
                    }
                }
                it.next();
            }
            prev_key = Some(entry.last_key.clone());
        }
        if all_blocks_read {
            let p = &self.props;
            let mut check = |ok: bool, what: String| {
                if !ok {
                    errors.push(Error::corruption(Some(path.clone()), None, format!("properties: {what}")));
                }
            };
            check(entries == p.num_entries, format!("{} entries recorded, {entries} found", p.num_entries));
            check(deletions == p.num_deletions, format!("{} deletions recorded, {deletions} found", p.num_deletions));
            check(
                first_key.as_deref() == Some(p.smallest_key.as_slice()),
                "smallest key differs from the first key".into(),
            );
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, ValueKind};
    use crate::table::TableBuilder;

    /// The grouped search and the galloping tie count equal the plain searches over sorted
    /// words of every length around the group size, with runs of equal words short and long
    /// and targets below, between, on and above the words.
    #[test]
    fn grouped_word_search_equals_the_plain_search() {
        let mut state = 0x1234_5678_u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for len in (0..40).chain([63, 64, 65, 500, 4099]) {
            for run in [1u64, 3, 9, 200] {
                let mut words: Vec<u64> = (0..len).map(|_| 10 * (next() % (1 + len as u64 / run))).collect();
                words.sort_unstable();
                let tops = words.chunks(GROUP).filter_map(|g| g.last().copied()).collect();
                let iw = IndexWords { prefix: Vec::new(), words: words.clone(), tops };
                let mut targets: Vec<u64> = words.iter().flat_map(|&w| [w.saturating_sub(1), w, w + 1]).collect();
                targets.extend([0, u64::MAX]);
                for w in targets {
                    let lo = words.partition_point(|&x| x < w);
                    assert_eq!(iw.lower_bound(w), lo, "len {len} run {run} w {w}");
                    let ties = words[lo..].partition_point(|&x| x == w);
                    assert_eq!(iw.ties_from(lo, w), ties, "len {len} run {run} w {w}");
                }
            }
        }
    }

    /// `find_block` equals the plain binary search over the index for keys of every shape:
    /// shared prefixes shorter and longer than a word, keys that are prefixes of others, many
    /// versions of one key across blocks, and targets outside the table's range.
    #[test]
    fn word_search_finds_the_same_block_as_the_plain_search() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shapes: [&dyn Fn(u64) -> Vec<u8>; 5] = [
            &|i| format!("{:016}", 2 * i).into_bytes(),
            &|i| format!("user:{:012}:{}", i / 7, "x".repeat((i % 5) as usize)).into_bytes(),
            &|i| format!("k{}", i).into_bytes(),
            &|i| vec![b'a'; 1 + (i % 40) as usize].into_iter().chain(i.to_be_bytes()).collect(),
            &|i| format!("same-prefix-longer-than-a-word/{:06}", i / 3).into_bytes(),
        ];
        for (s, shape) in shapes.iter().enumerate() {
            let mut keys: Vec<Vec<u8>> = (0..3000).map(shape).collect();
            keys.sort();
            keys.dedup();
            let path = dir.path().join(format!("{s}.sst"));
            let opts = TableOptions { block_size: 256, ..TableOptions::default() };
            let mut b = TableBuilder::new(std::fs::File::create(&path).expect("create"), path.clone(), opts.clone());
            for (i, k) in keys.iter().enumerate() {
                // Several versions of some keys, so that one user key spans blocks.
                for v in 0..(1 + i % 3) as u64 {
                    b.add(&internal_key(k, 100 - v, ValueKind::Put), &[7u8; 40]).expect("add");
                }
            }
            b.finish().expect("finish");
            let t = Table::open(&path, 1, None, &opts, true, None, Arc::new(Counters::default())).expect("open");
            assert!(t.index.len() > 50, "{}", t.index.len());
            let plain =
                |target: &[u8]| t.index.partition_point(|e| compare_internal(&e.last_key, target) == Ordering::Less);
            let mut targets: Vec<Vec<u8>> = Vec::new();
            for k in keys.iter().step_by(3) {
                for seq in [0, 99, 100, 101, u64::MAX >> 8] {
                    targets.push(internal_key(k, seq, ValueKind::Put));
                }
                let mut longer = k.clone();
                longer.push(0);
                targets.push(internal_key(&longer, 5, ValueKind::Put));
                if let Some(shorter) = k.get(..k.len() - 1) {
                    targets.push(internal_key(shorter, 5, ValueKind::Put));
                }
            }
            for uk in [&b""[..], b"\0", b"0", b"zzzz", b"user:", b"same-prefix-longer-than-a-word/999999"] {
                targets.push(internal_key(uk, 1, ValueKind::Put));
            }
            for target in &targets {
                assert_eq!(t.find_block(target), plain(target), "shape {s} target {target:?}");
            }
        }
    }
}
