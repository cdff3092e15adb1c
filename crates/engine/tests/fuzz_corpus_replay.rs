//! T10 in `cargo test`: replays every committed fuzz corpus file
//! (`crates/engine/fuzz/corpus/<target>/*`, including the regression inputs of crashes that
//! were found and fixed) through exactly the checks the cargo-fuzz targets run
//! (`crates/engine/fuzz/src/checks.rs`), plus proptest fallbacks that feed each decoder
//! random bytes on machines without cargo-fuzz.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::type_complexity
)]

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

use proptest::prelude::*;

const TARGETS: [(&str, fn(&[u8])); 6] = [
    ("wal_reader", checks::wal_reader),
    ("sst_open_scan", checks::sst_open_scan),
    ("block_decode", checks::block_decode),
    ("manifest_decode", checks::manifest_decode),
    ("sst_roundtrip", checks::sst_roundtrip),
    ("batch_decode", checks::batch_decode),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(target)
}

fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus for {target}");
    let mut failures = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failures.push(f.display().to_string());
        }
    }
    println!("{target}: replayed {} corpus files, {} failures", files.len(), failures.len());
    assert!(failures.is_empty(), "{target}: corpus files fail: {failures:#?}");
}

#[test]
fn replay_wal_reader() {
    replay(TARGETS[0].0, TARGETS[0].1);
}

#[test]
fn replay_sst_open_scan() {
    replay(TARGETS[1].0, TARGETS[1].1);
}

#[test]
fn replay_block_decode() {
    replay(TARGETS[2].0, TARGETS[2].1);
}

#[test]
fn replay_manifest_decode() {
    replay(TARGETS[3].0, TARGETS[3].1);
}

#[test]
fn replay_sst_roundtrip() {
    replay(TARGETS[4].0, TARGETS[4].1);
}

#[test]
fn replay_batch_decode() {
    replay(TARGETS[5].0, TARGETS[5].1);
}

/// A random corpus file of `target` with a few random byte edits (the fuzzer's cheapest
/// mutation), so the fallbacks start from structured inputs rather than pure noise.
fn mutated(target: &str, pick: usize, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target)).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut data = std::fs::read(&files[pick % files.len()]).unwrap();
    for &(at, b) in edits {
        if !data.is_empty() {
            let n = data.len();
            data[at % n] ^= b;
        }
    }
    data
}

/// Packed batches with system ops (kinds 2 and 3) and their stored form, which the corpus
/// (minimised before those kinds existed) may not reach.
#[test]
fn batch_decode_system_kinds() {
    let mut cases: Vec<Vec<u8>> = vec![
        vec![3, 2, b'i', b'x', 1, b'v'],
        vec![2, 0],
        vec![3, 0, 0, 1, 1, b'k', 1, b'v', 2, 3, b'o', b'l', b'd', 0, 1, b'u'],
        vec![3, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0],
        vec![4, 1, b'a'],
    ];
    let mut reserved_user = vec![1, 9];
    reserved_user.extend_from_slice(&[0xff; 9]);
    reserved_user.push(0);
    cases.push(reserved_user);
    for case in &cases {
        checks::batch_decode(case);
        // The same ops as a WAL record payload (header: sequence 1, count = ops).
        if let Ok(b) = strata_engine::WriteBatch::from_packed_ops(case) {
            let mut b = b.clone();
            b.set_sequence(1);
            checks::batch_decode(b.data());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn prop_wal_reader(bytes in prop::collection::vec(any::<u8>(), 0..2048),
                       pick in any::<usize>(), edits in prop::collection::vec((any::<usize>(), 1..=255u8), 1..4)) {
        checks::wal_reader(&bytes);
        checks::wal_reader(&mutated("wal_reader", pick, &edits));
    }

    #[test]
    fn prop_sst_open_scan(bytes in prop::collection::vec(any::<u8>(), 0..1024),
                          pick in any::<usize>(), edits in prop::collection::vec((any::<usize>(), 1..=255u8), 1..4)) {
        checks::sst_open_scan(&bytes);
        checks::sst_open_scan(&mutated("sst_open_scan", pick, &edits));
    }

    #[test]
    fn prop_block_decode(bytes in prop::collection::vec(any::<u8>(), 0..1024),
                         pick in any::<usize>(), edits in prop::collection::vec((any::<usize>(), 1..=255u8), 1..4)) {
        checks::block_decode(&bytes);
        checks::block_decode(&mutated("block_decode", pick, &edits));
    }

    #[test]
    fn prop_manifest_decode(bytes in prop::collection::vec(any::<u8>(), 0..1024),
                            pick in any::<usize>(), edits in prop::collection::vec((any::<usize>(), 1..=255u8), 1..4)) {
        checks::manifest_decode(&bytes);
        checks::manifest_decode(&mutated("manifest_decode", pick, &edits));
    }

    #[test]
    fn prop_sst_roundtrip(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        checks::sst_roundtrip(&bytes);
    }

    #[test]
    fn prop_batch_decode(bytes in prop::collection::vec(any::<u8>(), 0..512),
                         pick in any::<usize>(), edits in prop::collection::vec((any::<usize>(), 1..=255u8), 1..4)) {
        checks::batch_decode(&bytes);
        checks::batch_decode(&mutated("batch_decode", pick, &edits));
    }
}
