//! Blocks: prefix-compressed sorted entries with restart points (see
//! `docs/format.md`). A [`Block`] is validated once when decoded, so iterating it
//! cannot fail afterwards.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::coding::{get_u32_at, put_u32, put_varint, Decoder};
use crate::error::{Error, Result};
use crate::key::{compare_internal, parse_internal_key};

/// Builds the contents of one block.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    counter: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder starting a restart point every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval: restart_interval.max(1),
            counter: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Appends an entry. Keys must be added in increasing order (checked by the caller).
    /// Fails if the block would exceed the 4 GiB a block offset can address.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let projected =
            self.buf.len() as u64 + key.len() as u64 + value.len() as u64 + 30 + 4 * self.restarts.len() as u64;
        if projected > u64::from(u32::MAX) {
            return Err(Error::InvalidArgument("entry too large for a block".into()));
        }
        let mut shared = 0;
        if self.counter < self.restart_interval {
            shared = self.last_key.iter().zip(key).take_while(|(a, b)| a == b).count();
        } else {
            #[allow(clippy::cast_possible_truncation, reason = "checked against u32::MAX above")]
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
        }
        let delta = key.get(shared..).unwrap_or_default();
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, delta.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(delta);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.counter += 1;
        self.entries += 1;
        Ok(())
    }

    /// Size of the block contents if it were finished now.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// True when no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart array and returns the block contents, resetting the builder.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            put_u32(&mut out, *r);
        }
        #[allow(clippy::cast_possible_truncation, reason = "restarts are bounded by the block size")]
        put_u32(&mut out, self.restarts.len() as u32);
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.entries = 0;
        self.last_key.clear();
        out
    }
}

/// One decoded entry header: where its key delta and value are.
#[derive(Debug, Clone, Copy)]
struct EntryHeader {
    shared: usize,
    delta_start: usize,
    delta_end: usize,
    value_end: usize,
}

/// Parses the entry at `off` of `data[..limit]`.
#[inline]
fn parse_entry(data: &[u8], off: usize, limit: usize) -> Result<EntryHeader> {
    match parse_entry_fast(data, off, limit) {
        Some(h) => Ok(h),
        None => parse_entry_slow(data, off, limit),
    }
}

/// [`parse_entry`] for the usual entry whose three lengths are one- or two-byte varints
/// (below 16384: a record value of a few hundred bytes takes two) and that lies within
/// `limit`: the same header without a `Decoder`. `None` for anything else (longer varints,
/// or an entry that does not fit), which `parse_entry_slow` then decodes or reports exactly
/// as before.
#[inline]
fn parse_entry_fast(data: &[u8], off: usize, limit: usize) -> Option<EntryHeader> {
    let region = data.get(off..limit)?;
    let &[b0, b1, b2, ..] = region else { return None };
    if (b0 | b1 | b2) & 0x80 == 0 {
        let delta_start = off + 3;
        let delta_end = delta_start + usize::from(b1);
        let value_end = delta_end + usize::from(b2);
        if value_end > limit {
            return None;
        }
        return Some(EntryHeader { shared: usize::from(b0), delta_start, delta_end, value_end });
    }
    let mut at = 0;
    let mut small = || -> Option<usize> {
        let b = *region.get(at)?;
        if b < 0x80 {
            at += 1;
            return Some(usize::from(b));
        }
        let c = *region.get(at + 1)?;
        if c >= 0x80 {
            return None;
        }
        at += 2;
        Some(usize::from(b & 0x7f) | usize::from(c) << 7)
    };
    let shared = small()?;
    let non_shared = small()?;
    let value_len = small()?;
    let delta_start = off + at;
    let delta_end = delta_start + non_shared;
    let value_end = delta_end + value_len;
    if value_end > limit {
        return None;
    }
    Some(EntryHeader { shared, delta_start, delta_end, value_end })
}

#[cold]
fn parse_entry_slow(data: &[u8], off: usize, limit: usize) -> Result<EntryHeader> {
    let region = data.get(off..limit).ok_or_else(|| Error::corruption(None, Some(off as u64), "entry out of range"))?;
    let mut d = Decoder::new(region, "block entry");
    let shared = d.varint_len(usize::MAX).map_err(|e| e.at_offset(off as u64))?;
    let non_shared = d.varint_len(region.len()).map_err(|e| e.at_offset(off as u64))?;
    let value_len = d.varint_len(region.len()).map_err(|e| e.at_offset(off as u64))?;
    let delta_start = off + d.position();
    let delta_end = delta_start
        .checked_add(non_shared)
        .filter(|e| *e <= limit)
        .ok_or_else(|| Error::corruption(None, Some(off as u64), "block entry key overruns the block"))?;
    let value_end = delta_end
        .checked_add(value_len)
        .filter(|e| *e <= limit)
        .ok_or_else(|| Error::corruption(None, Some(off as u64), "block entry value overruns the block"))?;
    Ok(EntryHeader { shared, delta_start, delta_end, value_end })
}

/// Block contents with a checked restart array, in one of two states:
///
/// * **validated** ([`Block::new`]): every entry was walked once and checked (bounds, shared
///   prefixes, restart points, key validity, strict internal-key order);
/// * **lazy** ([`Block::lazy`]): only the restart array and the entry at each restart point
///   were checked; the other entries are decoded when a search or an iterator reaches them,
///   each one bounds-checked against its restart interval, so a malformed entry is a
///   `Corruption` (from [`Block::seek_point`], or [`BlockIter::status`]), never a panic.
///   For blocks whose CRC was verified: it skips the walk a miss used to pay for every entry.
///
/// Invariants of both: `num_restarts >= 1`; restart point 0 is offset 0; restart points
/// strictly increase and lie below `restarts_offset`; the entry at each restart point lies
/// inside its interval (up to the next restart point, or `restarts_offset`), shares no
/// prefix and holds a well-formed internal key.
#[derive(Debug)]
pub struct Block {
    data: Bytes,
    /// Offset of the restart array (= end of the entries).
    restarts_offset: usize,
    num_restarts: usize,
    /// Counted by the validating walk; `None` for a lazy block.
    num_entries: Option<usize>,
}

impl Block {
    /// Decodes and validates block contents (structure, restart points, key validity and
    /// strict internal-key order). Errors are `Corruption` with offsets relative to the block.
    pub fn new(data: Bytes) -> Result<Block> {
        Self::decode(data).map(|(block, _)| block)
    }

    /// [`Block::new`], also returning the block's last key (found by the validating walk, so
    /// a caller checking it against an index needs no second walk).
    pub(crate) fn decode(data: Bytes) -> Result<(Block, Vec<u8>)> {
        let (restarts_offset, num_restarts) = Self::restart_array(&data)?;
        let corrupt = |off: usize, what: &str| Error::corruption(None, Some(off as u64), format!("block: {what}"));
        let restart_at = |i: usize| get_u32_at(&data, restarts_offset + 4 * i).map(|v| v as usize);
        // Walk every entry once. Each key is built in `key` from the shared prefix of the
        // previous one (`prev_key`) and its delta; then the two buffers swap.
        let mut off = 0usize;
        let mut r = 0usize;
        let mut key: Vec<u8> = Vec::with_capacity(64);
        let mut prev_key: Vec<u8> = Vec::with_capacity(64);
        let mut num_entries = 0usize;
        while off < restarts_offset {
            let h = parse_entry(&data, off, restarts_offset)?;
            let next_restart = if r < num_restarts { restart_at(r) } else { None };
            match next_restart {
                Some(ro) if ro == off => {
                    if h.shared != 0 {
                        return Err(corrupt(off, "restart entry shares a prefix"));
                    }
                    r += 1;
                }
                Some(ro) if ro < off => return Err(corrupt(restarts_offset + 4 * r, "restart point inside an entry")),
                _ => {
                    if num_entries == 0 {
                        return Err(corrupt(0, "first entry is not a restart point"));
                    }
                }
            }
            let Some(prefix) = prev_key.get(..h.shared) else {
                return Err(corrupt(off, "shared prefix longer than the previous key"));
            };
            key.clear();
            key.extend_from_slice(prefix);
            key.extend_from_slice(data.get(h.delta_start..h.delta_end).unwrap_or_default());
            parse_internal_key(&key).map_err(|e| e.at_offset(off as u64))?;
            if num_entries > 0 && compare_internal(&prev_key, &key) != Ordering::Less {
                return Err(corrupt(off, "keys out of order"));
            }
            std::mem::swap(&mut key, &mut prev_key);
            num_entries += 1;
            off = h.value_end;
        }
        if r != num_restarts {
            return Err(corrupt(restarts_offset + 4 * r, "restart point past the last entry"));
        }
        if num_entries == 0 {
            return Err(corrupt(0, "empty block"));
        }
        Ok((Block { data, restarts_offset, num_restarts, num_entries: Some(num_entries) }, prev_key))
    }

    /// A lazy block (see [`Block`]): checks the restart array and the entry at every restart
    /// point, and nothing else. Errors are `Corruption` with offsets relative to the block.
    pub fn lazy(data: Bytes) -> Result<Block> {
        let (restarts_offset, num_restarts) = Self::restart_array(&data)?;
        let block = Block { data, restarts_offset, num_restarts, num_entries: None };
        let corrupt = |off: usize, what: &str| Error::corruption(None, Some(off as u64), format!("block: {what}"));
        let mut prev = None;
        for i in 0..num_restarts {
            let ro_at = restarts_offset + 4 * i;
            let ro = get_u32_at(&block.data, ro_at)
                .map(|v| v as usize)
                .ok_or_else(|| corrupt(ro_at, "truncated restart array"))?;
            let in_order = match prev {
                None => ro == 0,
                Some(p) => ro > p,
            };
            if !in_order || ro >= restarts_offset {
                return Err(corrupt(ro_at, "restart points out of order or past the entries"));
            }
            prev = Some(ro);
        }
        for i in 0..num_restarts {
            let off = block.restart_point(i);
            let h = parse_entry(&block.data, off, block.interval_end(i))?;
            if h.shared != 0 {
                return Err(corrupt(off, "restart entry shares a prefix"));
            }
            let key = block.data.get(h.delta_start..h.delta_end).unwrap_or_default();
            parse_internal_key(key).map_err(|e| e.at_offset(off as u64))?;
        }
        Ok(block)
    }

    /// Where the restart array starts and how many points it has, checked to fit the block
    /// and to hold at least one point.
    fn restart_array(data: &[u8]) -> Result<(usize, usize)> {
        let len = data.len();
        let corrupt = |off: usize, what: &str| Error::corruption(None, Some(off as u64), format!("block: {what}"));
        if len < 4 {
            return Err(corrupt(0, "too short for a restart count"));
        }
        let num_restarts = get_u32_at(data, len - 4).ok_or_else(|| corrupt(len - 4, "truncated restart count"))?;
        let num_restarts = num_restarts as usize;
        let restarts_offset = num_restarts
            .checked_mul(4)
            .and_then(|r| (len - 4).checked_sub(r))
            .ok_or_else(|| corrupt(len - 4, "restart count does not fit the block"))?;
        if num_restarts == 0 {
            return Err(corrupt(len - 4, "no restart points"));
        }
        Ok((restarts_offset, num_restarts))
    }

    /// The block's last key, decoded into `key` by walking the last restart interval (for a
    /// lazy block, the check against the index; each entry of that interval is checked).
    pub(crate) fn last_key_into(&self, key: &mut Vec<u8>) -> Result<()> {
        key.clear();
        let last = self.num_restarts.saturating_sub(1);
        let mut off = self.restart_point(last);
        while off < self.restarts_offset {
            let h = parse_entry(&self.data, off, self.restarts_offset)?;
            extend_key(key, &self.data, &h, off)?;
            off = h.value_end;
        }
        Ok(())
    }

    /// Size of the decoded contents in bytes (the cache weight).
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Number of entries, when known: counted for a validated block, `None` for a lazy one.
    pub fn num_entries(&self) -> Option<usize> {
        self.num_entries
    }

    /// A zero-copy slice of the block contents.
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Bytes {
        if range.start <= range.end && range.end <= self.data.len() {
            self.data.slice(range)
        } else {
            Bytes::new()
        }
    }

    fn restart_point(&self, i: usize) -> usize {
        get_u32_at(&self.data, self.restarts_offset + 4 * i).map_or(self.restarts_offset, |v| v as usize)
    }

    /// End of restart interval `i`: the next restart point, or the end of the entries.
    fn interval_end(&self, i: usize) -> usize {
        if i + 1 < self.num_restarts {
            self.restart_point(i + 1)
        } else {
            self.restarts_offset
        }
    }

    /// The (whole) key stored at restart point `i` (checked when the block was made).
    fn restart_key(&self, i: usize) -> &[u8] {
        let off = self.restart_point(i);
        match parse_entry(&self.data, off, self.interval_end(i)) {
            Ok(h) => self.data.get(h.delta_start..h.delta_end).unwrap_or_default(),
            Err(_) => &[],
        }
    }

    /// The last restart point whose key is `< target` (0 when none is): where a forward
    /// search for `target` starts.
    fn restart_before(&self, target: &[u8]) -> usize {
        self.restart_before_from(0, target)
    }

    /// As [`Block::restart_before`], searching restart points `from..` only (`from` when
    /// none of them is below `target`).
    fn restart_before_from(&self, from: usize, target: &[u8]) -> usize {
        let (mut lo, mut hi) = (from, self.num_restarts.saturating_sub(1).max(from));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if compare_internal(self.restart_key(mid), target) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// Point lookup: the first entry with key `>= target` (internal order), its key left in
    /// `key` and the range of its value returned; `None` when every key is smaller. The
    /// cursor-free form of `iter().seek(target)` for gets: no iterator, no allocation once
    /// `key` has grown to the block's key sizes. A malformed entry met on the way (possible
    /// in a lazy block) is a `Corruption` with its offset in the block.
    pub(crate) fn seek_point(&self, target: &[u8], key: &mut Vec<u8>) -> Result<Option<std::ops::Range<usize>>> {
        let mut r = self.restart_before(target);
        key.clear();
        while r < self.num_restarts {
            let (mut off, limit) = (self.restart_point(r), self.interval_end(r));
            while off < limit {
                let h = parse_entry(&self.data, off, limit)?;
                extend_key(key, &self.data, &h, off)?;
                if compare_internal(key, target) != Ordering::Less {
                    return Ok(Some(h.delta_end..h.value_end));
                }
                off = h.value_end;
            }
            r += 1;
        }
        Ok(None)
    }

    /// A bidirectional iterator over the block.
    pub fn iter(self: &Arc<Self>) -> BlockIter {
        BlockIter {
            block: Arc::clone(self),
            current: self.restarts_offset,
            next_off: self.restarts_offset,
            restart_idx: 0,
            key: Vec::new(),
            value: (0, 0),
            corrupt: None,
        }
    }
}

/// Replaces `key` (the previous entry's key) by the key of entry `h` at `off`: its shared
/// prefix of `key` followed by its delta.
#[inline]
fn extend_key(key: &mut Vec<u8>, data: &[u8], h: &EntryHeader, off: usize) -> Result<()> {
    if h.shared > key.len() {
        return Err(Error::corruption(None, Some(off as u64), "block: shared prefix longer than the previous key"));
    }
    key.truncate(h.shared);
    key.extend_from_slice(data.get(h.delta_start..h.delta_end).unwrap_or_default());
    Ok(())
}

/// Bidirectional cursor over a [`Block`] (LevelDB-style restart-point stepping for `prev`).
/// On a validated block it never fails. On a lazy block an entry that does not decode ends
/// the cursor (invalid) and is reported by [`BlockIter::status`], which stays an error from
/// then on: callers check it whenever the cursor turns invalid.
#[derive(Debug)]
pub struct BlockIter {
    block: Arc<Block>,
    /// Offset of the current entry; `restarts_offset` when invalid.
    current: usize,
    /// Offset of the entry after the current one.
    next_off: usize,
    /// Index of the restart point at or before `current`.
    restart_idx: usize,
    key: Vec<u8>,
    value: (usize, usize),
    /// The first malformed entry met: its offset and what was wrong.
    corrupt: Option<(usize, &'static str)>,
}

impl BlockIter {
    /// True when positioned on an entry.
    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_offset
    }

    /// `Corruption` (offset relative to the block) once the cursor has met an entry that does
    /// not decode; `Ok` otherwise.
    pub fn status(&self) -> Result<()> {
        match self.corrupt {
            None => Ok(()),
            Some((off, what)) => Err(Error::corruption(None, Some(off as u64), format!("block: {what}"))),
        }
    }

    /// The current key (empty when invalid).
    pub fn key(&self) -> &[u8] {
        if self.valid() {
            &self.key
        } else {
            &[]
        }
    }

    /// The current value (empty when invalid).
    pub fn value(&self) -> &[u8] {
        if self.valid() {
            self.block.data.get(self.value.0..self.value.1).unwrap_or_default()
        } else {
            &[]
        }
    }

    /// The current value as shared bytes (empty when invalid).
    pub fn value_bytes(&self) -> Bytes {
        if self.valid() {
            self.block.slice(self.value.0..self.value.1)
        } else {
            Bytes::new()
        }
    }

    fn invalidate(&mut self) {
        self.current = self.block.restarts_offset;
        self.next_off = self.block.restarts_offset;
        self.key.clear();
    }

    /// Invalidates and records the first malformed entry.
    #[cold]
    fn fail(&mut self, off: usize, what: &'static str) -> bool {
        self.corrupt.get_or_insert((off, what));
        self.invalidate();
        false
    }

    /// Decodes the entry at `next_off` into the cursor, within its restart interval. Returns
    /// false (and invalidates) at the end or on a malformed entry.
    fn parse_next(&mut self) -> bool {
        self.current = self.next_off;
        if self.current >= self.block.restarts_offset {
            self.invalidate();
            return false;
        }
        while self.restart_idx + 1 < self.block.num_restarts
            && self.block.restart_point(self.restart_idx + 1) <= self.current
        {
            self.restart_idx += 1;
        }
        let limit = self.block.interval_end(self.restart_idx);
        let Ok(h) = parse_entry(&self.block.data, self.current, limit) else {
            return self.fail(self.current, "entry overruns its restart interval");
        };
        if h.shared > self.key.len() {
            return self.fail(self.current, "shared prefix longer than the previous key");
        }
        self.key.truncate(h.shared);
        self.key.extend_from_slice(self.block.data.get(h.delta_start..h.delta_end).unwrap_or_default());
        self.value = (h.delta_end, h.value_end);
        self.next_off = h.value_end;
        true
    }

    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_idx = i;
        self.next_off = self.block.restart_point(i);
        self.current = self.next_off;
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        self.seek_to_restart(0);
        self.parse_next();
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        self.seek_to_restart(self.block.num_restarts.saturating_sub(1));
        while self.parse_next() && self.next_off < self.block.restarts_offset {}
    }

    /// Positions on the first entry with key `>= target` (internal order); invalid if none.
    pub fn seek(&mut self, target: &[u8]) {
        self.seek_to_restart(self.block.restart_before(target));
        while self.parse_next() {
            if compare_internal(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    /// Positions on the first entry with key `>= target`, as [`BlockIter::seek`], searching
    /// forward from the current entry when the cursor is on one below `target` (the entries
    /// before it are not looked at: a probe cursor moving forward decodes only the entries
    /// between its targets, or jumps over whole restart intervals that lie below). Stays
    /// put when the current entry is already `>= target`; an invalid cursor seeks afresh.
    pub fn seek_forward(&mut self, target: &[u8]) {
        if !self.valid() {
            return self.seek(target);
        }
        if compare_internal(&self.key, target) != Ordering::Less {
            return;
        }
        let next = self.restart_idx + 1;
        if next < self.block.num_restarts && compare_internal(self.block.restart_key(next), target) == Ordering::Less {
            self.seek_to_restart(self.block.restart_before_from(next, target));
        }
        while self.parse_next() {
            if compare_internal(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    /// Positions on the last entry with key `<= target`; invalid if none.
    pub fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if !self.valid() {
            self.seek_to_last();
        } else if compare_internal(&self.key, target) == Ordering::Greater {
            self.prev();
        }
    }

    /// Moves to the next entry.
    pub fn next(&mut self) {
        if self.valid() {
            self.parse_next();
        }
    }

    /// Moves to the previous entry.
    pub fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        let original = self.current;
        // Find the restart point strictly before the current entry.
        let mut idx = self.restart_idx;
        while self.block.restart_point(idx) >= original {
            if idx == 0 {
                self.invalidate();
                return;
            }
            idx -= 1;
        }
        self.seek_to_restart(idx);
        while self.parse_next() && self.next_off < original {}
        if self.current >= original {
            self.invalidate();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, ValueKind};

    type Model = Vec<(Vec<u8>, Vec<u8>)>;

    fn build(n: usize, interval: usize) -> (Arc<Block>, Model) {
        let mut b = BlockBuilder::new(interval);
        let mut model = Vec::new();
        for i in 0..n {
            let k = internal_key(format!("key{:05}", i / 2).as_bytes(), 100 - (i % 2) as u64, ValueKind::Put);
            let v = vec![b'v'; i % 7];
            b.add(&k, &v).expect("add");
            model.push((k, v));
        }
        (Arc::new(Block::new(Bytes::from(b.finish())).expect("valid block")), model)
    }

    /// The header fast path agrees with the decoder's for one-, two- and three-byte lengths,
    /// and leaves every entry that does not fit to it (which reports it).
    #[test]
    fn entry_header_fast_path_agrees_with_the_decoder() {
        for (shared, non_shared, value_len) in
            [(0, 3, 5), (127, 127, 127), (128, 3, 200), (3, 130, 16383), (0, 2, 16384), (200_000, 1, 1)]
        {
            let mut e = Vec::new();
            put_varint(&mut e, shared as u64);
            put_varint(&mut e, non_shared as u64);
            put_varint(&mut e, value_len as u64);
            let header = e.len();
            e.resize(header + non_shared + value_len, b'x');
            let mut data = vec![0xEE; 7];
            data.extend_from_slice(&e);
            let limit = data.len();
            let slow = parse_entry_slow(&data, 7, limit).expect("a valid entry");
            assert_eq!(
                (slow.shared, slow.delta_start, slow.delta_end, slow.value_end),
                (shared, 7 + header, 7 + header + non_shared, limit)
            );
            if let Some(fast) = parse_entry_fast(&data, 7, limit) {
                assert!(header <= 6, "only one- and two-byte lengths take the fast path");
                assert_eq!(
                    (fast.shared, fast.delta_start, fast.delta_end, fast.value_end),
                    (slow.shared, slow.delta_start, slow.delta_end, slow.value_end)
                );
            } else {
                assert!(shared >= 16384 || non_shared >= 16384 || value_len >= 16384);
            }
            // One byte short: neither path accepts it.
            assert!(parse_entry_fast(&data, 7, limit - 1).is_none());
            assert!(parse_entry(&data, 7, limit - 1).is_err());
        }
    }

    #[test]
    fn roundtrip_with_restarts_and_prefix_compression() {
        for interval in [1, 2, 16] {
            let (block, model) = build(100, interval);
            assert_eq!(block.num_entries(), Some(100));
            assert_eq!(block.num_restarts, 100usize.div_ceil(interval));
            let mut it = block.iter();
            it.seek_to_first();
            for (k, v) in &model {
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
                it.next();
            }
            assert!(!it.valid());
            it.seek_to_last();
            for (k, v) in model.iter().rev() {
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
                it.prev();
            }
            assert!(!it.valid());
            for (i, (k, _)) in model.iter().enumerate() {
                it.seek(k);
                assert_eq!(it.key(), &k[..]);
                it.seek_for_prev(k);
                assert_eq!(it.key(), &k[..]);
                // A target between versions: the next key.
                let between = internal_key(crate::key::user_key(k), 50, ValueKind::Put);
                it.seek(&between);
                match model.iter().find(|(m, _)| compare_internal(m, &between) != Ordering::Less) {
                    Some((m, _)) => assert_eq!(it.key(), &m[..]),
                    None => assert!(!it.valid()),
                }
                it.seek_for_prev(&between);
                assert_eq!(it.key(), &model[i | 1].0[..]);
            }
        }
        // Prefix compression actually shrinks the block.
        let (b1, _) = build(100, 1);
        let (b16, _) = build(100, 16);
        assert!(b16.size() < b1.size());
    }

    /// Forward seeks from wherever the cursor is land where a fresh seek does: on the
    /// current entry, inside its restart interval, or restart intervals on.
    #[test]
    fn forward_seeks_agree_with_fresh_seeks() {
        for interval in [1, 3, 16] {
            let (block, model) = build(300, interval);
            for stride in [1usize, 2, 5, 17, 40, 301] {
                let mut it = block.iter();
                let mut fresh = block.iter();
                it.seek_to_first();
                let mut i = 0;
                while i < 2 * model.len() {
                    // Targets on entries and between versions, ascending.
                    let (k, _) = &model[(i / 2).min(model.len() - 1)];
                    let target =
                        if i % 2 == 0 { k.clone() } else { internal_key(crate::key::user_key(k), 50, ValueKind::Put) };
                    // A forward seek's target is never below the cursor's entry.
                    if it.valid() && compare_internal(&target, it.key()) == Ordering::Less {
                        i += stride;
                        continue;
                    }
                    it.seek_forward(&target);
                    fresh.seek(&target);
                    assert_eq!(it.valid(), fresh.valid(), "interval {interval} stride {stride} at {i}");
                    assert_eq!((it.key(), it.value()), (fresh.key(), fresh.value()));
                    // Stepping on between seeks keeps the cursor's state consistent.
                    if i % 3 == 0 {
                        it.next();
                        fresh.next();
                        assert_eq!(it.key(), fresh.key());
                    }
                    i += stride;
                }
                // Past the end: invalid; then a forward seek from invalid seeks afresh.
                let beyond = internal_key(b"zzz", 1, ValueKind::Put);
                it.seek_forward(&beyond);
                assert!(!it.valid());
                it.seek_forward(&model[3].0);
                assert_eq!(it.key(), &model[3].0[..]);
            }
        }
    }

    #[test]
    fn rejects_malformed_blocks() {
        let (block, _) = build(10, 4);
        let good = block.data.to_vec();
        assert!(Block::new(Bytes::from_static(b"")).is_err());
        assert!(Block::new(Bytes::from_static(&[0, 0, 0, 0])).is_err());
        assert!(Block::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])).is_err());
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                if let Ok(b) = Block::new(Bytes::from(bad)) {
                    // Flips in values or harmless places still yield an iterable block.
                    let b = Arc::new(b);
                    let mut it = b.iter();
                    it.seek_to_first();
                    while it.valid() {
                        it.next();
                    }
                }
            }
        }
        // Unsorted keys.
        let mut b = BlockBuilder::new(16);
        b.add(&internal_key(b"b", 1, ValueKind::Put), b"").expect("add");
        b.add(&internal_key(b"a", 1, ValueKind::Put), b"").expect("add");
        assert!(Block::new(Bytes::from(b.finish())).is_err());
    }

    /// Every operation of a cursor and of `seek_point` on `block`, collected so that two
    /// blocks over the same bytes can be compared; `Err` text for a corruption met.
    fn observe(block: &Arc<Block>, targets: &[Vec<u8>]) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = block.iter();
        it.seek_to_first();
        while it.valid() {
            out.push(format!("{:?}={:?}", it.key(), it.value()));
            it.next();
        }
        out.push(format!("fwd {:?}", it.status().map_err(|e| matches!(e, Error::Corruption { .. }))));
        it.seek_to_last();
        while it.valid() {
            out.push(format!("{:?}", it.key()));
            it.prev();
        }
        out.push(format!("bwd {:?}", it.status().map_err(|e| matches!(e, Error::Corruption { .. }))));
        for t in targets {
            let mut key = Vec::new();
            let r = block.seek_point(t, &mut key);
            assert!(matches!(r, Ok(_) | Err(Error::Corruption { .. })), "{r:?}");
            if let Ok(Some(v)) = r {
                out.push(format!("{key:?} {v:?}"));
            }
            let mut it = block.iter();
            it.seek(t);
            out.push(format!("seek {:?} {:?}", it.key(), it.value()));
        }
        out
    }

    fn targets(model: &Model) -> Vec<Vec<u8>> {
        let mut t: Vec<Vec<u8>> = model.iter().map(|(k, _)| k.clone()).collect();
        t.push(internal_key(b"", 0, ValueKind::Put));
        t.push(internal_key(b"zzz", 0, ValueKind::Put));
        t.extend(model.iter().map(|(k, _)| internal_key(crate::key::user_key(k), 50, ValueKind::Put)));
        t
    }

    #[test]
    fn lazy_blocks_read_like_validated_ones() {
        for interval in [1, 2, 3, 16] {
            let (block, model) = build(100, interval);
            let lazy = Arc::new(Block::lazy(block.data.clone()).expect("lazy"));
            assert_eq!(lazy.num_entries(), None);
            let t = targets(&model);
            assert_eq!(observe(&lazy, &t), observe(&block, &t));
            for (k, v) in &model {
                let mut key = Vec::new();
                let r = lazy.seek_point(k, &mut key).expect("ok").expect("found");
                assert_eq!((&key, &lazy.data[r]), (k, &v[..]));
            }
            let mut last = Vec::new();
            lazy.last_key_into(&mut last).expect("last key");
            assert_eq!(last, model.last().expect("entries").0);
        }
    }

    #[test]
    fn lazy_blocks_report_bad_entries_as_corruption() {
        let (block, model) = build(40, 8);
        let good = block.data.to_vec();
        let t = targets(&model);
        let mut lazy_only = 0;
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                let bad = Bytes::from(bad);
                let Ok(lazy) = Block::lazy(bad.clone()) else {
                    // What the restart checks refuse, the walk refuses too.
                    assert!(Block::new(bad).is_err(), "byte {i} bit {bit}");
                    continue;
                };
                let lazy = Arc::new(lazy);
                let seen = observe(&lazy, &t);
                let mut last = Vec::new();
                let r = lazy.last_key_into(&mut last);
                assert!(matches!(r, Ok(()) | Err(Error::Corruption { .. })), "{r:?}");
                match Block::new(bad) {
                    // Where the walk accepts the bytes, the lazy block reads the same.
                    Ok(full) => assert_eq!(seen, observe(&Arc::new(full), &t), "byte {i} bit {bit}"),
                    Err(_) => lazy_only += 1,
                }
            }
        }
        // Some flips pass the restart checks but not the walk: the lazy reads above met them
        // without panicking.
        assert!(lazy_only > 0);

        // An entry in the middle of an interval that claims more shared bytes than the key
        // before it: the restart checks pass, every read that reaches it is a Corruption.
        let (block, model) = build(8, 8);
        let mut bad = block.data.to_vec();
        let h = parse_entry(&bad, 0, bad.len()).expect("first entry");
        let second = h.value_end;
        bad[second] = 100;
        let lazy = Arc::new(Block::lazy(Bytes::from(bad.clone())).expect("restart checks pass"));
        assert!(Block::new(Bytes::from(bad)).is_err());
        let mut key = Vec::new();
        assert!(matches!(lazy.seek_point(&model[0].0, &mut key), Ok(Some(_))));
        assert!(
            matches!(lazy.seek_point(&model[5].0, &mut key), Err(Error::Corruption { offset: Some(o), .. }) if o == second as u64)
        );
        assert!(matches!(lazy.last_key_into(&mut key), Err(Error::Corruption { .. })));
        let mut it = lazy.iter();
        it.seek_to_first();
        assert!(it.valid() && it.status().is_ok());
        it.next();
        assert!(!it.valid());
        assert!(matches!(it.status(), Err(Error::Corruption { offset: Some(o), .. }) if o == second as u64));
        it.seek_to_first();
        assert!(it.status().is_err(), "the error stays");
    }
}
