//! Recovery through `Db::open`: torn WAL tails are cut, damage in the middle is reported,
//! corrupted SSTable blocks give `Corruption` errors naming the file.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default, clippy::indexing_slicing)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use strata_engine::{Db, Error, IterOptions, Options, RecoveryMode};

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn fill(dir: &Path, n: u32) {
    let db = Db::open(dir, Options::default()).unwrap();
    for i in 0..n {
        db.put(format!("k{i:05}").as_bytes(), format!("v{i}").as_bytes(), false).unwrap();
    }
    // Dropped without close: the data is only in the WAL.
    drop(db);
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 100);
    let wal = files_with_ext(dir.path(), "wal").pop().unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    // Chop the last record in half.
    OpenOptions::new().write(true).open(&wal).unwrap().set_len(len - 5).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.recovery_info().dropped_tail.is_some());
    assert_eq!(db.get(b"k00098", None).unwrap(), Some(b"v98".to_vec()));
    assert_eq!(db.get(b"k00099", None).unwrap(), None);
}

#[test]
fn zeroed_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 50);
    let wal = files_with_ext(dir.path(), "wal").pop().unwrap();
    OpenOptions::new().append(true).open(&wal).unwrap().write_all(&[0u8; 3000]).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"k00049", None).unwrap(), Some(b"v49".to_vec()));
}

#[test]
fn damage_in_the_middle_of_the_wal_fails_open_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 2000);
    let wal = files_with_ext(dir.path(), "wal").pop().unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[100] ^= 0x10;
    std::fs::write(&wal, &bytes).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Corruption { file: Some(f), offset: Some(_), .. }) => assert_eq!(f, wal),
        other => panic!("expected corruption, got {other:?}"),
    }
    // Point-in-time recovery keeps what precedes the damage.
    let mut o = Options::default();
    o.wal_recovery = RecoveryMode::PointInTime;
    let db = Db::open(dir.path(), o).unwrap();
    assert!(db.get(b"k00000", None).unwrap().is_some());
    assert_eq!(db.get(b"k01999", None).unwrap(), None);
}

#[test]
fn corrupted_sstable_block_is_a_corruption_error_not_a_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = Options::default();
        o.compression = false;
        let db = Db::open(dir.path(), o).unwrap();
        for i in 0..5000u32 {
            db.put(format!("k{i:05}").as_bytes(), &[b'v'; 100], false).unwrap();
        }
        db.flush().unwrap();
        db.close().unwrap();
    }
    let sst = files_with_ext(dir.path(), "sst").pop().unwrap();
    let mut bytes = std::fs::read(&sst).unwrap();
    bytes[2000] ^= 0x01;
    std::fs::write(&sst, &bytes).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut saw_corruption = false;
    let mut readable = 0;
    for i in 0..5000u32 {
        match db.get(format!("k{i:05}").as_bytes(), None) {
            Ok(Some(v)) => {
                assert_eq!(v, vec![b'v'; 100]);
                readable += 1;
            }
            Ok(None) => panic!("key {i} silently missing"),
            Err(Error::Corruption { file, .. }) => {
                assert_eq!(file.as_deref(), Some(sst.as_path()));
                saw_corruption = true;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(saw_corruption);
    assert!(readable >= 4500, "only {readable} keys readable");
    let problems = db.verify().unwrap();
    assert!(!problems.is_empty());
    let mut it = db.iter(IterOptions::default()).unwrap();
    let mut res = Ok(None);
    for _ in 0..5001 {
        res = it.next();
        if !matches!(res, Ok(Some(_))) {
            break;
        }
    }
    assert!(matches!(res, Err(Error::Corruption { .. })), "{res:?}");
}
