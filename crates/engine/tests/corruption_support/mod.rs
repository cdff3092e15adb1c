//! Helpers shared by the corruption, compaction-corruption and SIGBUS tests (included with
//! `mod corruption_support;`): a PRNG, a database builder with a model, SST layout parsing,
//! and cheap copies of a database directory.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default,
    clippy::type_complexity
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_engine::file::RandomAccess;
use strata_engine::table::{read_block, Block, BlockHandle, Footer, BLOCK_TRAILER_LEN, FOOTER_LEN};
use strata_engine::{Db, Error, IterOptions, Options, WriteBatch};

/// Small deterministic PRNG (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The seed for a test: `STRATA_TEST_SEED` if set, else `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("STRATA_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// `STRATA_SOAK_CASES` if set.
pub fn soak_cases() -> Option<usize> {
    std::env::var("STRATA_SOAK_CASES").ok().and_then(|s| s.parse().ok())
}

/// A temporary directory, on tmpfs when there is one (the tests rewrite many files).
pub fn tempdir() -> tempfile::TempDir {
    if Path::new("/dev/shm").is_dir() {
        if let Ok(d) = tempfile::tempdir_in("/dev/shm") {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

pub fn key(i: usize) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// A 100-byte value: half pseudo-random, half repetitive, so LZ4 compresses blocks (and the
/// LZ4 path is exercised) but not to nothing.
pub fn value(i: usize, gen: u64) -> Vec<u8> {
    let mut r = Rng::new((i as u64).wrapping_mul(0x9e37_79b9) ^ gen.wrapping_mul(0x1234_5677) ^ 0xabcdef);
    let mut v = r.bytes(50);
    v.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 50));
    v
}

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options for the corruption databases: LZ4, 4 KiB blocks, small memtable and files.
pub fn corruption_opts(target_file_size: u64) -> Options {
    let mut o = Options::default();
    o.compression = true;
    o.block_size = 4096;
    o.memtable_size = 256 * 1024;
    o.compaction.target_file_size = target_file_size;
    o.compaction.base_level_size = 64 << 20;
    o
}

/// Writes `n` keys with 100-byte values (and deletes every 20th key again), flushes and
/// compacts everything into the last level, closes. Returns the model.
pub fn build_db(dir: &Path, n: usize, opts: &Options) -> Model {
    let db = Db::open(dir, opts.clone()).unwrap();
    let mut model = Model::new();
    let mut b = WriteBatch::new();
    for i in 0..n {
        let (k, v) = (key(i), value(i, 0));
        b.put(&k, &v).unwrap();
        model.insert(k, v);
        if b.count() >= 100 {
            db.write(std::mem::take(&mut b), false).unwrap();
        }
    }
    for i in (0..n).step_by(20) {
        b.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    db.write(b, false).unwrap();
    db.compact_range(None, None).unwrap();
    db.close().unwrap();
    model
}

/// Names of the live files of a closed database (SSTs, MANIFEST, WALs), sorted.
pub fn db_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sst") || n.ends_with(".log") || n == "MANIFEST")
        .collect();
    v.sort();
    v
}

/// Copies a database directory into `to` cheaply: SSTs (immutable) are hard-linked, other
/// files copied; `replace` gives new contents for one file.
pub fn clone_db(from: &Path, to: &Path, replace: Option<(&str, &[u8])>) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let dst = to.join(&name);
        match replace {
            Some((r, bytes)) if r == name => std::fs::write(&dst, bytes).unwrap(),
            _ if name.ends_with(".sst") => std::fs::hard_link(e.path(), &dst).unwrap(),
            _ => {
                std::fs::copy(e.path(), &dst).unwrap();
            }
        }
    }
}

/// An in-memory file for `read_block`.
#[derive(Debug)]
pub struct MemFile {
    pub data: bytes::Bytes,
    pub path: PathBuf,
}

impl RandomAccess for MemFile {
    fn read_at(&self, offset: u64, len: usize) -> strata_engine::Result<bytes::Bytes> {
        let end = offset + len as u64;
        if end > self.data.len() as u64 {
            return Err(Error::corruption(Some(self.path.clone()), Some(offset), "out of range"));
        }
        Ok(self.data.slice(offset as usize..end as usize))
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

/// What a byte of an SST belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// Data block `i` (with its trailer).
    Data(usize),
    Filter,
    Properties,
    Index,
    Footer,
}

/// One contiguous region of an SST: `[start, end)` including the block trailer.
#[derive(Debug, Clone)]
pub struct Region {
    pub kind: RegionKind,
    pub start: u64,
    pub end: u64,
    /// For data blocks: the user keys stored in the block.
    pub keys: Vec<Vec<u8>>,
    /// For data blocks: the internal keys stored in the block.
    pub ikeys: Vec<Vec<u8>>,
}

/// The full layout of a (valid) SST: every byte lies in exactly one region.
pub fn sst_layout(bytes: &[u8]) -> Vec<Region> {
    let len = bytes.len() as u64;
    let f = len - FOOTER_LEN as u64;
    let footer = Footer::decode(&bytes[f as usize..], f).unwrap();
    let file = MemFile { data: bytes::Bytes::copy_from_slice(bytes), path: PathBuf::from("layout") };
    let end = |h: BlockHandle| h.offset + h.size + BLOCK_TRAILER_LEN as u64;
    let index = std::sync::Arc::new(Block::new(read_block(&file, footer.index, true).unwrap()).unwrap());
    let mut regions = Vec::new();
    let mut it = index.iter();
    it.seek_to_first();
    let mut i = 0;
    while it.valid() {
        let h = BlockHandle::decode(it.value()).unwrap();
        let data = std::sync::Arc::new(Block::new(read_block(&file, h, true).unwrap()).unwrap());
        let (mut keys, mut ikeys) = (Vec::new(), Vec::new());
        let mut d = data.iter();
        d.seek_to_first();
        while d.valid() {
            keys.push(strata_engine::key::user_key(d.key()).to_vec());
            ikeys.push(d.key().to_vec());
            d.next();
        }
        regions.push(Region { kind: RegionKind::Data(i), start: h.offset, end: end(h), keys, ikeys });
        i += 1;
        it.next();
    }
    for (kind, h) in [
        (RegionKind::Filter, footer.filter),
        (RegionKind::Properties, footer.properties),
        (RegionKind::Index, footer.index),
    ] {
        regions.push(Region { kind, start: h.offset, end: end(h), keys: Vec::new(), ikeys: Vec::new() });
    }
    regions.push(Region { kind: RegionKind::Footer, start: f, end: len, keys: Vec::new(), ikeys: Vec::new() });
    // Contiguity: the layout covers every byte exactly once.
    let mut at = 0;
    for r in &regions {
        assert_eq!(r.start, at, "layout gap before {:?}", r.kind);
        at = r.end;
    }
    assert_eq!(at, len);
    regions
}

pub fn region_of(layout: &[Region], pos: u64) -> &Region {
    layout.iter().find(|r| r.start <= pos && pos < r.end).unwrap()
}

/// Collects a full forward scan, stopping at the first error. Reads in batches (about twice
/// as fast as `next` in debug builds); a failed batch loses the entries it had gathered, so
/// the stretch after the last full batch is read again one entry at a time, so that the
/// result is exactly the entries before the error.
pub fn scan(db: &Db) -> (Vec<(Vec<u8>, Vec<u8>)>, Option<Error>) {
    let mut it = match db.iter(IterOptions::default()) {
        Ok(it) => it,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let first_err = loop {
        match it.next_batch(256, 1 << 20) {
            Ok(b) if b.is_empty() => return (out, None),
            Ok(b) => out.extend(b),
            Err(e) => break e,
        }
    };
    let lower = match out.last() {
        Some((k, _)) => std::ops::Bound::Excluded(k.clone()),
        None => std::ops::Bound::Unbounded,
    };
    let range = strata_engine::RangeOptions { lower, ..Default::default() };
    let mut it = match db.iter(IterOptions { range, snapshot: None }) {
        Ok(it) => it,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match it.next() {
            Ok(Some(e)) => out.push(e),
            // The second pass should fail where the first did; report the first error anyway.
            Ok(None) => return (out, Some(first_err)),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The data block of `layout` that a lookup of user key `k` reads (the first whose last key
/// is `>= k`), if any.
pub fn block_for_key<'a>(layout: &'a [Region], k: &[u8]) -> Option<&'a Region> {
    layout
        .iter()
        .find(|r| matches!(r.kind, RegionKind::Data(_)) && r.keys.last().is_some_and(|last| last.as_slice() >= k))
}

/// Every entry of an SST file (internal key, value), read with `Table::open`.
pub fn sst_entries(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    use strata_engine::iter::InternalIterator;
    let t = strata_engine::table::Table::open(
        path,
        1,
        None,
        &strata_engine::TableOptions::default(),
        false,
        None,
        std::sync::Arc::new(strata_engine::stats::Counters::default()),
    )
    .unwrap();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next().unwrap();
    }
    out
}
