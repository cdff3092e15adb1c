//! WAL recovery: round trips and the damage matrix (truncation, zeros, junk, bit flips,
//! bad types, bad lengths) in every recovery mode, plus a no-panic property test.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod common {
    #![allow(dead_code)]

    use std::path::{Path, PathBuf};

    use strata_engine::wal::{
        fragment_crc, read_log, read_log_bytes, LogWriter, RecoveryReport, BLOCK_SIZE, HEADER_SIZE,
    };
    use strata_engine::{Error, RecoveryMode};

    pub const MODES: [RecoveryMode; 3] =
        [RecoveryMode::TolerateCorruptedTail, RecoveryMode::PointInTime, RecoveryMode::Salvage];

    /// Small deterministic PRNG (xorshift64*).
    pub struct Rng(pub u64);

    impl Rng {
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

    /// One record as written: where it starts, where it ends, and its payload.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Rec {
        pub start: u64,
        pub end: u64,
        pub payload: Vec<u8>,
    }

    /// A physical fragment of an intact log.
    #[derive(Debug, Clone, Copy)]
    pub struct Frag {
        pub offset: usize,
        pub len: usize,
        pub typ: u8,
    }

    /// Writes `payloads` with `LogWriter` to `dir/name`; returns the path and the records.
    pub fn write_log(dir: &Path, name: &str, payloads: &[Vec<u8>]) -> (PathBuf, Vec<Rec>) {
        let path = dir.join(name);
        let mut w = LogWriter::create(&path).unwrap();
        let mut recs = Vec::new();
        for p in payloads {
            let before = w.len();
            let left = BLOCK_SIZE - (before as usize % BLOCK_SIZE);
            let start = if left < HEADER_SIZE { before + left as u64 } else { before };
            let end = w.add_record(p).unwrap();
            assert_eq!(end, w.len());
            recs.push(Rec { start, end, payload: p.clone() });
        }
        w.sync().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), w.len());
        (path, recs)
    }

    /// Random payloads of the given sizes.
    pub fn payloads(seed: u64, sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut rng = Rng(seed);
        sizes.iter().map(|&n| rng.bytes(n)).collect()
    }

    pub type Delivered = Vec<(u64, Vec<u8>)>;

    pub fn read_bytes(data: &[u8], mode: RecoveryMode, newest: bool) -> Result<(Delivered, RecoveryReport), Error> {
        let mut out = Vec::new();
        let rep = read_log_bytes(data, Path::new("mem.log"), mode, newest, &mut |off, p| {
            out.push((off, p.to_vec()));
            Ok(())
        })?;
        assert_eq!(rep.records, out.len() as u64);
        Ok((out, rep))
    }

    pub fn read_path(path: &Path, mode: RecoveryMode, newest: bool) -> Result<(Delivered, RecoveryReport), Error> {
        let mut out = Vec::new();
        let rep = read_log(path, mode, newest, &mut |off, p| {
            out.push((off, p.to_vec()));
            Ok(())
        })?;
        assert_eq!(rep.records, out.len() as u64);
        Ok((out, rep))
    }

    pub fn as_delivered(recs: &[Rec]) -> Delivered {
        recs.iter().map(|r| (r.start, r.payload.clone())).collect()
    }

    /// Lists the fragments of an intact log.
    pub fn fragments(data: &[u8]) -> Vec<Frag> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let left = BLOCK_SIZE - pos % BLOCK_SIZE;
            if left < HEADER_SIZE {
                pos += left;
                continue;
            }
            let len = u16::from_le_bytes([data[pos + 4], data[pos + 5]]) as usize;
            out.push(Frag { offset: pos, len, typ: data[pos + 6] });
            pos += HEADER_SIZE + len;
        }
        out
    }

    /// One physical fragment with a correct checksum.
    pub fn frag(typ: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&fragment_crc(typ, payload).to_le_bytes());
        v.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        v.push(typ);
        v.extend_from_slice(payload);
        v
    }

    /// Asserts `r` is a `Corruption` naming `file`, and returns its offset.
    pub fn corruption_offset<T: std::fmt::Debug>(r: Result<T, Error>, file: &Path) -> u64 {
        match r {
            Err(Error::Corruption { file: Some(f), offset: Some(o), .. }) => {
                assert_eq!(f, file);
                o
            }
            other => panic!("expected Corruption in {}, got {other:?}", file.display()),
        }
    }
}

use common::*;
use proptest::prelude::*;
use strata_engine::wal::{BLOCK_SIZE, HEADER_SIZE, TYPE_FIRST, TYPE_FULL, TYPE_LAST, TYPE_MIDDLE};
use strata_engine::RecoveryMode::{PointInTime, Salvage, TolerateCorruptedTail};

/// Size of a record that, written at block offset `off`, leaves exactly `leave` bytes in its block.
fn size_leaving(off: usize, leave: usize) -> usize {
    let off = if BLOCK_SIZE - off < HEADER_SIZE { 0 } else { off };
    BLOCK_SIZE - off - HEADER_SIZE - leave
}

/// Payload sizes covering 0, 1, the trailer edge cases and multi-block records.
fn edge_sizes() -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut off = 0usize;
    // Mirrors the writer's layout to track the block offset.
    fn push(sizes: &mut Vec<usize>, off: &mut usize, n: usize) {
        sizes.push(n);
        let mut rest = n;
        loop {
            if BLOCK_SIZE - *off < HEADER_SIZE {
                *off = 0;
            }
            let take = rest.min(BLOCK_SIZE - *off - HEADER_SIZE);
            *off += HEADER_SIZE + take;
            rest -= take;
            if rest == 0 {
                break;
            }
        }
    }
    for n in [0, 1, 100] {
        push(&mut sizes, &mut off, n);
    }
    for leave in [7, 6, 0, 3, 8] {
        let n = size_leaving(off, leave);
        push(&mut sizes, &mut off, n);
        push(&mut sizes, &mut off, 0);
        push(&mut sizes, &mut off, 1);
    }
    for n in [32 * 1024, 100 * 1024, 40_000, 0, 65_536, 5] {
        push(&mut sizes, &mut off, n);
    }
    let n = size_leaving(off, 7);
    push(&mut sizes, &mut off, n);
    push(&mut sizes, &mut off, 10);
    sizes
}

#[test]
fn empty_file_has_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.log");
    std::fs::write(&path, b"").unwrap();
    for mode in MODES {
        for newest in [true, false] {
            let (got, rep) = read_path(&path, mode, newest).unwrap();
            assert!(got.is_empty());
            assert_eq!(rep, Default::default());
        }
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = read_path(&dir.path().join("nope.log"), TolerateCorruptedTail, true);
    assert!(matches!(r, Err(strata_engine::Error::Io { path: Some(_), .. })));
}

#[test]
fn round_trip_edge_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = edge_sizes();
    let (path, recs) = write_log(dir.path(), "rt.log", &payloads(1, &sizes));
    let data = std::fs::read(&path).unwrap();
    // The trailer cases really happened: some records start right after <7-byte trailers.
    assert!(recs.iter().any(|r| r.start % BLOCK_SIZE as u64 == 0 && r.start > 0));
    for mode in MODES {
        for newest in [true, false] {
            let (got, rep) = read_path(&path, mode, newest).unwrap();
            assert_eq!(got, as_delivered(&recs));
            assert_eq!(rep.valid_len, data.len() as u64);
            assert_eq!(rep.dropped_tail, None);
            assert!(rep.skipped.is_empty());
        }
    }
    // Fragments never cross a block and types are well formed.
    for f in fragments(&data) {
        assert!(f.offset % BLOCK_SIZE + HEADER_SIZE + f.len <= BLOCK_SIZE);
        assert!((TYPE_FULL..=TYPE_LAST).contains(&f.typ));
    }
}

#[test]
fn callback_error_stops_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_log(dir.path(), "cb.log", &payloads(2, &[10, 20, 30]));
    let mut n = 0;
    let r = strata_engine::wal::read_log(&path, TolerateCorruptedTail, true, &mut |_, _| {
        n += 1;
        if n == 2 {
            Err(strata_engine::Error::InvalidArgument("stop".into()))
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(strata_engine::Error::InvalidArgument(_))));
    assert_eq!(n, 2);
}

/// Checks a cut log: every mode delivers exactly the records wholly before `cut`.
fn check_truncated(data: &[u8], recs: &[Rec], cut: usize) {
    let prefix = data.get(..cut).unwrap();
    let whole: Vec<Rec> = recs.iter().filter(|r| r.end as usize <= cut).cloned().collect();
    for mode in MODES {
        let (got, rep) = read_bytes(prefix, mode, true).unwrap_or_else(|e| panic!("cut at {cut} in {mode:?}: {e}"));
        assert_eq!(got, as_delivered(&whole), "cut at {cut} in {mode:?}");
        assert_eq!(rep.valid_len, whole.last().map_or(0, |r| r.end), "cut at {cut}");
        if let Some((off, _)) = &rep.dropped_tail {
            assert!(*off >= rep.valid_len && (*off as usize) < cut, "cut at {cut}: {rep:?}");
        }
    }
}

#[test]
fn truncate_at_every_offset_of_the_last_three_records() {
    let dir = tempfile::tempdir().unwrap();
    // The third-to-last record spans the first block boundary.
    let (path, recs) = write_log(dir.path(), "cut.log", &payloads(3, &[0, 1, 500, 29_000, 9_000, 7, 300]));
    let data = std::fs::read(&path).unwrap();
    assert!(recs[4].start < BLOCK_SIZE as u64 && recs[4].end > BLOCK_SIZE as u64);
    let from = recs[recs.len() - 3].start as usize;
    for cut in from..=data.len() {
        check_truncated(&data, &recs, cut);
    }
}

#[test]
fn truncate_at_random_offsets_of_big_records() {
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "big.log", &payloads(4, &[100 * 1024, 33_000, 70_000, 10, 64 * 1024]));
    let data = std::fs::read(&path).unwrap();
    let mut rng = Rng(99);
    let mut cuts: Vec<usize> = (0..150).map(|_| rng.below(data.len() + 1)).collect();
    cuts.extend(recs.iter().map(|r| r.end as usize));
    cuts.extend([0, 1, 6, 7, BLOCK_SIZE, BLOCK_SIZE + 6, BLOCK_SIZE + 7]);
    for cut in cuts {
        check_truncated(&data, &recs, cut);
    }
    // Also through the file API.
    let short = dir.path().join("short.log");
    std::fs::write(&short, &data[..data.len() - 1000]).unwrap();
    let (got, rep) = read_path(&short, TolerateCorruptedTail, true).unwrap();
    assert_eq!(got, as_delivered(&recs[..recs.len() - 1]));
    assert_eq!(rep.dropped_tail.unwrap().0, recs[recs.len() - 1].start);
    // An older WAL may not have a torn tail: the damaged fragment is named.
    let off = corruption_offset(read_path(&short, TolerateCorruptedTail, false), &short);
    assert_eq!(off, fragment_at_cut(&data, data.len() - 1000));
}

/// Offset of the fragment that the end of a file cut at `cut` falls in.
fn fragment_at_cut(data: &[u8], cut: usize) -> u64 {
    fragments(data).iter().rfind(|f| f.offset < cut).unwrap().offset as u64
}

#[test]
fn trailing_zeros_and_junk_are_a_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "tail.log", &payloads(5, &[10, 40_000, 0, 123]));
    let data = std::fs::read(&path).unwrap();
    let mut rng = Rng(7);
    for n in [1usize, 2, 6, 7, 8, 100, 4096, 32 * 1024 - 1, 32 * 1024, 50_000, 64 * 1024] {
        for junk in [false, true] {
            let mut d = data.clone();
            if junk {
                d.extend(rng.bytes(n));
            } else {
                d.resize(d.len() + n, 0);
            }
            for mode in MODES {
                let (got, rep) = read_bytes(&d, mode, true).unwrap_or_else(|e| panic!("{n} junk={junk}: {e}"));
                assert_eq!(got, as_delivered(&recs), "{n} bytes junk={junk} {mode:?}");
                assert_eq!(rep.valid_len, data.len() as u64);
                // Below 7 bytes, a header cannot even be read: still reported as a cut tail.
                let (off, _) = rep.dropped_tail.expect("tail reported");
                assert_eq!(off, data.len() as u64);
            }
            // Not the newest log: any damage is corruption.
            let e = read_bytes(&d, TolerateCorruptedTail, false);
            assert!(
                matches!(e, Err(strata_engine::Error::Corruption { offset: Some(o), .. }) if o == data.len() as u64)
            );
        }
    }
    // Zeros that only fill the current block's trailer are not damage at all.
    let (path2, recs2) = write_log(dir.path(), "trailer.log", &payloads(6, &[size_leaving(0, 3)]));
    let mut d = std::fs::read(&path2).unwrap();
    d.extend([0, 0, 0]);
    let (got, rep) = read_bytes(&d, TolerateCorruptedTail, false).unwrap();
    assert_eq!(got, as_delivered(&recs2));
    assert_eq!(rep.dropped_tail, None);
}

/// Salvage may lose, besides the damaged record, only records that start in the rest of
/// the damaged block.
fn check_salvage(got: &Delivered, recs: &[Rec], i: usize, damaged_at: usize, exact: bool) {
    let block_end = (damaged_at / BLOCK_SIZE + 1) * BLOCK_SIZE;
    let mut it = got.iter();
    let mut next = it.next();
    for (j, r) in recs.iter().enumerate() {
        let may_lose = j == i || (r.start as usize >= damaged_at && (r.start as usize) < block_end && !exact);
        if next == Some(&(r.start, r.payload.clone())) && j != i {
            next = it.next();
        } else {
            assert!(may_lose, "salvage lost record {j} (damage in record {i} at {damaged_at})");
        }
    }
    assert_eq!(next, None, "salvage delivered an unexpected record");
}

#[test]
fn bit_flips_in_a_middle_record() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [50, 0, 3000, 40_000, 200, 70_000, 1, 20_000, 33, 500];
    let (path, recs) = write_log(dir.path(), "flip.log", &payloads(8, &sizes));
    let data = std::fs::read(&path).unwrap();
    let frags = fragments(&data);
    let mut rng = Rng(11);
    let mut cases = 0;
    for i in 0..recs.len() - 1 {
        let r = &recs[i];
        let mine: Vec<Frag> =
            frags.iter().copied().filter(|f| f.offset as u64 >= r.start && (f.offset as u64) < r.end).collect();
        for f in &mine {
            // Every header bit, plus a few payload bits.
            let mut bits: Vec<usize> = (0..HEADER_SIZE * 8).map(|b| f.offset * 8 + b).collect();
            for _ in 0..3 {
                if f.len > 0 {
                    bits.push((f.offset + HEADER_SIZE + rng.below(f.len)) * 8 + rng.below(8));
                }
            }
            for bit in bits {
                cases += 1;
                let mut d = data.clone();
                d[bit / 8] ^= 1 << (bit % 8);
                std::fs::write(&path, &d).unwrap();
                let off = corruption_offset(read_path(&path, TolerateCorruptedTail, true), &path);
                assert_eq!(off as usize, f.offset, "record {i}, bit {bit}");

                let (got, rep) = read_bytes(&d, PointInTime, true).unwrap();
                assert_eq!(got, as_delivered(&recs[..i]), "PIT record {i} bit {bit}");
                assert_eq!(rep.dropped_tail.unwrap().0, r.start);

                let (got, rep) = read_bytes(&d, Salvage, true).unwrap();
                let in_payload = bit / 8 >= f.offset + HEADER_SIZE;
                check_salvage(&got, &recs, i, f.offset, in_payload);
                // Skipped, or (when nothing could be resynchronised in the rest of the
                // block and no block follows) cut as a tail.
                let first = rep.skipped.first().map(|s| s.0);
                let first = first.or(rep.dropped_tail.as_ref().map(|t| t.0));
                assert_eq!(first, Some(r.start), "record {i} bit {bit}: {rep:?}");
            }
        }
    }
    assert!(cases > 500);
}

#[test]
fn salvage_loses_at_most_the_rest_of_the_damaged_block() {
    // Many small records per block; smash the length field of one so it cannot be followed.
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "gran.log", &payloads(12, &vec![1000; 100]));
    let mut data = std::fs::read(&path).unwrap();
    let i = 10; // in block 0
    let at = recs[i].start as usize;
    data[at + 4] = 0xff;
    data[at + 5] = 0x7f; // length 32767: past the block
    let (got, rep) = read_bytes(&data, Salvage, true).unwrap();
    let lost: Vec<usize> = (0..recs.len()).filter(|&j| !got.iter().any(|g| g.0 == recs[j].start)).collect();
    // Records 10.. up to the end of block 0 (and the one crossing into block 1) are lost; nothing else.
    let block_end = BLOCK_SIZE as u64;
    let expect: Vec<usize> = (0..recs.len()).filter(|&j| j >= i && recs[j].start < block_end).collect();
    assert_eq!(lost, expect);
    assert!(lost.len() < 40);
    assert_eq!(rep.skipped.len(), 1);
    assert_eq!(rep.skipped[0].0, at as u64);
    check_salvage(&got, &recs, i, at, false);
    // Default mode names the damaged fragment; point-in-time stops there.
    assert_eq!(
        corruption_offset(read_bytes(&data, TolerateCorruptedTail, true), std::path::Path::new("mem.log")),
        at as u64
    );
    assert_eq!(read_bytes(&data, PointInTime, true).unwrap().0, as_delivered(&recs[..i]));
}

#[test]
fn damaged_last_record_is_a_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "last.log", &payloads(13, &[10, 20, 50_000]));
    let data = std::fs::read(&path).unwrap();
    let last = recs.last().unwrap();
    // Corrupt the checksum of the last record's first fragment, or its last fragment.
    for at in [last.start as usize + 1, data.len() - 3] {
        let mut d = data.clone();
        d[at] ^= 0x10;
        for mode in MODES {
            let (got, rep) = read_bytes(&d, mode, true).unwrap();
            assert_eq!(got, as_delivered(&recs[..2]), "{mode:?}");
            assert_eq!(rep.dropped_tail.unwrap().0, last.start);
        }
        corruption_offset(read_bytes(&d, TolerateCorruptedTail, false), std::path::Path::new("mem.log"));
    }
}

#[test]
fn bad_and_out_of_sequence_types() {
    let mem = std::path::Path::new("mem.log");
    let a = frag(TYPE_FULL, b"a");
    let b = frag(TYPE_FULL, b"bb");
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("orphan middle", vec![a.clone(), frag(TYPE_MIDDLE, b"m"), b.clone()]),
        ("orphan last", vec![a.clone(), frag(TYPE_LAST, b"l"), b.clone()]),
        ("first then full", vec![a.clone(), frag(TYPE_FIRST, b"f"), b.clone()]),
        ("first then first", vec![a.clone(), frag(TYPE_FIRST, b"f"), frag(TYPE_FIRST, b"b"), frag(TYPE_LAST, b"b")]),
        ("unknown type 9", vec![a.clone(), frag(9, b"x"), b.clone()]),
        ("type 0 with a valid crc", vec![a.clone(), frag(0, b"x"), b.clone()]),
        ("type byte 2 with crc of 1", {
            let mut f = frag(TYPE_FULL, b"x");
            f[6] = TYPE_FIRST;
            vec![a.clone(), f, b.clone()]
        }),
    ];
    for (name, parts) in cases {
        let damaged_at = a.len() as u64;
        let data: Vec<u8> = parts.concat();
        let off = corruption_offset(read_bytes(&data, TolerateCorruptedTail, true), mem);
        // Out-of-sequence fragments are reported where the sequence breaks.
        let expect_off = if name == "first then full" || name == "first then first" {
            damaged_at + parts[1].len() as u64
        } else {
            damaged_at
        };
        assert_eq!(off, expect_off, "{name}");
        let (got, rep) = read_bytes(&data, PointInTime, true).unwrap();
        assert_eq!(got, vec![(0, b"a".to_vec())], "{name}");
        assert_eq!(rep.dropped_tail.unwrap().0, damaged_at, "{name}");
        let (got, rep) = read_bytes(&data, Salvage, true).unwrap();
        let last = got.last().unwrap();
        assert_eq!(got.len(), 2, "{name}: {got:?}");
        assert_eq!(got[0], (0, b"a".to_vec()));
        assert_eq!(last.1, b"bb".to_vec(), "{name}");
        assert_eq!(rep.skipped.len(), 1, "{name}: {rep:?}");
        assert_eq!(rep.skipped[0].0, damaged_at, "{name}");
    }

    // Unknown type or incomplete record at the very end: a tail.
    for tail in [frag(9, b"x"), frag(TYPE_FIRST, b"f"), [frag(TYPE_FIRST, b"f"), frag(TYPE_MIDDLE, b"g")].concat()] {
        let data = [a.clone(), tail].concat();
        for mode in MODES {
            let (got, rep) = read_bytes(&data, mode, true).unwrap();
            assert_eq!(got, vec![(0, b"a".to_vec())]);
            assert_eq!(rep.dropped_tail.unwrap().0, a.len() as u64);
        }
        assert_eq!(corruption_offset(read_bytes(&data, TolerateCorruptedTail, false), mem), a.len() as u64);
    }
    // An orphan LAST at the end cannot come from an interrupted write: corruption.
    let data = [a.clone(), frag(TYPE_LAST, b"l")].concat();
    assert_eq!(corruption_offset(read_bytes(&data, TolerateCorruptedTail, true), mem), a.len() as u64);
}

#[test]
fn bad_length_fields() {
    let mem = std::path::Path::new("mem.log");
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "len.log", &payloads(14, &[100, 200, 300, 400]));
    let data = std::fs::read(&path).unwrap();
    assert!(data.len() < BLOCK_SIZE);
    let set_len = |d: &mut Vec<u8>, at: usize, len: u16| d[at + 4..at + 6].copy_from_slice(&len.to_le_bytes());
    for (i, r) in recs.iter().enumerate() {
        let at = r.start as usize;
        let past_eof = (data.len() - at) as u16; // fits the block, runs past EOF
        for (what, len) in [("past eof", past_eof), ("past block", u16::MAX), ("shorter", 10), ("longer", 250)] {
            let mut d = data.clone();
            set_len(&mut d, at, len);
            let is_last = i == recs.len() - 1;
            if is_last {
                let (got, rep) = read_bytes(&d, TolerateCorruptedTail, true).unwrap();
                assert_eq!(got, as_delivered(&recs[..i]), "{what}");
                assert_eq!(rep.dropped_tail.unwrap().0, r.start);
            } else {
                assert_eq!(
                    corruption_offset(read_bytes(&d, TolerateCorruptedTail, true), mem),
                    r.start,
                    "{what} in {i}"
                );
            }
            let (got, _) = read_bytes(&d, PointInTime, true).unwrap();
            assert_eq!(got, as_delivered(&recs[..i]), "{what}");
            let (got, _) = read_bytes(&d, Salvage, true).unwrap();
            check_salvage(&got, &recs, i, at, false);
        }
    }
}

#[test]
fn damage_in_an_older_block_with_clean_later_blocks() {
    // Zeroed block in the middle of a log (e.g. a lost page): corruption in default mode,
    // salvage recovers everything outside the zeroed block.
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "zero.log", &payloads(15, &vec![5000; 30]));
    let mut data = std::fs::read(&path).unwrap();
    data[BLOCK_SIZE..2 * BLOCK_SIZE].fill(0);
    let off = corruption_offset(read_bytes(&data, TolerateCorruptedTail, true), std::path::Path::new("mem.log"));
    assert_eq!(off as usize, BLOCK_SIZE);
    let (got, rep) = read_bytes(&data, Salvage, true).unwrap();
    for r in &recs {
        let touches = r.end as usize > BLOCK_SIZE && (r.start as usize) < 2 * BLOCK_SIZE;
        assert_eq!(got.iter().any(|g| g.0 == r.start), !touches);
    }
    assert_eq!(rep.skipped.len(), 1);
    let (got, _) = read_bytes(&data, PointInTime, true).unwrap();
    assert_eq!(got.len(), recs.iter().filter(|r| r.end as usize <= BLOCK_SIZE).count());
}

fn sample_log() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_log(dir.path(), "p.log", &payloads(16, &[10, 0, 33_000, 100, 7, 2000]));
    std::fs::read(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40_000)) {
        for mode in MODES {
            for newest in [true, false] {
                let _ = read_bytes(&data, mode, newest);
            }
        }
    }

    #[test]
    fn mutated_logs_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut data = sample_log();
        for (at, v) in edits {
            let i = at.index(data.len());
            data[i] = v;
        }
        let keep = cut.index(data.len() + 1);
        data.truncate(keep);
        for mode in MODES {
            for newest in [true, false] {
                if let Ok((got, rep)) = read_bytes(&data, mode, newest) {
                    prop_assert!(rep.valid_len as usize <= data.len());
                    prop_assert_eq!(rep.records as usize, got.len());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Soak (RELIABILITY T5): every byte offset of a ~2 MiB WAL.

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Payload sizes adding up to at least `total` bytes: the edge sizes (0 B, 1 B, the trailer
/// cases, 32-100 KiB records spanning blocks) between runs of random small and medium ones.
fn soak_sizes(seed: u64, total: usize) -> Vec<usize> {
    let mut rng = Rng(seed | 1);
    let mut sizes: Vec<usize> = Vec::new();
    let mut bytes = 0;
    let edges = edge_sizes();
    while bytes < total {
        // The edge cases (their trailer arithmetic assumes they start a block: they do the
        // first time round; later rounds still give 0 B, 1 B and multi-block records), then
        // 200 random sizes.
        for n in edges.iter().copied().chain((0..200).map(|_| match rng.below(10) {
            0 => 0,
            1 => rng.below(8),
            2..=7 => rng.below(2_000),
            8 => rng.below(20_000),
            _ => 32 * 1024 + rng.below(68 * 1024),
        })) {
            if bytes >= total {
                break;
            }
            sizes.push(n);
            bytes += n + HEADER_SIZE;
        }
    }
    sizes
}

/// What a replay must deliver: `(offset, payload)` of each record, in order.
type Expected<'a> = Vec<(u64, &'a [u8])>;

/// Replays `data` (the newest WAL) in `mode`, comparing each delivered record with `want`
/// in place (no copies); returns the number delivered and the report, or a mismatch.
fn replay_against(
    data: &[u8],
    want: &[(u64, &[u8])],
    mode: strata_engine::RecoveryMode,
) -> Result<(usize, strata_engine::wal::RecoveryReport), String> {
    let mut n = 0usize;
    let mut bad: Option<String> = None;
    let rep = strata_engine::wal::read_log_bytes(data, std::path::Path::new("soak.log"), mode, true, &mut |off, p| {
        match want.get(n) {
            Some(&(o, w)) if o == off && w == p => {}
            _ if bad.is_none() => {
                bad = Some(format!("record {n} at offset {off} ({} bytes) is not the one written", p.len()))
            }
            _ => {}
        }
        n += 1;
        Ok(())
    })
    .map_err(|e| format!("{mode:?}: {e}"))?;
    match bad {
        Some(b) => Err(format!("{mode:?}: {b}")),
        None => Ok((n, rep)),
    }
}

/// Checks that `data` (a cut log, maybe with zeros or junk appended at `cut`) yields exactly
/// the records of `want` (the ones wholly before the cut), with no error, in every mode.
fn check_cut(data: &[u8], want: &[(u64, &[u8])], valid: u64, cut: usize) -> Result<(), String> {
    for mode in MODES {
        let (n, rep) = replay_against(data, want, mode)?;
        if n != want.len() || rep.valid_len != valid {
            return Err(format!(
                "{mode:?}: {n} records up to {}, expected {} up to {valid}",
                rep.valid_len,
                want.len()
            ));
        }
        if let Some((off, _)) = &rep.dropped_tail {
            // A cut that leaves fewer than HEADER_SIZE bytes of its block is in the block's
            // trailer padding, which the reader skips: what follows the cut is then first
            // seen (and reported) at the next block boundary.
            let left = BLOCK_SIZE - cut % BLOCK_SIZE;
            let latest = if left < HEADER_SIZE { cut + left } else { cut };
            if *off < valid || *off as usize > latest {
                return Err(format!("{mode:?}: tail reported at {off}, outside {valid}..={latest}"));
            }
        }
    }
    Ok(())
}

/// The records of `recs` as `Expected`, shifted down by `base`.
fn expected(recs: &[Rec], base: u64) -> Expected<'_> {
    recs.iter().map(|r| (r.start - base, r.payload.as_slice())).collect()
}

/// A log the reader parses exactly as it parses `data` from the block boundary `base` before
/// `recs[r]` on: a FULL record filling the block up to where `recs[r]` starts, then the
/// original bytes. At a block boundary where no record is open the reader carries nothing
/// but the records delivered so far (`docs/format.md`), so replaying `window[..cut - base]`
/// is replaying `data[..cut]` minus the records wholly before `base` (every cut keeps those
/// intact). Returns the window, `base`, and the filler's payload (None when `recs[r]` starts
/// the block).
fn window(data: &[u8], recs: &[Rec], r: usize, end: usize) -> (Vec<u8>, u64, Option<Vec<u8>>) {
    let start = recs[r].start as usize;
    let base = start / BLOCK_SIZE * BLOCK_SIZE;
    let gap = start - base;
    // A fragment is at least a header long, so no record starts 1-6 bytes into a block.
    assert!(gap == 0 || gap >= HEADER_SIZE);
    let mut w = Vec::with_capacity(end - base);
    let filler = (gap > 0).then(|| vec![b'f'; gap - HEADER_SIZE]);
    if let Some(f) = &filler {
        w.extend(frag(TYPE_FULL, f));
    }
    w.extend_from_slice(&data[start..end]);
    (w, base as u64, filler)
}

#[test]
fn soak_truncate_at_every_offset_of_a_2mib_wal() {
    let secs = env_u64("STRATA_SOAK_SECS");
    let bytes = env_u64("STRATA_T5_SOAK_BYTES");
    if secs.is_none() && bytes.is_none() {
        println!("T5 soak: set STRATA_SOAK_SECS (or STRATA_T5_SOAK_BYTES) to run it");
        return;
    }
    let t0 = std::time::Instant::now();
    let until = secs.map(|s| t0 + std::time::Duration::from_secs(s));
    let size = bytes.map_or(2 << 20, |b| b as usize);
    let seed = env_u64("STRATA_TEST_SEED").unwrap_or(0x7575);
    let dir = tempfile::tempdir().unwrap();
    let (path, recs) = write_log(dir.path(), "soak.log", &payloads(seed, &soak_sizes(seed, size)));
    let data = std::fs::read(&path).unwrap();
    let len = data.len();
    // The expected result of every cut, built once: the number of records wholly before it.
    let mut whole_before = Vec::with_capacity(len + 1);
    let mut n = 0;
    for cut in 0..=len {
        while n < recs.len() && recs[n].end as usize <= cut {
            n += 1;
        }
        whole_before.push(n);
    }
    // Cuts grouped by the last record wholly before them: cuts of group r replay a window
    // starting at the block of record r (see `window`); cuts before the first record's end
    // replay the prefix itself.
    let mut groups: Vec<(Option<usize>, std::ops::Range<usize>)> = vec![(None, 0..recs[0].end as usize)];
    for r in 0..recs.len() {
        let to = recs.get(r + 1).map_or(len + 1, |n| n.end as usize);
        groups.push((Some(r), recs[r].end as usize..to));
    }
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get()).min(4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let fail = |msg: String| {
        let mut f = failures.lock().unwrap();
        if f.len() < 20 {
            f.push(msg);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((r, cuts)) = groups.get(g) else { return };
                let Some(r) = *r else {
                    for cut in cuts.clone() {
                        check_cut(&data[..cut], &[], 0, cut).unwrap_or_else(|e| fail(format!("cut at {cut}: {e}")));
                    }
                    continue;
                };
                assert_eq!(whole_before[cuts.start], r + 1);
                let (win, base, filler) = window(&data, &recs, r, cuts.end - 1);
                let mut want: Expected<'_> = filler.as_deref().map(|f| (0, f)).into_iter().collect();
                want.extend(expected(&recs[r..=r], base));
                let valid = recs[r].end - base;
                for cut in cuts.clone() {
                    let rel = cut - base as usize;
                    check_cut(&win[..rel], &want, valid, rel).unwrap_or_else(|e| fail(format!("cut at {cut}: {e}")));
                }
            });
        }
    });
    // Cross-check of the windows: every 4,093rd cut and the last 64 replay the whole prefix.
    let mut full = 0;
    for cut in (0..=len).step_by(4093).chain(len.saturating_sub(64)..=len) {
        let w = whole_before[cut];
        let valid = w.checked_sub(1).map_or(0, |i| recs[i].end);
        check_cut(&data[..cut], &expected(&recs[..w], 0), valid, cut)
            .unwrap_or_else(|e| fail(format!("full cut at {cut}: {e}")));
        full += 1;
    }
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} cuts failed, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    let every_secs = t0.elapsed().as_secs_f64();
    let cuts = len + 1;
    // Until the time is up: fresh WALs, random cuts followed by zeros or junk (case b), and
    // bit flips in a record other than the last (case c: Corruption at that fragment in the
    // default mode, exactly the records before it in point-in-time mode), on whole prefixes.
    let (mut wals, mut junk_cases, mut flips) = (0u64, 0u64, 0u64);
    let mut rng = Rng(seed ^ 0xB5B5);
    while until.is_some_and(|u| std::time::Instant::now() < u) {
        wals += 1;
        let (p, recs) = write_log(
            dir.path(),
            &format!("soak{wals}.log"),
            &payloads(seed + wals, &soak_sizes(seed + wals, 1 << 20)),
        );
        let data = std::fs::read(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let frags = fragments(&data);
        let last_start = recs.last().unwrap().start as usize;
        for _ in 0..100 {
            let cut = rng.below(data.len() + 1);
            let w = recs.iter().take_while(|r| r.end as usize <= cut).count();
            let valid = w.checked_sub(1).map_or(0, |i| recs[i].end);
            let mut d = data[..cut].to_vec();
            let n = 1 + rng.below(64 * 1024);
            if rng.below(2) == 0 {
                d.resize(cut + n, 0);
            } else {
                d.extend(rng.bytes(n));
            }
            check_cut(&d, &expected(&recs[..w], 0), valid, cut)
                .unwrap_or_else(|e| panic!("WAL {wals}: cut at {cut} + {n} bytes: {e}"));
            junk_cases += 1;

            let f = frags[rng.below(frags.len())];
            if f.offset >= last_start {
                continue;
            }
            let i = recs.iter().rposition(|r| r.start as usize <= f.offset).unwrap();
            let bit = (f.offset + rng.below(HEADER_SIZE + f.len)) * 8 + rng.below(8);
            let mut d = data.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let off = corruption_offset(read_bytes(&d, TolerateCorruptedTail, true), std::path::Path::new("mem.log"));
            assert_eq!(off as usize, f.offset, "WAL {wals}: flip of bit {bit}");
            let (got, _) = replay_against(&d, &expected(&recs[..i], 0), PointInTime).unwrap();
            assert_eq!(got, i, "WAL {wals}: point-in-time after a flip of bit {bit} in record {i}");
            flips += 1;
        }
    }
    println!(
        "SOAK-SUMMARY T5: WAL of {len} bytes, {} records: every offset, {cuts} cuts x 3 modes = {} recoveries \
         ({full} of them of the whole prefix, the rest from a block-aligned window) in {every_secs:.0} s, 0 failures; \
         then {wals} more WALs of 1 MiB: {junk_cases} cut+zeros/junk cases x 3 modes, {flips} bit flips, 0 failures; \
         {:.0} s in all",
        recs.len(),
        cuts * 3,
        t0.elapsed().as_secs_f64()
    );
}
