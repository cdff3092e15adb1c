//! `Db::scan_probe`: a driver range's keys probed against other sides, and their records,
//! at one view; checked against a model of which record holds which term.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::ops::Bound;

use strata_engine::{
    Db, Error, Keyspace, Lookup, Options, ProbeSide, RangeOptions, ScanProbe, ScanProbeEnd, ScanProbeOptions, Snapshot,
    WriteBatch,
};

#[path = "support/postings.rs"]
mod postings;
#[path = "support/xorshift.rs"]
mod xorshift;

use postings::{key, posting, term_range};

/// Which terms record `i` holds: 1 on multiples of 2, 2 on multiples of 3, 3 on multiples of 5, 4 on multiples of 7.
fn holds(t: u8, i: u32) -> bool {
    match t {
        1 => i.is_multiple_of(2),
        2 => i.is_multiple_of(3),
        3 => i.is_multiple_of(5),
        4 => i.is_multiple_of(7),
        _ => false,
    }
}

fn fill(db: &Db, n: u32) {
    for i in 0..n {
        let mut b = WriteBatch::new();
        b.put(&key(i), format!("v{i}").as_bytes()).unwrap();
        for t in 1..=4 {
            if holds(t, i) {
                b.put_system(&posting(t, i), b"").unwrap();
            }
        }
        db.write(b, false).unwrap();
    }
}

/// Per side: its terms and whether it is negated.
type Sides = Vec<(Vec<u8>, bool)>;

struct Call<'a> {
    driver: u8,
    seek: Option<&'a [u8]>,
    max_matches: usize,
    max_scanned: usize,
    /// Per side: its terms and whether it is negated.
    sides: Vec<(Vec<u8>, bool)>,
    records: bool,
    snapshot: Option<&'a Snapshot>,
    cached_only: bool,
}

fn call(driver: u8, sides: Vec<(Vec<u8>, bool)>) -> Call<'static> {
    Call {
        driver,
        seek: None,
        max_matches: usize::MAX,
        max_scanned: usize::MAX,
        sides,
        records: true,
        snapshot: None,
        cached_only: false,
    }
}

type Got = (Vec<(Vec<u8>, Option<Vec<u8>>)>, ScanProbe);

fn run(db: &Db, c: &Call<'_>) -> strata_engine::Result<Option<Got>> {
    let prefixes: Vec<Vec<Vec<u8>>> = c.sides.iter().map(|(ts, _)| ts.iter().map(|t| vec![*t]).collect()).collect();
    let refs: Vec<Vec<&[u8]>> = prefixes.iter().map(|ps| ps.iter().map(Vec::as_slice).collect()).collect();
    let sides: Vec<ProbeSide<'_>> =
        refs.iter().zip(&c.sides).map(|(ps, (_, negated))| ProbeSide { prefixes: ps, negated: *negated }).collect();
    let range = term_range(c.driver);
    let opts = ScanProbeOptions {
        range: &range,
        seek: c.seek,
        max_matches: c.max_matches,
        max_scanned: c.max_scanned,
        strip: 1,
        sides: &sides,
        records: c.records,
        snapshot: c.snapshot,
        cached_only: c.cached_only,
    };
    let mut out = Vec::new();
    let r = db.scan_probe(&opts, |k, l| {
        out.push((
            k.to_vec(),
            match l {
                Some(Lookup::Value(v)) => Some(v.to_vec()),
                Some(Lookup::Missing | Lookup::NotCached) => Some(b"<missing>".to_vec()),
                None => None,
            },
        ));
    })?;
    Ok(r.map(|info| (out, info)))
}

/// The model's answer: records of `0..n` holding the driver and passing every side.
fn model(n: u32, driver: u8, sides: &[(Vec<u8>, bool)]) -> Vec<Vec<u8>> {
    (0..n)
        .filter(|&i| holds(driver, i) && sides.iter().all(|(ts, negated)| ts.iter().any(|&t| holds(t, i)) != *negated))
        .map(key)
        .collect()
}

#[test]
fn matches_agree_with_the_model_from_memtable_and_tables_and_across_calls() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { memtable_size: 64 << 10, ..Options::default() }).unwrap();
    let n = 3000;
    fill(&db, n);
    let cases: Vec<(u8, Sides)> = vec![
        (3, vec![(vec![1], false)]),
        (3, vec![(vec![1], true)]),
        (1, vec![(vec![2, 3], false), (vec![4], true)]),
        (2, vec![(vec![1], true), (vec![3], true)]),
        (4, vec![]),
        (9, vec![(vec![1], false)]),
    ];
    for flushed in [false, true] {
        if flushed {
            db.flush().unwrap();
        }
        for (driver, sides) in &cases {
            let want = model(n, *driver, sides);
            let (got, info) = run(&db, &call(*driver, sides.clone())).unwrap().unwrap();
            assert_eq!(got.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), want, "driver {driver} sides {sides:?}");
            for (k, v) in &got {
                let i: u32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
                assert_eq!(v.as_deref(), Some(format!("v{i}").as_bytes()));
            }
            assert_eq!(info.end, ScanProbeEnd::RangeEnd);
            assert_eq!(info.matched, want.len());
            assert_eq!(info.scanned, (0..n).filter(|&i| holds(*driver, i)).count());

            // The same answer in calls of at most 97 scanned keys or 5 matches, each resuming after the last key scanned.
            for (max_scanned, max_matches) in [(97, usize::MAX), (usize::MAX, 5), (13, 3)] {
                let mut all = Vec::new();
                let mut seek: Option<Vec<u8>> = None;
                let mut calls = 0;
                loop {
                    let c = Call {
                        seek: seek.as_deref(),
                        max_scanned,
                        max_matches,
                        records: false,
                        ..call(*driver, sides.clone())
                    };
                    let (got, info) = run(&db, &c).unwrap().unwrap();
                    assert!(got.len() <= max_matches && info.scanned <= max_scanned);
                    assert!(got.iter().all(|(_, v)| v.is_none()), "keys only");
                    all.extend(got.into_iter().map(|(k, _)| k));
                    calls += 1;
                    if info.end == ScanProbeEnd::RangeEnd {
                        break;
                    }
                    let mut next = vec![*driver];
                    next.extend_from_slice(&info.last);
                    next.push(0);
                    seek = Some(next);
                    assert!(calls < 10_000);
                }
                assert_eq!(all, want, "driver {driver} sides {sides:?} in calls of {max_scanned}/{max_matches}");
            }
        }
    }
}

#[test]
fn probes_and_records_come_from_one_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    fill(&db, 30);
    let snap = db.snapshot().unwrap();
    // Record 6 leaves term 1 (it was held by 1, 2); record 9 joins term 1; record 12 is deleted.
    let mut b = WriteBatch::new();
    b.delete_system(&posting(1, 6)).unwrap();
    b.put_system(&posting(1, 9), b"").unwrap();
    b.put(&key(9), b"moved").unwrap();
    b.delete(&key(12)).unwrap();
    b.delete_system(&posting(1, 12)).unwrap();
    b.delete_system(&posting(2, 12)).unwrap();
    db.write(b, false).unwrap();
    let keys = |g: &Got| g.0.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let now = run(&db, &call(2, vec![(vec![1], false)])).unwrap().unwrap();
    assert_eq!(keys(&now), [0, 9, 18, 24].map(key).to_vec());
    assert_eq!(now.0[1].1.as_deref(), Some(&b"moved"[..]));
    let then = run(&db, &Call { snapshot: Some(&snap), ..call(2, vec![(vec![1], false)]) }).unwrap().unwrap();
    assert_eq!(keys(&then), [0, 6, 12, 18, 24].map(key).to_vec());
    assert_eq!(then.0[2].1.as_deref(), Some(&b"v12"[..]));
    let not_now = run(&db, &call(2, vec![(vec![1], true)])).unwrap().unwrap();
    assert_eq!(keys(&not_now), [3, 6, 15, 21, 27].map(key).to_vec());
}

#[test]
fn bad_input_and_a_closed_database_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut b = WriteBatch::new();
    b.put_system(&[4u8], b"").unwrap();
    db.write(b, false).unwrap();
    let range = term_range(4);
    let long = vec![7u8; strata_engine::MAX_SYSTEM_KEY_SIZE];
    let prefixes: Vec<&[u8]> = vec![&long];
    let sides = [ProbeSide { prefixes: &prefixes, negated: false }];
    let opts = ScanProbeOptions {
        range: &range,
        seek: None,
        max_matches: 10,
        max_scanned: 10,
        strip: 2,
        sides: &[],
        records: true,
        snapshot: None,
        cached_only: false,
    };
    let r = db.scan_probe(&opts, |_, _| {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "shorter than strip: {r:?}");
    // A probe key over the system key limit (the posting strips to the empty record key, so
    // the probe is the prefix alone, which is at the limit; one more byte is over it).
    let mut b = WriteBatch::new();
    b.put_system(&[4u8, b'x'], b"").unwrap();
    db.write(b, false).unwrap();
    let r = db.scan_probe(&ScanProbeOptions { strip: 1, sides: &sides, ..opts }, |_, _| {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "probe over the limit: {r:?}");
    db.close().unwrap();
    let r = db.scan_probe(&ScanProbeOptions { strip: 1, ..opts }, |_, _| {});
    assert!(matches!(r, Err(Error::Closed)), "{r:?}");
}

#[test]
fn cached_only_gives_up_when_a_block_is_not_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { block_cache_size: 32 << 20, memtable_size: 4 << 20, use_mmap: false, ..Options::default() };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 2000);
    db.flush().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    let c = Call { cached_only: true, ..call(3, vec![(vec![1], false)]) };
    assert_eq!(run(&db, &c).unwrap(), None, "a cold table is not in memory");
    let full = run(&db, &call(3, vec![(vec![1], false)])).unwrap().unwrap();
    assert_eq!(full.0.len(), model(2000, 3, &[(vec![1], false)]).len());
    // Read once: now every block it needs is cached.
    let again = run(&db, &c).unwrap().unwrap();
    assert_eq!(again.0, full.0);
}

/// Postings written, overwritten and deleted at random over several flushes and a compaction
/// (so that a probe's key has versions and tombstones in the memtable, in overlapping L0
/// tables and in a level), probed by forward cursors: every answer, now and at a snapshot
/// taken half-way, is the model's. A driver over two terms gives record keys that go back
/// to the start at the second term (the cursors then seek afresh).
#[test]
fn probes_see_versions_and_tombstones_across_memtable_tables_and_levels() {
    use std::collections::BTreeSet;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { memtable_size: 16 << 10, ..Options::default() }).unwrap();
    let mut rng = xorshift::Rng(0x5ca1_ab1e);
    let n = 600u32;
    let mut live: BTreeSet<(u8, u32)> = BTreeSet::new();
    for i in 0..n {
        let mut b = WriteBatch::new();
        b.put(&key(i), format!("v{i}").as_bytes()).unwrap();
        db.write(b, false).unwrap();
    }
    let mut snap: Option<(Snapshot, BTreeSet<(u8, u32)>)> = None;
    for round in 0..8 {
        for _ in 0..1500 {
            let t = 1 + rng.below(4) as u8;
            let i = rng.below(n as usize) as u32;
            let mut b = WriteBatch::new();
            if rng.below(3) == 0 {
                b.delete_system(&posting(t, i)).unwrap();
                live.remove(&(t, i));
            } else {
                b.put_system(&posting(t, i), b"").unwrap();
                live.insert((t, i));
            }
            db.write(b, false).unwrap();
        }
        match round {
            3 => snap = Some((db.snapshot().unwrap(), live.clone())),
            5 => db.compact_range(None, None).unwrap(),
            7 => {}
            _ => db.flush().unwrap(),
        }
    }
    let cases: Vec<(u8, Sides)> = vec![
        (1, vec![(vec![2], false)]),
        (1, vec![(vec![2], true)]),
        (2, vec![(vec![1, 3], false), (vec![4], true)]),
        (3, vec![(vec![1], true), (vec![2], true), (vec![4], false)]),
    ];
    let (snapshot, then) = snap.unwrap();
    for (set, at, when) in [(&live, None, "now"), (&then, Some(&snapshot), "at the snapshot")] {
        let has = |t: u8, i: u32| set.contains(&(t, i));
        for (driver, sides) in &cases {
            let want: Vec<Vec<u8>> = (0..n)
                .filter(|&i| has(*driver, i) && sides.iter().all(|(ts, neg)| ts.iter().any(|&t| has(t, i)) != *neg))
                .map(key)
                .collect();
            let (got, info) = run(&db, &Call { snapshot: at, ..call(*driver, sides.clone()) }).unwrap().unwrap();
            assert_eq!(
                got.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
                want,
                "driver {driver} sides {sides:?} {when}"
            );
            assert_eq!(info.scanned, (0..n).filter(|&i| has(*driver, i)).count());
        }
        // Two driver terms: the record keys ascend within each, and start over at the second.
        let prefixes: Vec<&[u8]> = vec![&[4u8]];
        let sides = [ProbeSide { prefixes: &prefixes, negated: false }];
        let range = RangeOptions {
            lower: Bound::Included(vec![1]),
            upper: Bound::Excluded(vec![3]),
            keyspace: Keyspace::System,
            ..RangeOptions::default()
        };
        let opts = ScanProbeOptions {
            range: &range,
            seek: None,
            max_matches: usize::MAX,
            max_scanned: usize::MAX,
            strip: 1,
            sides: &sides,
            records: false,
            snapshot: at,
            cached_only: false,
        };
        let mut got = Vec::new();
        db.scan_probe(&opts, |k, _| got.push(k.to_vec())).unwrap().unwrap();
        let want: Vec<Vec<u8>> =
            [1u8, 2].iter().flat_map(|&t| (0..n).filter(move |&i| has(t, i) && has(4, i)).map(key)).collect();
        assert_eq!(got, want, "two driver terms {when}");
    }
}

/// Probes move forward cursors over the tables instead of making a point lookup each: no
/// bloom filter is consulted, and a data block is looked up in the cache once per block of
/// the probed terms' postings, not once per probe (a point lookup per probe consults every
/// table's filter and looks its block up again each time). Over overlapping L0 tables (a
/// table iterator each) beside a level, then over levels only (concatenating iterators).
#[test]
fn probes_walk_the_tables_forward_instead_of_a_point_lookup_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { memtable_size: 64 << 10, use_mmap: false, ..Options::default() }).unwrap();
    let n = 6000;
    fill(&db, n);
    db.flush().unwrap();
    let sides = vec![(vec![1], false), (vec![3], true)];
    for compacted in [false, true] {
        if compacted {
            db.compact_range(None, None).unwrap();
        }
        let before = db.stats().unwrap();
        let (got, info) = run(&db, &Call { records: false, ..call(2, sides.clone()) }).unwrap().unwrap();
        let after = db.stats().unwrap();
        assert_eq!(got.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), model(n, 2, &sides));
        assert!(info.probed >= 3000, "{} probes", info.probed);
        assert_eq!(after.bloom_checks - before.bloom_checks, 0, "no point lookups (compacted: {compacted})");
        let lookups =
            (after.block_cache_hits + after.block_cache_misses) - (before.block_cache_hits + before.block_cache_misses);
        assert!(
            lookups * 10 < info.probed as u64,
            "{lookups} block lookups for {} probes (compacted: {compacted})",
            info.probed
        );
    }
    let levels = db.stats().unwrap();
    assert!(levels.levels.first().is_some_and(|l| l.files == 0), "compacted out of L0: {:?}", levels.levels);
}
