//! T4: bounded exhaustive crash states (CrashMonkey/Ace style).
//!
//! Every workload of 1-3 operations (1-4 in the soak tier) from {put-sync, put-nosync,
//! delete, batch(3), flush, compact, close+reopen} runs on a small pre-populated database
//! (one with only a WAL; one with SSTables in L0 and L1 plus a WAL; one with only a WAL
//! whose workload starts with a full memtable, so its first write rotates the memtable),
//! ending with a close.
//! `FaultFs` records the crash state right after every sync, directory sync, rename and
//! removal (including those of background flushes and compactions and of the reopen's
//! recovery), and right after every acknowledgement. Each crash point is recovered under
//! reset modes r1 and r4 and under r5, the consistent subsets of the namespace operations
//! not yet covered by a directory sync: all of them when there are at most
//! `EXHAUSTIVE_NAMES` such operations, `SAMPLED_SUBSETS` random ones otherwise. Each crash
//! state is checked against the history; `verify` must be clean.
//!
//! Soak: `STRATA_SOAK_SECS` or `STRATA_SOAK_SEEDS` set (any value) runs 4-op workloads and
//! adds r2 and r3 at every crash point; `STRATA_TEST_T4_DEPTH=<n>` picks the depth directly.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::history::{History, Op, Outcome};
use common::{env_u64, read_all, DB_PATH};
use strata_engine::file::fault::{CrashPoint, FaultFs, FsImage, ResetMode};
use strata_engine::{CompactionOptions, Db, Options, WriteBatch};

#[derive(Debug, Clone, Copy)]
enum WOp {
    PutSync,
    PutNoSync,
    Delete,
    Batch,
    Flush,
    Compact,
    Reopen,
}

const ALL_OPS: [WOp; 7] =
    [WOp::PutSync, WOp::PutNoSync, WOp::Delete, WOp::Batch, WOp::Flush, WOp::Compact, WOp::Reopen];

const WORKERS: usize = 2;
/// Up to this many unsynced namespace operations, every consistent subset is tried.
const EXHAUSTIVE_NAMES: usize = 4;
/// Beyond it, this many random consistent subsets (more in the soak tier).
const SAMPLED_SUBSETS: u64 = 8;

/// The base databases' memtable size.
const MEMTABLE: usize = 16 << 10;
/// The memtable size of the third base, which the workload fills to the brink before its
/// first operation: that operation rotates the memtable (new WAL, background flush), so
/// writes land in a WAL whose directory entry is new.
const BRINK_MEMTABLE: usize = 4096;

fn options(fs: &FaultFs, memtable_size: usize) -> Options {
    Options {
        memtable_size,
        block_size: 512,
        block_cache_size: 0,
        compaction: CompactionOptions {
            l0_compaction_trigger: 2,
            num_levels: 4,
            base_level_size: 32 << 10,
            target_file_size: 4 << 10,
            ..CompactionOptions::default()
        },
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

fn k(i: usize) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

fn v(tag: &str, i: usize) -> Vec<u8> {
    let mut v = format!("{tag}-{i}-").into_bytes();
    v.resize(100, b'x');
    v
}

/// A base database and the history that built it (every op acknowledged).
fn base(with_tables: bool) -> (FsImage, History) {
    let fs = FaultFs::new();
    let path = Path::new(DB_PATH);
    let mut hist = History::new();
    let db = Db::open(path, options(&fs, MEMTABLE)).expect("open base");
    let mut put = |db: &Db, i: usize, tag: &str| {
        let s = hist.invoke(Op::Write { muts: vec![(k(i), Some(v(tag, i)))], sync: false });
        let r = db.put(&k(i), &v(tag, i), false);
        r.as_ref().expect("base put");
        hist.complete(s, &r);
    };
    if with_tables {
        for i in 0..30 {
            put(&db, i, "a");
        }
        db.flush().expect("flush");
        for i in 15..45 {
            put(&db, i, "b");
        }
        db.flush().expect("flush");
        db.compact_range(None, None).expect("compact");
        for i in 40..60 {
            put(&db, i, "c");
        }
        db.flush().expect("flush");
        for i in 0..10 {
            put(&db, i * 3, "d");
        }
    } else {
        for i in 0..20 {
            put(&db, i, "a");
        }
    }
    db.close().expect("close base");
    drop(db);
    (fs.crash_image(strata_engine::file::fault::ResetMode::DropUnsynced, 0), hist)
}

/// Runs `ops` on a copy of `image`, capturing crash points; returns them with the history.
fn run_workload(
    image: &FsImage,
    base_hist: &History,
    memtable: usize,
    ops: &[WOp],
    extra: &[ResetMode],
) -> (Vec<CrashPoint>, History) {
    let fs = FaultFs::from_image(image);
    fs.set_crash_capture_modes(extra);
    let path = Path::new(DB_PATH);
    let opts = options(&fs, memtable);
    let hist = Arc::new(Mutex::new(base_hist.clone()));
    let mut db = Db::open(path, opts.clone()).expect("open for workload");
    if memtable == BRINK_MEMTABLE {
        let mut h = hist.lock().expect("history");
        let mut i = 0;
        while db.stats().expect("stats").memtable_bytes < memtable as u64 {
            let (key, val) = (k(200 + i), v("fill", i));
            let s = h.invoke(Op::Write { muts: vec![(key.clone(), Some(val.clone()))], sync: false });
            let r = db.put(&key, &val, false);
            r.as_ref().expect("fill put");
            h.complete(s, &r);
            i += 1;
        }
    }
    // Tag = 2 * ops invoked + 1 if the last one has not returned yet.
    let h2 = Arc::clone(&hist);
    fs.set_crash_capture(Some(Arc::new(move || {
        let h = h2.lock().expect("history");
        let pending = h.entries.last().is_some_and(|e| e.outcome == Outcome::Pending);
        (h.len() as u64) * 2 + u64::from(pending)
    })));
    let run = |op: Op, f: &mut dyn FnMut() -> strata_engine::Result<()>| {
        let s = hist.lock().expect("history").invoke(op);
        let r = f();
        hist.lock().expect("history").complete(s, &r);
        // A crash right after the acknowledgement.
        fs.capture_now(Path::new("<ack>"));
        r
    };
    for (n, op) in ops.iter().enumerate() {
        let tag = format!("w{n}");
        let key = k(n * 7 + 1);
        let r = match op {
            WOp::PutSync | WOp::PutNoSync => {
                let sync = matches!(op, WOp::PutSync);
                let val = v(&tag, n);
                run(Op::Write { muts: vec![(key.clone(), Some(val.clone()))], sync }, &mut || db.put(&key, &val, sync))
            }
            WOp::Delete => {
                let key = k(n * 3);
                run(Op::Write { muts: vec![(key.clone(), None)], sync: false }, &mut || db.delete(&key, false))
            }
            WOp::Batch => {
                let muts = vec![(k(2), Some(v(&tag, 2))), (k(100 + n), Some(v(&tag, 100 + n))), (k(n * 3 + 6), None)];
                let mut b = WriteBatch::new();
                for (kk, vv) in &muts {
                    match vv {
                        Some(vv) => b.put(kk, vv).expect("batch put"),
                        None => b.delete(kk).expect("batch delete"),
                    }
                }
                let mut b = Some(b);
                run(Op::Write { muts, sync: false }, &mut || db.write(b.take().unwrap_or_default(), false))
            }
            WOp::Flush => run(Op::Barrier("flush"), &mut || db.flush()),
            WOp::Compact => run(Op::Barrier("compact"), &mut || db.compact_range(None, None)),
            WOp::Reopen => {
                let r = run(Op::Barrier("close"), &mut || db.close());
                if r.is_ok() {
                    db = Db::open(path, opts.clone()).expect("reopen");
                }
                r
            }
        };
        r.unwrap_or_else(|e| panic!("{ops:?}: op {n} failed: {e}"));
    }
    run(Op::Barrier("close"), &mut || db.close()).expect("final close");
    drop(db);
    fs.set_crash_capture(None);
    let points = fs.take_crash_points();
    let hist = hist.lock().expect("history").clone();
    (points, hist)
}

/// Recovers one crash image and checks it; returns an error description.
fn recover_and_check(image: &FsImage, hist: &History, memtable: usize, tag: u64) -> Result<(), String> {
    let fs = FaultFs::from_image(image);
    let db = Db::open(Path::new(DB_PATH), options(&fs, memtable)).map_err(|e| format!("open failed: {e}"))?;
    let state = read_all(&db).map_err(|e| format!("scan failed: {e}"))?;
    let len = usize::try_from(tag / 2).unwrap_or(usize::MAX);
    let mut h = History { entries: hist.entries.get(..len).unwrap_or(&hist.entries).to_vec() };
    if tag % 2 == 1 {
        if let Some(last) = h.entries.last_mut() {
            last.outcome = Outcome::Pending;
        }
    }
    h.check(h.len(), &state, true)?;
    let problems = db.verify().map_err(|e| format!("verify failed: {e}"))?;
    if !problems.is_empty() {
        return Err(format!("verify: {problems:?}"));
    }
    db.close().map_err(|e| format!("close: {e}"))
}

fn workloads(depth: usize) -> Vec<Vec<WOp>> {
    let mut out: Vec<Vec<WOp>> = vec![Vec::new()];
    let mut all = Vec::new();
    for _ in 0..depth {
        let mut next = Vec::new();
        for w in &out {
            for op in ALL_OPS {
                let mut w2 = w.clone();
                w2.push(op);
                next.push(w2);
            }
        }
        all.extend(next.iter().cloned());
        out = next;
    }
    all
}

/// The crash states to recover at one crash point: r1, r4, the r5 subsets and the extra
/// modes, each with its label.
fn crash_states(p: &CrashPoint, samples: u64, seed: u64) -> Vec<(String, FsImage)> {
    let mut out = vec![("r1".to_string(), p.r1.clone()), ("r4".to_string(), p.r4.clone())];
    let n = p.unsynced.len();
    let subsets: Vec<Vec<bool>> = match p.unsynced.all_consistent_subsets(EXHAUSTIVE_NAMES) {
        Some(all) => all,
        None => {
            let mut seen = std::collections::BTreeSet::new();
            (0..samples * 4)
                .map(|i| p.unsynced.random_subset(seed.wrapping_mul(1000).wrapping_add(i)))
                .filter(|s| seen.insert(s.clone()))
                .take(usize::try_from(samples).unwrap_or(usize::MAX))
                .collect()
        }
    };
    for s in subsets {
        // The empty subset is r4 and the full one r1.
        if s.iter().all(|&b| !b) || s.iter().all(|&b| b) {
            continue;
        }
        let label: String = s.iter().map(|&b| if b { '1' } else { '0' }).collect();
        out.push((format!("r5[{label} of {n}]"), p.unsynced.image(&p.r4, &s)));
    }
    for (mode, img) in &p.extra {
        out.push((format!("{mode:?}"), img.clone()));
    }
    out
}

#[test]
fn exhaustive_crash_states() {
    let soak = env_u64("STRATA_SOAK_SECS").is_some() || env_u64("STRATA_SOAK_SEEDS").is_some();
    let depth = env_u64("STRATA_TEST_T4_DEPTH").map_or(if soak { 4 } else { 3 }, |d| d as usize);
    let extra: &[ResetMode] = if soak { &[ResetMode::DropRandomSuffix, ResetMode::TornPage] } else { &[] };
    let samples = if soak { SAMPLED_SUBSETS * 2 } else { SAMPLED_SUBSETS };
    common::watchdog("exhaustive_crash_states", if soak { 14400 } else { 1200 });
    let start = Instant::now();
    let (wal_only, with_tables) = (base(false), base(true));
    let bases = [
        ("wal-only", wal_only.clone(), MEMTABLE),
        ("with-tables", with_tables, MEMTABLE),
        ("brink", wal_only, BRINK_MEMTABLE),
    ];
    let jobs: Vec<(usize, Vec<WOp>)> =
        (0..bases.len()).flat_map(|b| workloads(depth).into_iter().map(move |w| (b, w))).collect();
    let next = AtomicUsize::new(0);
    let recoveries = AtomicUsize::new(0);
    let subset_recoveries = AtomicUsize::new(0);
    let sampled_points = AtomicUsize::new(0);
    let points_seen = AtomicUsize::new(0);
    let max_unsynced = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let workers = env_u64("STRATA_TEST_WORKERS").map_or(WORKERS, |w| w.max(1) as usize);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((b, ops)) = jobs.get(i) else { return };
                let (base_name, (image, base_hist), memtable) = &bases[*b];
                let (points, hist) = run_workload(image, base_hist, *memtable, ops, extra);
                points_seen.fetch_add(points.len(), Ordering::Relaxed);
                for (pi, p) in points.iter().enumerate() {
                    max_unsynced.fetch_max(p.unsynced.len(), Ordering::Relaxed);
                    // The model's own invariant: durable names + every unsynced operation = r1.
                    if p.unsynced.image(&p.r4, &vec![true; p.unsynced.len()]).files != p.r1.files {
                        failures.lock().expect("failures").push(format!(
                            "FaultFs model: r4 + all unsynced names != r1 at op {} of {ops:?}",
                            p.entry.op
                        ));
                    }
                    if p.unsynced.len() > EXHAUSTIVE_NAMES {
                        sampled_points.fetch_add(1, Ordering::Relaxed);
                    }
                    for (mode, img) in crash_states(p, samples, (i * 1000 + pi) as u64) {
                        recoveries.fetch_add(1, Ordering::Relaxed);
                        if mode.starts_with("r5") {
                            subset_recoveries.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Err(e) = recover_and_check(&img, &hist, *memtable, p.tag) {
                            let msg = format!(
                                "base {} workload {ops:?}: crash after op {} ({:?} {}), {mode}: {e}; unsynced names: {:?}",
                                base_name,
                                p.entry.op,
                                p.entry.kind,
                                p.entry.path.display(),
                                p.unsynced.ops.iter().map(|o| format!("{o:?}").chars().take(60).collect::<String>()).collect::<Vec<_>>()
                            );
                            eprintln!("FAIL {msg}");
                            failures.lock().expect("failures").push(msg);
                        }
                    }
                }
                if failures.lock().expect("failures").len() >= 20 {
                    return;
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    println!(
        "T4 exhaustive: depth {depth}, {} runs, {} crash points ({} with > {EXHAUSTIVE_NAMES} unsynced names, max {}), \
         {} recoveries ({} of them r5 subsets), {} failures, {:.1} s",
        jobs.len(),
        points_seen.load(Ordering::Relaxed),
        sampled_points.load(Ordering::Relaxed),
        max_unsynced.load(Ordering::Relaxed),
        recoveries.load(Ordering::Relaxed),
        subset_recoveries.load(Ordering::Relaxed),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} crash states failed; first: {}", failures.len(), failures[0]);
    assert!(subset_recoveries.load(Ordering::Relaxed) > 0, "no crash point had unsynced namespace operations");
}
