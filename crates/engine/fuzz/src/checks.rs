//! The decode-and-check logic of every fuzz target, shared by the cargo-fuzz binaries
//! (`crates/engine/fuzz/fuzz_targets/*.rs`) and by `crates/engine/tests/fuzz_corpus_replay.rs`,
//! which includes this file with `#[path]`. It depends only on `strata_engine`, `bytes` and
//! `std`.
//!
//! Every check panics (= a fuzzer crash) when the engine panics, returns an error of the
//! wrong type, or breaks a round-trip or ordering property. Each decoder that sits behind a
//! checksum is also run on a *fixed-up* copy of the input whose checksums were recomputed,
//! so the fuzzer reaches the structure parsers instead of stopping at the CRC.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use strata_engine::cache::BlockCache;
use strata_engine::coding::{crc32, crc32_parts};
use strata_engine::file::RandomAccess;
use strata_engine::iter::InternalIterator;
use strata_engine::key::{compare_internal, internal_key, parse_internal_key, user_key, ValueKind, MAX_SEQ};
use strata_engine::stats::Counters;
use strata_engine::table::{Block, BlockHandle, Table, TableBuilder, BLOCK_TRAILER_LEN, FOOTER_LEN};
use strata_engine::version::{decode_manifest, encode_manifest, ManifestState};
use strata_engine::wal::{fragment_crc, read_log_bytes, BLOCK_SIZE, HEADER_SIZE};
use strata_engine::{Error, RecoveryMode, TableOptions, WriteBatch, SYSTEM_PREFIX};

/// The three WAL recovery modes.
pub const MODES: [RecoveryMode; 3] =
    [RecoveryMode::TolerateCorruptedTail, RecoveryMode::PointInTime, RecoveryMode::Salvage];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Panics unless `r` is `Ok` or a `Corruption` error whose offset (if any) is within `len`
/// bytes (+ slack for offsets that name the end of the input).
fn expect_corruption<T>(r: &strata_engine::Result<T>, len: usize, ctx: &str) {
    match r {
        Ok(_) => {}
        Err(Error::Corruption { offset, .. }) => {
            if let Some(o) = offset {
                assert!(*o <= len as u64, "{ctx}: corruption offset {o} beyond input of {len} bytes");
            }
        }
        Err(e) => panic!("{ctx}: expected Ok or Corruption, got {e:?}"),
    }
}

fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("strata-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create scratch dir");
        d
    })
}

/// A unique scratch file path, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(ext: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, AtomicOrdering::Relaxed);
        Scratch(scratch_dir().join(format!("{n}.{ext}")))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An in-memory file for `read_block`.
#[derive(Debug)]
struct MemFile {
    data: bytes::Bytes,
    path: PathBuf,
}

impl RandomAccess for MemFile {
    fn read_at(&self, offset: u64, len: usize) -> strata_engine::Result<bytes::Bytes> {
        let end = offset.checked_add(len as u64).filter(|e| *e <= self.data.len() as u64);
        match end {
            Some(end) => Ok(self.data.slice(offset as usize..end as usize)),
            None => Err(Error::corruption(Some(self.path.clone()), Some(offset), "read outside the file")),
        }
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

fn get_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

/// Recomputes the CRC in the trailer of the block at `h` (if it lies inside `data`).
fn fix_block_crc(data: &mut [u8], h: BlockHandle) {
    let (Ok(off), Ok(size)) = (usize::try_from(h.offset), usize::try_from(h.size)) else { return };
    let Some(end) = off.checked_add(size).and_then(|e| e.checked_add(BLOCK_TRAILER_LEN)) else { return };
    if end > data.len() {
        return;
    }
    let crc = crc32_parts(&[&data[off..off + size + 5]]);
    data[off + size + 5..end].copy_from_slice(&crc.to_le_bytes());
}

/// A copy of an SST whose footer CRC and filter/properties/index block CRCs are recomputed.
pub fn fix_sst_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    if out.len() < FOOTER_LEN {
        return out;
    }
    let f = out.len() - FOOTER_LEN;
    for i in 0..3 {
        if let (Some(offset), Some(size)) = (get_u64(&out, f + 16 * i), get_u64(&out, f + 16 * i + 8)) {
            fix_block_crc(&mut out, BlockHandle { offset, size });
        }
    }
    let crc = crc32(&out[f..f + 52]);
    out[f + 52..f + 56].copy_from_slice(&crc.to_le_bytes());
    out
}

/// A copy of a WAL whose fragment CRCs are recomputed wherever a header with an in-block
/// length is found (walking the file as a writer would have laid it out).
pub fn fix_wal_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut pos = 0usize;
    while pos < out.len() {
        let in_block = BLOCK_SIZE - pos % BLOCK_SIZE;
        if in_block < HEADER_SIZE {
            pos += in_block;
            continue;
        }
        if pos + HEADER_SIZE > out.len() {
            break;
        }
        let len = u16::from_le_bytes([out[pos + 4], out[pos + 5]]) as usize;
        let typ = out[pos + 6];
        if HEADER_SIZE + len > in_block || pos + HEADER_SIZE + len > out.len() || (typ == 0 && len == 0) {
            // Cannot be a fragment a writer placed here; resume at the next block.
            pos += in_block;
            continue;
        }
        let crc = fragment_crc(typ, &out[pos + HEADER_SIZE..pos + HEADER_SIZE + len]);
        out[pos..pos + 4].copy_from_slice(&crc.to_le_bytes());
        pos += HEADER_SIZE + len;
    }
    out
}

/// A copy of a manifest whose body length field and CRC are made consistent with its size.
pub fn fix_manifest(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    if out.len() < 24 {
        return out;
    }
    let body_len = (out.len() - 24) as u64;
    out[12..20].copy_from_slice(&body_len.to_le_bytes());
    let n = out.len() - 4;
    let crc = crc32(&out[..n]);
    out[n..].copy_from_slice(&crc.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------------
// wal_reader
// ---------------------------------------------------------------------------------------

/// Bytes as a WAL file: replay in every recovery mode, both as the newest WAL and not.
pub fn wal_reader(data: &[u8]) {
    wal_reader_once(data);
    let fixed = fix_wal_crcs(data);
    if fixed != data {
        wal_reader_once(&fixed);
    }
}

fn replay(data: &[u8], mode: RecoveryMode, newest: bool) -> strata_engine::Result<Vec<(u64, Vec<u8>)>> {
    let mut recs = Vec::new();
    let path = Path::new("fuzz.wal");
    let r = read_log_bytes(data, path, mode, newest, &mut |off, payload| {
        assert!((off as usize) < data.len(), "record offset {off} outside the file");
        // Feed every record to the batch decoder as recovery does.
        if let Ok(b) = WriteBatch::from_record(payload.to_vec()) {
            for op in b.iter() {
                let _ = op;
            }
        }
        recs.push((off, payload.to_vec()));
        Ok(())
    });
    match r {
        Ok(rep) => {
            assert_eq!(rep.records, recs.len() as u64, "report counts every delivered record");
            assert!(rep.valid_len as usize <= data.len(), "valid_len past the end");
            if let Some((o, _)) = &rep.dropped_tail {
                assert!(*o as usize <= data.len(), "dropped tail offset past the end");
            }
            Ok(recs)
        }
        Err(e) => {
            let r: strata_engine::Result<()> = Err(e);
            expect_corruption(&r, data.len(), "read_log_bytes");
            r.map(|()| Vec::new())
        }
    }
}

fn wal_reader_once(data: &[u8]) {
    for newest in [true, false] {
        let tolerate = replay(data, RecoveryMode::TolerateCorruptedTail, newest);
        let pit = replay(data, RecoveryMode::PointInTime, newest);
        let salvage = replay(data, RecoveryMode::Salvage, newest);
        let pit = pit.expect("point-in-time never fails on damage");
        let salvage = salvage.expect("salvage never fails on damage");
        if let Ok(t) = &tolerate {
            assert_eq!(t, &pit, "a tolerated tail delivers exactly the point-in-time records");
        }
        assert!(salvage.len() >= pit.len(), "salvage delivers at least the point-in-time records");
        assert_eq!(&salvage[..pit.len()], &pit[..], "point-in-time records are a prefix of salvage's");
    }
}

// ---------------------------------------------------------------------------------------
// batch_decode
// ---------------------------------------------------------------------------------------

/// Packs a batch's ops the way JavaScript does: stored system keys become packed kinds 2
/// (system delete) and 3 (system put) with the prefix removed.
fn pack_ops(b: &WriteBatch) -> Vec<u8> {
    let mut out = Vec::new();
    for op in b.iter() {
        let op = op.expect("ops of a decoded batch decode");
        match op.key.strip_prefix(&SYSTEM_PREFIX) {
            Some(relative) => {
                out.push(op.kind as u8 + 2);
                strata_engine::coding::put_length_prefixed(&mut out, relative);
            }
            None => {
                out.push(op.kind as u8);
                strata_engine::coding::put_length_prefixed(&mut out, op.key);
            }
        }
        if op.kind == ValueKind::Put {
            strata_engine::coding::put_length_prefixed(&mut out, op.value);
        }
    }
    out
}

/// The kinds of the packed ops in `data`, as far as they parse (kinds 2 and 3 must come out
/// as stored system keys).
fn packed_kinds(data: &[u8]) -> Vec<u8> {
    let mut d = strata_engine::coding::Decoder::new(data, "packed");
    let mut kinds = Vec::new();
    while !d.is_empty() {
        let Ok(kind) = d.u8() else { break };
        if d.length_prefixed().is_err() {
            break;
        }
        if (kind == 1 || kind == 3) && d.length_prefixed().is_err() {
            break;
        }
        kinds.push(kind);
    }
    kinds
}

type Op = (ValueKind, Vec<u8>, Vec<u8>);

fn ops_of(b: &WriteBatch) -> Vec<Op> {
    b.iter()
        .map(|op| {
            let op = op.expect("ops of a decoded batch decode");
            (op.kind, op.key.to_vec(), op.value.to_vec())
        })
        .collect()
}

/// Bytes as a WAL record payload (`from_record`) and as packed ops (`from_packed_ops`).
pub fn batch_decode(data: &[u8]) {
    match WriteBatch::from_record(data.to_vec()) {
        Ok(b) => {
            let ops = ops_of(&b);
            assert_eq!(ops.len() as u64, u64::from(b.count()), "count matches the ops");
            assert_eq!(b.data(), data, "a decoded record keeps its bytes");
            // Re-packing the ops and decoding them yields the same ops (keys may be empty in a
            // record but not in packed ops, so only compare when the packed form is accepted).
            if let Ok(p) = WriteBatch::from_packed_ops(&pack_ops(&b)) {
                assert_eq!(ops_of(&p), ops, "packed round trip");
            }
        }
        Err(e) => {
            let r: strata_engine::Result<()> = Err(e);
            expect_corruption(&r, data.len(), "from_record");
        }
    }
    match WriteBatch::from_packed_ops(data) {
        Ok(b) => {
            let ops = ops_of(&b);
            assert_eq!(ops.len() as u64, u64::from(b.count()));
            // Kinds 0/1 are user keys (never under the system prefix), kinds 2/3 system keys.
            let kinds = packed_kinds(data);
            assert_eq!(kinds.len(), ops.len(), "every packed op became one op");
            for (kind, (vk, k, _)) in kinds.iter().zip(&ops) {
                assert_eq!(*kind >= 2, k.starts_with(&SYSTEM_PREFIX), "keyspace of packed kind {kind}");
                assert_eq!(*vk as u8, kind % 2, "put or delete of packed kind {kind}");
            }
            let again = WriteBatch::from_packed_ops(&pack_ops(&b)).expect("re-packed ops decode");
            assert_eq!(ops_of(&again), ops, "packed round trip");
            // Its record form decodes to the same ops.
            // The record header (sequence and count) is stamped by `set_sequence` at write time.
            let mut stamped = b.clone();
            stamped.set_sequence(1);
            let rec = WriteBatch::from_record(stamped.data().to_vec()).expect("a valid batch's record decodes");
            assert_eq!(ops_of(&rec), ops, "record round trip");
        }
        Err(Error::InvalidArgument(_)) => {}
        Err(e) => panic!("from_packed_ops: expected InvalidArgument, got {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// manifest_decode
// ---------------------------------------------------------------------------------------

fn manifest_once(data: &[u8]) {
    let r = decode_manifest(data);
    expect_corruption(&r, data.len(), "decode_manifest");
    if let Ok(state) = r {
        state.check_invariants().expect("a decoded manifest satisfies the invariants");
        let enc = encode_manifest(&state);
        let again: ManifestState = decode_manifest(&enc).expect("re-encoded manifest decodes");
        assert_eq!(again, state, "manifest round trip");
    }
}

/// Bytes as a MANIFEST file (as-is, and with the length and CRC fixed up).
pub fn manifest_decode(data: &[u8]) {
    manifest_once(data);
    let fixed = fix_manifest(data);
    if fixed != data {
        manifest_once(&fixed);
    }
}

// ---------------------------------------------------------------------------------------
// block_decode
// ---------------------------------------------------------------------------------------

fn check_block(block: &Arc<Block>, probes: &[u8]) {
    let mut it = block.iter();
    let mut fwd: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    it.seek_to_first();
    while it.valid() {
        fwd.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    assert_eq!(Some(fwd.len()), block.num_entries(), "forward scan sees every entry");
    for w in fwd.windows(2) {
        assert_eq!(compare_internal(&w[0].0, &w[1].0), Ordering::Less, "keys strictly increase");
    }
    let mut bwd = Vec::new();
    it.seek_to_last();
    while it.valid() {
        bwd.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    bwd.reverse();
    assert_eq!(bwd, fwd, "backward scan = forward scan reversed");
    // Seeking to every key lands on it; seek_for_prev too.
    for (k, v) in fwd.iter().step_by(fwd.len() / 16 + 1) {
        it.seek(k);
        assert!(it.valid() && it.key() == k.as_slice() && it.value() == v.as_slice(), "seek to an existing key");
        it.seek_for_prev(k);
        assert!(it.valid() && it.key() == k.as_slice(), "seek_for_prev to an existing key");
    }
    // Arbitrary targets: the first key >= target.
    for t in probes.chunks(9).take(8) {
        let target = internal_key(t, MAX_SEQ, ValueKind::Put);
        it.seek(&target);
        let want = fwd.iter().position(|(k, _)| compare_internal(k, &target) != Ordering::Less);
        match want {
            Some(i) => assert!(it.valid() && it.key() == fwd[i].0.as_slice(), "seek to an arbitrary target"),
            None => assert!(!it.valid(), "seek past the end is invalid"),
        }
    }
}

/// One block: mode byte, then either a stored block with its 9-byte trailer (read with and
/// without CRC checking, so the LZ4 path is reached) or raw block contents.
pub fn block_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let contents = match mode % 3 {
        0 | 1 => {
            if rest.len() < BLOCK_TRAILER_LEN {
                return;
            }
            let file = MemFile { data: bytes::Bytes::copy_from_slice(rest), path: PathBuf::from("fuzz.block") };
            let h = BlockHandle { offset: 0, size: (rest.len() - BLOCK_TRAILER_LEN) as u64 };
            let r = strata_engine::table::read_block(&file, h, mode % 3 == 0);
            expect_corruption(&r, rest.len(), "read_block");
            match r {
                Ok(c) => c,
                Err(_) => return,
            }
        }
        _ => bytes::Bytes::copy_from_slice(rest),
    };
    let r = Block::new(contents.clone());
    expect_corruption(&r, contents.len(), "Block::new");
    let full = r.ok().map(Arc::new);
    if let Some(block) = &full {
        check_block(block, rest);
    }
    // The same bytes as a lazy block (entries decoded as reads reach them): every read is Ok
    // or a Corruption, never a panic; where the validating walk accepted the bytes, the lazy
    // block reads exactly the same.
    let r = Block::lazy(contents.clone());
    expect_corruption(&r, contents.len(), "Block::lazy");
    if let Ok(lazy) = r {
        let lazy = Arc::new(lazy);
        let seen = observe_block(&lazy, rest, contents.len());
        if let Some(block) = &full {
            assert_eq!(seen, observe_block(block, rest, contents.len()), "lazy block reads like the validated one");
        }
    } else {
        assert!(full.is_none(), "a block the walk accepts passes the lazy checks");
    }
}

/// Forward and backward scans and seeks to arbitrary targets, recorded (with each cursor's
/// status, which must be Ok or a Corruption inside the block).
fn observe_block(block: &Arc<Block>, probes: &[u8], len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut it = block.iter();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    expect_corruption(&it.status(), len, "lazy forward scan");
    out.push((b"fwd".to_vec(), vec![u8::from(it.status().is_ok())]));
    it.seek_to_last();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    expect_corruption(&it.status(), len, "lazy backward scan");
    out.push((b"bwd".to_vec(), vec![u8::from(it.status().is_ok())]));
    for t in probes.chunks(9).take(8) {
        let target = internal_key(t, MAX_SEQ, ValueKind::Put);
        let mut it = block.iter();
        it.seek(&target);
        expect_corruption(&it.status(), len, "lazy seek");
        out.push((it.key().to_vec(), vec![u8::from(it.status().is_ok())]));
    }
    out
}

// ---------------------------------------------------------------------------------------
// sst_open_scan
// ---------------------------------------------------------------------------------------

fn table_opts(verify: bool) -> TableOptions {
    TableOptions { verify_checksums: verify, ..TableOptions::default() }
}

fn open_table(path: &Path, size: u64, verify: bool, mmap: bool) -> strata_engine::Result<Arc<Table>> {
    let cache = if mmap { Some(Arc::new(BlockCache::new(1 << 20))) } else { None };
    Table::open(path, 1, Some(size), &table_opts(verify), mmap, cache, Arc::new(Counters::default()))
}

/// Scans forward and backward; returns the forward keys if both scans completed.
fn scan_table(t: &Arc<Table>, len: usize) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut it = t.iter();
    let mut fwd = Vec::new();
    let mut r = it.seek_to_first();
    while r.is_ok() && it.valid() {
        fwd.push((it.key().to_vec(), it.value().to_vec()));
        r = it.next();
    }
    expect_corruption(&r, len, "table forward scan");
    let fwd_ok = r.is_ok();
    let mut bwd = Vec::new();
    let mut r = it.seek_to_last();
    while r.is_ok() && it.valid() {
        bwd.push((it.key().to_vec(), it.value().to_vec()));
        r = it.prev();
    }
    expect_corruption(&r, len, "table backward scan");
    if fwd_ok && r.is_ok() {
        bwd.reverse();
        assert_eq!(bwd, fwd, "backward table scan = forward scan reversed");
        Some(fwd)
    } else {
        None
    }
}

fn sst_once(data: &[u8], verify: bool, mmap: bool) {
    let f = Scratch::new("sst");
    std::fs::write(&f.0, data).expect("write scratch table");
    let r = open_table(&f.0, data.len() as u64, verify, mmap);
    if let Err(Error::Corruption { file, .. }) = &r {
        assert_eq!(file.as_deref(), Some(f.0.as_path()), "open errors name the file");
    }
    expect_corruption(&r, data.len(), "Table::open");
    let Ok(t) = r else { return };
    let keys = scan_table(&t, data.len()).unwrap_or_default();
    // 20 gets: keys from the scan and keys that are not in it.
    let mut probes: Vec<Vec<u8>> =
        keys.iter().step_by(keys.len() / 10 + 1).map(|(k, _)| user_key(k).to_vec()).collect();
    probes.extend(data.chunks(7).take(20usize.saturating_sub(probes.len())).map(<[u8]>::to_vec));
    for uk in probes.iter().take(20) {
        for seq in [MAX_SEQ, 1] {
            let g = t.get(uk, seq);
            expect_corruption(&g, data.len(), "Table::get");
        }
    }
    for e in t.verify() {
        let r: strata_engine::Result<()> = Err(e);
        expect_corruption(&r, data.len(), "Table::verify");
    }
}

/// Bytes as an SST file: open (with the manifest size), scan both ways, 20 gets, verify.
/// Run as-is with checksums on, and CRC-fixed with data-block checksums off.
pub fn sst_open_scan(data: &[u8]) {
    let mmap = data.last().is_some_and(|b| b & 1 == 0);
    sst_once(data, true, mmap);
    let fixed = fix_sst_crcs(data);
    sst_once(&fixed, false, !mmap);
}

// ---------------------------------------------------------------------------------------
// sst_roundtrip
// ---------------------------------------------------------------------------------------

/// Arbitrary entries (decoded from the bytes) → sorted → TableBuilder → Table: every scan,
/// get and verify must agree with the input.
pub fn sst_roundtrip(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let opts = TableOptions {
        block_size: 256 + usize::from(data[0]) * 32,
        block_restart_interval: 1 + usize::from(data[1] % 32),
        bloom_bits_per_key: u32::from(data[2] % 16),
        compression: data[2] & 0x80 != 0,
        // zstd (table format version 2) for about one input in four.
        zstd_level: (data[1] & 0xc0 == 0xc0).then_some(1 + i32::from(data[0] % 5)),
        verify_checksums: true,
    };
    let mmap = data[2] & 0x40 != 0;
    // Entries: [klen][key][seq][kind|vlen_hi][vlen_lo][value...] (lengths clamped to the input).
    let mut entries: BTreeMap<Vec<u8>, (u64, ValueKind, Vec<u8>)> = BTreeMap::new();
    let mut d = &data[3..];
    while let Some((&klen, rest)) = d.split_first() {
        let klen = usize::from(klen % 24).min(rest.len());
        let (k, rest) = rest.split_at(klen);
        let Some((&seq, rest)) = rest.split_first() else { break };
        let Some((&kv, rest)) = rest.split_first() else { break };
        let kind = if kv & 1 == 1 { ValueKind::Put } else { ValueKind::Delete };
        let vlen = if kind == ValueKind::Put { usize::from(kv >> 1) * 13 } else { 0 };
        let take = vlen.min(rest.len());
        // Long values repeat the available bytes so big values are cheap to express.
        let v: Vec<u8> = rest[..take].iter().copied().cycle().take(if take == 0 { 0 } else { vlen }).collect();
        d = &rest[take..];
        let ik = internal_key(k, u64::from(seq), kind);
        entries.insert(ik, (u64::from(seq), kind, v));
    }
    let mut sorted: Vec<(Vec<u8>, Vec<u8>)> = entries.into_iter().map(|(k, (_, _, v))| (k, v)).collect();
    sorted.sort_by(|a, b| compare_internal(&a.0, &b.0));
    sorted.dedup_by(|a, b| compare_internal(&a.0, &b.0) == Ordering::Equal);

    let f = Scratch::new("sst");
    let file = std::fs::File::create(&f.0).expect("create scratch table");
    let mut b = TableBuilder::new(file, f.0.clone(), opts.clone());
    for (k, v) in &sorted {
        b.add(k, v).expect("sorted valid entries are accepted");
    }
    let props = match b.finish() {
        Ok(p) => p,
        Err(Error::InvalidArgument(_)) if sorted.is_empty() => return,
        Err(e) => panic!("finish failed: {e:?}"),
    };
    assert_eq!(props.num_entries, sorted.len() as u64);
    let t = Table::open(&f.0, 7, Some(props.file_size), &opts, mmap, None, Arc::new(Counters::default()))
        .expect("a freshly built table opens");
    let scanned = scan_table(&t, props.file_size as usize).expect("a fresh table scans without error");
    assert_eq!(scanned, sorted, "table contents = input");
    // Point reads: the newest version of each user key, at the top and at an older seq.
    let mut i = 0;
    while i < sorted.len() {
        let uk = user_key(&sorted[i].0).to_vec();
        let first = parse_internal_key(&sorted[i].0).expect("valid key");
        let got = t.get(&uk, MAX_SEQ).expect("get on a fresh table");
        let want_v = if first.kind == ValueKind::Put { sorted[i].1.clone() } else { Vec::new() };
        assert_eq!(got.map(|(k, v)| (k, v.to_vec())), Some((first.kind, want_v)), "get newest of {uk:?}");
        // Versions of this key are adjacent, newest (largest seq) first.
        let mut j = i;
        while j < sorted.len() && user_key(&sorted[j].0) == uk.as_slice() {
            j += 1;
        }
        if first.seq > 0 {
            let seq = first.seq - 1;
            let want = sorted[i..j].iter().find_map(|(k, v)| {
                let p = parse_internal_key(k).expect("valid key");
                (p.seq <= seq).then(|| (p.kind, if p.kind == ValueKind::Put { v.clone() } else { Vec::new() }))
            });
            let got = t.get(&uk, seq).expect("get at an older seq");
            assert_eq!(got.map(|(k, v)| (k, v.to_vec())), want, "get {uk:?} at seq {seq}");
        }
        i = j;
    }
    assert!(t.verify().is_empty(), "a fresh table verifies clean");
}
