//! The system keyspace: keys stored under `SYSTEM_PREFIX` are written in the same atomic batch
//! as user keys, never seen or touched by user reads, iterators and `clear`, and read back
//! (prefix stripped) by system-keyspace iterators, through flushes, compactions and reopens.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::field_reassign_with_default)]

use std::collections::BTreeMap;
use std::ops::Bound;

use strata_engine::{
    Db, DbIterator, Error, IterOptions, Keyspace, Options, RangeOptions, WriteBatch, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX,
};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn small_opts() -> Options {
    let mut o = Options::default();
    o.memtable_size = 32 * 1024;
    o.block_size = 512;
    o.compaction.target_file_size = 32 * 1024;
    o.compaction.base_level_size = 128 * 1024;
    o
}

fn sys(range: RangeOptions) -> RangeOptions {
    RangeOptions { keyspace: Keyspace::System, ..range }
}

fn drain(mut it: DbIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(e) = it.next().unwrap() {
        out.push(e);
    }
    out
}

fn scan(db: &Db, range: RangeOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    drain(db.iter(IterOptions { range, snapshot: None }).unwrap())
}

fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|e| e.0.clone()).collect()
}

fn stored(k: &[u8]) -> Vec<u8> {
    let mut s = SYSTEM_PREFIX.to_vec();
    s.extend_from_slice(k);
    s
}

fn is_invalid<T: std::fmt::Debug>(r: strata_engine::Result<T>) -> bool {
    match r {
        Err(Error::InvalidArgument(m)) => m.contains("reserved for StrataDB's system keyspace"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// Short runs of 0xff are ordinary user keys; the largest user keys sort right below the prefix.
fn edge_user_keys() -> Vec<Vec<u8>> {
    vec![
        b"a".to_vec(),
        vec![0xff; 3],
        vec![0xff; 7],
        [vec![0xff; 7], vec![0xfe]].concat(),
        [vec![0xff; 7], vec![0xfe, 0xff, 0xff, 0xff]].concat(),
    ]
}

#[test]
fn system_keys_are_invisible_to_user_reads_and_stripped_for_system_iterators() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let mut b = WriteBatch::new();
    for k in edge_user_keys() {
        b.put(&k, b"user").unwrap();
    }
    b.put_system(b"idx/1/apple", b"").unwrap();
    b.put_system(b"idx/1/banana", b"").unwrap();
    b.put_system(b"", b"empty relative key").unwrap();
    b.put_system(&[0xff; 8], b"a system key that itself starts with the prefix").unwrap();
    db.write(b, false).unwrap();

    let user = edge_user_keys();
    let system: Vec<Vec<u8>> = vec![b"".to_vec(), b"idx/1/apple".to_vec(), b"idx/1/banana".to_vec(), vec![0xff; 8]];
    let mut user_rev = user.clone();
    user_rev.reverse();
    let mut system_rev = system.clone();
    system_rev.reverse();

    let check = |db: &Db| {
        assert_eq!(keys(&scan(db, RangeOptions::default())), user);
        assert_eq!(keys(&scan(db, RangeOptions { reverse: true, ..RangeOptions::default() })), user_rev);
        assert_eq!(keys(&scan(db, sys(RangeOptions::default()))), system);
        assert_eq!(keys(&scan(db, sys(RangeOptions { reverse: true, ..RangeOptions::default() }))), system_rev);
        // User bounds above the prefix are clipped; a lower bound above it is an empty range.
        let beyond = RangeOptions { upper: Bound::Included(vec![0xff; 12]), ..RangeOptions::default() };
        assert_eq!(keys(&scan(db, beyond.clone())), user);
        assert_eq!(keys(&scan(db, RangeOptions { reverse: true, ..beyond })), user_rev);
        let above = RangeOptions { lower: Bound::Included(SYSTEM_PREFIX.to_vec()), ..RangeOptions::default() };
        assert!(scan(db, above.clone()).is_empty());
        assert!(scan(db, RangeOptions { reverse: true, ..above }).is_empty());
        // Relative system bounds.
        let bounded = sys(RangeOptions {
            lower: Bound::Excluded(b"".to_vec()),
            upper: Bound::Excluded(b"idx/2".to_vec()),
            ..RangeOptions::default()
        });
        assert_eq!(keys(&scan(db, bounded.clone())), vec![b"idx/1/apple".to_vec(), b"idx/1/banana".to_vec()]);
        assert_eq!(
            keys(&scan(db, RangeOptions { reverse: true, limit: Some(1), ..bounded })),
            vec![b"idx/1/banana".to_vec()]
        );
        let entries = scan(db, sys(RangeOptions { lower: Bound::Included(vec![0xff; 8]), ..RangeOptions::default() }));
        assert_eq!(entries, vec![(vec![0xff; 8], b"a system key that itself starts with the prefix".to_vec())]);
        // Point reads of user keys still work; system keys cannot be read as user keys.
        assert_eq!(db.get(&[0xff; 7], None).unwrap(), Some(b"user".to_vec()));
        assert!(is_invalid(db.get(&stored(b"idx/1/apple"), None)));
    };
    check(&db);
    db.flush().unwrap();
    check(&db);
    db.compact_range(None, None).unwrap();
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    check(&db);
}

#[test]
fn seeks_batches_and_limits_stay_in_the_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let mut b = WriteBatch::new();
    for i in 0..50u32 {
        b.put(format!("u{i:03}").as_bytes(), b"u").unwrap();
        b.put_system(format!("s{i:03}").as_bytes(), b"s").unwrap();
    }
    b.put(&[0xff; 7], b"top user key").unwrap();
    db.write(b, false).unwrap();

    for round in 0..2 {
        // Forward user seek past every user key: the end, not the system keys.
        let mut it = db.iter(IterOptions::default()).unwrap();
        it.seek(&[0xff; 9]).unwrap();
        assert_eq!(it.next().unwrap(), None);
        it.seek(b"u049").unwrap();
        assert_eq!(keys(&it.next_batch(100, 1 << 20).unwrap()), vec![b"u049".to_vec(), vec![0xff; 7]]);
        assert!(it.next_batch(100, 1 << 20).unwrap().is_empty());

        // Reverse user seek from above the prefix starts below it.
        let mut it = db
            .iter(IterOptions { range: RangeOptions { reverse: true, ..RangeOptions::default() }, snapshot: None })
            .unwrap();
        it.seek(&[0xff; 20]).unwrap();
        assert_eq!(it.next().unwrap().unwrap().0, vec![0xff; 7]);
        assert_eq!(it.next().unwrap().unwrap().0, b"u049".to_vec());

        // System seeks are relative.
        let mut it = db.iter(IterOptions { range: sys(RangeOptions::default()), snapshot: None }).unwrap();
        it.seek(b"s047").unwrap();
        assert_eq!(
            keys(&it.next_batch(10, 1 << 20).unwrap()),
            vec![b"s047".to_vec(), b"s048".to_vec(), b"s049".to_vec()]
        );
        it.seek(b"").unwrap();
        assert_eq!(it.next().unwrap().unwrap().0, b"s000".to_vec());
        let mut it = db
            .iter(IterOptions {
                range: sys(RangeOptions { reverse: true, limit: Some(3), ..RangeOptions::default() }),
                snapshot: None,
            })
            .unwrap();
        it.seek(b"s010").unwrap();
        assert_eq!(
            keys(&it.next_batch(10, 1 << 20).unwrap()),
            vec![b"s010".to_vec(), b"s009".to_vec(), b"s008".to_vec()]
        );

        // The cached-only batches (served from memory, or resumed by the blocking form).
        let mut it = db.iter(IterOptions { range: sys(RangeOptions::default()), snapshot: None }).unwrap();
        let mut got = Vec::new();
        let mut seek = Some(&b"s040"[..]);
        loop {
            let batch = match it.next_batch_if_cached(seek.take(), 4, 1 << 20).unwrap() {
                Some(b) => b,
                None => it.next_batch(4, 1 << 20).unwrap(),
            };
            if batch.is_empty() {
                break;
            }
            got.extend(keys(&batch));
        }
        let want: Vec<Vec<u8>> = (40..50).map(|i| format!("s{i:03}").into_bytes()).collect();
        assert_eq!(got, want, "round {round}");
        let mut it = db
            .iter(IterOptions { range: RangeOptions { reverse: true, ..RangeOptions::default() }, snapshot: None })
            .unwrap();
        let first = match it.next_batch_if_cached(None, 2, 1 << 20).unwrap() {
            Some(b) => b,
            None => it.next_batch(2, 1 << 20).unwrap(),
        };
        assert_eq!(keys(&first), vec![vec![0xff; 7], b"u049".to_vec()]);
        db.flush().unwrap();
    }
}

#[test]
fn user_writes_and_reads_of_reserved_keys_fail_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let reserved = stored(b"x");
    assert!(is_invalid(db.put(&reserved, b"v", false)));
    assert!(is_invalid(db.put(&SYSTEM_PREFIX, b"v", false)));
    assert!(is_invalid(db.delete(&reserved, false)));
    assert!(is_invalid(db.get(&reserved, None)));
    assert!(is_invalid(db.get_with(&reserved, None, |v| v.map(<[u8]>::len))));
    assert!(is_invalid(db.get_if_cached(&reserved, None)));
    assert!(is_invalid(db.get_if_cached_with(&reserved, None, |v| v.is_some())));
    // A packed batch with a valid op and a reserved user key is rejected as a whole.
    let mut packed = vec![1, 2, b'o', b'k', 1, b'v', 1, 9];
    packed.extend_from_slice(&reserved);
    packed.extend_from_slice(&[1, b'v']);
    assert!(is_invalid(WriteBatch::from_packed_ops(&packed)));
    let mut packed = vec![0, 9];
    packed.extend_from_slice(&reserved);
    assert!(is_invalid(WriteBatch::from_packed_ops(&packed)));
    assert!(scan(&db, RangeOptions::default()).is_empty());
    assert!(scan(&db, sys(RangeOptions::default())).is_empty());
    assert_eq!(db.stats().unwrap().last_sequence, 0, "nothing was written");

    // System key sizes: up to MAX_SYSTEM_KEY_SIZE relative bytes.
    let mut b = WriteBatch::new();
    assert!(b.put_system(&vec![7u8; MAX_SYSTEM_KEY_SIZE + 1], b"").is_err());
    b.put_system(&vec![7u8; MAX_SYSTEM_KEY_SIZE], b"big").unwrap();
    db.write(b, false).unwrap();
    db.flush().unwrap();
    let got = scan(&db, sys(RangeOptions::default()));
    assert_eq!(got, vec![(vec![7u8; MAX_SYSTEM_KEY_SIZE], b"big".to_vec())]);
}

#[test]
fn packed_system_ops_are_atomic_with_user_ops_and_survive_wal_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = small_opts();
    opts.flush_on_close = false;
    {
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        // kind 1 (put "rec" = "v1"), kind 3 (system put "ix/v1/rec" = ""), kind 3, kind 2.
        let mut packed = vec![1, 3, b'r', b'e', b'c', 2, b'v', b'1'];
        packed.extend_from_slice(&[3, 9]);
        packed.extend_from_slice(b"ix/v1/rec");
        packed.push(0);
        packed.extend_from_slice(&[3, 3, b'r', b'e', b'g', 1, b'{']);
        packed.extend_from_slice(&[2, 3, b'o', b'l', b'd']);
        let batch = WriteBatch::from_packed_ops(&packed).unwrap();
        assert_eq!(batch.count(), 4);
        db.write(batch, true).unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(db.recovery_info().wal_records >= 1, "replayed from the WAL");
    assert_eq!(scan(&db, RangeOptions::default()), vec![(b"rec".to_vec(), b"v1".to_vec())]);
    assert_eq!(
        scan(&db, sys(RangeOptions::default())),
        vec![(b"ix/v1/rec".to_vec(), Vec::new()), (b"reg".to_vec(), b"{".to_vec())]
    );
}

#[test]
fn clear_works_in_one_keyspace_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let fill = |db: &Db| {
        let mut b = WriteBatch::new();
        for i in 0..20u32 {
            b.put(format!("k{i:02}").as_bytes(), b"u").unwrap();
            b.put_system(format!("k{i:02}").as_bytes(), b"s").unwrap();
        }
        b.put(&[0xff; 7], b"u").unwrap();
        db.write(b, false).unwrap();
    };
    fill(&db);
    db.flush().unwrap();
    // Clear everything of the user's: the system keys stay.
    assert_eq!(db.clear(RangeOptions::default(), false).unwrap(), 21);
    assert!(scan(&db, RangeOptions::default()).is_empty());
    assert_eq!(scan(&db, sys(RangeOptions::default())).len(), 20);
    // A user clear whose bounds reach above the prefix still stops below it.
    fill(&db);
    let wide = RangeOptions { lower: Bound::Included(b"k10".to_vec()), upper: Bound::Unbounded, ..Default::default() };
    assert_eq!(db.clear(wide, false).unwrap(), 11);
    assert_eq!(scan(&db, sys(RangeOptions::default())).len(), 20);
    // A system clear takes relative bounds and leaves the user keys alone.
    let range = sys(RangeOptions {
        lower: Bound::Included(b"k05".to_vec()),
        upper: Bound::Excluded(b"k15".to_vec()),
        ..RangeOptions::default()
    });
    assert_eq!(db.clear(range, false).unwrap(), 10);
    let left: Vec<Vec<u8>> = keys(&scan(&db, sys(RangeOptions::default())));
    let want: Vec<Vec<u8>> = (0..5).chain(15..20).map(|i| format!("k{i:02}").into_bytes()).collect();
    assert_eq!(left, want);
    assert_eq!(scan(&db, RangeOptions::default()).len(), 10);
    // clear_at with a snapshot, in the system keyspace.
    let snap = db.snapshot().unwrap();
    let mut b = WriteBatch::new();
    b.put_system(b"new", b"after the snapshot").unwrap();
    db.write(b, false).unwrap();
    assert_eq!(db.clear_at(sys(RangeOptions::default()), Some(&snap), false).unwrap(), 10);
    assert_eq!(keys(&scan(&db, sys(RangeOptions::default()))), vec![b"new".to_vec()]);
    db.close().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(keys(&scan(&db, sys(RangeOptions::default()))), vec![b"new".to_vec()]);
    assert_eq!(scan(&db, RangeOptions::default()).len(), 10);
}

/// SplitMix64, for the model test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Keys from a small alphabet that includes 0xff, so that user keys crowd the prefix.
fn rand_key(r: &mut Rng) -> Vec<u8> {
    let len = r.below(10) as usize;
    (0..len).map(|_| [0x00, b'a', b'b', 0xfe, 0xff, 0xff][r.below(6) as usize]).collect()
}

fn rand_bound(r: &mut Rng) -> Bound<Vec<u8>> {
    match r.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(rand_key(r)),
        _ => Bound::Excluded(rand_key(r)),
    }
}

fn expected(model: &Model, range: &RangeOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    let inside = |k: &Vec<u8>| {
        let lo = match &range.lower {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        };
        let hi = match &range.upper {
            Bound::Included(u) => k <= u,
            Bound::Excluded(u) => k < u,
            Bound::Unbounded => true,
        };
        lo && hi
    };
    let mut out: Vec<_> = model.iter().filter(|(k, _)| inside(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if range.reverse {
        out.reverse();
    }
    if let Some(l) = range.limit {
        out.truncate(l as usize);
    }
    out
}

#[test]
fn model_of_both_keyspaces() {
    for seed in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path(), small_opts()).unwrap();
        let mut r = Rng(seed);
        let (mut user, mut system) = (Model::new(), Model::new());
        for step in 0..1500 {
            let ctx = format!("seed {seed} step {step}");
            match r.below(100) {
                0..=49 => {
                    let mut b = WriteBatch::new();
                    let mut u2 = user.clone();
                    let mut s2 = system.clone();
                    for _ in 0..=r.below(4) {
                        let k = rand_key(&mut r);
                        let v = r.next().to_le_bytes().to_vec();
                        let put = r.below(4) != 0;
                        if r.below(2) == 0 {
                            if k.starts_with(&SYSTEM_PREFIX) {
                                assert!(b.put(&k, &v).is_err(), "{ctx}");
                                continue;
                            }
                            if put {
                                b.put(&k, &v).unwrap();
                                u2.insert(k, v);
                            } else {
                                b.delete(&k).unwrap();
                                u2.remove(&k);
                            }
                        } else if put {
                            b.put_system(&k, &v).unwrap();
                            s2.insert(k, v);
                        } else {
                            b.delete_system(&k).unwrap();
                            s2.remove(&k);
                        }
                    }
                    db.write(b, false).unwrap();
                    user = u2;
                    system = s2;
                }
                50..=79 => {
                    let range = RangeOptions {
                        lower: rand_bound(&mut r),
                        upper: rand_bound(&mut r),
                        reverse: r.below(2) == 0,
                        limit: if r.below(4) == 0 { Some(r.below(5)) } else { None },
                        keyspace: if r.below(2) == 0 { Keyspace::User } else { Keyspace::System },
                    };
                    let model = if range.keyspace == Keyspace::User { &user } else { &system };
                    assert_eq!(scan(&db, range.clone()), expected(model, &range), "{ctx} {range:?}");
                }
                80..=84 => {
                    let k = rand_key(&mut r);
                    match db.get(&k, None) {
                        Ok(v) => assert_eq!(v, user.get(&k).cloned(), "{ctx}"),
                        Err(Error::InvalidArgument(_)) => assert!(k.starts_with(&SYSTEM_PREFIX), "{ctx}"),
                        Err(e) => panic!("{ctx}: {e}"),
                    }
                }
                85..=89 => {
                    let range = RangeOptions {
                        lower: rand_bound(&mut r),
                        upper: rand_bound(&mut r),
                        keyspace: if r.below(2) == 0 { Keyspace::User } else { Keyspace::System },
                        ..RangeOptions::default()
                    };
                    let model = if range.keyspace == Keyspace::User { &mut user } else { &mut system };
                    let gone: Vec<Vec<u8>> = keys(&expected(model, &range));
                    assert_eq!(db.clear(range.clone(), false).unwrap(), gone.len() as u64, "{ctx} {range:?}");
                    for k in gone {
                        model.remove(&k);
                    }
                }
                90..=94 => db.flush().unwrap(),
                95..=97 => db.compact_range(None, None).unwrap(),
                _ => {
                    db.close().unwrap();
                    db = Db::open(dir.path(), small_opts()).unwrap();
                }
            }
        }
        assert_eq!(scan(&db, RangeOptions::default()), expected(&user, &RangeOptions::default()));
        assert_eq!(scan(&db, sys(RangeOptions::default())), expected(&system, &RangeOptions::default()));
    }
}
