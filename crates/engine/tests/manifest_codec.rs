//! Manifest encoding: roundtrip on random states, and every kind of damage is an error.

use std::collections::BTreeSet;

use proptest::prelude::*;
use strata_engine::coding;
use strata_engine::key::{internal_key, ValueKind, MAX_SEQ};
use strata_engine::version::{
    decode_manifest, encode_manifest, FileMeta, ManifestState, MANIFEST_FORMAT_VERSION, MANIFEST_HEADER_LEN,
    MANIFEST_MAGIC,
};
use strata_engine::Error;

type RawFile = (Vec<u8>, Vec<u8>, bool, u64, u64, u64, u64);

fn raw_file() -> impl Strategy<Value = RawFile> {
    (
        prop::collection::vec(any::<u8>(), 0..12),
        prop::collection::vec(any::<u8>(), 0..12),
        any::<bool>(),
        0..MAX_SEQ,
        0..1000u64,
        any::<u64>(),
        0..1_000_000u64,
    )
}

/// Turns raw random data into a state that satisfies the invariants.
fn build_state(raw: Vec<Vec<RawFile>>, gaps: (u64, u64, u64)) -> ManifestState {
    let mut number = gaps.0 % 1000;
    let mut max_seq_seen = 0;
    let mut levels = Vec::new();
    for (level, files) in raw.into_iter().enumerate() {
        let mut out = Vec::new();
        if level == 0 {
            for (a, b, del, seq, span, size, entries) in files {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let kind = if del { ValueKind::Delete } else { ValueKind::Put };
                let max_seq = seq.saturating_add(span).min(MAX_SEQ);
                out.push(FileMeta {
                    number,
                    size,
                    smallest: internal_key(&lo, max_seq, kind),
                    largest: internal_key(&hi, seq, ValueKind::Put),
                    min_seq: seq,
                    max_seq,
                    num_entries: entries,
                    num_deletions: entries / 3,
                });
                number += 1 + span % 3;
                max_seq_seen = max_seq_seen.max(max_seq);
            }
            out.sort_by_key(|f: &FileMeta| std::cmp::Reverse(f.max_seq));
        } else {
            let keys: BTreeSet<Vec<u8>> = files.iter().flat_map(|f| [f.0.clone(), f.1.clone()]).collect();
            let keys: Vec<Vec<u8>> = keys.into_iter().collect();
            for (pair, f) in keys.chunks_exact(2).zip(&files) {
                let max_seq = f.3.saturating_add(f.4).min(MAX_SEQ);
                out.push(FileMeta {
                    number,
                    size: f.5,
                    smallest: internal_key(&pair[0], f.3, ValueKind::Put),
                    largest: internal_key(&pair[1], max_seq, ValueKind::Delete),
                    min_seq: f.3,
                    max_seq,
                    num_entries: f.6,
                    num_deletions: f.6,
                });
                number += 1;
                max_seq_seen = max_seq_seen.max(max_seq);
            }
        }
        levels.push(out);
    }
    ManifestState {
        next_file_number: number + gaps.1 % 5,
        last_sequence: max_seq_seen.saturating_add(gaps.2 % 10).min(MAX_SEQ),
        log_number: gaps.2,
        levels,
    }
}

fn state_strategy() -> impl Strategy<Value = ManifestState> {
    (prop::collection::vec(prop::collection::vec(raw_file(), 0..6), 0..8), any::<(u64, u64, u64)>())
        .prop_map(|(raw, gaps)| build_state(raw, gaps))
}

fn sample_state() -> ManifestState {
    build_state(
        vec![
            vec![
                (b"a".to_vec(), b"m".to_vec(), false, 10, 5, 4096, 7),
                (b"c".to_vec(), b"d".to_vec(), true, 20, 1, 99, 3),
            ],
            vec![
                (b"a".to_vec(), b"b".to_vec(), false, 1, 2, 1 << 20, 100),
                (b"k".to_vec(), b"z".to_vec(), false, 3, 1, 5, 1),
            ],
            vec![],
            vec![(vec![0xff; 9], vec![], false, 0, 0, 0, 0)],
        ],
        (7, 3, 123),
    )
}

fn assert_corruption<T: std::fmt::Debug>(r: strata_engine::Result<T>, ctx: &str) {
    match r {
        Err(Error::Corruption { offset: Some(_), .. }) => {}
        other => panic!("{ctx}: expected Corruption with an offset, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn roundtrip(state in state_strategy()) {
        state.check_invariants().expect("generator builds valid states");
        let bytes = encode_manifest(&state);
        prop_assert_eq!(decode_manifest(&bytes).expect("decodes"), state);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_manifest(&bytes);
    }

    /// Random bodies behind a valid header and CRC exercise the body parser itself.
    #[test]
    fn random_body_with_valid_crc_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = Vec::new();
        coding::put_u64(&mut bytes, MANIFEST_MAGIC);
        coding::put_u32(&mut bytes, MANIFEST_FORMAT_VERSION);
        coding::put_u64(&mut bytes, body.len() as u64);
        bytes.extend_from_slice(&body);
        let crc = coding::crc32(&bytes);
        coding::put_u32(&mut bytes, crc);
        if let Ok(state) = decode_manifest(&bytes) {
            // Anything accepted is valid and survives a roundtrip (varints may have been
            // non-canonical, so the bytes themselves can differ).
            state.check_invariants().expect("decoded states are valid");
            prop_assert_eq!(decode_manifest(&encode_manifest(&state)).expect("re-decodes"), state);
        }
    }

    #[test]
    fn flipping_any_byte_is_detected(state in state_strategy(), mask in 1..=255u8) {
        let bytes = encode_manifest(&state);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            assert_corruption(decode_manifest(&bad), &format!("byte {i} ^ {mask:#x}"));
        }
    }
}

#[test]
fn every_single_byte_change_is_detected() {
    let bytes = encode_manifest(&sample_state());
    for i in 0..bytes.len() {
        for mask in 1..=255u8 {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            assert_corruption(decode_manifest(&bad), &format!("byte {i} ^ {mask:#x}"));
        }
    }
}

#[test]
fn truncation_and_extension_are_detected() {
    let bytes = encode_manifest(&sample_state());
    for len in 0..bytes.len() {
        assert_corruption(decode_manifest(&bytes[..len]), &format!("truncated to {len}"));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_corruption(decode_manifest(&longer), "one trailing byte");
    let empty = encode_manifest(&ManifestState::default());
    assert_eq!(empty.len(), MANIFEST_HEADER_LEN + 4 + 4);
    assert_eq!(decode_manifest(&empty).expect("empty state"), ManifestState::default());
}

#[test]
fn header_errors_name_their_offsets() {
    let bytes = encode_manifest(&sample_state());
    assert_eq!(&bytes[..8], b"STRATAMF");
    assert_eq!(MANIFEST_MAGIC, 0x464D_4154_4152_5453);
    let offset_of = |b: &[u8]| match decode_manifest(b) {
        Err(Error::Corruption { offset, .. }) => offset,
        other => panic!("expected corruption, got {other:?}"),
    };
    let mut bad = bytes.clone();
    bad[0] ^= 1;
    assert_eq!(offset_of(&bad), Some(0));
    let mut bad = bytes.clone();
    bad[8] = 2;
    assert_eq!(offset_of(&bad), Some(8));
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(offset_of(&bad), Some(last as u64 - 3));
}

/// A state that breaks an invariant encodes fine but does not decode: overlap in L1 is
/// reported at the offending record.
#[test]
fn invariant_violations_are_corruption() {
    let mut state = sample_state();
    let mut dup = state.levels[1][0].clone();
    dup.number = state.next_file_number;
    state.next_file_number += 1;
    state.levels[1].push(dup);
    let bytes = encode_manifest(&state);
    match decode_manifest(&bytes) {
        Err(Error::Corruption { offset: Some(o), what, .. }) => {
            assert!(o as usize > MANIFEST_HEADER_LEN && (o as usize) < bytes.len(), "offset {o}");
            assert!(what.contains("overlaps"), "{what}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert!(state.check_invariants().is_err());

    let mut state = sample_state();
    state.last_sequence = 0;
    assert!(decode_manifest(&encode_manifest(&state)).is_err());

    let mut state = sample_state();
    state.next_file_number = 0;
    assert!(decode_manifest(&encode_manifest(&state)).is_err());

    let mut state = sample_state();
    state.levels[0].reverse();
    assert!(decode_manifest(&encode_manifest(&state)).is_err(), "L0 must be newest first");

    let mut state = sample_state();
    state.levels[1][0].smallest = b"short".to_vec();
    assert!(decode_manifest(&encode_manifest(&state)).is_err(), "keys must be internal keys");

    let mut state = sample_state();
    state.levels = vec![Vec::new(); 65];
    assert!(decode_manifest(&encode_manifest(&state)).is_err(), "too many levels");
}
