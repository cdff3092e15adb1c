//! T3: simulated power loss with the fault file system, randomized.
//!
//! Per seed: 100-2,000 random operations (put, delete, batch, sync put, flush, compact,
//! close/reopen, get) on a tiny geometry over `FaultFs`; the power goes off at a random
//! point (possibly inside a background flush or compaction), the file system is reset with
//! a random mode r1-r4, the database is reopened and checked against the history (every
//! sync-acknowledged write present, the state equals some allowed prefix, batches atomic),
//! and `Db::verify` must be clean.
//!
//! The reset is r1-r4, or r5 (a random consistent subset of the namespace operations not
//! covered by a directory sync) in `R5_PERCENT`% of seeds. Compound failures: in
//! `COMPOUND_PERCENT`% of seeds the power fails again during recovery; in
//! `IO_COMPOUND_PERCENT`% of the others an I/O error is injected during recovery, the
//! faults are cleared (and in half of those the power fails again) and recovery runs once
//! more; the same criteria hold.
//!
//! Quick tier: the fixed seeds `base..base + QUICK_SEEDS` (`STRATA_T3_BASE_SEED`, default
//! 0) on `WORKERS` threads (`STRATA_TEST_WORKERS`). Soak: `STRATA_SOAK_SEEDS=<n>` runs n
//! seeds, `STRATA_SOAK_SECS=<secs>` runs seeds for that long; `STRATA_TEST_SEED=<s>`
//! replays one seed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::history::{History, Op, Outcome};
use common::{env_u64, read_all, tiny_options, Rng, DB_PATH};
use strata_engine::file::fault::{FaultFs, FaultSpec, OpKind, ResetMode};
use strata_engine::{Db, Options, WriteBatch};

/// Seeds of the quick tier: `base..base + QUICK_SEEDS`.
const QUICK_SEEDS: u64 = 2000;
const KEYS: u64 = 300;
/// Percentage of seeds where the power fails a second time, during recovery.
const COMPOUND_PERCENT: u64 = 25;
/// Percentage of the other seeds where an I/O error is injected during recovery.
const IO_COMPOUND_PERCENT: u64 = 27;
/// Percentage of resets turned into r5 (a random consistent subset of unsynced names).
const R5_PERCENT: u64 = 20;
/// Seeds run in parallel (the machine has 2 cores).
const WORKERS: usize = 2;

fn key(rng: &mut Rng) -> Vec<u8> {
    format!("key{:05}", rng.below(KEYS)).into_bytes()
}

fn value(rng: &mut Rng, seq: usize) -> Vec<u8> {
    let len = match rng.below(100) {
        0..=9 => 0,
        10..=89 => rng.range(1, 200) as usize,
        90..=97 => rng.range(200, 2000) as usize,
        _ => rng.range(2000, 6000) as usize,
    };
    // Unique per write, so a recovered value names the write it came from.
    let mut v = format!("v{seq}:").into_bytes();
    v.extend(rng.bytes(len));
    v
}

/// The second failure of a seed, if any.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Compound {
    #[default]
    None,
    /// The power failed again during recovery.
    PowerLoss,
    /// An I/O error was injected during recovery; `fired` if recovery reached it,
    /// `opened` if the open still succeeded.
    IoError { fired: bool, opened: bool },
}

/// What one seed did, for the summary.
#[derive(Debug, Default, Clone, Copy)]
struct SeedStats {
    ops: usize,
    mode: usize,
    compound: Compound,
}

fn run_seed(seed: u64) -> Result<SeedStats, String> {
    run_seed_with(seed, true)
}

fn run_seed_with(seed: u64, extras: bool) -> Result<SeedStats, String> {
    let mut rng = Rng::new(seed);
    let fs = FaultFs::new();
    let opts = tiny_options(&mut rng, &fs);
    let path = Path::new(DB_PATH);
    let n_ops = rng.range(100, 2000) as usize;
    let crash_op = rng.below(n_ops as u64) as usize;
    let mut hist = History::new();
    // The model of acknowledged writes, valid while `clean` (nothing indeterminate yet).
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut clean = true;
    let t_start = Instant::now();
    let mut db = Db::open(path, opts.clone()).map_err(|e| format!("seed {seed}: initial open: {e}"))?;
    let mut i = 0usize;
    let mut after_power_off = 0;
    while i < n_ops + 200 {
        if i == crash_op {
            // Cut the power a few file operations from now: inside this op, a later one, or
            // a background flush or compaction.
            fs.power_off_after(rng.below(40));
        }
        if fs.is_powered_off() {
            after_power_off += 1;
            if after_power_off > 3 {
                break;
            }
        } else if i >= n_ops {
            fs.power_off();
            continue;
        }
        i += 1;
        let seq = hist.len();
        match rng.below(1000) {
            0..=449 => {
                let (k, v) = (key(&mut rng), value(&mut rng, seq));
                let s = hist.invoke(Op::Write { muts: vec![(k.clone(), Some(v.clone()))], sync: false });
                let r = db.put(&k, &v, false);
                hist.complete(s, &r);
            }
            450..=529 => {
                let (k, v) = (key(&mut rng), value(&mut rng, seq));
                let s = hist.invoke(Op::Write { muts: vec![(k.clone(), Some(v.clone()))], sync: true });
                let r = db.put(&k, &v, true);
                hist.complete(s, &r);
            }
            530..=649 => {
                let k = key(&mut rng);
                let sync = rng.chance(10);
                let s = hist.invoke(Op::Write { muts: vec![(k.clone(), None)], sync });
                let r = db.delete(&k, sync);
                hist.complete(s, &r);
            }
            650..=799 => {
                let n = rng.range(2, 6);
                let mut b = WriteBatch::new();
                let mut muts = Vec::new();
                for _ in 0..n {
                    let k = key(&mut rng);
                    if rng.chance(25) {
                        b.delete(&k).map_err(|e| e.to_string())?;
                        muts.push((k, None));
                    } else {
                        let v = value(&mut rng, seq);
                        b.put(&k, &v).map_err(|e| e.to_string())?;
                        muts.push((k, Some(v)));
                    }
                }
                let sync = rng.chance(10);
                let s = hist.invoke(Op::Write { muts, sync });
                let r = db.write(b, sync);
                hist.complete(s, &r);
            }
            800..=899 | 935..=984 => {
                // Reads must see every acknowledged write while nothing is indeterminate.
                let k = key(&mut rng);
                let got = db.get(&k, None);
                if !fs.is_powered_off() && clean {
                    let want = model.get(&k).cloned();
                    match got {
                        Ok(v) if v == want => {}
                        other => {
                            return Err(format!(
                                "seed {seed}: get {} = {other:?}, model has {:?}",
                                String::from_utf8_lossy(&k),
                                want.map(|v| v.len())
                            ))
                        }
                    }
                }
            }
            900..=929 => {
                let s = hist.invoke(Op::Barrier("flush"));
                let r = db.flush();
                hist.complete(s, &r);
            }
            930..=934 => {
                let s = hist.invoke(Op::Barrier("compact"));
                let r = db.compact_range(None, None);
                hist.complete(s, &r);
            }
            _ => {
                let s = hist.invoke(Op::Barrier("close"));
                let r = db.close();
                hist.complete(s, &r);
                // `close` released the lock; the old handle is replaced below.
                match Db::open(path, opts.clone()) {
                    Ok(d) => db = d,
                    Err(e) if fs.is_powered_off() => {
                        let _ = e;
                        break;
                    }
                    Err(e) => return Err(format!("seed {seed}: reopen without a crash failed: {e}")),
                }
            }
        }
        if hist.len() > seq {
            if let Some(e) = hist.entries.last() {
                match (&e.op, e.outcome) {
                    (_, Outcome::Ok | Outcome::Pending) => {}
                    _ if fs.is_powered_off() => {}
                    _ => return Err(format!("seed {seed}: op {seq} failed with the power on")),
                }
                match (&e.op, e.outcome) {
                    (Op::Write { muts, .. }, Outcome::Ok) => common::history::apply(&mut model, muts),
                    (Op::Write { .. }, _) => clean = false,
                    _ => {}
                }
            }
        }
    }
    fs.power_off();
    let _ = db.close();
    drop(db);
    // The decisions added after the first version of this test (r5, the I/O-error
    // compound failure) come from a separate stream, so that every seed still runs the
    // same workload; `extras: false` replays a seed exactly as that version did.
    let mut extra = Rng::new(seed ^ 0x0E57_0005_u64.rotate_left(17));
    let mut mode_idx = rng.below(4) as usize;
    if extras && extra.chance(R5_PERCENT) {
        mode_idx = 4;
    }
    let mode = ResetMode::ALL[mode_idx];
    fs.reset(mode, seed);
    let mut compound = Compound::None;
    if rng.chance(COMPOUND_PERCENT) {
        // Compound failure (SQLite): the power fails again during recovery.
        compound = Compound::PowerLoss;
        fs.power_off_after(rng.below(80));
        if let Ok(db) = Db::open(path, opts.clone()) {
            fs.power_off();
            let _ = db.close();
        }
        fs.power_off();
        let mut mode2 = ResetMode::ALL[rng.below(4) as usize];
        if extras && extra.chance(R5_PERCENT) {
            mode2 = ResetMode::ForgetRandomUnsyncedNames;
        }
        fs.reset(mode2, seed ^ 0xC0);
    } else if extras && extra.chance(IO_COMPOUND_PERCENT) {
        compound = io_error_during_recovery(seed, &fs, &opts, &hist, &mut extra)?;
    }
    let t_check = Instant::now();
    check_recovery(seed, &fs, &opts, &hist, &format!("{mode:?}, compound {compound:?}"))?;
    if env_u64("STRATA_T3_TIMING").is_some() {
        eprintln!("seed {seed}: {} ops, workload {:?}, check {:?}", hist.len(), t_check - t_start, t_check.elapsed());
    }
    Ok(SeedStats { ops: hist.len(), mode: mode_idx, compound })
}

/// Compound failure with an I/O error: recovery from the power-loss state meets an
/// injected `EIO` on its Nth file operation of any kind (or of one kind), once or from
/// then on. The open may fail (with an error, never a panic) or succeed; if it succeeds
/// and a full scan succeeds too, that state must already be one the history allows. Then
/// the faults are cleared and, in half the cases, the power fails once more (a random
/// reset r1-r5) before the final recovery that `run_seed` checks.
fn io_error_during_recovery(
    seed: u64,
    fs: &FaultFs,
    opts: &Options,
    hist: &History,
    extra: &mut Rng,
) -> Result<Compound, String> {
    const KINDS: [OpKind; 8] = [
        OpKind::Read,
        OpKind::Write,
        OpKind::Sync,
        OpKind::SyncDir,
        OpKind::Rename,
        OpKind::Create,
        OpKind::Remove,
        OpKind::Open,
    ];
    let kind = if extra.chance(50) { None } else { Some(KINDS[extra.below(KINDS.len() as u64) as usize]) };
    let nth = if kind.is_none() { extra.range(1, 120) } else { extra.range(1, 6) };
    let persistent = extra.chance(50);
    fs.clear_injected();
    fs.inject(if persistent { FaultSpec::from_nth(kind, nth) } else { FaultSpec::once(kind, nth) });
    let what = format!("EIO on {kind:?} #{nth}{} during recovery", if persistent { " and later" } else { "" });
    let opened = match Db::open(Path::new(DB_PATH), opts.clone()) {
        Ok(db) => {
            if let Ok(state) = read_all(&db) {
                hist.check(hist.len(), &state, true)
                    .map_err(|e| format!("seed {seed} ({what}): open succeeded with a wrong state: {e}"))?;
            }
            fs.clear_faults();
            let _ = db.close();
            true
        }
        Err(_) => false,
    };
    fs.clear_faults();
    let fired = fs.injected_count() > 0;
    if extra.chance(50) {
        fs.power_off();
        fs.reset(ResetMode::ALL[extra.below(5) as usize], seed ^ 0x10E);
    }
    Ok(Compound::IoError { fired, opened })
}

/// Reopens, checks the state against the history and runs verify.
fn check_recovery(seed: u64, fs: &FaultFs, opts: &Options, hist: &History, what: &str) -> Result<(), String> {
    let _ = fs;
    let db = Db::open(Path::new(DB_PATH), opts.clone())
        .map_err(|e| format!("seed {seed} ({what}): open after power loss failed: {e}"))?;
    let state: BTreeMap<Vec<u8>, Vec<u8>> =
        read_all(&db).map_err(|e| format!("seed {seed} ({what}): scan after recovery failed: {e}"))?;
    hist.check(hist.len(), &state, true).map_err(|e| format!("seed {seed} ({what}): {e}"))?;
    let problems = db.verify().map_err(|e| format!("seed {seed} ({what}): verify failed: {e}"))?;
    if !problems.is_empty() {
        return Err(format!("seed {seed} ({what}): verify found {problems:?}"));
    }
    db.close().map_err(|e| format!("seed {seed} ({what}): close after recovery: {e}"))?;
    Ok(())
}

#[test]
fn power_loss_random_seeds() {
    common::watchdog("power_loss_random_seeds", 1800 + env_u64("STRATA_SOAK_SECS").unwrap_or(0));
    if let Some(seed) = env_u64("STRATA_TEST_SEED") {
        run_seed(seed).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    // The seed list is `base, base + 1, ...`: a failure names its seed, which replays alone.
    let base = env_u64("STRATA_T3_BASE_SEED").unwrap_or(0);
    let secs = env_u64("STRATA_SOAK_SECS");
    let count = env_u64("STRATA_SOAK_SEEDS").unwrap_or(if secs.is_some() { u64::MAX } else { QUICK_SEEDS });
    let budget = secs.map(Duration::from_secs);
    let workers = env_u64("STRATA_TEST_WORKERS").map_or(WORKERS, |w| w.max(1) as usize);
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, Result<SeedStats, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let failed = results.lock().unwrap().iter().filter(|r| r.1.is_err()).count();
                if failed >= 5 {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || budget.is_some_and(|b| start.elapsed() >= b) {
                    return;
                }
                let seed = base.wrapping_add(i);
                let r = run_seed(seed);
                if let Err(e) = &r {
                    eprintln!("FAIL {e}");
                }
                results.lock().unwrap().push((seed, r));
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut ops = 0usize;
    let mut modes = [0u64; 5];
    let (mut power2, mut io, mut io_fired, mut io_opened) = (0u64, 0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for (_, r) in &results {
        match r {
            Ok(s) => {
                ops += s.ops;
                modes[s.mode] += 1;
                match s.compound {
                    Compound::None => {}
                    Compound::PowerLoss => power2 += 1,
                    Compound::IoError { fired, opened } => {
                        io += 1;
                        io_fired += u64::from(fired);
                        io_opened += u64::from(fired && opened);
                    }
                }
            }
            Err(e) => failures.push(e.clone()),
        }
    }
    let seeds = results.len() as u64;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "T3 power loss: seeds {base}..{}, {seeds} seeds ({:.1}/s), {ops} ops, resets r1..r5 = {modes:?}, \
         compound: {power2} power loss, {io} I/O error ({io_fired} reached, {io_opened} of those opened anyway), \
         {} failures, {secs:.1} s, {workers} workers",
        base.wrapping_add(seeds),
        seeds as f64 / secs,
        failures.len(),
    );
    assert!(failures.is_empty(), "{} seeds failed; first: {}", failures.len(), failures[0]);
    if budget.is_none() {
        assert_eq!(seeds, count, "every seed of the list ran");
    }
}

/// Seeds that found defects, replayed on every run.
///
/// * 17, 35: a second power loss during recovery left the new, empty WAL beside the torn
///   WAL being replayed; the torn WAL was then "not the newest" and open failed with
///   `Corruption`. Fixed by creating the new WAL only after the recovery manifest is durable.
const REGRESSION_SEEDS: &[u64] = &[17, 35];

#[test]
fn power_loss_regression_seeds() {
    for &seed in REGRESSION_SEEDS {
        // As found (before r5 and the I/O-error compound existed), and as run today.
        run_seed_with(seed, false).unwrap_or_else(|e| panic!("{e}"));
        run_seed(seed).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The checker itself: holes and reordering are caught, indeterminate writes go either way.
#[test]
fn checker_rejects_holes_and_accepts_prefixes() {
    let put = |k: &str, v: &str, sync| Op::Write { muts: vec![(k.into(), Some(v.into()))], sync };
    let mut h = History::new();
    for (k, v, sync) in [("a", "1", false), ("b", "2", true), ("c", "3", false), ("d", "4", false)] {
        let s = h.invoke(put(k, v, sync));
        h.complete::<()>(s, &Ok(()));
    }
    let s = h.invoke(put("e", "5", false));
    h.complete::<()>(s, &Err(strata_engine::Error::Io { path: None, source: std::io::Error::other("x") }));
    let st = |pairs: &[(&str, &str)]| -> BTreeMap<Vec<u8>, Vec<u8>> {
        pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
    };
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2")]), true).is_ok());
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2"), ("c", "3")]), true).is_ok());
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]), true).is_ok());
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]), false).is_ok());
    // A sync-acked write lost.
    assert!(h.check(h.len(), &st(&[("a", "1")]), true).is_err());
    // A hole: d without c.
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2"), ("d", "4")]), true).is_err());
    // Without power loss every acked write must be there.
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "2"), ("c", "3")]), false).is_err());
    // A value never written.
    assert!(h.check(h.len(), &st(&[("a", "1"), ("b", "9")]), true).is_err());
    // Batches are atomic.
    let mut h = History::new();
    let s =
        h.invoke(Op::Write { muts: vec![("x".into(), Some("1".into())), ("y".into(), Some("2".into()))], sync: false });
    h.complete::<()>(s, &Ok(()));
    assert!(h.check(h.len(), &st(&[("x", "1")]), true).is_err());
    assert!(h.check(h.len(), &st(&[]), true).is_ok());
}
