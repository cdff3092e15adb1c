//! Manifest files on disk, file naming and the directory lock.

use std::fs;

use strata_engine::key::{internal_key, ValueKind};
use strata_engine::version::{
    manifest_file_name, manifest_temp_file_name, parse_file_name, read_manifest, sync_dir, table_file_name,
    wal_file_name, write_manifest, DirLock, FileKind, FileMeta, ManifestState, VersionEdit, MANIFEST_NAME,
};
use strata_engine::Error;

fn state() -> ManifestState {
    let mut s = ManifestState::new(7);
    s.apply(&VersionEdit {
        added: vec![
            (
                0,
                FileMeta {
                    number: 5,
                    size: 1234,
                    smallest: internal_key(b"apple", 9, ValueKind::Put),
                    largest: internal_key(b"pear", 3, ValueKind::Delete),
                    min_seq: 3,
                    max_seq: 9,
                    num_entries: 7,
                    num_deletions: 1,
                },
            ),
            (
                2,
                FileMeta {
                    number: 3,
                    size: 99,
                    smallest: internal_key(b"a", 1, ValueKind::Put),
                    largest: internal_key(b"z", 2, ValueKind::Put),
                    min_seq: 1,
                    max_seq: 2,
                    num_entries: 2,
                    num_deletions: 0,
                },
            ),
        ],
        log_number: Some(4),
        last_sequence: Some(9),
        next_file_number: Some(6),
        ..VersionEdit::default()
    });
    s
}

#[test]
fn write_then_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(read_manifest(dir.path()).expect("absent is fine"), None);
    let s = state();
    write_manifest(dir.path(), &s).expect("write");
    assert_eq!(read_manifest(dir.path()).expect("read"), Some(s.clone()));
    assert!(!manifest_temp_file_name(dir.path()).exists(), "temp file renamed away");

    // Overwrite with a newer state; a stale MANIFEST.tmp from a crash is replaced.
    fs::write(manifest_temp_file_name(dir.path()), b"garbage").expect("stale temp");
    let mut s2 = s.clone();
    s2.apply(&VersionEdit {
        deleted: vec![(0, 5)],
        log_number: Some(6),
        next_file_number: Some(7),
        ..Default::default()
    });
    write_manifest(dir.path(), &s2).expect("rewrite");
    assert_eq!(read_manifest(dir.path()).expect("read"), Some(s2));
    sync_dir(dir.path()).expect("sync dir");
}

#[test]
fn damaged_file_is_corruption_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_manifest(dir.path(), &state()).expect("write");
    let path = manifest_file_name(dir.path());
    let mut bytes = fs::read(&path).expect("read bytes");
    bytes[30] ^= 0x40;
    fs::write(&path, &bytes).expect("damage");
    match read_manifest(dir.path()) {
        Err(e @ Error::Corruption { .. }) => {
            let Error::Corruption { file, offset, .. } = &e else { unreachable!() };
            assert_eq!(file.as_deref(), Some(path.as_path()));
            assert!(offset.is_some());
            let msg = e.to_string();
            assert!(msg.contains(MANIFEST_NAME) && msg.contains("offset"), "{msg}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn invalid_state_is_not_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = state();
    s.next_file_number = 1; // below the live file numbers
    assert!(matches!(write_manifest(dir.path(), &s), Err(Error::Corruption { .. })));
    assert!(!manifest_file_name(dir.path()).exists());
}

#[test]
fn missing_directory_is_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("nope");
    assert!(matches!(write_manifest(&gone, &state()), Err(Error::Io { path: Some(_), .. })));
    assert!(matches!(DirLock::acquire(&gone), Err(Error::Io { .. })));
}

#[test]
fn lock_excludes_second_holder_until_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = DirLock::acquire(dir.path()).expect("first acquire");
    assert!(lock.path().ends_with("LOCK"));
    match DirLock::acquire(dir.path()) {
        Err(Error::Locked(p)) => assert_eq!(p, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    // Opening and closing an unrelated descriptor of LOCK must not release the lock
    // (it would with POSIX fcntl locks).
    {
        let f = fs::OpenOptions::new().read(true).write(true).open(lock.path()).expect("open LOCK");
        drop(f);
        let _ = fs::read(lock.path()).expect("read LOCK");
    }
    assert!(matches!(DirLock::acquire(dir.path()), Err(Error::Locked(_))));
    drop(lock);
    let again = DirLock::acquire(dir.path()).expect("acquire after drop");
    drop(again);
    assert!(dir.path().join("LOCK").exists(), "the lock file stays");
}

#[test]
fn lock_is_per_directory() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let _la = DirLock::acquire(a.path()).expect("a");
    let _lb = DirLock::acquire(b.path()).expect("b");
}

#[test]
fn directory_listing_classifies_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _lock = DirLock::acquire(dir.path()).expect("lock");
    write_manifest(dir.path(), &state()).expect("manifest");
    fs::write(table_file_name(dir.path(), 5), b"").expect("sst");
    fs::write(wal_file_name(dir.path(), 6), b"").expect("wal");
    fs::write(dir.path().join("notes.txt"), b"").expect("other");
    let mut kinds: Vec<(FileKind, u64)> = fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| parse_file_name(e.expect("entry").file_name().to_str()?))
        .collect();
    kinds.sort_by_key(|&(k, n)| (format!("{k:?}"), n));
    assert_eq!(kinds, vec![(FileKind::Lock, 0), (FileKind::Manifest, 0), (FileKind::Table, 5), (FileKind::Wal, 6)]);
}
