//! SSTable behaviour against a sorted-vector model: iteration both ways, seek,
//! seek_for_prev and get, for many table shapes, with mmap and pread, cache on and off.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use strata_engine::cache::BlockCache;
use strata_engine::iter::InternalIterator;
use strata_engine::key::{compare_internal, internal_key, parse_internal_key, seek_key, user_key, ValueKind};
use strata_engine::stats::Counters;
use strata_engine::table::{Table, TableBuilder};
use strata_engine::{Error, TableOptions};

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Small deterministic xorshift generator (no extra dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `n` entries with up to 3 versions per user key, mixed puts/deletes, random key and value
/// sizes (some 0-byte and some 10 KB values), sorted in internal order.
fn gen_entries(n: usize, seed: u64) -> Entries {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let mut k = 0u64;
    while out.len() < n {
        k += 1 + rng.below(3);
        let extra = rng.below(20) as usize;
        let mut uk = format!("user{k:08}").into_bytes();
        uk.extend(std::iter::repeat_n(b'x', extra));
        let versions = 1 + rng.below(3);
        let mut seq = 1_000_000 - k * 4;
        for _ in 0..versions {
            if out.len() >= n {
                break;
            }
            let kind = if rng.below(5) == 0 { ValueKind::Delete } else { ValueKind::Put };
            let len = match rng.below(400) {
                0 => 10 * 1024,
                1..=40 => 0,
                _ => rng.below(100) as usize,
            };
            let value = if kind == ValueKind::Delete { Vec::new() } else { vec![(k % 251) as u8; len] };
            out.push((internal_key(&uk, seq, kind), value));
            seq -= 1 + rng.below(2);
        }
    }
    out.sort_by(|a, b| compare_internal(&a.0, &b.0));
    out
}

fn opts(compression: bool, block_size: usize, restart: usize) -> TableOptions {
    TableOptions { block_size, block_restart_interval: restart, compression, ..TableOptions::default() }
}

fn build(path: &Path, entries: &Entries, o: &TableOptions) -> strata_engine::table::TableProperties {
    let f = std::fs::File::create(path).expect("create");
    let mut b = TableBuilder::new(f, path.to_path_buf(), o.clone());
    for (k, v) in entries {
        b.add(k, v).expect("add");
    }
    assert_eq!(b.num_entries(), entries.len() as u64);
    b.finish().expect("finish")
}

fn model_get(entries: &Entries, uk: &[u8], seq: u64) -> Option<(ValueKind, Vec<u8>)> {
    let target = seek_key(uk, seq);
    let i = entries.partition_point(|(k, _)| compare_internal(k, &target) == Ordering::Less);
    let (k, v) = entries.get(i)?;
    let p = parse_internal_key(k).expect("valid");
    (p.user_key == uk).then(|| (p.kind, v.clone()))
}

fn check_table(t: &Arc<Table>, entries: &Entries, rng: &mut Rng, exhaustive: bool) {
    let props = t.properties();
    assert_eq!(props.num_entries, entries.len() as u64);
    assert_eq!(props.smallest_key, entries[0].0);
    assert_eq!(props.largest_key, entries[entries.len() - 1].0);
    assert_eq!(props.file_size, t.file_size());
    // Forward and backward.
    let mut it = t.iter();
    it.seek_to_first().expect("seek");
    for (k, v) in entries {
        assert!(it.valid());
        assert_eq!(it.key(), &k[..]);
        assert_eq!(it.value(), &v[..]);
        it.next().expect("next");
    }
    assert!(!it.valid());
    it.next().expect("next past end is a no-op");
    assert!(!it.valid());
    it.seek_to_last().expect("seek");
    for (k, v) in entries.iter().rev() {
        assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
        it.prev().expect("prev");
    }
    assert!(!it.valid());
    // Seeks: every key (or a sample), plus targets between and around keys.
    let probes: Vec<usize> = if exhaustive {
        (0..entries.len()).collect()
    } else {
        (0..400).map(|_| rng.below(entries.len() as u64) as usize).collect()
    };
    for &i in &probes {
        let (k, _) = &entries[i];
        let uk = user_key(k);
        let seq = rng.below(1_100_000);
        for target in [k.clone(), seek_key(uk, seq), internal_key(uk, 0, ValueKind::Delete), {
            let mut x = uk.to_vec();
            x.push(0);
            seek_key(&x, seq)
        }] {
            let lb = entries.partition_point(|(e, _)| compare_internal(e, &target) == Ordering::Less);
            it.seek(&target).expect("seek");
            match entries.get(lb) {
                Some((e, v)) => {
                    assert_eq!(it.key(), &e[..]);
                    assert_eq!(it.value(), &v[..]);
                    // Step around the landing point.
                    it.prev().expect("prev");
                    match lb.checked_sub(1) {
                        Some(p) => assert_eq!(it.key(), &entries[p].0[..]),
                        None => assert!(!it.valid()),
                    }
                }
                None => assert!(!it.valid()),
            }
            let ub = entries.partition_point(|(e, _)| compare_internal(e, &target) != Ordering::Greater);
            it.seek_for_prev(&target).expect("seek_for_prev");
            match ub.checked_sub(1) {
                Some(p) => {
                    assert_eq!(it.key(), &entries[p].0[..]);
                    it.next().expect("next");
                    match entries.get(p + 1) {
                        Some((e, _)) => assert_eq!(it.key(), &e[..]),
                        None => assert!(!it.valid()),
                    }
                }
                None => assert!(!it.valid()),
            }
        }
        let got = t.get(uk, seq).expect("get").map(|(kind, v)| (kind, v.to_vec()));
        assert_eq!(got, model_get(entries, uk, seq), "get {:?} @ {seq}", String::from_utf8_lossy(uk));
        let got = t.get(uk, u64::MAX >> 8).expect("get").map(|(kind, v)| (kind, v.to_vec()));
        assert_eq!(got, model_get(entries, uk, u64::MAX >> 8));
    }
    // Forward seeks (a probe cursor's): ascending targets, some on keys, some between, with
    // steps between them, land where fresh seeks do.
    let mut targets: Vec<Vec<u8>> = probes
        .iter()
        .map(|&i| {
            let uk = user_key(&entries[i].0);
            if rng.below(2) == 0 {
                entries[i].0.clone()
            } else {
                seek_key(uk, rng.below(1_100_000))
            }
        })
        .collect();
    targets.sort_by(|a, b| compare_internal(a, b));
    let mut fwd = t.iter();
    fwd.seek(&targets[0]).expect("seek");
    for target in &targets {
        if fwd.valid() && compare_internal(target, fwd.key()) == Ordering::Less {
            continue;
        }
        fwd.seek_forward(target).expect("seek_forward");
        let lb = entries.partition_point(|(e, _)| compare_internal(e, target) == Ordering::Less);
        match entries.get(lb) {
            Some((e, v)) => assert_eq!((fwd.key(), fwd.value()), (&e[..], &v[..])),
            None => assert!(!fwd.valid()),
        }
        if rng.below(3) == 0 {
            fwd.next().expect("next");
        }
    }
    // Absent keys: before, after and between.
    for uk in [&b""[..], b"a", b"user", b"zzzz", b"user00000000\xff"] {
        assert_eq!(
            t.get(uk, u64::MAX >> 8).expect("get").map(|(k, v)| (k, v.to_vec())),
            model_get(entries, uk, u64::MAX >> 8)
        );
    }
    assert!(t.verify().is_empty(), "{:?}", t.verify());
}

fn open(path: &Path, mmap: bool, cache: Option<Arc<BlockCache>>, o: &TableOptions) -> Arc<Table> {
    Table::open(path, 7, None, o, mmap, cache, Arc::new(Counters::default())).expect("open")
}

#[test]
fn sizes_modes_and_compression_match_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0x1234_5678);
    for (n, seed) in [(1usize, 1u64), (2, 2), (17, 3), (300, 4), (5_000, 5), (50_000, 6)] {
        let entries = gen_entries(n, seed);
        for (compression, zstd) in [(false, None), (true, None), (true, Some(3))] {
            let o = TableOptions { zstd_level: zstd, ..opts(compression, 4096, 16) };
            let path = dir.path().join(format!("{n}-{compression}-{zstd:?}.sst"));
            let props = build(&path, &entries, &o);
            assert_eq!(props.file_size, std::fs::metadata(&path).expect("meta").len());
            for mmap in [true, false] {
                let cache = (n > 100 && mmap).then(|| Arc::new(BlockCache::new(1 << 20)));
                let t = open(&path, mmap, cache, &o);
                assert_eq!(t.properties(), &props);
                check_table(&t, &entries, &mut rng, n <= 300);
            }
        }
    }
}

#[test]
fn tiny_blocks_and_restart_intervals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(99);
    let entries = gen_entries(500, 42);
    for (block_size, restart) in [(0usize, 1usize), (1, 16), (64, 1), (256, 3), (1 << 20, 16), (4096, 0)] {
        let o = TableOptions { bloom_bits_per_key: 0, ..opts(true, block_size, restart) };
        let path = dir.path().join(format!("t-{block_size}-{restart}.sst"));
        let props = build(&path, &entries, &o);
        if block_size <= 1 {
            assert_eq!(props.data_blocks, 500);
        }
        check_table(&open(&path, false, None, &o), &entries, &mut rng, true);
    }
}

#[test]
fn compression_shrinks_compressible_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries: Entries = (0..2000u32)
        .map(|i| (internal_key(format!("k{i:06}").as_bytes(), 5, ValueKind::Put), vec![b'a'; 200]))
        .collect();
    let raw = build(&dir.path().join("raw"), &entries, &opts(false, 4096, 16));
    let lz4 = build(&dir.path().join("lz4"), &entries, &opts(true, 4096, 16));
    assert!(lz4.file_size * 4 < raw.file_size, "{} vs {}", lz4.file_size, raw.file_size);
    // Incompressible values are stored raw: the table is not larger than the raw-block one by more than the index.
    let mut rng = Rng(5);
    let noisy: Entries = (0..500u32)
        .map(|i| {
            let v: Vec<u8> = (0..300).map(|_| rng.next() as u8).collect();
            (internal_key(format!("k{i:06}").as_bytes(), 5, ValueKind::Put), v)
        })
        .collect();
    let a = build(&dir.path().join("n-raw"), &noisy, &opts(false, 4096, 16));
    let b = build(&dir.path().join("n-lz4"), &noisy, &opts(true, 4096, 16));
    assert!(b.file_size <= a.file_size);
    let c = build(&dir.path().join("n-zstd"), &noisy, &TableOptions { zstd_level: Some(3), ..opts(true, 4096, 16) });
    assert!(c.file_size <= a.file_size);
}

/// The bench's values: 50 printable random bytes written twice. LZ4 finds the repeat; zstd
/// also entropy-codes the 95-symbol alphabet, so its table is smaller. The footer says which.
#[test]
fn zstd_tables_are_smaller_and_say_format_version_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(11);
    let entries: Entries = (0..5000u32)
        .map(|i| {
            let half: Vec<u8> = (0..50).map(|_| 32 + (rng.next() % 95) as u8).collect();
            (internal_key(format!("k{:015}", 2 * i).as_bytes(), 5, ValueKind::Put), [half.clone(), half].concat())
        })
        .collect();
    let version = |p: &Path| {
        let b = std::fs::read(p).expect("read");
        u32::from_le_bytes(b[b.len() - 16..b.len() - 12].try_into().expect("4 bytes"))
    };
    let lz4_path = dir.path().join("lz4");
    let zstd_path = dir.path().join("zstd");
    let lz4 = build(&lz4_path, &entries, &opts(true, 4096, 16));
    let zo = TableOptions { zstd_level: Some(3), ..opts(true, 4096, 16) };
    let zstd = build(&zstd_path, &entries, &zo);
    assert!(zstd.file_size * 10 < lz4.file_size * 9, "zstd {} vs lz4 {}", zstd.file_size, lz4.file_size);
    assert_eq!(version(&lz4_path), 1);
    assert_eq!(version(&zstd_path), 2);
    // Without compression the zstd level is ignored: raw blocks, version 1.
    let raw_path = dir.path().join("raw");
    build(&raw_path, &entries, &TableOptions { compression: false, ..zo.clone() });
    assert_eq!(version(&raw_path), 1);
    let mut rng = Rng(12);
    for mmap in [true, false] {
        check_table(&open(&zstd_path, mmap, None, &zo), &entries, &mut rng, false);
    }
}

#[test]
fn builder_rejects_bad_input_without_panicking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.sst");
    let mut b = TableBuilder::new(std::fs::File::create(&path).expect("create"), path.clone(), TableOptions::default());
    b.add(&internal_key(b"b", 5, ValueKind::Put), b"v").expect("add");
    for bad in [
        internal_key(b"b", 5, ValueKind::Put),
        internal_key(b"b", 6, ValueKind::Put),
        internal_key(b"a", 1, ValueKind::Put),
        b"short".to_vec(),
        {
            let mut k = b"c".to_vec();
            k.extend_from_slice(&((9u64 << 8) | 7).to_le_bytes());
            k
        },
    ] {
        assert!(matches!(b.add(&bad, b""), Err(Error::InvalidArgument(_))), "{bad:?}");
    }
    b.add(&internal_key(b"b", 4, ValueKind::Delete), b"").expect("older version is fine");
    assert!(b.estimated_size() > 0);
    let props = b.finish().expect("finish");
    assert_eq!((props.num_entries, props.num_deletions, props.min_seq, props.max_seq), (2, 1, 4, 5));

    let empty = dir.path().join("empty.sst");
    let b = TableBuilder::new(std::fs::File::create(&empty).expect("create"), empty.clone(), TableOptions::default());
    assert!(matches!(b.finish(), Err(Error::InvalidArgument(_))));
}

#[test]
fn counters_cache_and_bloom() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = gen_entries(3000, 77);
    let o = TableOptions::default();
    let path = dir.path().join("c.sst");
    build(&path, &entries, &o);
    let counters = Arc::new(Counters::default());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let t = Table::open(&path, 3, Some(t_size(&path)), &o, true, Some(cache.clone()), counters.clone()).expect("open");
    let uk = user_key(&entries[100].0).to_vec();
    t.get(&uk, u64::MAX >> 8).expect("get");
    t.get(&uk, u64::MAX >> 8).expect("get");
    assert_eq!(Counters::get(&counters.block_cache_misses), 1);
    assert_eq!(Counters::get(&counters.block_cache_hits), 1);
    assert!(cache.weight() > 0);
    let negatives: u64 =
        (0..1000).map(|i| u64::from(t.get(format!("absent{i}").as_bytes(), 1).expect("get").is_none())).sum();
    assert_eq!(negatives, 1000);
    assert_eq!(Counters::get(&counters.bloom_checks), 1002);
    assert!(Counters::get(&counters.bloom_negatives) >= 975, "{}", Counters::get(&counters.bloom_negatives));
    cache.remove_file(3);
    assert_eq!(cache.weight(), 0);
    // A tiny cache stays within its budget.
    let small = Arc::new(BlockCache::new(10_000));
    let t = Table::open(&path, 4, None, &o, false, Some(small.clone()), counters).expect("open");
    let mut it = t.iter();
    it.seek_to_first().expect("seek");
    while it.valid() {
        it.next().expect("next");
    }
    assert!(small.weight() <= 10_000);
}

fn t_size(p: &Path) -> u64 {
    std::fs::metadata(p).expect("meta").len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn small_tables_match_the_model(
        keys in proptest::collection::btree_map(
            (proptest::collection::vec(0u8..4, 0..6), 0u64..20),
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)),
            1..60,
        ),
        block_size in 1usize..300,
        restart in 1usize..5,
        compression in any::<bool>(),
        zstd in any::<bool>(),
        mmap in any::<bool>(),
        bloom in 0u32..12,
    ) {
        let mut entries: Entries = keys
            .into_iter()
            .map(|((uk, seq), (del, v))| {
                if del { (internal_key(&uk, seq, ValueKind::Delete), Vec::new()) } else { (internal_key(&uk, seq, ValueKind::Put), v) }
            })
            .collect();
        entries.sort_by(|a, b| compare_internal(&a.0, &b.0));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.sst");
        let o = TableOptions { bloom_bits_per_key: bloom, zstd_level: zstd.then_some(1), ..opts(compression, block_size, restart) };
        build(&path, &entries, &o);
        let t = open(&path, mmap, Some(Arc::new(BlockCache::new(4096))), &o);
        let mut rng = Rng(7);
        check_table(&t, &entries, &mut rng, true);
        // Every user key at every sequence.
        for (k, _) in &entries {
            for seq in 0..21 {
                let uk = user_key(k);
                let got = t.get(uk, seq).expect("get").map(|(kind, v)| (kind, v.to_vec()));
                prop_assert_eq!(got, model_get(&entries, uk, seq));
            }
        }
    }
}
