//! T3: simulated power loss with the fault file system, randomized.
//!
//! Per seed: 100-2,000 random operations (put, delete, batch, sync put, flush, compact,
//! close/reopen, get) on a tiny geometry over `FaultFs`; the power goes off at a random
//! point (possibly inside a background flush or compaction), the file system is reset with
//! a random mode r1-r4, the database is reopened and checked against the history (every
//! sync-acknowledged write present, the state equals some allowed prefix, batches atomic),
//! and `Db::verify` must be clean.
//!
//! Quick tier: as many seeds as fit in `QUICK_SECS`. Soak: `STRATA_SOAK_SECS=<secs>` runs
//! longer, `STRATA_SOAK_SEEDS=<n>` runs exactly n seeds; `STRATA_TEST_SEED=<s>` replays one seed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::history::{History, Op, Outcome};
use common::{env_u64, read_all, tiny_options, Rng, DB_PATH};
use strata_engine::file::fault::{FaultFs, ResetMode};
use strata_engine::{Db, Options, WriteBatch};

/// Wall-clock budget of the quick tier.
const QUICK_SECS: u64 = 60;
/// The quick tier must manage at least this many seeds (it aims for 500+).
const MIN_SEEDS: u64 = 100;
const KEYS: u64 = 300;
/// Percentage of seeds where the power fails a second time, during recovery.
const COMPOUND_PERCENT: u64 = 25;
/// Seeds run in parallel.
const WORKERS: usize = 4;

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

/// What one seed did, for the summary.
#[derive(Debug, Default, Clone, Copy)]
struct SeedStats {
    ops: usize,
    mode: usize,
}

fn run_seed(seed: u64) -> Result<SeedStats, String> {
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
    let mode_idx = rng.below(4) as usize;
    let mode = ResetMode::ALL[mode_idx];
    fs.reset(mode, seed);
    if rng.chance(COMPOUND_PERCENT) {
        // Compound failure (SQLite): the power fails again during recovery.
        fs.power_off_after(rng.below(80));
        if let Ok(db) = Db::open(path, opts.clone()) {
            fs.power_off();
            let _ = db.close();
        }
        fs.power_off();
        let mode2 = ResetMode::ALL[rng.below(4) as usize];
        fs.reset(mode2, seed ^ 0xC0);
    }
    let t_check = Instant::now();
    check_recovery(seed, &fs, &opts, &hist, &format!("{mode:?}"))?;
    if env_u64("STRATA_T3_TIMING").is_some() {
        eprintln!("seed {seed}: {} ops, workload {:?}, check {:?}", hist.len(), t_check - t_start, t_check.elapsed());
    }
    Ok(SeedStats { ops: hist.len(), mode: mode_idx })
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
    let fixed = env_u64("STRATA_SOAK_SEEDS");
    let budget = Duration::from_secs(env_u64("STRATA_SOAK_SECS").unwrap_or(QUICK_SECS));
    let start = Instant::now();
    // Seeds are independent; the engine waits on its background threads a lot, so a few
    // workers keep 2 cores busy.
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, Result<SeedStats, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let failed = results.lock().unwrap().iter().filter(|r| r.1.is_err()).count();
                if failed >= 5 {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                match fixed {
                    Some(n) if seed >= n => return,
                    None if start.elapsed() >= budget => return,
                    _ => {}
                }
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
    let mut modes = [0u64; 4];
    let mut failures = Vec::new();
    for (_, r) in &results {
        match r {
            Ok(s) => {
                ops += s.ops;
                modes[s.mode] += 1;
            }
            Err(e) => failures.push(e.clone()),
        }
    }
    let seeds = results.len() as u64;
    println!(
        "T3 power loss: {seeds} seeds, {ops} ops, resets r1..r4 = {modes:?}, {} failures, {:.1} s",
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} seeds failed; first: {}", failures.len(), failures[0]);
    assert!(fixed.is_some() || seeds >= MIN_SEEDS, "only {seeds} seeds ran in {budget:?}");
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
