//! `Db::scan_and_get`: the first keys of a range and the records they name, at one view.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use strata_engine::{
    Db, Error, Keyspace, Lookup, Options, RangeOptions, ScanGet, ScanGetOptions, Snapshot, WriteBatch,
};

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Value(Vec<u8>),
    Missing,
    KeyOnly,
}

#[path = "support/postings.rs"]
mod postings;

use postings::{key, posting, term_range};

struct Scan<'a> {
    range: RangeOptions,
    seek: Option<&'a [u8]>,
    max: usize,
    strip: usize,
    records: Option<Keyspace>,
    snapshot: Option<&'a Snapshot>,
    cached_only: bool,
}

impl Scan<'_> {
    fn term(t: u8, max: usize) -> Scan<'static> {
        Scan {
            range: term_range(t),
            seek: None,
            max,
            strip: 1,
            records: Some(Keyspace::User),
            snapshot: None,
            cached_only: false,
        }
    }
}

/// The record keys with what was found for each, and the call's summary.
type Page = (Vec<(Vec<u8>, Got)>, ScanGet);

fn run(db: &Db, s: &Scan<'_>) -> strata_engine::Result<Option<Page>> {
    let mut out = Vec::new();
    let opts = ScanGetOptions {
        range: &s.range,
        seek: s.seek,
        max: s.max,
        strip: s.strip,
        records: s.records,
        snapshot: s.snapshot,
        cached_only: s.cached_only,
    };
    let r = db.scan_and_get(&opts, |k, l| {
        out.push((
            k.to_vec(),
            match l {
                Some(Lookup::Value(v)) => Got::Value(v.to_vec()),
                Some(Lookup::Missing | Lookup::NotCached) => Got::Missing,
                None => Got::KeyOnly,
            },
        ));
    })?;
    Ok(r.map(|info| (out, info)))
}

/// Records `0..n`, each with a posting under term 1 (even) or 2 (odd).
fn fill(db: &Db, n: u32) {
    for i in 0..n {
        let mut b = WriteBatch::new();
        b.put(&key(i), format!("v{i}").as_bytes()).unwrap();
        b.put_system(&posting(1 + (i % 2) as u8, i), b"").unwrap();
        db.write(b, false).unwrap();
    }
}

#[test]
fn reads_a_page_of_postings_and_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { memtable_size: 64 << 10, ..Options::default() }).unwrap();
    fill(&db, 3000);
    db.flush().unwrap();

    let (got, info) = run(&db, &Scan::term(2, 3)).unwrap().unwrap();
    assert_eq!(info, ScanGet { keys: 3, more: true });
    assert_eq!(
        got,
        vec![
            (key(1), Got::Value(b"v1".to_vec())),
            (key(3), Got::Value(b"v3".to_vec())),
            (key(5), Got::Value(b"v5".to_vec()))
        ]
    );

    // From a seek target (relative to the keyspace), to the end of the term: no more after.
    let seek = posting(1, 2990);
    let s = Scan { seek: Some(&seek), ..Scan::term(1, 100) };
    let (got, info) = run(&db, &s).unwrap().unwrap();
    assert_eq!(info, ScanGet { keys: 5, more: false });
    assert_eq!(
        got.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        [2990, 2992, 2994, 2996, 2998].map(key).to_vec()
    );

    // Exactly the keys left: `more` is false.
    let (_, info) = run(&db, &Scan { seek: Some(&seek), ..Scan::term(1, 5) }).unwrap().unwrap();
    assert_eq!(info, ScanGet { keys: 5, more: false });
    // A seek below the range is clamped to its start; max 0 reads nothing but says whether keys exist.
    let low = vec![0u8];
    let (got, info) = run(&db, &Scan { seek: Some(&low), ..Scan::term(1, 1) }).unwrap().unwrap();
    assert_eq!((got[0].0.clone(), info), (key(0), ScanGet { keys: 1, more: true }));
    assert_eq!(run(&db, &Scan::term(1, 0)).unwrap().unwrap(), (vec![], ScanGet { keys: 0, more: true }));
    // An empty term.
    assert_eq!(run(&db, &Scan::term(9, 10)).unwrap().unwrap(), (vec![], ScanGet { keys: 0, more: false }));
    // Keys only: no records read.
    let (got, _) = run(&db, &Scan { records: None, ..Scan::term(2, 2) }).unwrap().unwrap();
    assert_eq!(got, vec![(key(1), Got::KeyOnly), (key(3), Got::KeyOnly)]);
}

#[test]
fn postings_and_records_come_from_one_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    fill(&db, 10);
    let snap = db.snapshot().unwrap();
    // Move record 0 from term 1 to term 2 and delete record 2 with its posting.
    let mut b = WriteBatch::new();
    b.put(&key(0), b"moved").unwrap();
    b.delete_system(&posting(1, 0)).unwrap();
    b.put_system(&posting(2, 0), b"").unwrap();
    b.delete(&key(2)).unwrap();
    b.delete_system(&posting(1, 2)).unwrap();
    db.write(b, false).unwrap();

    let keys = |r: &[(Vec<u8>, Got)]| r.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let (now, _) = run(&db, &Scan::term(1, 10)).unwrap().unwrap();
    assert_eq!(keys(&now), [4, 6, 8].map(key).to_vec());
    let (then, _) = run(&db, &Scan { snapshot: Some(&snap), ..Scan::term(1, 10) }).unwrap().unwrap();
    assert_eq!(keys(&then), [0, 2, 4, 6, 8].map(key).to_vec());
    assert_eq!(then[0].1, Got::Value(b"v0".to_vec()), "the record as of the snapshot");
    let (moved, _) = run(&db, &Scan::term(2, 1)).unwrap().unwrap();
    assert_eq!(moved, vec![(key(0), Got::Value(b"moved".to_vec()))]);

    // A posting whose record is gone is reported as missing (the caller decides).
    let mut b = WriteBatch::new();
    b.delete(&key(4)).unwrap();
    db.write(b, false).unwrap();
    let (now, _) = run(&db, &Scan::term(1, 1)).unwrap().unwrap();
    assert_eq!(now, vec![(key(4), Got::Missing)]);
}

#[test]
fn bad_input_and_a_closed_database_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut b = WriteBatch::new();
    // A posting whose record key would be a system key, and one shorter than `strip`.
    b.put_system(&[&[3u8][..], &strata_engine::SYSTEM_PREFIX[..], b"x"].concat(), b"").unwrap();
    b.put_system(&[4u8], b"").unwrap();
    db.write(b, false).unwrap();
    let r = run(&db, &Scan::term(3, 10));
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = run(&db, &Scan { strip: 2, ..Scan::term(4, 10) });
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    // Stripped to the empty key: a valid user key with no record.
    assert_eq!(run(&db, &Scan::term(4, 10)).unwrap().unwrap().0, vec![(vec![], Got::Missing)]);
    db.close().unwrap();
    let r = run(&db, &Scan::term(1, 10));
    assert!(matches!(r, Err(Error::Closed)), "{r:?}");
}

#[test]
fn cached_only_gives_up_when_a_block_is_not_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { block_cache_size: 32 << 20, memtable_size: 4 << 20, use_mmap: false, ..Options::default() };
    let db = Db::open(dir.path(), opts).unwrap();
    fill(&db, 2000);
    db.flush().unwrap();
    let seek = posting(1, 1500);
    let s = Scan { seek: Some(&seek), cached_only: true, ..Scan::term(1, 4) };
    assert_eq!(run(&db, &s).unwrap(), None);
    // A blocking read caches the blocks; then the cached-only call answers.
    let blocking =
        run(&db, &Scan { cached_only: false, ..Scan { seek: Some(&seek), ..Scan::term(1, 4) } }).unwrap().unwrap();
    assert_eq!(run(&db, &s).unwrap().unwrap(), blocking);
    assert_eq!(blocking.0[0], (key(1500), Got::Value(b"v1500".to_vec())));
}
