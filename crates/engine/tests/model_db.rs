//! Randomized differential test of `Db` against a `BTreeMap` model: puts, deletes, batches,
//! range clears, snapshots, bounded forward and reverse scans with seeks, flushes, manual
//! compactions and reopen, on a tiny geometry so that flushes and compactions happen often.
//!
//! T11(a). Per compaction style: [`QUICK_SHORT_CASES`] short cases of 1–200 operations each
//! (seeded, the length derived from the seed; 2,000 cases in all for the two styles) on a
//! 4 KiB memtable, plus 8 long cases of 2,000 operations that build deeper trees.
//!
//! Soak: `STRATA_SOAK_CASES=<n>` runs `n` short cases per style, `STRATA_SOAK_SECS=<s>`
//! runs short cases for `s` seconds per style (the two styles run side by side); with both,
//! whichever limit comes first. `STRATA_TEST_SEED=<seed>` replays one short case.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::ops::Bound;

use strata_engine::{CompactionStyle, Db, IterOptions, Options, RangeOptions, Snapshot, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const QUICK_SHORT_CASES: u64 = 1_000;
const MAX_SHORT_STEPS: u64 = 200;

fn opts(style: CompactionStyle, memtable_size: usize) -> Options {
    let mut o = Options::default();
    o.memtable_size = memtable_size;
    o.block_size = 512;
    o.block_cache_size = 64 * 1024;
    o.compaction.style = style;
    o.compaction.target_file_size = 8 * 1024;
    o.compaction.base_level_size = 32 * 1024;
    o.compaction.level_size_ratio = 2;
    o.compaction.l0_compaction_trigger = 3;
    o.compaction.l0_stop_trigger = 12;
    o
}

fn key(r: &mut Rng) -> Vec<u8> {
    // Keys that are prefixes of one another stress ordering.
    let n = r.below(2500);
    if n.is_multiple_of(613) {
        // The empty key, the smallest of all.
        return Vec::new();
    }
    let mut k = format!("k{n}").into_bytes();
    if n.is_multiple_of(7) {
        k.push(0);
    }
    k
}

fn bound(r: &mut Rng) -> Bound<Vec<u8>> {
    match r.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(r)),
        _ => Bound::Excluded(key(r)),
    }
}

fn in_range(k: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
    };
    above && below
}

fn expected(model: &Model, range: &RangeOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = model
        .iter()
        .filter(|(k, _)| in_range(k, &range.lower, &range.upper))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if range.reverse {
        v.reverse();
    }
    if let Some(l) = range.limit {
        v.truncate(l as usize);
    }
    v
}

fn scan(db: &Db, range: RangeOptions, snapshot: Option<Snapshot>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db.iter(IterOptions { range, snapshot }).unwrap();
    let mut out = Vec::new();
    loop {
        let batch = it.next_batch(7, 1 << 20).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

/// A temporary directory, on tmpfs when there is one (short cases create many databases).
fn tempdir() -> tempfile::TempDir {
    if std::path::Path::new("/dev/shm").is_dir() {
        if let Ok(d) = tempfile::tempdir_in("/dev/shm") {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// What one case did (for the printed totals).
#[derive(Debug, Default, Clone, Copy)]
struct CaseStats {
    steps: u64,
    flushes: u64,
    compactions: u64,
    reopens: u64,
}

fn run(seed: u64, style: CompactionStyle, steps: usize, memtable_size: usize, verbose: bool) -> CaseStats {
    let dir = tempdir();
    let mut r = Rng(seed | 1);
    let opts = |style| opts(style, memtable_size);
    let mut reopens = 0;
    let mut db = Db::open(dir.path(), opts(style)).unwrap();
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    for step in 0..steps {
        let ctx = || format!("seed {seed} style {style:?} step {step}");
        match r.below(100) {
            0..=44 => {
                let k = key(&mut r);
                let len = r.below(200) as usize;
                let mut v = format!("v{step}-").into_bytes();
                v.extend((0..len).map(|_| b"0123456789abcdef"[r.below(16) as usize]));
                db.put(&k, &v, r.below(20) == 0).unwrap();
                model.insert(k, v);
            }
            45..=59 => {
                let k = key(&mut r);
                db.delete(&k, false).unwrap();
                model.remove(&k);
            }
            60..=67 => {
                let mut b = WriteBatch::new();
                for i in 0..r.below(20) {
                    let k = key(&mut r);
                    if r.below(4) == 0 {
                        b.delete(&k).unwrap();
                        model.remove(&k);
                    } else {
                        let v = format!("b{step}-{i}").into_bytes();
                        b.put(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                }
                db.write(b, false).unwrap();
            }
            68 => {
                let range = RangeOptions {
                    lower: bound(&mut r),
                    upper: bound(&mut r),
                    reverse: false,
                    limit: None,
                    ..RangeOptions::default()
                };
                let n = db.clear(range.clone(), false).unwrap();
                let gone: Vec<_> = model.keys().filter(|k| in_range(k, &range.lower, &range.upper)).cloned().collect();
                assert_eq!(n as usize, gone.len(), "{}", ctx());
                for k in gone {
                    model.remove(&k);
                }
            }
            69..=79 => {
                let k = key(&mut r);
                assert_eq!(db.get(&k, None).unwrap(), model.get(&k).cloned(), "get {}", ctx());
            }
            80..=87 => {
                let range = RangeOptions {
                    lower: bound(&mut r),
                    upper: bound(&mut r),
                    reverse: r.below(2) == 0,
                    limit: if r.below(3) == 0 { Some(r.below(50)) } else { None },
                    ..RangeOptions::default()
                };
                let got = scan(&db, range.clone(), None);
                assert!(got == expected(&model, &range), "scan {range:?} {}", ctx());
            }
            88..=90 => {
                if snaps.len() < 4 {
                    snaps.push((db.snapshot().unwrap(), model.clone()));
                } else {
                    let i = r.below(snaps.len() as u64) as usize;
                    let (snap, m) = snaps.swap_remove(i);
                    let range = RangeOptions { reverse: r.below(2) == 0, ..RangeOptions::default() };
                    let got = scan(&db, range.clone(), Some(snap.clone()));
                    assert!(got == expected(&m, &range), "snapshot scan {}", ctx());
                    let k = key(&mut r);
                    assert_eq!(db.get(&k, Some(&snap)).unwrap(), m.get(&k).cloned(), "snapshot get {}", ctx());
                }
            }
            91..=92 => {
                // Seek inside a bounded iterator.
                let reverse = r.below(2) == 0;
                let range = RangeOptions {
                    lower: bound(&mut r),
                    upper: bound(&mut r),
                    reverse,
                    limit: None,
                    ..RangeOptions::default()
                };
                let target = key(&mut r);
                let mut it = db.iter(IterOptions { range: range.clone(), snapshot: None }).unwrap();
                it.seek(&target).unwrap();
                let got = it.next().unwrap().map(|e| e.0);
                let want = expected(&model, &range).into_iter().map(|e| e.0).find(|k| {
                    if reverse {
                        k.as_slice() <= target.as_slice()
                    } else {
                        k.as_slice() >= target.as_slice()
                    }
                });
                assert_eq!(got, want, "seek {}", ctx());
            }
            93..=94 => db.flush().unwrap(),
            95 => db.compact_range(None, None).unwrap(),
            96 => {
                let a = key(&mut r);
                let b = key(&mut r);
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                db.compact_range(Some(&lo), Some(&hi)).unwrap();
            }
            _ => {
                reopens += 1;
                snaps.clear();
                if r.below(2) == 0 {
                    db.close().unwrap();
                }
                drop(db);
                db = Db::open(dir.path(), opts(style)).unwrap();
                let got = scan(&db, RangeOptions::default(), None);
                assert!(got == expected(&model, &RangeOptions::default()), "after reopen {}", ctx());
            }
        }
    }
    let got = scan(&db, RangeOptions::default(), None);
    assert!(got == expected(&model, &RangeOptions::default()), "final seed {seed}");
    assert!(db.verify().unwrap().is_empty(), "verify seed {seed}");
    let stats = db.stats().unwrap();
    assert!(stats.read_only_reason.is_none());
    if verbose {
        eprintln!(
            "seed {seed} {style:?}: levels {:?} flushes {} compactions {}",
            stats.levels.iter().map(|l| l.files).collect::<Vec<_>>(),
            stats.flushes,
            stats.compactions
        );
    }
    // Counters restart at each reopen; these are the last incarnation's.
    CaseStats { steps: steps as u64, flushes: stats.flushes, compactions: stats.compactions, reopens }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The seed of short case `i` of a style, and its length (1–200 operations).
fn short_case(base: u64, i: u64) -> (u64, usize) {
    let mut r = Rng(base.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let seed = r.next();
    (seed, short_steps(seed))
}

fn short_steps(seed: u64) -> usize {
    (1 + Rng((seed ^ 0x5bd1_e995) | 1).below(MAX_SHORT_STEPS)) as usize
}

/// Short cases for one style: the quick count, or the soak's count and/or time limit.
fn short_cases(style: CompactionStyle, base: u64) {
    const MEMTABLE: usize = 4 * 1024;
    if let Some(seed) = env::<u64>("STRATA_TEST_SEED") {
        let steps = short_steps(seed);
        eprintln!("replaying seed {seed} ({steps} steps) {style:?}");
        run(seed, style, steps, MEMTABLE, true);
        return;
    }
    let soak_secs = env::<u64>("STRATA_SOAK_SECS");
    let cases =
        env::<u64>("STRATA_SOAK_CASES").unwrap_or(if soak_secs.is_some() { u64::MAX } else { QUICK_SHORT_CASES });
    let deadline = soak_secs.map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let t0 = std::time::Instant::now();
    let mut total = CaseStats::default();
    let mut done = 0u64;
    while done < cases && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        let (seed, steps) = short_case(base, done);
        let s = run(seed, style, steps, MEMTABLE, false);
        total.steps += s.steps;
        total.flushes += s.flushes;
        total.compactions += s.compactions;
        total.reopens += s.reopens;
        done += 1;
    }
    println!(
        "T11a {style:?}: {done} short cases, {} ops ({} reopens, last-incarnation flushes {}, compactions {}), \
         0 divergences, in {:?}",
        total.steps,
        total.reopens,
        total.flushes,
        total.compactions,
        t0.elapsed()
    );
    assert!(done >= cases.min(1), "no case ran");
}

#[test]
fn model_leveled() {
    for seed in 1..=8u64 {
        run(seed * 0x9E37_79B9, CompactionStyle::Leveled, 2000, 16 * 1024, true);
    }
}

#[test]
fn model_size_tiered() {
    for seed in 1..=8u64 {
        run(seed * 0x85EB_CA6B, CompactionStyle::SizeTiered, 2000, 16 * 1024, true);
    }
}

#[test]
fn model_short_cases_leveled() {
    short_cases(CompactionStyle::Leveled, 0x11a_0001);
}

#[test]
fn model_short_cases_size_tiered() {
    short_cases(CompactionStyle::SizeTiered, 0x11a_0002);
}
