//! Damaged SSTables: bit flips in data blocks and the footer, truncation, size mismatch and
//! arbitrary bytes are reported as `Corruption` naming the file, never a panic or SIGBUS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use strata_engine::cache::BlockCache;
use strata_engine::iter::InternalIterator;
use strata_engine::key::{internal_key, user_key, ValueKind};
use strata_engine::stats::Counters;
use strata_engine::table::{Table, TableBuilder, FOOTER_LEN};
use strata_engine::{Error, TableOptions};

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn entries(n: u32) -> Entries {
    (0..n)
        .map(|i| {
            let kind = if i % 7 == 3 { ValueKind::Delete } else { ValueKind::Put };
            let v = if kind == ValueKind::Delete {
                Vec::new()
            } else {
                format!("value-{i}-{}", "x".repeat((i % 13) as usize)).into_bytes()
            };
            (internal_key(format!("key{i:06}").as_bytes(), u64::from(i) + 1, kind), v)
        })
        .collect()
}

fn build(path: &Path, entries: &Entries, o: &TableOptions) -> u64 {
    let f = std::fs::File::create(path).expect("create");
    let mut b = TableBuilder::new(f, path.to_path_buf(), o.clone());
    for (k, v) in entries {
        b.add(k, v).expect("add");
    }
    b.finish().expect("finish").file_size
}

fn open(path: &Path, mmap: bool, o: &TableOptions) -> strata_engine::Result<Arc<Table>> {
    Table::open(path, 1, None, o, mmap, Some(Arc::new(BlockCache::new(1 << 20))), Arc::new(Counters::default()))
}

fn assert_corruption_of(e: &Error, path: &Path) {
    match e {
        Error::Corruption { file, .. } => assert_eq!(file.as_deref(), Some(path), "{e}"),
        other => panic!("expected Corruption naming {}, got {other:?}", path.display()),
    }
}

fn setup(name: &str, compression: bool) -> (tempfile::TempDir, PathBuf, Entries, TableOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    let e = entries(2000);
    let o = TableOptions { compression, ..TableOptions::default() };
    build(&path, &e, &o);
    (dir, path, e, o)
}

fn flip(path: &Path, offset: u64, mask: u8) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset as usize] ^= mask;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn data_block_bit_flip_is_confined_to_its_block() {
    for compression in [false, true] {
        for mmap in [true, false] {
            let (_dir, path, e, o) = setup("flip.sst", compression);
            flip(&path, 100, 0x10); // inside the first data block
            let t = open(&path, mmap, &o).expect("metadata is intact");
            let mut bad = 0;
            for (i, (k, v)) in e.iter().enumerate() {
                match t.get(user_key(k), u64::MAX >> 8) {
                    Err(err) => {
                        assert_corruption_of(&err, &path);
                        assert_eq!(bad, i, "only a prefix of keys (the first block) fails");
                        bad += 1;
                    }
                    Ok(got) => {
                        let (kind, val) = got.expect("present");
                        assert_eq!(kind, if v.is_empty() && (i % 7 == 3) { ValueKind::Delete } else { ValueKind::Put });
                        assert_eq!(&val[..], &v[..]);
                    }
                }
            }
            assert!(bad > 0 && bad < e.len(), "{bad} keys failed");
            // Errors are not cached: asking again fails again.
            assert!(t.get(user_key(&e[0].0), u64::MAX >> 8).is_err());
            // Iteration from the start fails; from the last block it works.
            let mut it = t.iter();
            let err = it.seek_to_first().expect_err("first block is corrupt");
            assert_corruption_of(&err, &path);
            assert!(!it.valid());
            it.seek_to_last().expect("last block is fine");
            let mut n = 0;
            while it.valid() {
                n += 1;
                if it.prev().is_err() {
                    break;
                }
            }
            assert_eq!(n, e.len() - bad, "backward iteration reaches every key outside the bad block");
            it.seek(&e[bad].0).expect("seek into a good block");
            assert_eq!(it.key(), &e[bad].0[..]);
            assert!(it.prev().is_err());
            assert!(!it.valid());
            // verify() reports it with file and offset.
            let problems = t.verify();
            assert!(!problems.is_empty());
            match &problems[0] {
                Error::Corruption { file, offset, .. } => {
                    assert_eq!(file.as_deref(), Some(path.as_path()));
                    assert_eq!(*offset, Some(0));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn checksum_off_still_never_panics_on_damaged_blocks() {
    let (_dir, path, e, _) = setup("nocrc.sst", true);
    let o = TableOptions { verify_checksums: false, ..TableOptions::default() };
    let size = std::fs::metadata(&path).expect("meta").len();
    let pristine = std::fs::read(&path).expect("read");
    for off in (0..size - FOOTER_LEN as u64).step_by(97) {
        std::fs::write(&path, &pristine).expect("write");
        flip(&path, off, 0x55);
        let Ok(t) = open(&path, off % 2 == 0, &o) else { continue };
        for (k, _) in e.iter().step_by(50) {
            let _ = t.get(user_key(k), u64::MAX >> 8);
        }
        let mut it = t.iter();
        if it.seek_to_first().is_ok() {
            while it.valid() && it.next().is_ok() {}
        }
        // verify() always checks CRCs, whatever the options.
        assert!(!t.verify().is_empty(), "flip at {off} went unnoticed by verify");
    }
}

#[test]
fn every_footer_byte_flip_fails_open() {
    let (_dir, path, _, o) = setup("footer.sst", true);
    let size = std::fs::metadata(&path).expect("meta").len();
    let pristine = std::fs::read(&path).expect("read");
    for i in size - FOOTER_LEN as u64..size {
        for mask in [0x01, 0x80, 0xff] {
            std::fs::write(&path, &pristine).expect("write");
            flip(&path, i, mask);
            for mmap in [true, false] {
                let err = open(&path, mmap, &o).expect_err("damaged footer");
                assert_corruption_of(&err, &path);
            }
        }
    }
    std::fs::write(&path, &pristine).expect("write");
    assert!(open(&path, true, &o).is_ok());
}

#[test]
fn metadata_block_flips_fail_open() {
    let (_dir, path, _, o) = setup("meta.sst", false);
    let size = std::fs::metadata(&path).expect("meta").len();
    let pristine = std::fs::read(&path).expect("read");
    // The last few hundred bytes before the footer hold the filter tail, properties and index.
    for i in (size - 400..size - FOOTER_LEN as u64).step_by(3) {
        std::fs::write(&path, &pristine).expect("write");
        flip(&path, i, 0x04);
        let err = open(&path, false, &o).expect_err("damaged metadata");
        assert_corruption_of(&err, &path);
    }
}

#[test]
fn truncation_fails_open_with_corruption() {
    let (_dir, path, _, o) = setup("trunc.sst", true);
    let pristine = std::fs::read(&path).expect("read");
    let size = pristine.len();
    let mut lengths = vec![0, 1, 7, FOOTER_LEN - 1, FOOTER_LEN, size / 2, size - FOOTER_LEN, size - 1];
    lengths.extend((0..size).step_by(size / 50));
    for len in lengths {
        std::fs::write(&path, &pristine[..len]).expect("write");
        for mmap in [true, false] {
            let err = open(&path, mmap, &o).expect_err("truncated");
            assert_corruption_of(&err, &path);
        }
    }
}

#[test]
fn expected_size_mismatch() {
    let (_dir, path, _, o) = setup("size.sst", true);
    let size = std::fs::metadata(&path).expect("meta").len();
    for expected in [0, size - 1, size + 1] {
        let err = Table::open(&path, 1, Some(expected), &o, true, None, Arc::new(Counters::default()))
            .expect_err("size mismatch");
        assert_corruption_of(&err, &path);
        assert!(err.to_string().contains("size mismatch"), "{err}");
    }
    assert!(Table::open(&path, 1, Some(size), &o, true, None, Arc::new(Counters::default())).is_ok());
    let missing = path.with_extension("missing");
    assert!(matches!(
        Table::open(&missing, 1, None, &o, true, None, Arc::new(Counters::default())),
        Err(Error::Io { .. })
    ));
}

fn exercise(path: &Path, o: &TableOptions, mmap: bool) {
    let Ok(t) = open(path, mmap, o) else { return };
    let mut it = t.iter();
    if it.seek_to_first().is_ok() {
        while it.valid() && it.next().is_ok() {}
    }
    if it.seek_to_last().is_ok() {
        while it.valid() && it.prev().is_ok() {}
    }
    let _ = it.seek(b"key000100\0\0\0\0\0\0\0\0");
    let _ = it.seek_for_prev(b"key000100\0\0\0\0\0\0\0\0");
    for k in [&b"key000001"[..], b"key001500", b"zzz", b""] {
        let _ = t.get(k, u64::MAX >> 8);
    }
    let _ = t.verify();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), mmap in any::<bool>()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.sst");
        std::fs::write(&path, &bytes).expect("write");
        let o = TableOptions { verify_checksums: false, ..TableOptions::default() };
        exercise(&path, &o, mmap);
    }

    #[test]
    fn mutated_tables_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        verify in any::<bool>(),
        compression in any::<bool>(),
        mmap in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.sst");
        let o = TableOptions { verify_checksums: verify, compression, block_size: 512, ..TableOptions::default() };
        build(&path, &entries(300), &o);
        let mut bytes = std::fs::read(&path).expect("read");
        let len = bytes.len();
        for (idx, v) in flips {
            // Spare the footer (covered above) so the damage reaches the blocks.
            let i = idx.index(len - FOOTER_LEN);
            bytes[i] = v;
        }
        std::fs::write(&path, &bytes).expect("write");
        exercise(&path, &o, mmap);
    }
}
