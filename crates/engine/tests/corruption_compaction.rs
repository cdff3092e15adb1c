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
//! every block it rewrites.
//!
//! The read-fault variant separates bad data from bad I/O: the bytes on disk are intact,
//! but one read of one input SST during the compaction fails with `EIO` (FaultFs, once or
//! from that read on). Asserted per case: the compaction fails with `Error::Io` naming that
//! file (never `Corruption`), the database is read-only until reopen (the same policy as
//! any background failure), every input is kept and byte-identical and still listed by the
//! manifest, `verify()` reports nothing once the fault is cleared (the data is good), and
//! after reopening the data equals the model, a compaction succeeds, and nothing was lost.
//!
//! Quick: 100 corrupt blocks per style, 10 + 10 with checksums off, 12 read faults per
//! style. Soak: `STRATA_SOAK_CASES=<n>` sets the per-style count of corrupt blocks and of
//! read faults (RELIABILITY: 2,000).

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
use strata_engine::file::fault::{FaultError, FaultFs, FaultSpec, FsImage, OpKind};
use strata_engine::version::{read_manifest, read_manifest_with, table_file_name};
use strata_engine::{CompactionStyle, Db, Error, Options};

const KEYS: usize = 3_000;
const QUICK_CASES_PER_STYLE: usize = 100;
const QUICK_READ_FAULTS_PER_STYLE: usize = 12;

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
        assert_eq!(listed, original, "{ctx}: the manifest changed after a failed compaction");
        // Without the flush on close, so that the one write below adds no SST.
        let db = Db::open(work.path(), Options { flush_on_close: false, ..o }).unwrap();
        db.put(b"new-key", b"x", false).unwrap();
        db.close().unwrap();
        // Opening deletes unreferenced files, so the on-disk set is now the manifest's set.
        let after = sst_names(work.path());
        assert_eq!(after, original, "{ctx}: SSTs on disk after reopen");
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

/// The SST names of `dir` on a FaultFs.
fn fault_ssts(fs: &FaultFs, dir: &Path) -> BTreeSet<String> {
    fs.file_paths()
        .into_iter()
        .filter(|p| p.parent() == Some(dir))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".sst"))
        .collect()
}

fn scan_equals_model(db: &Db, model: &Model, ctx: &str) {
    let (entries, err) = scan(db);
    assert!(err.is_none(), "{ctx}: scan failed: {err:?}");
    assert!(entries.len() == model.len(), "{ctx}: scan returned {} entries, model has {}", entries.len(), model.len());
    for ((k, v), (mk, mv)) in entries.iter().zip(model) {
        assert!(k == mk && v == mv, "{ctx}: scan differs from the model at {k:?}");
    }
}

/// The read-fault variant of T7: intact bytes, but a read of one compaction input fails.
fn run_read_faults(style: CompactionStyle, cases: usize, seed_: u64) {
    let t0 = Instant::now();
    let fx = fixture(style);
    let mut rng = Rng::new(seed(seed_));
    // The fixture as an in-memory file system.
    let dir = Path::new("/t7-read-fault");
    let mut image =
        FsImage { files: BTreeMap::new(), dirs: [Path::new("/"), dir].iter().map(|p| p.to_path_buf()).collect() };
    for e in std::fs::read_dir(fx.dir.path()).unwrap() {
        let e = e.unwrap();
        image.files.insert(dir.join(e.file_name()), std::sync::Arc::new(std::fs::read(e.path()).unwrap()));
    }
    let original: BTreeSet<String> = fx.ssts.keys().cloned().collect();
    let fs_opts = |fs: &FaultFs| {
        let mut o = opts(style, true);
        o.fs = std::sync::Arc::new(fs.clone());
        o
    };
    // Calibration: how many reads the full compaction makes of each input.
    let reads_per_file: BTreeMap<String, u64> = {
        let fs = FaultFs::from_image(&image);
        let db = Db::open(dir, fs_opts(&fs)).unwrap();
        fs.set_tracing(true);
        db.compact_range(None, None).unwrap();
        fs.set_tracing(false);
        let mut m = BTreeMap::new();
        for t in fs.trace() {
            let name = t.path.file_name().unwrap().to_string_lossy().into_owned();
            if t.kind == OpKind::Read && original.contains(&name) {
                *m.entry(name).or_insert(0) += 1;
            }
        }
        db.close().unwrap();
        m
    };
    assert_eq!(reads_per_file.keys().cloned().collect::<BTreeSet<_>>(), original, "every input is read");
    let names: Vec<&String> = reads_per_file.keys().collect();
    let (mut once, mut persistent) = (0, 0);
    for case in 0..cases {
        let victim = names[rng.below(names.len())];
        let nth = 1 + rng.below(reads_per_file[victim] as usize) as u64;
        let sticky = rng.below(2) == 0;
        if sticky {
            persistent += 1;
        } else {
            once += 1;
        }
        let level = fx.ssts[victim].0;
        let ctx = format!("{style:?} read fault {case}: {victim} (L{level}) read {nth}, persistent {sticky}");
        let fs = FaultFs::from_image(&image);
        let db = Db::open(dir, fs_opts(&fs)).unwrap();
        fs.inject(FaultSpec {
            kind: Some(OpKind::Read),
            path_contains: Some(victim.clone()),
            nth,
            persistent: sticky,
            error: FaultError::Eio,
        });
        let victim_path = dir.join(victim);
        match db.compact_range(None, None) {
            Err(Error::Io { path: Some(p), .. }) if p == victim_path => {}
            other => panic!("{ctx}: compaction with a failing read returned {other:?}"),
        }
        let fired = fs.injected();
        assert!(!fired.is_empty() && fired.iter().all(|f| f.path == victim_path), "{ctx}: fired {fired:?}");
        // Read-only until reopen, like every background failure.
        assert!(matches!(db.put(b"new-key", b"x", false), Err(Error::Poisoned(_))), "{ctx}: write after failure");
        assert!(db.stats().unwrap().read_only_reason.is_some(), "{ctx}: stats report read-only");
        // No input unlinked or changed; the manifest still lists exactly the inputs.
        let now = fault_ssts(&fs, dir);
        for n in &original {
            assert!(now.contains(n), "{ctx}: input {n} was unlinked");
            assert!(fs.peek(&dir.join(n)).as_ref() == Some(&fx.ssts[n].1), "{ctx}: input {n} changed");
        }
        fs.clear_faults();
        let listed: BTreeSet<String> = read_manifest_with(&fs, dir)
            .unwrap()
            .unwrap()
            .levels
            .iter()
            .flatten()
            .map(|m| table_file_name(dir, m.number).file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(listed, original, "{ctx}: the manifest changed");
        // Bad I/O is not bad data: once the fault is gone, every read succeeds and verify()
        // reports nothing.
        for _ in 0..50 {
            let k = key(rng.below(KEYS));
            assert_eq!(db.get(&k, None).unwrap().as_ref(), fx.model.get(&k), "{ctx}: get after the fault");
        }
        let problems = db.verify().unwrap();
        assert!(problems.is_empty(), "{ctx}: verify after the fault was cleared: {problems:?}");
        db.close().unwrap();
        drop(db);
        // After reopening: all data there, compaction succeeds, nothing lost, no stray files.
        let db = Db::open(dir, fs_opts(&fs)).unwrap();
        assert_eq!(fault_ssts(&fs, dir), original, "{ctx}: SSTs after reopen (partial outputs must be gone)");
        scan_equals_model(&db, &fx.model, &ctx);
        db.put(b"new-key", b"x", false).unwrap();
        db.compact_range(None, None).unwrap();
        db.delete(b"new-key", false).unwrap();
        scan_equals_model(&db, &fx.model, &format!("{ctx}, after a successful compaction"));
        assert!(db.verify().unwrap().is_empty(), "{ctx}: verify after the compaction");
        db.close().unwrap();
    }
    println!(
        "T7 {style:?} read faults: {cases} cases ({once} once, {persistent} persistent) over {} inputs \
         ({:?} reads each): all compactions failed with Io naming the file, 0 inputs unlinked or changed, \
         verify clean after the fault, data intact after reopen; in {:?}",
        names.len(),
        reads_per_file.values().collect::<Vec<_>>(),
        t0.elapsed()
    );
}

fn read_fault_cases() -> usize {
    soak_cases().unwrap_or(QUICK_READ_FAULTS_PER_STYLE)
}

#[test]
fn leveled_compaction_read_fault_is_io_not_corruption() {
    run_read_faults(CompactionStyle::Leveled, read_fault_cases(), 0x7_eea1);
}

#[test]
fn size_tiered_compaction_read_fault_is_io_not_corruption() {
    run_read_faults(CompactionStyle::SizeTiered, read_fault_cases(), 0x7_eea2);
}
