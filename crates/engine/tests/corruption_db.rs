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
//! The database: 20,000 keys with 100-byte values (2.2 MB of keys and values), LZ4, 4 KiB
//! blocks, 160 KiB tables: about 1.3 MB in 8 SSTs after compression, plus the MANIFEST.
//!
//! Damage modes: sniper (1 random bit of a random byte), shotgun (4 KiB of zeros or junk at
//! a random offset), and bursts of 2 and 8 adjacent bits (first and last bit flipped, the
//! bits between random; a burst may span two bytes). Every case damages a private working
//! copy of the database in place, runs, and restores the bytes afterwards; cases run on
//! [`WORKERS`] threads, each with its own copy.
//!
//! Quick tier: 1,000 sniper + 100 shotgun + 20 + 20 bursts, and the exhaustive
//! footer/index/properties flips. Soak: `STRATA_SOAK_CASES=N` runs N sniper cases and N/10
//! of each other mode; `STRATA_SOAK_SECS=S` runs for S seconds instead (70% sniper, 10%
//! each other mode; with both, whichever limit comes first). `STRATA_TEST_SEED` changes
//! the seed.

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
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corruption_support::*;
use strata_engine::stats::Counters;
use strata_engine::table::Table;
use strata_engine::{Db, Error, Options};

/// Keys in the database (quick and soak tiers).
const KEYS: usize = 20_000;
const QUICK_SNIPER: usize = 1_000;
const QUICK_SHOTGUN: usize = 100;
const QUICK_BURSTS: usize = 20;
const GETS: usize = 200;
/// Table size: the values compress to about 1.3 MB, so 160 KiB gives about 8 SSTs.
const TARGET_FILE_SIZE: u64 = 160 * 1024;
/// Threads running cases, each on its own copy of the database.
const WORKERS: usize = 2;

struct Fixture {
    /// Keeps the pristine database (the work copies are made from `files`).
    _dir: tempfile::TempDir,
    model: Model,
    /// Every key ever written (present and deleted) plus a few never written.
    probe_keys: Vec<Vec<u8>>,
    files: Vec<(String, Vec<u8>, Option<Vec<Region>>)>,
}

fn fixture(n: usize) -> Fixture {
    let dir = tempdir();
    let model = build_db(dir.path(), n, &corruption_opts(TARGET_FILE_SIZE));
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
    Fixture { _dir: dir, model, probe_keys, files }
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
    /// Time spent in open, scan, gets, verify and close.
    phases: [Duration; 5],
}

fn assert_corruption(e: &Error, ctx: &str) {
    assert!(matches!(e, Error::Corruption { .. }), "{ctx}: expected Corruption, got {e:?}");
}

/// Open → full scan → gets → verify, checking every answer against the model.
fn run_case(dir: &Path, fx: &Fixture, rng: &mut Rng, ctx: &str) -> Outcome {
    let mut out = Outcome::default();
    let mut t = Instant::now();
    let mut lap = |out: &mut Outcome, i: usize| {
        out.phases[i] += t.elapsed();
        t = Instant::now();
    };
    let db = match Db::open(dir, opts()) {
        Ok(db) => db,
        Err(e) => {
            lap(&mut out, 0);
            assert_corruption(&e, ctx);
            out.open_error = Some(e);
            return out;
        }
    };
    lap(&mut out, 0);
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
    lap(&mut out, 1);
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
    lap(&mut out, 2);
    out.problems = db.verify().unwrap();
    for p in &out.problems {
        assert_corruption(p, ctx);
    }
    lap(&mut out, 3);
    db.close().unwrap();
    lap(&mut out, 4);
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
    unchanged: usize,
    open_failed: usize,
    gets_ok: usize,
    gets_total: usize,
    by_kind: BTreeMap<String, usize>,
    phases: [Duration; 5],
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.cases += o.cases;
        self.detected += o.detected;
        self.undetected += o.undetected;
        self.unchanged += o.unchanged;
        self.open_failed += o.open_failed;
        self.gets_ok += o.gets_ok;
        self.gets_total += o.gets_total;
        for (a, b) in self.phases.iter_mut().zip(o.phases) {
            *a += b;
        }
        for (k, v) in o.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
    }
}

/// The damage modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sniper,
    Shotgun,
    Burst2,
    Burst8,
}

/// One damage case: new contents for `[lo, hi)` of live file `fi`.
#[derive(Debug)]
struct Case {
    fi: usize,
    lo: u64,
    new: Vec<u8>,
    /// Seed of the case's random gets.
    seed: u64,
    what: String,
}

/// Draws the next case of `mode` (deterministic in the seed and the case number).
fn draw_case(fx: &Fixture, candidates: &[usize], mode: Mode, rng: &mut Rng, number: usize) -> Case {
    let fi = candidates[rng.below(candidates.len())];
    let (name, orig, _) = &fx.files[fi];
    let len = orig.len();
    let (lo, new, what) = match mode {
        Mode::Sniper => {
            let pos = rng.below(len);
            let bit = rng.below(8);
            (pos, vec![orig[pos] ^ (1 << bit)], format!("byte {pos} bit {bit}"))
        }
        Mode::Shotgun => {
            let pos = rng.below(len);
            let end = (pos + 4096).min(len);
            let zeros = rng.below(2) == 0;
            let fill = if zeros { vec![0u8; end - pos] } else { rng.bytes(end - pos) };
            (pos, fill, format!("{pos}..{end} {}", if zeros { "zeros" } else { "junk" }))
        }
        Mode::Burst2 | Mode::Burst8 => {
            // A burst of `n` bits starting at a random bit: first and last bit flipped, the
            // bits between random. It spans two bytes when it does not fit in the first.
            let n = if mode == Mode::Burst2 { 2 } else { 8 };
            let start_bit = rng.below(len * 8 - (n - 1));
            let inner = if n > 2 { (rng.next() as u16) & ((1 << (n - 1)) - 2) } else { 0 };
            let pattern: u16 = (1 | inner | (1 << (n - 1))) << (start_bit % 8);
            let pos = start_bit / 8;
            let bytes = if pattern > 0xff { 2 } else { 1 };
            let new: Vec<u8> = (0..bytes).map(|i| orig[pos + i] ^ (pattern >> (8 * i)) as u8).collect();
            (pos, new, format!("{n}-bit burst at bit {start_bit} (mask {pattern:#06x})"))
        }
    };
    Case { fi, lo: lo as u64, new, seed: rng.next(), what: format!("{mode:?} #{number}: {name} {what}") }
}

/// A private copy of the database that cases damage in place and then restore.
struct WorkCopy {
    dir: tempfile::TempDir,
}

impl WorkCopy {
    fn new(fx: &Fixture) -> WorkCopy {
        let dir = tempdir();
        for (name, bytes, _) in &fx.files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        WorkCopy { dir }
    }

    fn write_at(&self, name: &str, offset: u64, bytes: &[u8]) {
        let f = std::fs::OpenOptions::new().write(true).open(self.dir.path().join(name)).unwrap();
        f.write_all_at(bytes, offset).unwrap();
    }

    /// Back to the fixture's state after a case damaged `[lo, lo + len)` of file `fi` (the
    /// engine never writes into an existing SST; an open replaces the MANIFEST and the WAL).
    fn restore(&self, fx: &Fixture, fi: usize, lo: u64, len: usize) {
        let (name, orig, _) = &fx.files[fi];
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let e = e.unwrap();
            let n = e.file_name().to_string_lossy().into_owned();
            if n != "LOCK" && !fx.files.iter().any(|f| f.0 == n) {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        for (n, bytes, layout) in &fx.files {
            if layout.is_none() {
                std::fs::write(self.dir.path().join(n), bytes).unwrap();
            }
        }
        if name.ends_with(".sst") {
            self.write_at(name, lo, &orig[lo as usize..lo as usize + len]);
        }
    }

    /// The copy holds exactly the fixture's files and bytes.
    fn assert_pristine(&self, fx: &Fixture) {
        for (n, b, _) in &fx.files {
            assert!(std::fs::read(self.dir.path().join(n)).unwrap() == *b, "work copy of {n} was not restored");
        }
    }
}

/// Applies the damage of `case` to the work copy, checks the outcome and restores the copy.
fn damage_case(fx: &Fixture, work: &WorkCopy, case: &Case, t: &mut Tally) {
    let (name, orig, layout) = &fx.files[case.fi];
    let ctx = &case.what;
    let (lo, hi) = (case.lo, case.lo + case.new.len() as u64);
    work.write_at(name, lo, &case.new);
    let mut rng = Rng::new(case.seed);
    let out = run_case(work.dir.path(), fx, &mut rng, ctx);
    work.restore(fx, case.fi, lo, case.new.len());
    t.cases += 1;
    for (a, b) in t.phases.iter_mut().zip(out.phases) {
        *a += b;
    }
    t.gets_ok += out.gets_ok;
    t.gets_total += out.gets_ok + out.gets_err;
    if out.open_error.is_some() {
        t.open_failed += 1;
    }
    let changed = case.new.as_slice() != &orig[lo as usize..hi as usize];
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
        t.unchanged += 1;
        assert!(out.open_error.is_none() && out.gets_err == 0 && !out.scan_error, "{ctx}: unchanged file failed");
        assert!(out.problems.is_empty(), "{ctx}: false positive on an unchanged file: {:?}", out.problems);
        return;
    }
    if detected(&out, work.dir.path(), name, rlo, rhi) {
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

/// Runs up to `count` cases of `mode` (or until `deadline`) on [`WORKERS`] threads.
fn run_mode(fx: &Fixture, works: &[WorkCopy], mode: Mode, count: usize, deadline: Option<Instant>, seed: u64) -> Tally {
    let candidates: Vec<usize> = (0..fx.files.len()).filter(|&i| !fx.files[i].1.is_empty()).collect();
    // Cases are drawn in order from one generator, so the set of cases depends only on the seed.
    let gen = Mutex::new((Rng::new(seed), 0usize));
    // Set when a worker panics, so that the others stop too.
    let failed = std::sync::atomic::AtomicBool::new(false);
    struct PanicFlag<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for PanicFlag<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    let next = || {
        let mut g = gen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failed.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        if g.1 >= count || deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        g.1 += 1;
        let n = g.1 - 1;
        Some(draw_case(fx, &candidates, mode, &mut g.0, n))
    };
    let total = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for work in works {
            let (next, total, failed) = (&next, &total, &failed);
            s.spawn(move || {
                let _flag = PanicFlag(failed);
                let mut t = Tally::default();
                while let Some(case) = next() {
                    damage_case(fx, work, &case, &mut t);
                }
                work.assert_pristine(fx);
                total.lock().unwrap().merge(t);
            });
        }
    });
    total.into_inner().unwrap()
}

/// Per mode: the case count and the share of the soak time (quick tier: counts only).
fn plan() -> (Vec<(Mode, usize, f64)>, Option<Duration>) {
    let secs = std::env::var("STRATA_SOAK_SECS").ok().and_then(|s| s.parse::<u64>().ok());
    let n = soak_cases().or(secs.map(|_| usize::MAX));
    let modes = match n {
        Some(n) => {
            let tenth = if n == usize::MAX { n } else { (n / 10).max(1) };
            vec![
                (Mode::Sniper, n, 0.7),
                (Mode::Shotgun, tenth, 0.1),
                (Mode::Burst2, tenth, 0.1),
                (Mode::Burst8, tenth, 0.1),
            ]
        }
        None => vec![
            (Mode::Sniper, QUICK_SNIPER, 0.0),
            (Mode::Shotgun, QUICK_SHOTGUN, 0.0),
            (Mode::Burst2, QUICK_BURSTS, 0.0),
            (Mode::Burst8, QUICK_BURSTS, 0.0),
        ],
    };
    (modes, secs.map(Duration::from_secs))
}

#[test]
fn sniper_and_shotgun() {
    let seed = seed(0x7e57_c0de);
    let t0 = Instant::now();
    let fx = fixture(KEYS);
    let total: usize = fx.files.iter().map(|f| f.1.len()).sum();
    let ssts = fx.files.iter().filter(|f| f.0.ends_with(".sst")).count();
    println!(
        "T6 fixture: {KEYS} keys, {ssts} SSTs, {} live files, {total} bytes, built in {:?} (seed {seed})",
        fx.files.len(),
        t0.elapsed()
    );
    assert!(ssts >= 6, "expected about 8 SSTs, got {ssts}");
    let works: Vec<WorkCopy> = (0..WORKERS).map(|_| WorkCopy::new(&fx)).collect();
    // Clean baseline.
    let mut rng = Rng::new(seed);
    let clean = run_case(works[0].dir.path(), &fx, &mut rng, "clean");
    assert!(clean.open_error.is_none() && clean.gets_err == 0 && !clean.scan_error && clean.problems.is_empty());
    println!("T6 clean case: ms in open/scan/gets/verify/close {:?}", clean.phases.map(|d| d.as_millis()));
    works[0].restore(&fx, 0, 0, 0);

    let (modes, soak) = plan();
    let t_all = Instant::now();
    for (i, (mode, count, share)) in modes.into_iter().enumerate() {
        let deadline = soak.map(|d| Instant::now() + d.mul_f64(share));
        let t1 = Instant::now();
        let t = run_mode(&fx, &works, mode, count, deadline, seed.wrapping_add(i as u64 * 0x9e37_79b9));
        let el = t1.elapsed();
        println!(
            "T6 {mode:?}: {} cases in {el:?} ({:.0} ms/case wall, {WORKERS} workers): {} detected, {} undetected, \
             {} unchanged, {} failed open; {}/{} gets readable; by region {:?}; ms per case in open/scan/gets/verify/close \
             {:?}",
            t.cases,
            el.as_secs_f64() * 1000.0 / t.cases.max(1) as f64,
            t.detected,
            t.undetected,
            t.unchanged,
            t.open_failed,
            t.gets_ok,
            t.gets_total,
            t.by_kind,
            t.phases.map(|d| (d.as_secs_f64() * 1000.0 / t.cases.max(1) as f64).round())
        );
        assert!(t.cases > 0, "{mode:?}: no case ran");
        assert_eq!(t.detected + t.unchanged, t.cases, "{mode:?}: every change detected");
        if mode != Mode::Shotgun {
            assert_eq!(t.unchanged, 0, "{mode:?}: a bit flip always changes the file");
        }
    }
    println!("T6 all modes: {:?}", t_all.elapsed());
}

/// Every byte of every SST's index block, properties block and footer, flipped one at a
/// time (the bit varies with the offset): the table must refuse to open with `Corruption`
/// naming the file and an offset inside the damaged region. Checked on `Table::open` with
/// the manifest's size (what `Db::open` calls) for every byte, and through `Db::open` for
/// every 16th byte.
#[test]
fn exhaustive_footer_and_index_flips() {
    let fx = fixture(KEYS);
    let t0 = Instant::now();
    let (mut flips, mut db_opens) = (0usize, 0usize);
    let work = WorkCopy::new(&fx);
    for (fi, (name, orig, layout)) in fx.files.iter().enumerate() {
        let Some(layout) = layout else { continue };
        let meta_start = layout.iter().find(|r| r.kind == RegionKind::Properties).unwrap().start;
        let path = work.dir.path().join(name);
        for pos in meta_start..orig.len() as u64 {
            let region = region_of(layout, pos);
            work.write_at(name, pos, &[orig[pos as usize] ^ (1 << (pos % 8))]);
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
                match Db::open(work.dir.path(), opts()) {
                    Err(Error::Corruption { file: Some(f), offset: Some(_), .. }) if f == path => {}
                    other => panic!("Db::open with {name} byte {pos} flipped: {other:?}"),
                }
                db_opens += 1;
                work.restore(&fx, fi, pos, 1);
            } else {
                work.write_at(name, pos, &orig[pos as usize..pos as usize + 1]);
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
