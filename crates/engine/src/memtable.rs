//! The memtable: an ordered in-memory map of internal keys to values. It is a skip list whose
//! nodes — links, key and value together — are laid out in large chunks of words (an arena),
//! in safe code: a node is addressed by `chunk << 32 | word`, every word is an `AtomicU64`,
//! and a node is published by a `Release` store of its address into its predecessors' links,
//! so a reader that follows a link (`Acquire`) sees the whole node. One writer at a time
//! inserts (a mutex inside serialises them) while any number of readers look up keys or
//! iterate without locking.
//!
//! Entries are never removed: a memtable only grows until it is frozen and flushed, and its
//! memory is freed in a few large pieces when the last reference goes.
//!
//! Node layout, in 64-bit words: `meta` (value length in bits 0–31, key length in bits 32–55,
//! height in bits 56–63) · `trailer` (`seq << 8 | kind`) · `height` links · the key's bytes ·
//! the value's bytes. Key and value bytes are packed 8 to a word, big-endian and zero-padded,
//! so comparing two keys word by word as integers (then by length) is comparing their bytes.
//!
//! Inserting keys in ascending order (an ascending batch, or a batch sorted first — see
//! [`MemTable::add_batch`]) starts each search from the previous insert's position (a
//! finger), which costs O(log gap) instead of O(log n).

use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::{self, SeqNo, ValueKind};
use crate::stats::RangeEstimate;

/// Bytes an entry costs on top of its key and value: its header words, links (1.33 on
/// average) and the padding of key and value to whole words, about 40 bytes. The memtable
/// charges exactly what it uses of its chunks ([`MemTable::approximate_size`]); this figure is
/// for estimates.
pub const ENTRY_OVERHEAD: usize = 40;

/// Entries an approximate count visits at most in one memtable before it extrapolates.
pub const MEMTABLE_COUNT_LIMIT: usize = 4096;

/// Tallest node; with a branching factor of 4 this serves 4^16 entries well.
const MAX_HEIGHT: usize = 16;
/// `meta` and `trailer`.
const HEADER_WORDS: usize = 2;
/// The first chunk (16 KiB); each next one doubles, up to [`MAX_CHUNK_WORDS`].
const FIRST_CHUNK_WORDS: usize = 1 << 11;
/// Chunks of 1 MiB; an entry larger than that gets a chunk of its own.
const MAX_CHUNK_WORDS: usize = 1 << 17;
/// Chunk directory: `DIR_TOP` groups of `DIR_SUB` chunks (about a million chunks).
const DIR_TOP: usize = 1024;
const DIR_SUB: usize = 1024;
/// The head node's address (word 0 of chunk 0). Nothing links to the head, so a link of 0
/// means "no next node".
const HEAD: u64 = 0;
/// Largest key length a node records (24 bits).
const MAX_NODE_KEY: usize = (1 << 24) - 1;

type Chunk = Box<[AtomicU64]>;
/// A group of `DIR_SUB` chunk slots, allocated when its first chunk is.
type ChunkGroup = Box<[OnceLock<Chunk>]>;

fn new_chunk(words: usize) -> Chunk {
    std::iter::repeat_with(|| AtomicU64::new(0)).take(words).collect()
}

/// The 8 bytes of `c` (at most 8, zero-padded) as a big-endian number.
fn word_of(c: &[u8]) -> u64 {
    if let Ok(a) = <[u8; 8]>::try_from(c) {
        return u64::from_be_bytes(a);
    }
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(c) {
        *dst = *src;
    }
    u64::from_be_bytes(b)
}

/// `key` as the words a node stores it in (see `word_of`), into `out`.
fn key_words(key: &[u8], out: &mut Vec<u64>) {
    out.clear();
    out.extend(key.chunks(8).map(word_of));
}

/// A read view of one node: its words (from its first on) and its `meta` word.
#[derive(Clone, Copy)]
struct Node<'a> {
    w: &'a [AtomicU64],
    meta: u64,
}

impl<'a> Node<'a> {
    fn new(w: &'a [AtomicU64]) -> Self {
        let meta = w.first().map_or(0, |m| m.load(AtomicOrdering::Relaxed));
        Node { w, meta }
    }

    fn word(&self, i: usize) -> u64 {
        self.w.get(i).map_or(0, |a| a.load(AtomicOrdering::Relaxed))
    }

    fn value_len(&self) -> usize {
        (self.meta & 0xffff_ffff) as usize
    }

    fn key_len(&self) -> usize {
        ((self.meta >> 32) & 0xff_ffff) as usize
    }

    fn height(&self) -> usize {
        (self.meta >> 56) as usize
    }

    fn trailer(&self) -> u64 {
        self.word(1)
    }

    fn kind(&self) -> ValueKind {
        if self.trailer() & 0xff == ValueKind::Delete as u64 {
            ValueKind::Delete
        } else {
            ValueKind::Put
        }
    }

    fn next(&self, level: usize) -> u64 {
        self.w.get(HEADER_WORDS + level).map_or(0, |a| a.load(AtomicOrdering::Acquire))
    }

    fn key_base(&self) -> usize {
        HEADER_WORDS + self.height()
    }

    /// Compares this node's user key with `key`.
    fn cmp_user_key(&self, key: &[u8]) -> Ordering {
        let base = self.key_base();
        for (i, c) in key.chunks(8).take(self.key_len().div_ceil(8)).enumerate() {
            let (n, t) = (self.word(base + i), word_of(c));
            if n != t {
                return n.cmp(&t);
            }
        }
        self.key_len().cmp(&key.len())
    }

    /// Compares this node's internal key with `(key, trailer)` (user key ascending, then
    /// trailer descending).
    fn cmp(&self, key: &[u8], trailer: u64) -> Ordering {
        self.cmp_user_key(key).then_with(|| trailer.cmp(&self.trailer()))
    }

    /// `cmp` against a key already split into words (`words` of `key_words`, `len` bytes):
    /// an insert compares its key with many nodes, and splits it once.
    fn cmp_words(&self, words: &[u64], len: usize, trailer: u64) -> Ordering {
        let base = self.key_base();
        for (i, &t) in words.iter().take(self.key_len().div_ceil(8)).enumerate() {
            let n = self.word(base + i);
            if n != t {
                return n.cmp(&t);
            }
        }
        self.key_len().cmp(&len).then_with(|| trailer.cmp(&self.trailer()))
    }

    fn copy_words(&self, from: usize, len: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(len.div_ceil(8) * 8);
        for i in 0..len.div_ceil(8) {
            out.extend_from_slice(&self.word(from + i).to_be_bytes());
        }
        out.truncate(start + len);
    }

    fn user_key_into(&self, out: &mut Vec<u8>) {
        out.clear();
        self.copy_words(self.key_base(), self.key_len(), out);
    }

    fn internal_key_into(&self, out: &mut Vec<u8>) {
        self.user_key_into(out);
        out.extend_from_slice(&self.trailer().to_le_bytes());
    }

    fn value_into(&self, out: &mut Vec<u8>) {
        out.clear();
        self.copy_words(self.key_base() + self.key_len().div_ceil(8), self.value_len(), out);
    }
}

/// The writer's side: where the next node goes, and the finger.
struct Writer {
    /// Index of the chunk being filled, its length and the next free word in it.
    chunk: usize,
    cap: usize,
    off: usize,
    /// Chunks installed so far, and the length of the next one.
    chunks: usize,
    next_words: usize,
    rng: u64,
    /// The last node inserted (HEAD if none) and, per level, the last node before or at it:
    /// itself below its height, its predecessor above. Every finger sorts before any key
    /// greater than `last`.
    last: u64,
    finger: [u64; MAX_HEIGHT],
    /// The key being inserted, as words (`key_words`), kept to reuse its allocation.
    scratch: Vec<u64>,
}

/// An in-memory sorted table of internal entries.
pub struct MemTable {
    dir: Box<[OnceLock<ChunkGroup>]>,
    writer: Mutex<Writer>,
    /// Levels in use (readers may see a stale, smaller value: they then start lower, which
    /// is still correct).
    height: AtomicUsize,
    len: AtomicUsize,
    size: AtomicUsize,
    max_seq: AtomicU64,
}

impl fmt::Debug for MemTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemTable")
            .field("len", &self.len())
            .field("size", &self.approximate_size())
            .field("max_seq", &self.max_seq())
            .finish_non_exhaustive()
    }
}

impl Default for MemTable {
    fn default() -> Self {
        Self::new()
    }
}

/// One operation for [`MemTable::add_batch`]'s sort.
struct Pending<'a> {
    /// The key's first 16 bytes as two big-endian words (zero-padded): most comparisons of
    /// the sort end on them, without comparing slices (system keys share their first 8).
    head: (u64, u64),
    seq: SeqNo,
    kind: ValueKind,
    key: &'a [u8],
    value: &'a [u8],
}

impl MemTable {
    /// An empty memtable.
    pub fn new() -> MemTable {
        let m = MemTable {
            dir: (0..DIR_TOP).map(|_| OnceLock::new()).collect(),
            writer: Mutex::new(Writer {
                chunk: 0,
                cap: FIRST_CHUNK_WORDS,
                off: HEADER_WORDS + MAX_HEIGHT,
                chunks: 1,
                next_words: FIRST_CHUNK_WORDS * 2,
                rng: 0x9E37_79B9_7F4A_7C15,
                last: HEAD,
                finger: [HEAD; MAX_HEIGHT],
                scratch: Vec::new(),
            }),
            height: AtomicUsize::new(1),
            len: AtomicUsize::new(0),
            size: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
        };
        let head = new_chunk(FIRST_CHUNK_WORDS);
        if let Some(meta) = head.first() {
            meta.store((MAX_HEIGHT as u64) << 56, AtomicOrdering::Relaxed);
        }
        // Chunk 0 of an empty directory: always installs.
        let _ = m.install(0, head);
        m
    }

    fn install(&self, c: usize, chunk: Chunk) -> bool {
        let Some(top) = self.dir.get(c / DIR_SUB) else { return false };
        let sub = top.get_or_init(|| (0..DIR_SUB).map(|_| OnceLock::new()).collect());
        sub.get(c % DIR_SUB).is_some_and(|slot| slot.set(chunk).is_ok())
    }

    /// The node at `addr`. An address that names no chunk (never handed out) reads as an
    /// empty node with no links.
    fn node(&self, addr: u64) -> Node<'_> {
        let c = (addr >> 32) as usize;
        let off = (addr & 0xffff_ffff) as usize;
        let w = self
            .dir
            .get(c / DIR_SUB)
            .and_then(OnceLock::get)
            .and_then(|sub| sub.get(c % DIR_SUB))
            .and_then(OnceLock::get)
            .and_then(|ch| ch.get(off..))
            .unwrap_or(&[]);
        Node::new(w)
    }

    /// Reserves `words` words for a node: its address and its words.
    fn alloc(&self, w: &mut Writer, words: usize) -> Result<(u64, &[AtomicU64])> {
        let full = || Error::InvalidArgument("memtable: too many chunks".into());
        let (chunk, off) = if words <= w.cap - w.off {
            let off = w.off;
            w.off += words;
            (w.chunk, off)
        } else if words > MAX_CHUNK_WORDS {
            // A chunk of its own; the current one stays open for the entries after it.
            if !self.install(w.chunks, new_chunk(words)) {
                return Err(full());
            }
            w.chunks += 1;
            (w.chunks - 1, 0)
        } else {
            let cap = w.next_words.max(words);
            if !self.install(w.chunks, new_chunk(cap)) {
                return Err(full());
            }
            // The tail of the old chunk is lost: charge it.
            self.size.fetch_add((w.cap - w.off) * 8, AtomicOrdering::Relaxed);
            w.chunk = w.chunks;
            w.chunks += 1;
            w.cap = cap;
            w.off = words;
            w.next_words = (w.next_words * 2).min(MAX_CHUNK_WORDS);
            (w.chunk, 0)
        };
        self.size.fetch_add(words * 8, AtomicOrdering::Relaxed);
        let addr = ((chunk as u64) << 32) | off as u64;
        let slice = self.node(addr).w.get(..words).unwrap_or(&[]);
        Ok((addr, slice))
    }

    fn random_height(w: &mut Writer) -> usize {
        // xorshift64
        w.rng ^= w.rng << 13;
        w.rng ^= w.rng >> 7;
        w.rng ^= w.rng << 17;
        let mut r = w.rng;
        let mut h = 1;
        while h < MAX_HEIGHT && r & 3 == 0 {
            h += 1;
            r >>= 2;
        }
        h
    }

    /// From `x` at `level` down to level 0: the last node before `(key, trailer)` on each
    /// level into `preds`; returns the first node at or after it (0 if none).
    /// The key is `words` (its `len` bytes split by `key_words`).
    fn descend(
        &self,
        mut x: u64,
        mut level: usize,
        (words, len): (&[u64], usize),
        trailer: u64,
        preds: &mut [u64; MAX_HEIGHT],
    ) -> u64 {
        loop {
            let next = self.node(x).next(level);
            if next != 0 && self.node(next).cmp_words(words, len, trailer) == Ordering::Less {
                x = next;
                continue;
            }
            if let Some(p) = preds.get_mut(level) {
                *p = x;
            }
            if level == 0 {
                return next;
            }
            level -= 1;
        }
    }

    /// Inserts one entry with the writer lock held.
    fn insert(&self, w: &mut Writer, seq: SeqNo, kind: ValueKind, user_key: &[u8], value: &[u8]) -> Result<()> {
        if user_key.len() > MAX_NODE_KEY || value.len() > u32::MAX as usize || seq > key::MAX_SEQ {
            return Err(Error::InvalidArgument("memtable: key, value or sequence number too large".into()));
        }
        let trailer = key::pack_trailer(seq, kind);
        let mut words = std::mem::take(&mut w.scratch);
        key_words(user_key, &mut words);
        let r = self.insert_words(w, seq, trailer, (&words, user_key.len()), value);
        w.scratch = words;
        r
    }

    /// `insert` of a key split into words (`key_words`).
    fn insert_words(&self, w: &mut Writer, seq: SeqNo, trailer: u64, key: (&[u64], usize), value: &[u8]) -> Result<()> {
        let (words, key_len) = key;
        let mut preds = [HEAD; MAX_HEIGHT];
        let levels = self.height.load(AtomicOrdering::Relaxed);
        let succ = if w.last != HEAD && self.node(w.last).cmp_words(words, key_len, trailer) == Ordering::Less {
            // Finger search: climb while the next node on the finger's level is still before
            // the key; from there on up the fingers are the exact predecessors.
            let mut l = 0;
            while l + 1 < levels {
                let f = w.finger.get(l).copied().unwrap_or(HEAD);
                let n = self.node(f).next(l);
                if n == 0 || self.node(n).cmp_words(words, key_len, trailer) != Ordering::Less {
                    break;
                }
                l += 1;
            }
            for i in l + 1..MAX_HEIGHT {
                if let (Some(p), Some(f)) = (preds.get_mut(i), w.finger.get(i)) {
                    *p = *f;
                }
            }
            self.descend(w.finger.get(l).copied().unwrap_or(HEAD), l, key, trailer, &mut preds)
        } else {
            self.descend(HEAD, levels - 1, key, trailer, &mut preds)
        };
        let old =
            (succ != 0).then(|| self.node(succ)).filter(|n| n.cmp_words(words, key_len, trailer) == Ordering::Equal);
        // A replaced node is unlinked at every level it was on: the new one is at least as tall.
        let height = Self::random_height(w).max(old.map_or(0, |n| n.height()));
        let key_word_count = words.len();
        let (addr, nw) = self.alloc(w, HEADER_WORDS + height + key_word_count + value.len().div_ceil(8))?;
        let store = |i: usize, v: u64| {
            if let Some(a) = nw.get(i) {
                a.store(v, AtomicOrdering::Relaxed);
            }
        };
        store(0, value.len() as u64 | (key_len as u64) << 32 | (height as u64) << 56);
        store(1, trailer);
        for i in 0..height {
            let next = match old {
                Some(o) if i < o.height() => o.next(i),
                _ => preds.get(i).map_or(0, |&p| self.node(p).next(i)),
            };
            store(HEADER_WORDS + i, next);
        }
        let base = HEADER_WORDS + height;
        for (i, &k) in words.iter().enumerate() {
            store(base + i, k);
        }
        for (i, c) in value.chunks(8).enumerate() {
            store(base + key_word_count + i, word_of(c));
        }
        if height > levels {
            self.height.store(height, AtomicOrdering::Relaxed);
        }
        // Publish, bottom up: a reader that finds the node on any level sees all of it.
        for i in 0..height {
            let p = preds.get(i).copied().unwrap_or(HEAD);
            if let Some(link) = self.node(p).w.get(HEADER_WORDS + i) {
                link.store(addr, AtomicOrdering::Release);
            }
        }
        for i in 0..MAX_HEIGHT {
            if let (Some(f), Some(p)) = (w.finger.get_mut(i), preds.get(i)) {
                *f = if i < height { addr } else { *p };
            }
        }
        w.last = addr;
        if old.is_none() {
            self.len.fetch_add(1, AtomicOrdering::Relaxed);
        }
        self.max_seq.fetch_max(seq, AtomicOrdering::Release);
        Ok(())
    }

    /// Inserts one entry. Inserting the same `(user_key, seq, kind)` twice replaces the
    /// value. Fails (`InvalidArgument`, nothing inserted) only on a key of more than 16 MiB,
    /// a value of 4 GiB or more, a sequence number above [`key::MAX_SEQ`], or when the
    /// memtable has used up its chunk directory (about a million chunks of 1 MiB).
    pub fn add(&self, seq: SeqNo, kind: ValueKind, user_key: &[u8], value: &[u8]) -> Result<()> {
        let mut w = self.writer.lock();
        self.insert(&mut w, seq, kind, user_key, value)
    }

    /// Inserts every operation of `batch`, the `i`-th with sequence `first + i`. The
    /// operations are sorted first (by internal key), so that each insert starts from the
    /// previous one's position; readers see the batch's entries appear one by one, as
    /// before: visibility of a batch as a whole is the sequence number the DB publishes after.
    pub fn add_batch(&self, first: SeqNo, batch: &WriteBatch) -> Result<()> {
        let mut ops = Vec::with_capacity(batch.count() as usize);
        let mut sorted = true;
        for (i, op) in batch.iter().enumerate() {
            let op = op?;
            let head = (
                word_of(op.key.get(..8).unwrap_or(op.key)),
                word_of(op.key.get(8..16).unwrap_or(op.key.get(8..).unwrap_or(&[]))),
            );
            let p = Pending { head, seq: first + i as u64, kind: op.kind, key: op.key, value: op.value };
            if let Some(prev) = ops.last() {
                sorted &= Self::pending_order(prev, &p) == Ordering::Less;
            }
            ops.push(p);
        }
        if !sorted {
            ops.sort_unstable_by(Self::pending_order);
        }
        let mut w = self.writer.lock();
        for p in &ops {
            self.insert(&mut w, p.seq, p.kind, p.key, p.value)?;
        }
        Ok(())
    }

    fn pending_order(a: &Pending<'_>, b: &Pending<'_>) -> Ordering {
        // Zero-padded words order as the bytes they hold; equal heads fall back to the keys.
        a.head.cmp(&b.head).then_with(|| a.key.cmp(b.key)).then_with(|| b.seq.cmp(&a.seq))
    }

    /// The first node at or after (`strict`: after) `(key, trailer)`; 0 if none.
    fn seek_node(&self, key: &[u8], trailer: u64, strict: bool) -> u64 {
        self.straddle(key, trailer, strict).1
    }

    /// The last node before (`inclusive`: at or before) `(key, trailer)`; 0 if none.
    fn last_before(&self, key: &[u8], trailer: u64, inclusive: bool) -> u64 {
        self.straddle(key, trailer, inclusive).0
    }

    /// The two level-0 neighbours around `(key, trailer)`: the last node before it (`or_equal`:
    /// at or before it; HEAD, 0, if none) and the node after that one (0 if none).
    fn straddle(&self, key: &[u8], trailer: u64, or_equal: bool) -> (u64, u64) {
        let mut x = HEAD;
        let mut level = self.height.load(AtomicOrdering::Relaxed).max(1) - 1;
        loop {
            let next = self.node(x).next(level);
            let right = next != 0 && {
                let c = self.node(next).cmp(key, trailer);
                c == Ordering::Less || (or_equal && c == Ordering::Equal)
            };
            if right {
                x = next;
            } else if level == 0 {
                return (x, next);
            } else {
                level -= 1;
            }
        }
    }

    /// The last node; 0 if empty.
    fn last_node(&self) -> u64 {
        let mut x = HEAD;
        let mut level = self.height.load(AtomicOrdering::Relaxed).max(1) - 1;
        loop {
            let next = self.node(x).next(level);
            if next != 0 {
                x = next;
            } else if level == 0 {
                return x;
            } else {
                level -= 1;
            }
        }
    }

    /// The node before `addr`; 0 if none.
    fn prev_node(&self, addr: u64, scratch: &mut Vec<u8>) -> u64 {
        let n = self.node(addr);
        n.user_key_into(scratch);
        self.last_before(scratch, n.trailer(), false)
    }

    /// The newest entry of `user_key` with sequence `<= seq`: `Some((kind, value))`; `None`
    /// if the memtable has no visible entry for it. A tombstone is returned as
    /// `Some((ValueKind::Delete, empty))`, so the caller knows to stop looking further down.
    pub fn get(&self, user_key: &[u8], seq: SeqNo) -> Option<(ValueKind, Bytes)> {
        if self.is_empty() {
            return None;
        }
        let trailer = key::pack_trailer(seq.min(key::MAX_SEQ), key::KIND_FOR_SEEK);
        let addr = self.seek_node(user_key, trailer, false);
        if addr == 0 {
            return None;
        }
        let n = self.node(addr);
        if n.cmp_user_key(user_key) != Ordering::Equal {
            return None;
        }
        let kind = n.kind();
        if kind == ValueKind::Delete {
            return Some((kind, Bytes::new()));
        }
        let mut v = Vec::new();
        n.value_into(&mut v);
        Some((kind, Bytes::from(v)))
    }

    /// Memory used: the words of the chunks taken by entries (and the unused tails of
    /// chunks left behind).
    pub fn approximate_size(&self) -> usize {
        self.size.load(AtomicOrdering::Relaxed)
    }

    /// Number of entries (every version and tombstone counts).
    pub fn len(&self) -> usize {
        self.len.load(AtomicOrdering::Relaxed)
    }

    /// True when nothing has been inserted.
    pub fn is_empty(&self) -> bool {
        self.node(HEAD).next(0) == 0
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
            Bound::Included(l) => self.seek_node(l, key::pack_trailer(key::MAX_SEQ, key::KIND_FOR_SEEK), false),
            // ... and after the last one (the smallest trailer): everything after it is past `l`.
            Bound::Excluded(l) => self.seek_node(l, 0, true),
            Bound::Unbounded => self.node(HEAD).next(0),
        };
        let mut uk = Vec::new();
        let mut visited = 0usize;
        let mut first: Option<Vec<u8>> = None;
        let mut stop: Option<Vec<u8>> = None;
        let mut at = start;
        while at != 0 {
            let n = self.node(at);
            n.user_key_into(&mut uk);
            if above(&uk) {
                break;
            }
            if visited == limit {
                stop = Some(uk.clone());
                break;
            }
            if visited == 0 {
                first = Some(uk.clone());
            }
            visited += 1;
            at = n.next(0);
        }
        let (Some(stop), Some(first)) = (stop, first) else {
            return RangeEstimate { estimate: visited as f64, upper: visited as u64 };
        };
        // More than `limit` entries in the range: count what lies outside it, from both ends.
        let side = limit / 2;
        let mut n_below = 0usize;
        let mut at = self.node(HEAD).next(0);
        while at != 0 && n_below <= side {
            let n = self.node(at);
            n.user_key_into(&mut uk);
            if !below(&uk) {
                break;
            }
            n_below += 1;
            at = n.next(0);
        }
        let mut n_above = 0usize;
        let mut at = self.last_node();
        let mut scratch = Vec::new();
        while at != 0 && n_above <= side {
            self.node(at).user_key_into(&mut uk);
            if !above(&uk) {
                break;
            }
            n_above += 1;
            at = self.prev_node(at, &mut scratch);
        }
        let (below_done, above_done) = (n_below <= side, n_above <= side);
        let (n_below, n_above) = (n_below.min(side) as u64, n_above.min(side) as u64);
        // Entries are never removed, and entries inserted meanwhile only make the memtable
        // longer, so this stays a bound; it is at least what the walk of step 1 saw.
        let bound = (self.len() as u64).saturating_sub(n_below + n_above).max(visited as u64 + 1);
        if below_done && above_done {
            return RangeEstimate { estimate: bound as f64, upper: bound };
        }
        let last = match upper {
            Bound::Included(u) => self.last_before(u, 0, true),
            Bound::Excluded(u) => self.last_before(u, key::pack_trailer(key::MAX_SEQ, key::KIND_FOR_SEEK), false),
            Bound::Unbounded => self.last_node(),
        };
        let last = (last != HEAD).then(|| {
            let mut k = Vec::new();
            self.node(last).user_key_into(&mut k);
            k
        });
        let low = visited as f64 + 1.0;
        let high = bound as f64;
        let fraction = last.and_then(|last| {
            let (f, s, l) = (first.as_slice(), stop.as_slice(), last.as_slice());
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
        MemTableIterator { mem: Arc::clone(self), cur: 0, key: Vec::new(), value: Vec::new(), scratch: Vec::new() }
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

/// An [`InternalIterator`] over a [`MemTable`]. Remembers the current node's address and a
/// copy of its key and value; `next` follows the node's link (O(1)), `prev` searches for the
/// node before (O(log n)).
#[derive(Debug)]
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    /// The current node; 0 when not positioned.
    cur: u64,
    key: Vec<u8>,
    value: Vec<u8>,
    scratch: Vec<u8>,
}

impl MemTableIterator {
    fn set(&mut self, addr: u64) {
        self.cur = addr;
        if addr == 0 {
            self.key.clear();
            self.value.clear();
        } else {
            let n = self.mem.node(addr);
            n.internal_key_into(&mut self.key);
            n.value_into(&mut self.value);
        }
    }
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.cur != 0
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> &[u8] {
        &self.value
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let first = self.mem.node(HEAD).next(0);
        self.set(first);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let last = self.mem.last_node();
        self.set(last);
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let at = self.mem.seek_node(key::user_key(target), key::trailer(target), false);
        self.set(at);
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let at = self.mem.last_before(key::user_key(target), key::trailer(target), true);
        self.set(at);
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        if self.cur != 0 {
            let next = self.mem.node(self.cur).next(0);
            self.set(next);
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if self.cur != 0 {
            let prev = self.mem.prev_node(self.cur, &mut self.scratch);
            self.set(prev);
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
        m.add(1, ValueKind::Put, b"a", b"a1").unwrap();
        m.add(3, ValueKind::Put, b"a", b"a3").unwrap();
        m.add(5, ValueKind::Delete, b"a", b"").unwrap();
        m.add(2, ValueKind::Put, b"b", b"b2").unwrap();
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

    /// Keys of 0..20 bytes from a small alphabet with zeros, so that prefixes, zero padding
    /// and word boundaries all meet.
    fn random_key(rng: &mut u64) -> Vec<u8> {
        let mut next = || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        let len = (next() % 20) as usize;
        (0..len).map(|_| [0u8, 1, 0x7f, 0x80, 0xff][(next() % 5) as usize]).collect()
    }

    #[test]
    fn matches_a_sorted_model_in_every_direction() {
        use crate::batch::WriteBatch;
        use std::collections::BTreeMap;
        let m = Arc::new(MemTable::new());
        // (user key, Reverse(seq)) -> (kind, value): the internal-key order.
        type Model = BTreeMap<(Vec<u8>, std::cmp::Reverse<u64>), (ValueKind, Vec<u8>)>;
        let mut model = Model::new();
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut seq = 1u64;
        for round in 0..60 {
            let mut b = WriteBatch::new();
            let mut ops = Vec::new();
            for j in 0..(round * 7) % 50 + 1 {
                let k = random_key(&mut rng);
                // Values of every length class, a few larger than a chunk.
                let vlen = match (round + j) % 9 {
                    0 => 0,
                    1 => 7,
                    2 => 8,
                    3 => 9,
                    8 if j == 0 => MAX_CHUNK_WORDS * 8 + 3,
                    _ => 100,
                };
                if j % 5 == 4 {
                    b.delete(&k).unwrap();
                    ops.push((k, ValueKind::Delete, Vec::new()));
                } else {
                    let v: Vec<u8> = (0..vlen).map(|x| (x as u8).wrapping_mul(31).wrapping_add(round as u8)).collect();
                    b.put(&k, &v).unwrap();
                    ops.push((k, ValueKind::Put, v));
                }
            }
            m.add_batch(seq, &b).unwrap();
            for (i, (k, kind, v)) in ops.into_iter().enumerate() {
                model.insert((k, std::cmp::Reverse(seq + i as u64)), (kind, v));
            }
            seq += b.count() as u64;
        }
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            model.iter().map(|((k, s), (kind, v))| (key::internal_key(k, s.0, *kind), v.clone())).collect();
        assert_eq!(m.len(), entries.len());
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        for e in &entries {
            assert!(it.valid());
            assert_eq!((it.key(), it.value()), (e.0.as_slice(), e.1.as_slice()));
            it.next().unwrap();
        }
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        for e in entries.iter().rev() {
            assert_eq!((it.key(), it.value()), (e.0.as_slice(), e.1.as_slice()));
            it.prev().unwrap();
        }
        assert!(!it.valid());
        for _ in 0..500 {
            let k = random_key(&mut rng);
            let at = rng % (seq + 2);
            let target = key::seek_key(&k, at);
            let ge = entries.iter().position(|e| key::compare_internal(&e.0, &target) != Ordering::Less);
            it.seek(&target).unwrap();
            assert_eq!(it.valid().then(|| it.key().to_vec()), ge.map(|i| entries[i].0.clone()));
            let le = entries.iter().rposition(|e| key::compare_internal(&e.0, &target) != Ordering::Greater);
            it.seek_for_prev(&target).unwrap();
            assert_eq!(it.valid().then(|| it.key().to_vec()), le.map(|i| entries[i].0.clone()));
            let want = ge
                .map(|i| &entries[i])
                .filter(|e| key::user_key(&e.0) == k.as_slice())
                .map(|e| (key::parse_internal_key(&e.0).unwrap().kind, e.1.clone()));
            let got =
                m.get(&k, at).map(|(kind, v)| (kind, if kind == ValueKind::Delete { Vec::new() } else { v.to_vec() }));
            assert_eq!(got, want, "get {k:?} at {at}");
        }
        let used: usize = entries.iter().map(|e| e.0.len() + e.1.len()).sum();
        assert!(
            m.approximate_size() >= used && m.approximate_size() < used * 2 + (1 << 20),
            "{}",
            m.approximate_size()
        );
    }

    #[test]
    fn same_internal_key_replaces_the_value() {
        let m = Arc::new(MemTable::new());
        for i in 0..200u64 {
            m.add(i + 10, ValueKind::Put, format!("k{i:03}").as_bytes(), b"first").unwrap();
        }
        for i in (0..200u64).rev() {
            m.add(i + 10, ValueKind::Put, format!("k{i:03}").as_bytes(), format!("second{i}").as_bytes()).unwrap();
        }
        assert_eq!(m.len(), 200);
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let mut n = 0;
        while it.valid() {
            assert_eq!(it.value(), format!("second{n}").as_bytes());
            n += 1;
            it.next().unwrap();
        }
        assert_eq!(n, 200);
        assert!(m.add(1, ValueKind::Put, &vec![0u8; MAX_NODE_KEY + 1], b"").is_err());
        assert!(m.add(key::MAX_SEQ + 1, ValueKind::Put, b"x", b"").is_err());
        assert_eq!(m.len(), 200, "a rejected entry adds nothing");
    }

    #[test]
    fn readers_see_whole_entries_while_one_writer_inserts() {
        let m = Arc::new(MemTable::new());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (m, done) = (Arc::clone(&m), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut checked = 0u64;
                    while !done.load(AtomicOrdering::Acquire) || checked == 0 {
                        let mut it = m.iter();
                        it.seek_to_first().unwrap();
                        let mut prev: Option<Vec<u8>> = None;
                        while it.valid() {
                            let uk = key::user_key(it.key());
                            assert_eq!(it.value(), [uk, uk].concat().as_slice(), "reader {r}");
                            if let Some(p) = &prev {
                                assert_eq!(key::compare_internal(p, it.key()), Ordering::Less);
                            }
                            prev = Some(it.key().to_vec());
                            checked += 1;
                            it.next().unwrap();
                        }
                    }
                    checked
                })
            })
            .collect();
        let mut rng = 99u64;
        for s in 1..20_000u64 {
            let k = random_key(&mut rng);
            m.add(s, ValueKind::Put, &k, &[k.as_slice(), k.as_slice()].concat()).unwrap();
        }
        done.store(true, AtomicOrdering::Release);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    }
}
