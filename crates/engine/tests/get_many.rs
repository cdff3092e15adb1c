//! `Db::get_many_with`: many point reads at one view, user or system keys, cached-only or not.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use strata_engine::{Db, Error, Keyspace, Lookup, Options, WriteBatch, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Value(Vec<u8>),
    Missing,
    NotCached,
}

fn many(db: &Db, ks: Keyspace, keys: &[&[u8]], snap: Option<&strata_engine::Snapshot>, cached: bool) -> Vec<Got> {
    let mut out = Vec::new();
    db.get_many_with(ks, keys, snap, cached, |i, l| {
        assert_eq!(i, out.len(), "answers come in key order");
        out.push(match l {
            Lookup::Value(v) => Got::Value(v.to_vec()),
            Lookup::Missing => Got::Missing,
            Lookup::NotCached => Got::NotCached,
        });
    })
    .unwrap();
    out
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

#[test]
fn reads_user_and_system_keys_at_one_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { memtable_size: 64 << 10, ..Options::default() }).unwrap();
    for i in 0..3000u32 {
        let mut b = WriteBatch::new();
        b.put(&key(i), format!("v{i}").as_bytes()).unwrap();
        b.put_system(&[&[1u8][..], &key(i)].concat(), b"").unwrap();
        db.write(b, false).unwrap();
    }
    db.flush().unwrap();
    let snap = db.snapshot().unwrap();
    // Changes after the snapshot are not seen through it.
    let mut b = WriteBatch::new();
    b.delete(&key(10)).unwrap();
    b.put(&key(20), b"new").unwrap();
    b.delete_system(&[&[1u8][..], &key(30)].concat()).unwrap();
    db.write(b, false).unwrap();

    let ks = [key(10), key(20), b"absent".to_vec(), key(2999)];
    let refs: Vec<&[u8]> = ks.iter().map(Vec::as_slice).collect();
    assert_eq!(
        many(&db, Keyspace::User, &refs, None, false),
        vec![Got::Missing, Got::Value(b"new".to_vec()), Got::Missing, Got::Value(b"v2999".to_vec())]
    );
    assert_eq!(
        many(&db, Keyspace::User, &refs, Some(&snap), false),
        vec![Got::Value(b"v10".to_vec()), Got::Value(b"v20".to_vec()), Got::Missing, Got::Value(b"v2999".to_vec())]
    );

    let sys: Vec<Vec<u8>> = [30u32, 31, 5000].iter().map(|&i| [&[1u8][..], &key(i)].concat()).collect();
    let refs: Vec<&[u8]> = sys.iter().map(Vec::as_slice).collect();
    assert_eq!(many(&db, Keyspace::System, &refs, None, false), vec![Got::Missing, Got::Value(vec![]), Got::Missing]);
    assert_eq!(
        many(&db, Keyspace::System, &refs, Some(&snap), false),
        vec![Got::Value(vec![]), Got::Value(vec![]), Got::Missing]
    );
    // A system key is not a user key: the same bytes read in the user keyspace are absent.
    assert_eq!(many(&db, Keyspace::User, &refs, None, false), vec![Got::Missing, Got::Missing, Got::Missing]);
    assert_eq!(many(&db, Keyspace::User, &[], None, true), vec![]);
}

#[test]
fn rejects_keys_the_keyspace_does_not_accept() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let reserved = [&SYSTEM_PREFIX[..], b"x"].concat();
    let mut called = false;
    let r = db.get_many_with(Keyspace::User, &[b"a", &reserved], None, false, |_, _| called = true);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let long = vec![7u8; MAX_SYSTEM_KEY_SIZE + 1];
    let r = db.get_many_with(Keyspace::System, &[&long], None, false, |_, _| called = true);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(!called, "nothing is looked up when a key is refused");
}

#[test]
fn cached_only_defers_just_the_keys_that_need_a_disk_read() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { block_cache_size: 32 << 20, memtable_size: 4 << 20, use_mmap: false, ..Options::default() };
    let db = Db::open(dir.path(), opts).unwrap();
    for i in 0..2000u32 {
        db.put(&key(i), format!("v{i}").as_bytes(), false).unwrap();
    }
    db.flush().unwrap();
    db.put(b"fresh", b"mem", false).unwrap();
    let ks = [b"fresh".to_vec(), key(1500)];
    let refs: Vec<&[u8]> = ks.iter().map(Vec::as_slice).collect();
    assert_eq!(many(&db, Keyspace::User, &refs, None, true), vec![Got::Value(b"mem".to_vec()), Got::NotCached]);
    // A blocking read caches the block; then cached-only answers it.
    assert_eq!(many(&db, Keyspace::User, &refs[1..], None, false), vec![Got::Value(b"v1500".to_vec())]);
    assert_eq!(
        many(&db, Keyspace::User, &refs, None, true),
        vec![Got::Value(b"mem".to_vec()), Got::Value(b"v1500".to_vec())]
    );
    db.close().unwrap();
    let r = db.get_many_with(Keyspace::User, &refs, None, false, |_, _| {});
    assert!(r.is_err());
}
