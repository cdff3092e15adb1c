//! zstd tables (format version 2): `ZstdUse::Bottommost` writes them only where a compaction
//! reaches the bottom of the tree, `All` also for flushes; a database with both kinds reads
//! the same under any setting, and bad settings are `InvalidArgument`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::field_reassign_with_default)]

use std::path::Path;

use strata_engine::{Db, Error, Options, WriteBatch, ZstdUse};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// Like the bench's values: 50 printable random bytes written twice.
fn value(i: u64, round: u64) -> Vec<u8> {
    let mut x = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round;
    let half: Vec<u8> = (0..50)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            32 + (x % 95) as u8
        })
        .collect();
    [half.clone(), half].concat()
}

fn opts(zstd: ZstdUse) -> Options {
    let mut o = Options::default();
    o.block_size = 4096;
    o.zstd = zstd;
    o
}

/// The format version in the footer of every live table of `dir`.
fn versions(dir: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            u32::from_le_bytes(b[b.len() - 16..b.len() - 12].try_into().unwrap())
        })
        .collect();
    v.sort_unstable();
    v
}

fn write_round(db: &Db, round: u64) {
    let mut b = WriteBatch::new();
    for i in 0..3000 {
        b.put(&key(i), &value(i, round)).unwrap();
    }
    db.write(b, false).unwrap();
    db.flush().unwrap();
}

fn check(db: &Db, round: u64) {
    for i in (0..3000).step_by(7) {
        assert_eq!(db.get(&key(i), None).unwrap(), Some(value(i, round)), "key {i}");
    }
}

#[test]
fn bottommost_compresses_only_the_bottom_with_zstd_and_every_setting_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(ZstdUse::Bottommost)).unwrap();
    write_round(&db, 0);
    write_round(&db, 1);
    assert_eq!(versions(dir.path()), vec![1, 1], "flushes stay LZ4");
    db.compact_range(None, None).unwrap();
    let after = versions(dir.path());
    assert!(!after.is_empty() && after.iter().all(|&v| v == 2), "bottom tables are zstd: {after:?}");
    check(&db, 1);
    write_round(&db, 2);
    assert_eq!(versions(dir.path()).iter().filter(|&&v| v == 1).count(), 1, "a new flush above the bottom is LZ4");
    db.close().unwrap();
    drop(db);
    for z in [ZstdUse::Off, ZstdUse::All, ZstdUse::Bottommost] {
        let db = Db::open(dir.path(), opts(z)).unwrap();
        check(&db, 2);
        db.close().unwrap();
    }
}

#[test]
fn all_compresses_flushes_too_and_is_smaller_than_lz4() {
    let size = |z: ZstdUse| {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), opts(z)).unwrap();
        write_round(&db, 0);
        check(&db, 0);
        db.close().unwrap();
        let v = versions(dir.path());
        let bytes: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sst"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        (v, bytes)
    };
    let (lz4_versions, lz4) = size(ZstdUse::Off);
    let (zstd_versions, zstd) = size(ZstdUse::All);
    assert_eq!(lz4_versions, vec![1]);
    assert_eq!(zstd_versions, vec![2]);
    assert!(zstd * 10 < lz4 * 9, "zstd {zstd} vs lz4 {lz4}");
}

#[test]
fn bad_zstd_settings_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    for (level, compression, zstd) in
        [(0, true, ZstdUse::All), (20, true, ZstdUse::Bottommost), (3, false, ZstdUse::All)]
    {
        let mut o = opts(zstd);
        o.zstd_level = level;
        o.compression = compression;
        assert!(matches!(Db::open(dir.path().join("db"), o), Err(Error::InvalidArgument(_))), "{level} {compression}");
    }
    // Off ignores the level only when it is in range; compression off with zstd off is fine.
    let mut o = opts(ZstdUse::Off);
    o.compression = false;
    Db::open(dir.path().join("ok"), o).unwrap().close().unwrap();
}
