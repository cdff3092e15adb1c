//! T2: whitebox crash points (RELIABILITY.md). Built only with the `crash-points` feature:
//!
//! ```text
//! cargo test -p strata-engine --features crash-points --test crash_points
//! ```
//!
//! The parent re-runs this test binary as a child (`child_workload`, selected by
//! `STRATA_CRASHPTS_CHILD=<dir>`) with `STRATA_CRASH_POINT=<name>` and
//! `STRATA_CRASH_HIT=<n>` (or `STRATA_CRASH_ODDS=<N>`) set. The child opens a database on
//! a real directory with a tiny geometry and runs 4 writer threads (puts, deletes, 10-key
//! batches, 1 write in 20 with `sync`, checked reads) plus a maintenance thread (flush,
//! `compact_range`, close and reopen), logging `invoke`/`ok`/`fail` of every write to its
//! stdout pipe, one `write(2)` per line. The engine aborts the child at the chosen point.
//! The parent asserts the child died by SIGABRT at that point, reopens the database in
//! process and checks it with the history checker: every acknowledged write present (a
//! process crash loses nothing acknowledged, sync or not: C1, C2), batches atomic (C3), no
//! value that was never written, open succeeds, `verify` clean. Each writer owns a
//! disjoint quarter of the key space, so each is one sequential client of the checker.
//!
//! Each point runs a chain of cases on one directory: the recovered state of a case is the
//! starting state of the next. The chains start from a copy of a database filled by a first
//! child run without a crash, which also counts the hits of every point per run
//! (the census), from which the hit numbers are spread.
//!
//! Quick tier: every point × 10 hits. Soak (`STRATA_SOAK_SECS=<s>`): every point × up to 100
//! hits within half of the time (at least 10 each), then the odds mode with N in
//! {10, 1000, 100000} until the time is up.
//! `STRATA_TEST_SEED=<s>` fixes the seed.
#![cfg(feature = "crash-points")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::too_many_lines)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::history::{certainly_not_applied, History, Mutation, Op, Outcome};
use common::{env_u64, read_all, Rng};
use strata_engine::crash::CRASH_POINTS;
use strata_engine::{CompactionOptions, Db, Options, WriteBatch};

const CHILD_ENV: &str = "STRATA_CRASHPTS_CHILD";
const CHILD_SECS_ENV: &str = "STRATA_CRASHPTS_SECS";
const CHILD_SEED_ENV: &str = "STRATA_CRASHPTS_SEED";
/// Prefix of every history line the child writes (libtest writes to stdout too).
const TAG: &str = "@H ";

const KEYS: u64 = 10_000;
const WRITERS: u64 = 4;
const KEYS_PER_WRITER: u64 = KEYS / WRITERS;
const MAX_VALUE: u64 = 4096;
const BATCH_KEYS: u64 = 10;

/// Hits per point in the quick and soak tiers.
const QUICK_HITS: usize = 10;
const SOAK_HITS: usize = 100;
/// The census run (no crash) lasts this long.
const CENSUS_SECS: f64 = 3.0;
/// A crash child that has not died after this long exits cleanly: its point was not reached.
const CHILD_MAX_SECS: f64 = 20.0;
/// The parent kills a child that is still alive after this long (a hang).
const CHILD_KILL_SECS: u64 = 90;

fn key(i: u64) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

fn key_index(k: &[u8]) -> Option<u64> {
    std::str::from_utf8(k.strip_prefix(b"k")?).ok()?.parse().ok().filter(|&i| i < KEYS)
}

/// The value of write `id`: `len` bytes determined by the id (incompressible, distinct per
/// write for any useful length), so the log carries only the id and the length.
fn value(id: u64, len: u64) -> Vec<u8> {
    Rng::new(id).bytes(len as usize)
}

fn value_id(writer: u64, op: u64, j: u64) -> u64 {
    (writer << 48) | (op << 8) | j
}

fn options() -> Options {
    Options {
        memtable_size: 128 << 10,
        max_immutable_memtables: 2,
        block_size: 4096,
        compression: true,
        bloom_bits_per_key: 10,
        block_cache_size: 256 << 10,
        compaction: CompactionOptions {
            l0_compaction_trigger: 4,
            l0_stop_trigger: 12,
            num_levels: 4,
            base_level_size: 1 << 20,
            target_file_size: 256 << 10,
            level_size_ratio: 10,
            ..CompactionOptions::default()
        },
        ..Options::default()
    }
}

// ---------------------------------------------------------------------------------------
// The child.

/// Writes one history line with one `write(2)` (the line is far below `PIPE_BUF`).
fn log(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{TAG}{line}\n").as_bytes());
    let _ = out.flush();
}

fn outcome_code(e: &strata_engine::Error) -> &'static str {
    if certainly_not_applied(e) {
        "NA"
    } else {
        "U"
    }
}

fn writer(t: u64, seed: u64, db: &RwLock<Db>, stop: &AtomicBool) {
    let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0x1234_5678_9ABC_DEF1));
    let base = t * KEYS_PER_WRITER;
    // The writer's own view of its keys, for checked reads (only it writes them).
    let mut model: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut known: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.below(100);
        let sync = rng.below(20) == 0;
        let s = if sync { "S" } else { "-" };
        if roll < 20 {
            // A checked read of a key this writer has written in this run.
            let i = base + rng.below(KEYS_PER_WRITER);
            if !known.contains(&i) {
                continue;
            }
            let got = db.read().unwrap().get(&key(i), None);
            let want = model.get(&i).map(|&(id, len)| value(id, len));
            match got {
                Ok(v) if v == want => {}
                Ok(v) => log(&format!(
                    "X {t} read of k{i:05}: got {:?} bytes, want {:?}",
                    v.map(|v| v.len()),
                    want.map(|v| v.len())
                )),
                Err(e) => log(&format!("X {t} read of k{i:05} failed: {e}")),
            }
            continue;
        }
        let mut batch = WriteBatch::new();
        let mut muts: Vec<(u64, Option<(u64, u64)>)> = Vec::new();
        let line;
        if roll < 70 {
            let i = base + rng.below(KEYS_PER_WRITER);
            let len = rng.below(MAX_VALUE + 1);
            let id = value_id(t, n, 0);
            batch.put(&key(i), &value(id, len)).unwrap();
            muts.push((i, Some((id, len))));
            line = format!("I {t} {n} {s} P {i} {len}");
        } else if roll < 82 {
            let i = base + rng.below(KEYS_PER_WRITER);
            batch.delete(&key(i)).unwrap();
            muts.push((i, None));
            line = format!("I {t} {n} {s} D {i}");
        } else {
            let mut parts = Vec::new();
            for j in 0..BATCH_KEYS {
                let i = base + rng.below(KEYS_PER_WRITER);
                if rng.below(5) == 0 {
                    batch.delete(&key(i)).unwrap();
                    muts.push((i, None));
                    parts.push(format!("{i}:-"));
                } else {
                    let len = rng.below(MAX_VALUE + 1);
                    let id = value_id(t, n, j);
                    batch.put(&key(i), &value(id, len)).unwrap();
                    muts.push((i, Some((id, len))));
                    parts.push(format!("{i}:{len}"));
                }
            }
            line = format!("I {t} {n} {s} B {}", parts.join(" "));
        }
        log(&line);
        let res = db.read().unwrap().write(batch, sync);
        match res {
            Ok(()) => {
                log(&format!("O {t} {n}"));
                for (i, m) in muts {
                    known.insert(i);
                    match m {
                        Some(v) => {
                            model.insert(i, v);
                        }
                        None => {
                            model.remove(&i);
                        }
                    }
                }
            }
            Err(e) => {
                log(&format!("F {t} {n} {} {e}", outcome_code(&e)));
                // The outcome is unknown: stop checking reads of these keys.
                for (i, _) in muts {
                    known.remove(&i);
                }
            }
        }
        n += 1;
    }
}

/// Flushes, compacts a random 1/20 of the key space, and closes and reopens the
/// database, now and then.
fn maintenance(seed: u64, dir: &Path, db: &RwLock<Db>, stop: &AtomicBool) {
    let mut rng = Rng::new(seed ^ 0xABCD);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(rng.range(50, 200)));
        let roll = rng.below(100);
        // A manual compaction of a wide range under this write load can run for many
        // seconds (it re-picks the new L0 files up to 64 times per level), which would keep
        // the reopens (and so the open.* points) from happening: compact 1/20 of the keys.
        // Every 4th operation, starting with the first, is a reopen, so that every run (the
        // census too) reaches the open.* points.
        let (what, res) = if !n.is_multiple_of(4) && roll < 70 {
            ("flush", db.read().unwrap().flush())
        } else if !n.is_multiple_of(4) {
            let lo = rng.below(KEYS - KEYS / 20);
            let (a, b) = (key(lo), key(lo + KEYS / 20));
            ("compact", db.read().unwrap().compact_range(Some(&a), Some(&b)))
        } else {
            let mut g = db.write().unwrap();
            let closed = g.close();
            let res = closed.and_then(|()| Db::open(dir, options()).map(|d| *g = d));
            ("reopen", res)
        };
        match res {
            Ok(()) => log(&format!("M {n} {what} ok")),
            Err(e) => log(&format!("M {n} {what} failed: {e}")),
        }
        n += 1;
    }
}

/// The child: runs the workload on `STRATA_CRASHPTS_CHILD` until the engine aborts it or
/// `STRATA_CRASHPTS_SECS` pass; then closes cleanly and prints the hit counts.
#[test]
#[ignore = "run by crash_points as a child process"]
fn child_workload() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = PathBuf::from(dir);
    let secs: f64 = std::env::var(CHILD_SECS_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(CHILD_MAX_SECS);
    let seed = env_u64(CHILD_SEED_ENV).unwrap_or(1);
    let db = match Db::open(&dir, options()) {
        Ok(db) => db,
        Err(e) => {
            log(&format!("X open failed: {e}"));
            return;
        }
    };
    log("open");
    let db = Arc::new(RwLock::new(db));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..WRITERS {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || writer(t, seed, &db, &stop)));
    }
    {
        let (db, stop, dir) = (Arc::clone(&db), Arc::clone(&stop), dir.clone());
        threads.push(std::thread::spawn(move || maintenance(seed, &dir, &db, &stop)));
    }
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let closed = db.read().unwrap().close();
    log(&format!("closed {}", closed.is_ok()));
    for p in CRASH_POINTS {
        log(&format!("hits {p} {}", strata_engine::crash::hits(p)));
    }
    log("done");
}

// ---------------------------------------------------------------------------------------
// The parent.

/// What to crash.
#[derive(Debug, Clone)]
enum Crash {
    None,
    Point(&'static str, u64),
    Odds(u64),
}

/// One parsed child run.
#[derive(Debug, Default)]
struct ChildRun {
    /// Per writer: its operations in order.
    histories: Vec<History>,
    hits: BTreeMap<String, u64>,
    done: bool,
    /// Lines reporting a problem seen by the child (`X ...`).
    problems: Vec<String>,
    failed_ops: u64,
    acked: u64,
    sync_acked: u64,
    maintenance: u64,
    signal: Option<i32>,
    exit_code: Option<i32>,
    stderr: String,
    secs: f64,
}

fn parse_mutations(fields: &[&str], t: u64, n: u64) -> Vec<Mutation> {
    let id = |j: u64| value_id(t, n, j);
    match fields {
        ["P", i, len] => {
            let (i, len): (u64, u64) = (i.parse().unwrap(), len.parse().unwrap());
            vec![(key(i), Some(value(id(0), len)))]
        }
        ["D", i] => vec![(key(i.parse().unwrap()), None)],
        ["B", parts @ ..] => parts
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let (i, len) = p.split_once(':').unwrap();
                let i: u64 = i.parse().unwrap();
                if len == "-" {
                    (key(i), None)
                } else {
                    (key(i), Some(value(id(j as u64), len.parse().unwrap())))
                }
            })
            .collect(),
        other => panic!("bad history line fields {other:?}"),
    }
}

/// Parses the child's stdout. Only complete lines count (a line is one `write(2)`, so a
/// line cut by the abort cannot occur, but an unterminated tail is ignored anyway).
fn parse(stdout: &[u8], run: &mut ChildRun) {
    run.histories = (0..WRITERS).map(|_| History::new()).collect();
    let text = String::from_utf8_lossy(stdout);
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    for raw in complete.lines() {
        let Some(at) = raw.find(TAG) else { continue };
        let line = &raw[at + TAG.len()..];
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["I", t, n, s, rest @ ..] => {
                let (t, n): (u64, u64) = (t.parse().unwrap(), n.parse().unwrap());
                let muts = parse_mutations(rest, t, n);
                let h = &mut run.histories[t as usize];
                assert_eq!(h.len() as u64, n, "writer {t}: op {n} out of order");
                h.invoke(Op::Write { muts, sync: *s == "S" });
            }
            ["O", t, n] => {
                let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
                let e = &mut run.histories[t].entries[n];
                e.outcome = Outcome::Ok;
                run.acked += 1;
                if matches!(e.op, Op::Write { sync: true, .. }) {
                    run.sync_acked += 1;
                }
            }
            ["F", t, n, code, ..] => {
                let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
                run.histories[t].entries[n].outcome =
                    if *code == "NA" { Outcome::NotApplied } else { Outcome::Unknown };
                run.failed_ops += 1;
                run.problems.push(format!("write failed: {line}"));
            }
            ["M", _, _, "ok"] => run.maintenance += 1,
            ["M", ..] => run.problems.push(format!("maintenance failed: {line}")),
            ["X", ..] => run.problems.push(line.to_string()),
            ["hits", name, n] => {
                run.hits.insert((*name).to_string(), n.parse().unwrap());
            }
            ["closed", ok] => {
                if *ok != "true" {
                    run.problems.push("clean close failed".into());
                }
            }
            ["done"] => run.done = true,
            ["open"] => {}
            other => panic!("unknown history line {other:?}"),
        }
    }
}

fn run_child(dir: &Path, crash: &Crash, seed: u64, secs: f64) -> ChildRun {
    let start = Instant::now();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_workload", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_SECS_ENV, secs.to_string())
        .env(CHILD_SEED_ENV, seed.to_string())
        .env_remove("STRATA_CRASH_POINT")
        .env_remove("STRATA_CRASH_HIT")
        .env_remove("STRATA_CRASH_ODDS")
        .env_remove("STRATA_CRASH_SEED")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match crash {
        Crash::None => {}
        Crash::Point(p, hit) => {
            cmd.env("STRATA_CRASH_POINT", p).env("STRATA_CRASH_HIT", hit.to_string());
        }
        Crash::Odds(n) => {
            cmd.env("STRATA_CRASH_ODDS", n.to_string()).env("STRATA_CRASH_SEED", seed.to_string());
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = err.read_to_string(&mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(CHILD_KILL_SECS);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            // Our own child, by its handle.
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().unwrap();
    let mut run = ChildRun { stderr: err_reader.join().unwrap(), ..ChildRun::default() };
    parse(&stdout, &mut run);
    run.signal = status.signal();
    run.exit_code = status.code();
    run.secs = start.elapsed().as_secs_f64();
    run
}

/// Totals over a tier.
#[derive(Debug, Default)]
struct Totals {
    cases: u64,
    crashes: u64,
    clean_exits: u64,
    violations: Vec<String>,
    failed_opens: u64,
    verify_problems: u64,
    not_reached: Vec<String>,
    acked: u64,
    sync_acked: u64,
    pending_at_crash: u64,
}

/// The state the parent knows a chain's directory holds (checked after the last case).
type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Reopens `dir`, checks it against `base` + the child's history, and returns the recovered
/// state (the next case's base). Violations are added to `totals`.
fn check_case(dir: &Path, base: &State, run: &ChildRun, what: &str, totals: &mut Totals) -> State {
    let mut fail = |msg: String| totals.violations.push(format!("{what}: {msg}"));
    for p in &run.problems {
        fail(format!("child reported: {p}"));
    }
    let db = match Db::open(dir, options()) {
        Ok(db) => db,
        Err(e) => {
            totals.failed_opens += 1;
            totals.violations.push(format!("{what}: open failed: {e}"));
            return base.clone();
        }
    };
    let recovered = read_all(&db).unwrap();
    for k in recovered.keys() {
        if key_index(k).is_none() {
            fail(format!("recovered a key never written: {:?}", String::from_utf8_lossy(k)));
        }
    }
    for t in 0..WRITERS {
        let range = key(t * KEYS_PER_WRITER)..key((t + 1) * KEYS_PER_WRITER);
        let mut h = History::new();
        let start: Vec<Mutation> = base.range(range.clone()).map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let s = h.invoke(Op::Write { muts: start, sync: true });
        h.entries[s].outcome = Outcome::Ok;
        h.entries.extend(run.histories[t as usize].entries.iter().cloned());
        let mine: State = recovered.range(range).map(|(k, v)| (k.clone(), v.clone())).collect();
        // A process crash: every acknowledged write must be there, sync or not.
        if let Err(e) = h.check(h.len(), &mine, false) {
            fail(format!("writer {t}: {e}"));
        }
    }
    match db.verify() {
        Ok(p) if p.is_empty() => {}
        Ok(p) => {
            totals.verify_problems += p.len() as u64;
            fail(format!("verify: {p:?}"));
        }
        Err(e) => fail(format!("verify failed: {e}")),
    }
    if let Err(e) = db.close() {
        fail(format!("close after check failed: {e}"));
    }
    recovered
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "LOCK" {
            continue;
        }
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Runs one case: a child crashing at `crash`, then the check. Returns the new state.
fn case(dir: &Path, base: &State, crash: &Crash, seed: u64, totals: &mut Totals) -> State {
    let secs = match crash {
        Crash::None => CENSUS_SECS,
        Crash::Point(..) => CHILD_MAX_SECS,
        Crash::Odds(_) => 5.0,
    };
    let run = run_child(dir, crash, seed, secs);
    totals.cases += 1;
    totals.acked += run.acked;
    totals.sync_acked += run.sync_acked;
    let what = format!("{crash:?} seed {seed}");
    let aborted = run.signal == Some(libc_sigabrt());
    let stderr_lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    match crash {
        Crash::Point(p, hit) => {
            if aborted {
                totals.crashes += 1;
                let want = format!("strata crash point {p} (hit {hit}): abort");
                if stderr_lines != [want.as_str()] {
                    totals.violations.push(format!("{what}: child stderr {stderr_lines:?}, want only {want:?}"));
                }
            } else if run.done && run.exit_code == Some(0) {
                totals.clean_exits += 1;
                let seen = run.hits.get(*p).copied().unwrap_or(0);
                totals.not_reached.push(format!("{p} hit {hit}: only {seen} hits in {:.1} s", run.secs));
            } else {
                totals.violations.push(format!(
                    "{what}: child neither aborted nor finished (signal {:?}, code {:?}, stderr {stderr_lines:?})",
                    run.signal, run.exit_code
                ));
            }
        }
        Crash::Odds(_) | Crash::None => {
            if aborted {
                totals.crashes += 1;
                let ok = stderr_lines.len() == 1 && stderr_lines[0].starts_with("strata crash point ");
                if !ok || matches!(crash, Crash::None) {
                    totals.violations.push(format!("{what}: child stderr {stderr_lines:?}"));
                }
            } else if run.done && run.exit_code == Some(0) && stderr_lines.is_empty() {
                totals.clean_exits += 1;
            } else {
                totals.violations.push(format!(
                    "{what}: child ended with signal {:?}, code {:?}, stderr {stderr_lines:?}",
                    run.signal, run.exit_code
                ));
            }
        }
    }
    totals.pending_at_crash += run
        .histories
        .iter()
        .map(|h| h.entries.iter().filter(|e| e.outcome == Outcome::Pending).count() as u64)
        .sum::<u64>();
    let before = totals.violations.len();
    let state = check_case(dir, base, &run, &what, totals);
    if totals.violations.len() > before {
        eprintln!("crash_points: VIOLATION in {what}: {}", totals.violations[before..].join(" | "));
    }
    state
}

fn libc_sigabrt() -> i32 {
    6
}

/// Hit numbers for a point seen `census` times in a census run: `count` numbers spread over
/// `1..=max(census / 2, 1)` (the first half of a census-long run), starting at 1.
fn spread_hits(census: u64, count: usize, rng: &mut Rng) -> Vec<u64> {
    let top = (census / 2).max(1);
    (0..count as u64)
        .map(|i| {
            if i == 0 {
                return 1;
            }
            let lo = 1 + top * i / count as u64;
            let hi = (1 + top * (i + 1) / count as u64).max(lo + 1);
            lo + rng.below(hi - lo)
        })
        .collect()
}

#[test]
fn crash_points() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // a child runs only child_workload
    }
    for v in ["STRATA_CRASH_POINT", "STRATA_CRASH_ODDS"] {
        assert!(std::env::var_os(v).is_none(), "{v} is set: it would crash this parent process too; unset it");
    }
    let soak_secs = env_u64("STRATA_SOAK_SECS");
    common::watchdog("crash_points", 1200 + soak_secs.unwrap_or(0));
    let seed = env_u64("STRATA_TEST_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() % 1_000_000)
    });
    let hits_per_point = if soak_secs.is_some() { SOAK_HITS } else { QUICK_HITS };
    eprintln!(
        "crash_points: seed {seed} (STRATA_TEST_SEED={seed} to replay), {} points x {hits_per_point} hits",
        CRASH_POINTS.len()
    );
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let tmp = tempfile::tempdir().unwrap();

    // Census: a run without a crash fills the database and counts every point's hits.
    let census_dir = tmp.path().join("census");
    let census_run = run_child(&census_dir, &Crash::None, seed, CENSUS_SECS);
    assert!(census_run.done, "census child did not finish: {:?} {}", census_run.signal, census_run.stderr);
    let census_state = {
        let mut t = Totals::default();
        let s = check_case(&census_dir, &State::new(), &census_run, "census", &mut t);
        assert!(t.violations.is_empty(), "census run: {:?}", t.violations);
        s
    };
    eprintln!(
        "crash_points: census {:.1} s, {} acked writes, {} keys; hits per run: {:?}",
        census_run.secs,
        census_run.acked,
        census_state.len(),
        census_run.hits
    );
    for p in CRASH_POINTS {
        assert!(
            census_run.hits.get(*p).copied().unwrap_or(0) > 0,
            "crash point {p} was never hit in the census run: the workload does not reach it"
        );
    }

    for (pi, p) in CRASH_POINTS.iter().enumerate() {
        let dir = tmp.path().join(format!("p{pi}"));
        copy_dir(&census_dir, &dir);
        let mut state = census_state.clone();
        let census = census_run.hits.get(*p).copied().unwrap_or(0);
        let hits = spread_hits(census, hits_per_point, &mut rng);
        let t0 = Instant::now();
        let crashes_before = totals.crashes;
        // Soak: the points share half of the time; each runs at least the quick tier's
        // hits, then more until its share is used (the odds mode gets the other half).
        let share = soak_secs.map(|s| s as f64 / 2.0 / CRASH_POINTS.len() as f64);
        let mut ran = 0usize;
        for &hit in &hits {
            if ran >= QUICK_HITS && share.is_some_and(|sh| t0.elapsed().as_secs_f64() > sh) {
                break;
            }
            state = case(&dir, &state, &Crash::Point(p, hit), rng.next() % 1_000_000, &mut totals);
            ran += 1;
        }
        eprintln!(
            "crash_points: {p}: hits {:?}, {} crashes, {:.1} s",
            &hits[..ran],
            totals.crashes - crashes_before,
            t0.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let point_cases = totals.cases;
    let point_crashes = totals.crashes;

    // Soak: odds mode for the rest of the time, on one chained directory.
    let mut odds_cases = 0u64;
    if let Some(secs) = soak_secs {
        let dir = tmp.path().join("odds");
        copy_dir(&census_dir, &dir);
        let mut state = census_state.clone();
        let mut i = 0usize;
        while started.elapsed().as_secs() < secs {
            let n = [10, 1000, 100_000][i % 3];
            state = case(&dir, &state, &Crash::Odds(n), rng.next() % 1_000_000, &mut totals);
            odds_cases += 1;
            i += 1;
        }
    }

    eprintln!(
        "crash_points summary: seed {seed}; {} points x up to {hits_per_point} hits = {point_cases} point cases, \
         {odds_cases} odds cases; crashes {}, clean exits {}, not reached {}, checker violations {}, \
         failed opens {}, verify problems {}; {} acked writes ({} sync), {} in flight at the crashes; {:.1} s",
        CRASH_POINTS.len(),
        totals.crashes,
        totals.clean_exits,
        totals.not_reached.len(),
        totals.violations.len(),
        totals.failed_opens,
        totals.verify_problems,
        totals.acked,
        totals.sync_acked,
        totals.pending_at_crash,
        started.elapsed().as_secs_f64()
    );
    assert!(totals.violations.is_empty(), "checker violations:\n{}", totals.violations.join("\n"));
    assert!(
        totals.not_reached.is_empty(),
        "crash points not reached (a test setup failure):\n{}",
        totals.not_reached.join("\n")
    );
    assert_eq!(point_crashes, point_cases, "every point case must end in an abort at its point");
}
