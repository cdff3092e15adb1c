//! T6 (in process): bit flips and block overwrites in the live files of a closed database
//! (SSTs and MANIFEST), then open → full scan → 200 random gets against the model →
//! `Db::verify()`. See `docs/durability.md`, "Corruption, fuzzing and mmap safety".
//!
//! Pass criteria (asserted per case):
//! * no panic; every read returns the model's answer or `Error::Corruption`;
//! * a scan returns exactly a prefix of the model, then ends or fails with `Corruption`;
//! * every flip is detected: `open()` fails with `Corruption{file, offset}` or `verify()`
//!   reports the damaged file with an offset inside the damaged region (every byte of an
//!   SST and of the MANIFEST is covered by a CRC, so no flip may go undetected);
//! * gets of keys outside the damaged block all succeed (hence ≥ 90% of rows readable).
//!
//! Quick tier by default; `STRATA_SOAK_CASES=N` runs N sniper cases (and N/10 shotgun
//! cases) on the full 20,000-key database; `STRATA_TEST_SEED` changes the seed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod corruption_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use corruption_support::*;
use strata_engine::stats::Counters;
use strata_engine::table::Table;
use strata_engine::{Db, Error, Options};

/// Keys in the quick-tier database (the soak tier uses 20,000).
const QUICK_KEYS: usize = 6_000;
const SOAK_KEYS: usize = 20_000;
const QUICK_SNIPER: usize = 1_000;
const QUICK_SHOTGUN: usize = 100;
const GETS: usize = 200;

struct Fixture {
    dir: tempfile::TempDir,
    model: Model,
    /// Every key ever written (present and deleted) plus a few never written.
    probe_keys: Vec<Vec<u8>>,
    files: Vec<(String, Vec<u8>, Option<Vec<Region>>)>,
}

fn fixture(n: usize) -> Fixture {
    let dir = tempdir();
    let target = if n >= SOAK_KEYS { 256 * 1024 } else { 64 * 1024 };
    let model = build_db(dir.path(), n, &corruption_opts(target));
    let mut probe_keys: Vec<Vec<u8>> = (0..n).map(key).collect();
    probe_keys.extend((0..20).map(|i| format!("absent{i}").into_bytes()));
    let files = db_files(dir.path())
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.path().join(&name)).unwrap();
            let layout = name.ends_with(".sst").then(|| sst_layout(&bytes));
            (name, bytes, layout)
        })
        .collect();
    Fixture { dir, model, probe_keys, files }
}

fn opts() -> Options {
    corruption_opts(96 * 1024)
}

/// What one case observed.
#[derive(Debug, Default)]
struct Outcome {
    open_error: Option<Error>,
    scan_entries: usize,
    scan_error: bool,
    gets_ok: usize,
    gets_err: usize,
    /// Keys whose get failed.
    failed_keys: Vec<Vec<u8>>,
    problems: Vec<Error>,
}

fn assert_corruption(e: &Error, ctx: &str) {
    assert!(matches!(e, Error::Corruption { .. }), "{ctx}: expected Corruption, got {e:?}");
}

/// Open → full scan → gets → verify, checking every answer against the model.
fn run_case(dir: &Path, fx: &Fixture, rng: &mut Rng, ctx: &str) -> Outcome {
    let mut out = Outcome::default();
    let db = match Db::open(dir, opts()) {
        Ok(db) => db,
        Err(e) => {
            assert_corruption(&e, ctx);
            out.open_error = Some(e);
            return out;
        }
    };
    let (entries, err) = scan(&db);
    let mut expected = fx.model.iter();
    for (k, v) in &entries {
        let (mk, mv) = expected.next().unwrap_or_else(|| panic!("{ctx}: scan returned extra key {k:?}"));
        assert!(mk == k && mv == v, "{ctx}: scan returned a wrong entry at {k:?} (expected {mk:?})");
    }
    out.scan_entries = entries.len();
    match err {
        Some(e) => {
            assert_corruption(&e, ctx);
            out.scan_error = true;
        }
        None => assert_eq!(entries.len(), fx.model.len(), "{ctx}: scan ended early without an error"),
    }
    for _ in 0..GETS {
        let k = &fx.probe_keys[rng.below(fx.probe_keys.len())];
        match db.get(k, None) {
            Ok(v) => {
                assert_eq!(v.as_ref(), fx.model.get(k), "{ctx}: get({}) returned a wrong answer", show(k));
                out.gets_ok += 1;
            }
            Err(e) => {
                assert_corruption(&e, ctx);
                out.gets_err += 1;
                out.failed_keys.push(k.clone());
            }
        }
    }
    out.problems = db.verify().unwrap();
    for p in &out.problems {
        assert_corruption(p, ctx);
    }
    db.close().unwrap();
    out
}

fn show(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

/// Was the damage in `file` at `[lo, hi]` reported with that file and an offset inside the
/// damaged region(s)?
fn detected(out: &Outcome, dir: &Path, file: &str, region_lo: u64, region_hi: u64) -> bool {
    let path = dir.join(file);
    let names = |e: &Error| match e {
        Error::Corruption { file: Some(f), offset: Some(o), .. } => {
            f == &path && *o >= region_lo && *o < region_hi.max(region_lo + 1)
        }
        _ => false,
    };
    out.open_error.as_ref().is_some_and(names) || out.problems.iter().any(names)
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    detected: usize,
    undetected: usize,
    open_failed: usize,
    gets_ok: usize,
    gets_total: usize,
    by_kind: BTreeMap<String, usize>,
}

/// Applies `damage` to one file of a fresh copy of the database and checks the outcome.
/// `lo..hi` is the damaged byte range.
fn damage_case(fx: &Fixture, fi: usize, new_bytes: &[u8], lo: u64, hi: u64, rng: &mut Rng, t: &mut Tally, ctx: &str) {
    let (name, orig, layout) = &fx.files[fi];
    let work = tempdir();
    clone_db(fx.dir.path(), work.path(), Some((name, new_bytes)));
    let out = run_case(work.path(), fx, rng, ctx);
    t.cases += 1;
    t.gets_ok += out.gets_ok;
    t.gets_total += out.gets_ok + out.gets_err;
    if out.open_error.is_some() {
        t.open_failed += 1;
    }
    let changed = new_bytes != orig.as_slice();
    // The regions the damage touched; the report must point inside one of them.
    let (rlo, rhi, kinds) = match layout {
        Some(l) => {
            let first = region_of(l, lo);
            let last = region_of(l, hi.saturating_sub(1).max(lo));
            let kinds: Vec<RegionKind> =
                l.iter().filter(|r| r.start < hi.max(lo + 1) && r.end > lo).map(|r| r.kind).collect();
            (first.start, last.end, kinds)
        }
        None => (0, orig.len() as u64 + 1, Vec::new()),
    };
    let kind_name = match kinds.first() {
        Some(RegionKind::Data(_)) => "data",
        Some(RegionKind::Filter) => "filter",
        Some(RegionKind::Properties) => "properties",
        Some(RegionKind::Index) => "index",
        Some(RegionKind::Footer) => "footer",
        None => "manifest",
    };
    *t.by_kind.entry(kind_name.to_string()).or_default() += 1;
    if !changed {
        // Overwriting bytes with equal bytes: the database must be exactly as before.
        assert!(out.open_error.is_none() && out.gets_err == 0 && !out.scan_error, "{ctx}: unchanged file failed");
        assert!(out.problems.is_empty(), "{ctx}: false positive on an unchanged file: {:?}", out.problems);
        return;
    }
    if detected(&out, work.path(), name, rlo, rhi) {
        t.detected += 1;
    } else {
        // Every SST and MANIFEST byte is CRC-covered: an undetected change is a coverage bug.
        t.undetected += 1;
        panic!(
            "{ctx}: damage in {name} at {lo}..{hi} ({kind_name}) went undetected; open error {:?}, problems {:?}",
            out.open_error, out.problems
        );
    }
    // Reads outside the damaged blocks all succeed.
    if out.open_error.is_none() {
        for k in &out.failed_keys {
            // A get reads the first block whose last key is >= the key: that block must be damaged.
            let read_damaged_block = layout.as_ref().is_some_and(|l| {
                l.iter()
                    .find(|r| matches!(r.kind, RegionKind::Data(_)) && r.keys.last().is_some_and(|last| last >= k))
                    .is_some_and(|r| r.start < hi && r.end > lo)
            });
            assert!(read_damaged_block, "{ctx}: get({}) failed although its block is intact", show(k));
        }
        assert!(
            out.gets_ok * 10 >= (out.gets_ok + out.gets_err) * 9,
            "{ctx}: only {}/{} gets readable",
            out.gets_ok,
            out.gets_ok + out.gets_err
        );
    }
}

fn sizes() -> (usize, usize, usize) {
    match soak_cases() {
        Some(n) => (SOAK_KEYS, n, (n / 10).max(1)),
        None => (QUICK_KEYS, QUICK_SNIPER, QUICK_SHOTGUN),
    }
}

#[test]
fn sniper_and_shotgun() {
    let (keys, sniper, shotgun) = sizes();
    let seed = seed(0x7e57_c0de);
    let t0 = Instant::now();
    let fx = fixture(keys);
    let total: usize = fx.files.iter().map(|f| f.1.len()).sum();
    println!(
        "T6 fixture: {keys} keys, {} SSTs, {} live files, {total} bytes, built in {:?} (seed {seed})",
        fx.files.iter().filter(|f| f.0.ends_with(".sst")).count(),
        fx.files.len(),
        t0.elapsed()
    );
    assert!(fx.files.iter().filter(|f| f.0.ends_with(".sst")).count() >= 4);
    // Clean baseline.
    let mut rng = Rng::new(seed);
    let work = tempdir();
    clone_db(fx.dir.path(), work.path(), None);
    let clean = run_case(work.path(), &fx, &mut rng, "clean");
    assert!(clean.open_error.is_none() && clean.gets_err == 0 && !clean.scan_error && clean.problems.is_empty());
    drop(work);

    // Sniper: one random bit of one random byte of one random live (non-empty) file.
    let candidates: Vec<usize> = (0..fx.files.len()).filter(|&i| !fx.files[i].1.is_empty()).collect();
    let mut t = Tally::default();
    let t1 = Instant::now();
    for case in 0..sniper {
        let fi = candidates[rng.below(candidates.len())];
        let (name, orig, _) = &fx.files[fi];
        let pos = rng.below(orig.len());
        let bit = rng.below(8);
        let mut bytes = orig.clone();
        bytes[pos] ^= 1 << bit;
        let ctx = format!("sniper #{case}: {name} byte {pos} bit {bit}");
        damage_case(&fx, fi, &bytes, pos as u64, pos as u64 + 1, &mut rng, &mut t, &ctx);
    }
    println!(
        "T6 sniper: {} cases in {:?}: {} detected, {} undetected, {} failed open; {}/{} gets readable; by region {:?}",
        t.cases,
        t1.elapsed(),
        t.detected,
        t.undetected,
        t.open_failed,
        t.gets_ok,
        t.gets_total,
        t.by_kind
    );
    assert_eq!(t.detected, t.cases);

    // Shotgun: 4 KiB of zeros or junk at a random offset.
    let mut s = Tally::default();
    let t2 = Instant::now();
    for case in 0..shotgun {
        let fi = candidates[rng.below(candidates.len())];
        let (name, orig, _) = &fx.files[fi];
        let pos = rng.below(orig.len());
        let end = (pos + 4096).min(orig.len());
        let zeros = rng.below(2) == 0;
        let mut bytes = orig.clone();
        let fill = if zeros { vec![0u8; end - pos] } else { rng.bytes(end - pos) };
        bytes[pos..end].copy_from_slice(&fill);
        let ctx = format!("shotgun #{case}: {name} {pos}..{end} {}", if zeros { "zeros" } else { "junk" });
        damage_case(&fx, fi, &bytes, pos as u64, end as u64, &mut rng, &mut s, &ctx);
    }
    println!(
        "T6 shotgun: {} cases in {:?}: {} detected, {} failed open; {}/{} gets readable; by region {:?}",
        s.cases,
        t2.elapsed(),
        s.detected,
        s.open_failed,
        s.gets_ok,
        s.gets_total,
        s.by_kind
    );
}

/// Every byte of every SST's index block, properties block and footer, flipped one at a
/// time (the bit varies with the offset): the table must refuse to open with `Corruption`
/// naming the file and an offset inside the damaged region. Checked on `Table::open` with
/// the manifest's size (what `Db::open` calls) for every byte, and through `Db::open` for
/// every 16th byte.
#[test]
fn exhaustive_footer_and_index_flips() {
    let fx = fixture(QUICK_KEYS);
    let t0 = Instant::now();
    let (mut flips, mut db_opens) = (0usize, 0usize);
    let work = tempdir();
    for (fi, (name, orig, layout)) in fx.files.iter().enumerate() {
        let Some(layout) = layout else { continue };
        let meta_start = layout.iter().find(|r| r.kind == RegionKind::Properties).unwrap().start;
        let path = work.path().join(name);
        for pos in meta_start..orig.len() as u64 {
            let region = region_of(layout, pos);
            let mut bytes = orig.clone();
            bytes[pos as usize] ^= 1 << (pos % 8);
            std::fs::write(&path, &bytes).unwrap();
            let r = Table::open(
                &path,
                1,
                Some(orig.len() as u64),
                &opts().table_options(),
                pos % 2 == 0,
                None,
                Arc::new(Counters::default()),
            );
            match r {
                Err(Error::Corruption { file: Some(f), offset: Some(o), .. })
                    if f == path && o >= region.start && o < region.end => {}
                other => {
                    panic!("{name} byte {pos} ({:?}): expected Corruption in the region, got {other:?}", region.kind)
                }
            }
            flips += 1;
            if pos % 16 == 0 {
                let db_dir = work.path().join(format!("db-{fi}-{pos}"));
                clone_db(fx.dir.path(), &db_dir, Some((name, &bytes)));
                match Db::open(&db_dir, opts()) {
                    Err(Error::Corruption { file: Some(f), offset: Some(_), .. }) if f == db_dir.join(name) => {}
                    other => panic!("Db::open with {name} byte {pos} flipped: {other:?}"),
                }
                std::fs::remove_dir_all(&db_dir).unwrap();
                db_opens += 1;
            }
        }
    }
    println!("T6 exhaustive: {flips} footer/index/properties flips ({db_opens} through Db::open), all detected at open, in {:?}", t0.elapsed());
    assert!(flips > 0);
}

/// `verify()` on 50 clean databases of varied shapes (compression on/off, block sizes,
/// both compaction styles, data left in L0 and in the WAL): 0 problems.
#[test]
fn verify_has_no_false_positives_on_clean_databases() {
    let t0 = Instant::now();
    let mut rng = Rng::new(seed(0xc1ea_0001));
    for i in 0..50 {
        let dir = tempdir();
        let mut o = Options::default();
        o.compression = i % 2 == 0;
        o.block_size = [256, 1024, 4096][i % 3];
        o.memtable_size = 16 * 1024;
        o.bloom_bits_per_key = [0, 10][(i % 2) ^ ((i / 2) % 2)];
        o.compaction.style = if i % 4 < 2 {
            strata_engine::CompactionStyle::Leveled
        } else {
            strata_engine::CompactionStyle::SizeTiered
        };
        o.compaction.target_file_size = 16 * 1024;
        o.compaction.base_level_size = 64 * 1024;
        let db = Db::open(dir.path(), o.clone()).unwrap();
        let n = 200 + rng.below(1500);
        for j in 0..n {
            let k = key(rng.below(n * 2));
            if j % 9 == 0 {
                db.delete(&k, false).unwrap();
            } else {
                db.put(&k, &value(j, i as u64)[..1 + rng.below(100)], false).unwrap();
            }
        }
        match i % 3 {
            0 => db.compact_range(None, None).unwrap(),
            1 => db.flush().unwrap(),
            _ => {}
        }
        let problems = db.verify().unwrap();
        assert!(problems.is_empty(), "clean db {i} (open): {problems:?}");
        db.close().unwrap();
        let db = Db::open(dir.path(), o).unwrap();
        let problems = db.verify().unwrap();
        assert!(problems.is_empty(), "clean db {i} (reopened): {problems:?}");
        db.close().unwrap();
    }
    println!("T6 clean: 50 databases × 2 verify() calls, 0 false positives, in {:?}", t0.elapsed());
}
