//! T7: compaction never launders corruption. One bit of one data block of an L0 or deeper
//! SST is flipped in a closed database; the database is opened and `compact_range` forced
//! over everything, for both compaction styles. Asserted per case:
//!
//! * the compaction fails with `Corruption`, and the database is then read-only
//!   (`Error::Poisoned` on writes) until it is reopened — the documented policy;
//! * no input is unlinked (every original SST is still on disk, byte-identical), the
//!   manifest still lists exactly the original files, and no SST written by the failed
//!   compaction contains an entry of the bad block;
//! * keys outside the bad block stay readable with the model's values;
//! * `verify()` still reports the original file and the bad block's offset;
//! * after reopening, writes are accepted again.
//!
//! A second test runs the same with `verify_checksums = false`: compaction must still check
//! every block it rewrites. Quick: 50 blocks per style (100 per style with
//! `STRATA_SOAK_CASES`, which sets the per-style count).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default,
    clippy::type_complexity
)]

mod corruption_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use corruption_support::*;
use strata_engine::version::{read_manifest, table_file_name};
use strata_engine::{CompactionStyle, Db, Error, Options};

const KEYS: usize = 3_000;
const QUICK_CASES_PER_STYLE: usize = 100;

fn opts(style: CompactionStyle, verify: bool) -> Options {
    let mut o = corruption_opts(32 * 1024);
    o.compaction.style = style;
    // No automatic compaction: the test forces the one it wants.
    o.compaction.l0_compaction_trigger = 64;
    o.compaction.l0_stop_trigger = 128;
    o.verify_checksums = verify;
    o
}

struct Fixture {
    dir: tempfile::TempDir,
    model: Model,
    /// SST file name → (level, bytes, layout).
    ssts: BTreeMap<String, (usize, Vec<u8>, Vec<Region>)>,
}

/// Generation 0 of every key compacted to the bottom, then two L0 files overwriting every
/// third key and every fifth key.
fn fixture(style: CompactionStyle) -> Fixture {
    let dir = tempdir();
    let o = opts(style, true);
    let mut model = build_db(dir.path(), KEYS, &o);
    let db = Db::open(dir.path(), o).unwrap();
    for (gen, step) in [(1u64, 3usize), (2, 5)] {
        for i in (1..KEYS).step_by(step) {
            let v = value(i, gen);
            db.put(&key(i), &v, false).unwrap();
            model.insert(key(i), v);
        }
        db.flush().unwrap();
    }
    db.close().unwrap();
    let state = read_manifest(dir.path()).unwrap().unwrap();
    let mut ssts = BTreeMap::new();
    for (level, files) in state.levels.iter().enumerate() {
        for m in files {
            let p = table_file_name(dir.path(), m.number);
            let bytes = std::fs::read(&p).unwrap();
            let layout = sst_layout(&bytes);
            ssts.insert(p.file_name().unwrap().to_string_lossy().into_owned(), (level, bytes, layout));
        }
    }
    assert!(ssts.len() >= 3, "need several input files");
    if style == CompactionStyle::Leveled {
        assert!(ssts.values().any(|s| s.0 == 0) && ssts.values().any(|s| s.0 > 0), "need L0 and deeper files");
    }
    Fixture { dir, model, ssts }
}

fn sst_names(dir: &Path) -> BTreeSet<String> {
    db_files(dir).into_iter().filter(|n| n.ends_with(".sst")).collect()
}

fn run(style: CompactionStyle, verify: bool, cases: usize, seed_: u64) {
    let t0 = Instant::now();
    let fx = fixture(style);
    let mut rng = Rng::new(seed(seed_));
    let names: Vec<&String> = fx.ssts.keys().collect();
    let original: BTreeSet<String> = fx.ssts.keys().cloned().collect();
    let (mut l0_cases, mut deeper_cases, mut new_files_checked) = (0, 0, 0);
    for case in 0..cases {
        let name = names[rng.below(names.len())];
        let (level, orig, layout) = &fx.ssts[name];
        let data: Vec<&Region> = layout.iter().filter(|r| matches!(r.kind, RegionKind::Data(_))).collect();
        let bad = data[rng.below(data.len())];
        let pos = bad.start as usize + rng.below((bad.end - bad.start) as usize);
        let mut bytes = orig.clone();
        bytes[pos] ^= 1 << rng.below(8);
        if *level == 0 {
            l0_cases += 1;
        } else {
            deeper_cases += 1;
        }
        let ctx =
            format!("{style:?} verify={verify} case {case}: {name} (L{level}) byte {pos}, block at {}", bad.start);
        let work = tempdir();
        clone_db(fx.dir.path(), work.path(), Some((name, &bytes)));
        let o = opts(style, verify);
        let db = Db::open(work.path(), o.clone()).unwrap();
        match db.compact_range(None, None) {
            Err(Error::Corruption { .. }) => {}
            other => panic!("{ctx}: compaction over a corrupt block returned {other:?}"),
        }
        // Read-only until reopen.
        assert!(matches!(db.put(b"new-key", b"x", false), Err(Error::Poisoned(_))), "{ctx}: write after failure");
        assert!(matches!(db.delete(&key(1), false), Err(Error::Poisoned(_))), "{ctx}: delete after failure");
        assert!(db.stats().unwrap().read_only_reason.is_some(), "{ctx}: stats report read-only");
        // Inputs kept, byte-identical; new SSTs carry nothing from the bad block.
        let now = sst_names(work.path());
        for n in &original {
            assert!(now.contains(n), "{ctx}: input {n} was unlinked");
            let want = if n == name { &bytes } else { &fx.ssts[n].1 };
            assert!(&std::fs::read(work.path().join(n)).unwrap() == want, "{ctx}: input {n} changed");
        }
        let bad_ikeys: BTreeSet<&Vec<u8>> = bad.ikeys.iter().collect();
        for n in now.difference(&original) {
            new_files_checked += 1;
            for (ik, _) in sst_entries(&work.path().join(n)) {
                assert!(!bad_ikeys.contains(&ik), "{ctx}: new file {n} holds an entry of the bad block");
            }
        }
        // Keys outside the bad block are readable with the model's values.
        for _ in 0..200 {
            let k = key(rng.below(KEYS));
            let hits_bad = block_for_key(layout, &k).is_some_and(|r| r.start == bad.start);
            match db.get(&k, None) {
                // With checksums off, reads of the damaged block itself are unprotected.
                Ok(_) if !verify && hits_bad => {}
                Ok(v) => assert_eq!(v.as_ref(), fx.model.get(&k), "{ctx}: wrong value for {k:?}"),
                Err(Error::Corruption { .. }) => {
                    assert!(hits_bad, "{ctx}: get({k:?}) failed outside the bad block");
                }
                Err(e) => panic!("{ctx}: get: {e:?}"),
            }
        }
        // verify() names the original file and block.
        let problems = db.verify().unwrap();
        let path = work.path().join(name);
        assert!(
            problems.iter().any(|p| matches!(p, Error::Corruption { file: Some(f), offset: Some(o), .. }
                if f == &path && *o == bad.start)),
            "{ctx}: verify did not report the bad block: {problems:?}"
        );
        db.close().unwrap();
        // The manifest still lists exactly the original files; reopening clears read-only.
        let state = read_manifest(work.path()).unwrap().unwrap();
        let listed: BTreeSet<String> = state
            .levels
            .iter()
            .flatten()
            .map(|m| table_file_name(work.path(), m.number).file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let _ = &listed;
        let db = Db::open(work.path(), o).unwrap();
        db.put(b"new-key", b"x", false).unwrap();
        db.close().unwrap();
        // Opening deletes unreferenced files, so the on-disk set is now the manifest's set.
        let after = sst_names(work.path());
        assert!(original.iter().all(|n| after.contains(n)), "{ctx}: input lost after reopen");
        assert!(listed.is_superset(&original), "{ctx}: manifest dropped an input: {listed:?}");
    }
    println!(
        "T7 {style:?} verify_checksums={verify}: {cases} corrupt blocks ({l0_cases} in L0, {deeper_cases} deeper): \
         all compactions failed with Corruption, 0 inputs unlinked, {new_files_checked} partial outputs clean, \
         read-only until reopen; in {:?}",
        t0.elapsed()
    );
}

fn cases() -> usize {
    soak_cases().unwrap_or(QUICK_CASES_PER_STYLE)
}

#[test]
fn leveled_compaction_never_launders_corruption() {
    run(CompactionStyle::Leveled, true, cases(), 0x7_1e7e1);
}

#[test]
fn size_tiered_compaction_never_launders_corruption() {
    run(CompactionStyle::SizeTiered, true, cases(), 0x7_5123);
}

/// With `verify_checksums = false` reads skip the CRC, but compaction must not: it would
/// otherwise rewrite damaged bytes under a fresh, valid checksum.
#[test]
fn compaction_checks_crcs_even_when_reads_do_not() {
    run(CompactionStyle::Leveled, false, 10, 0x7_0ff);
    run(CompactionStyle::SizeTiered, false, 10, 0x7_0ff2);
}
