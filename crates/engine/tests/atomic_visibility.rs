//! T11(b): atomic-batch visibility under continuous flush and compaction.
//!
//! Two writer threads repeatedly write one 10-key atomic [`WriteBatch`] at a time into one of
//! [`GROUPS`] key groups shared by both writers. Every key of a batch gets the same value,
//! naming the writer and its round (`w1:r0000004711:…`); every 16th batch of a writer
//! deletes the whole group instead. Each writer also writes filler keys between the groups
//! (not checked) so that tables split inside and between groups.
//!
//! Two reader threads repeatedly read a whole group under **one read view** and check that
//! the 10 answers are identical (all the same value, or all absent):
//! * a fresh [`Snapshot`] and 10 `get`s under it;
//! * an iterator over the group's range, alternately under an explicit snapshot and under
//!   the iterator's own implicit view, forward and reverse, with `next` and `next_batch`;
//! * a snapshot held across many observations is re-read and must give exactly the answers
//!   it gave the first time (compaction must keep what a live snapshot sees).
//!
//! Any observation where the 10 values differ is a *mixed batch* and fails the test with
//! the reader, the mode, the sequence number and the 10 values.
//!
//! Plain `get`s **without** a snapshot are also issued, but a series of them is *not*
//! required to be atomic across keys: each `get` takes its own read view, so a batch may
//! land between two of them. They are checked only per key: every value is well-formed,
//! and a reader never sees a writer's older round on a key after seeing a newer one of the
//! same writer there (reads are monotonic).
//!
//! During the run a maintenance thread calls `flush` and `compact_range` (whole range and
//! one group's range) in a loop, on a tiny geometry (8 KiB memtable, 512 B blocks, 8 KiB
//! tables, L0 trigger 2) so that background flushes and compactions run all the time too,
//! for both compaction styles. The test asserts from `Db::stats` that flushes and
//! compactions (with bytes rewritten) actually happened, so it cannot pass vacuously.
//!
//! Quick tier: per style, at least [`QUICK_MIN_SECS`] s **and** [`QUICK_MIN_READS`] key
//! reads (a key read is one value of one key: 10 per observation), stopping at
//! [`QUICK_MAX_SECS`] s, which fails if the read count was not reached; the two styles run
//! one after the other (≥ 1,000,000 key reads in total). Soak: `STRATA_SOAK_SECS=<s>` runs
//! each style for `s` seconds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default,
    clippy::too_many_lines
)]

#[path = "support/xorshift.rs"]
mod xorshift;

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_engine::{CompactionStyle, Db, IterOptions, Options, RangeOptions, Snapshot, WriteBatch};
use xorshift::Rng;

/// Key groups; each batch rewrites all [`GROUP_KEYS`] keys of one group.
const GROUPS: usize = 4;
const GROUP_KEYS: usize = 10;
const QUICK_MIN_SECS: u64 = 30;
const QUICK_MAX_SECS: u64 = 90;
const QUICK_MIN_READS: u64 = 500_000;
/// Minimum flushes and compactions per style for the run to count.
const MIN_FLUSHES: u64 = 100;
const MIN_COMPACTIONS: u64 = 30;
const VALUE_LEN: usize = 100;

fn group_key(g: usize, i: usize) -> Vec<u8> {
    format!("grp{g:02}/k{i:02}").into_bytes()
}

/// Filler keys sort between the groups ("grp01/z…" lies after "grp01/k09").
fn filler_key(n: usize) -> Vec<u8> {
    format!("grp{:02}/z{:05}", n % (GROUPS + 1), n).into_bytes()
}

fn value(writer: u64, round: u64) -> Vec<u8> {
    let mut v = format!("w{writer}:r{round:010}:").into_bytes();
    v.resize(VALUE_LEN, b'.');
    v
}

/// (writer, round) of a well-formed value.
fn parse(v: &[u8]) -> Option<(u64, u64)> {
    let end = v.iter().position(|&b| b == b'.')?;
    if v.len() != VALUE_LEN || !v[end..].iter().all(|&b| b == b'.') {
        return None;
    }
    let s = std::str::from_utf8(&v[..end]).ok()?;
    let (w, r) = s.strip_prefix('w')?.strip_suffix(':')?.split_once(":r")?;
    Some((w.parse().ok()?, r.parse().ok()?))
}

fn opts(style: CompactionStyle) -> Options {
    let mut o = Options::default();
    o.memtable_size = 8 * 1024;
    o.block_size = 512;
    o.block_cache_size = 64 * 1024;
    o.compaction.style = style;
    o.compaction.target_file_size = 8 * 1024;
    o.compaction.base_level_size = 32 * 1024;
    o.compaction.level_size_ratio = 4;
    o.compaction.l0_compaction_trigger = 2;
    o.compaction.l0_stop_trigger = 12;
    o
}

fn show(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "<absent>".to_string(),
        Some(v) => String::from_utf8_lossy(&v[..v.len().min(16)]).into_owned(),
    }
}

/// Shared counters and the failure log.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    key_reads: AtomicU64,
    observations: AtomicU64,
    snapshot_observations: AtomicU64,
    iter_observations: AtomicU64,
    reread_observations: AtomicU64,
    plain_gets: AtomicU64,
    batches: AtomicU64,
    mixed: AtomicU64,
    /// Observations whose batch differed from the reader's previous one of that group.
    changes: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, msg: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            eprintln!("FAILURE: {msg}");
            f.push(msg);
        }
    }
}

/// Checks that one observation of a group under one read view is a whole batch; records a
/// mixed batch otherwise. Returns the common answer.
fn check_group(sh: &Shared, what: &str, seq: Option<u64>, got: &[Option<Vec<u8>>]) -> Option<Option<Vec<u8>>> {
    sh.key_reads.fetch_add(got.len() as u64, Ordering::Relaxed);
    sh.observations.fetch_add(1, Ordering::Relaxed);
    let malformed = got.iter().flatten().any(|v| parse(v).is_none());
    if got.len() != GROUP_KEYS || malformed || got.iter().any(|v| v != &got[0]) {
        sh.mixed.fetch_add(1, Ordering::Relaxed);
        let vals: Vec<String> = got.iter().map(show).collect();
        sh.fail(format!("mixed batch: {what} at seq {seq:?}: {} values {vals:?}", got.len()));
        return None;
    }
    Some(got[0].clone())
}

/// Reads group `g` through an iterator; `None` entries for keys the iterator skipped.
fn iter_group(db: &Db, g: usize, snapshot: Option<Snapshot>, reverse: bool, batched: bool) -> Vec<Option<Vec<u8>>> {
    let range = RangeOptions {
        lower: Bound::Included(group_key(g, 0)),
        upper: Bound::Included(group_key(g, GROUP_KEYS - 1)),
        reverse,
        limit: None,
        ..RangeOptions::default()
    };
    let mut it = db.iter(IterOptions { range, snapshot }).unwrap();
    let mut entries = Vec::new();
    if batched {
        loop {
            let b = it.next_batch(3, 1 << 20).unwrap();
            if b.is_empty() {
                break;
            }
            entries.extend(b);
        }
    } else {
        while let Some(e) = it.next().unwrap() {
            entries.push(e);
        }
    }
    if reverse {
        entries.reverse();
    }
    // Map back to the 10 keys: an iterator must return each key of the group at most once,
    // in order; a missing key is an absent value.
    let mut out = vec![None; GROUP_KEYS];
    let mut last: Option<Vec<u8>> = None;
    for (k, v) in entries {
        assert!(last.as_ref().is_none_or(|l| *l < k), "iterator out of order at {:?}", String::from_utf8_lossy(&k));
        let i = (0..GROUP_KEYS).find(|&i| group_key(g, i) == k).expect("iterator returned a key outside its range");
        out[i] = Some(v);
        last = Some(k);
    }
    out
}

fn reader(db: &Db, sh: &Shared, id: u64) {
    let mut rng = Rng(0x5eed_0000 + id);
    // A snapshot kept across many observations, with what it showed for each group.
    let mut held: Option<(Snapshot, Vec<Option<Vec<u8>>>)> = None;
    // Per (key, writer): the newest round this reader has seen with plain gets.
    let mut seen: HashMap<(usize, usize, u64), u64> = HashMap::new();
    // Per group: the batch this reader saw last.
    let mut last: Vec<Option<Option<Vec<u8>>>> = vec![None; GROUPS];
    let mut saw = |g: usize, v: Option<Option<Vec<u8>>>| {
        if v.is_some() && last[g] != v {
            sh.changes.fetch_add(1, Ordering::Relaxed);
            last[g] = v;
        }
    };
    let mut n = 0u64;
    while !sh.stop.load(Ordering::Relaxed) {
        n += 1;
        let g = rng.below(GROUPS);
        match n % 8 {
            0..=2 => {
                let snap = db.snapshot().unwrap();
                let got: Vec<_> = (0..GROUP_KEYS).map(|i| db.get(&group_key(g, i), Some(&snap)).unwrap()).collect();
                saw(
                    g,
                    check_group(sh, &format!("reader {id} snapshot gets of group {g}"), Some(snap.sequence()), &got),
                );
                sh.snapshot_observations.fetch_add(1, Ordering::Relaxed);
            }
            3..=5 => {
                let explicit = rng.below(2) == 0;
                let reverse = rng.below(2) == 0;
                let batched = rng.below(2) == 0;
                let snap = if explicit { Some(db.snapshot().unwrap()) } else { None };
                let seq = snap.as_ref().map(Snapshot::sequence);
                let got = iter_group(db, g, snap, reverse, batched);
                let what = format!(
                    "reader {id} iterator (snapshot {explicit}, reverse {reverse}, batched {batched}) over group {g}"
                );
                saw(g, check_group(sh, &what, seq, &got));
                sh.iter_observations.fetch_add(1, Ordering::Relaxed);
            }
            6 => {
                // Plain gets: atomic per key only; check values and per-key monotonic reads.
                for i in 0..GROUP_KEYS {
                    let v = db.get(&group_key(g, i), None).unwrap();
                    sh.key_reads.fetch_add(1, Ordering::Relaxed);
                    sh.plain_gets.fetch_add(1, Ordering::Relaxed);
                    let Some(v) = v else { continue };
                    let Some((w, r)) = parse(&v) else {
                        sh.fail(format!("reader {id}: malformed value {:?} at {g}/{i}", show(&Some(v))));
                        continue;
                    };
                    let last = seen.entry((g, i, w)).or_insert(0);
                    if r < *last {
                        sh.fail(format!("reader {id}: {g}/{i} went back from w{w} round {last} to round {r}"));
                    }
                    *last = r.max(*last);
                }
            }
            _ => {
                // The held snapshot must show exactly what it showed before.
                match held.take() {
                    Some((snap, want)) if n % 512 != 7 => {
                        for (g, w) in want.iter().enumerate() {
                            let got: Vec<_> =
                                (0..GROUP_KEYS).map(|i| db.get(&group_key(g, i), Some(&snap)).unwrap()).collect();
                            let what = format!("reader {id} re-read of held snapshot, group {g}");
                            if let Some(v) = check_group(sh, &what, Some(snap.sequence()), &got) {
                                if v != *w {
                                    sh.fail(format!(
                                        "{what} at seq {}: was {}, now {}",
                                        snap.sequence(),
                                        show(w),
                                        show(&v)
                                    ));
                                }
                            }
                            sh.reread_observations.fetch_add(1, Ordering::Relaxed);
                        }
                        held = Some((snap, want));
                    }
                    _ => {
                        let snap = db.snapshot().unwrap();
                        let mut want = Vec::new();
                        for g in 0..GROUPS {
                            let got = iter_group(db, g, Some(snap.clone()), false, true);
                            let what = format!("reader {id} new held snapshot, group {g}");
                            want.push(check_group(sh, &what, Some(snap.sequence()), &got).unwrap_or(None));
                        }
                        held = Some((snap, want));
                    }
                }
            }
        }
    }
}

fn writer(db: &Db, sh: &Shared, id: u64) {
    let mut rng = Rng(0x1111_0000 + id);
    let mut round = 0u64;
    while !sh.stop.load(Ordering::Relaxed) {
        round += 1;
        let g = rng.below(GROUPS);
        let mut b = WriteBatch::new();
        let v = value(id, round);
        for i in 0..GROUP_KEYS {
            if round.is_multiple_of(16) {
                b.delete(&group_key(g, i)).unwrap();
            } else {
                b.put(&group_key(g, i), &v).unwrap();
            }
        }
        db.write(b, false).unwrap();
        sh.batches.fetch_add(1, Ordering::Relaxed);
        let mut filler = value(id + 10, round);
        filler.resize(200, b'#');
        db.put(&filler_key(rng.below(2_000)), &filler, false).unwrap();
        if round.is_multiple_of(4) {
            std::thread::yield_now();
        }
    }
}

fn maintenance(db: &Db, sh: &Shared) -> u64 {
    let mut calls = 0u64;
    let mut i = 0usize;
    while !sh.stop.load(Ordering::Relaxed) {
        i += 1;
        match i % 4 {
            0 | 2 => db.flush().unwrap(),
            1 => db.compact_range(None, None).unwrap(),
            _ => {
                let g = i / 4 % GROUPS;
                db.compact_range(Some(&group_key(g, 0)), Some(&group_key(g, GROUP_KEYS - 1))).unwrap();
            }
        }
        calls += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    calls
}

/// The quick tier runs both styles one after the other, not side by side.
static SERIAL: Mutex<()> = Mutex::new(());

fn soak_secs() -> Option<u64> {
    std::env::var("STRATA_SOAK_SECS").ok().and_then(|s| s.parse().ok())
}

fn run(style: CompactionStyle) {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (min_secs, max_secs, min_reads) = match soak_secs() {
        Some(s) => (s, s.max(QUICK_MAX_SECS), QUICK_MIN_READS),
        None => (QUICK_MIN_SECS, QUICK_MAX_SECS, QUICK_MIN_READS),
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(style)).unwrap();
    // Every group starts as one whole batch.
    for g in 0..GROUPS {
        let mut b = WriteBatch::new();
        for i in 0..GROUP_KEYS {
            b.put(&group_key(g, i), &value(9, 0)).unwrap();
        }
        db.write(b, false).unwrap();
    }
    let sh = Arc::new(Shared::default());
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for id in 0..2u64 {
        let (db, sh) = (db.clone(), Arc::clone(&sh));
        handles.push(std::thread::spawn(move || writer(&db, &sh, id)));
    }
    for id in 0..2u64 {
        let (db, sh) = (db.clone(), Arc::clone(&sh));
        handles.push(std::thread::spawn(move || reader(&db, &sh, id)));
    }
    let maint = {
        let (db, sh) = (db.clone(), Arc::clone(&sh));
        std::thread::spawn(move || maintenance(&db, &sh))
    };
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let secs = t0.elapsed().as_secs();
        let reads = sh.key_reads.load(Ordering::Relaxed);
        let done = secs >= min_secs && reads >= min_reads;
        let failed = !sh.failures.lock().unwrap().is_empty();
        if done || secs >= max_secs || failed {
            break;
        }
    }
    sh.stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let maint_calls = maint.join().unwrap();
    let elapsed = t0.elapsed();
    let stats = db.stats().unwrap();
    let reads = sh.key_reads.load(Ordering::Relaxed);
    let mixed = sh.mixed.load(Ordering::Relaxed);
    println!(
        "T11b {style:?}: {:.1} s, {} key reads ({:.0}/s), {} observations ({} snapshot gets, {} iterators, {} held-snapshot \
         re-reads), {} plain gets, {} batches, {} maintenance calls; flushes {}, compactions {} ({} bytes written), \
         levels {:?}; {} batch changes seen; mixed = {mixed}",
        elapsed.as_secs_f64(),
        reads,
        reads as f64 / elapsed.as_secs_f64(),
        sh.observations.load(Ordering::Relaxed),
        sh.snapshot_observations.load(Ordering::Relaxed),
        sh.iter_observations.load(Ordering::Relaxed),
        sh.reread_observations.load(Ordering::Relaxed),
        sh.plain_gets.load(Ordering::Relaxed),
        sh.batches.load(Ordering::Relaxed),
        maint_calls,
        stats.flushes,
        stats.compactions,
        stats.compaction_bytes_written,
        stats.levels.iter().map(|l| l.files).collect::<Vec<_>>(),
        sh.changes.load(Ordering::Relaxed),
    );
    let failures = sh.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{style:?}: {} failures ({mixed} mixed batches), first: {failures:#?}",
        failures.len()
    );
    assert_eq!(mixed, 0);
    assert!(reads >= min_reads, "{style:?}: only {reads} key reads in {elapsed:?} (need {min_reads})");
    // The readers saw the groups change all along (the check was not run on a still database).
    assert!(sh.changes.load(Ordering::Relaxed) >= 1_000, "{style:?}: readers saw few batch changes");
    assert!(stats.flushes >= MIN_FLUSHES, "{style:?}: only {} flushes ran", stats.flushes);
    assert!(stats.compactions >= MIN_COMPACTIONS, "{style:?}: only {} compactions ran", stats.compactions);
    assert!(stats.compaction_bytes_written > 0, "{style:?}: no compaction rewrote data");
    assert!(stats.read_only_reason.is_none(), "{style:?}: {:?}", stats.read_only_reason);
    assert!(db.verify().unwrap().is_empty(), "{style:?}: verify");
    // After the run, and after a reopen, every group is still one whole batch.
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(style)).unwrap();
    let snap = db.snapshot().unwrap();
    for g in 0..GROUPS {
        let got: Vec<_> = (0..GROUP_KEYS).map(|i| db.get(&group_key(g, i), Some(&snap)).unwrap()).collect();
        assert!(check_group(&sh, "after reopen", Some(snap.sequence()), &got).is_some(), "{style:?}: group {g}");
    }
}

#[test]
fn atomic_batches_under_compaction_leveled() {
    run(CompactionStyle::Leveled);
}

#[test]
fn atomic_batches_under_compaction_size_tiered() {
    run(CompactionStyle::SizeTiered);
}

#[test]
fn value_format_round_trips() {
    assert_eq!(parse(&value(1, 4711)), Some((1, 4711)));
    let mut bad = value(1, 4711);
    bad[20] = b'x';
    assert_eq!(parse(&bad), None);
    assert_eq!(parse(b"w1:r1"), None);
}
