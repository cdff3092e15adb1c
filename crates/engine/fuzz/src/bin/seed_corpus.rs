//! Writes seed inputs for every fuzz target, produced by the engine's own writers:
//! `cargo run --release --bin seed_corpus -- <out_dir>` creates `<out_dir>/<target>/seed-*`.
//! `scripts/fuzz.sh` runs it before fuzzing; the minimized corpora are committed under
//! `crates/engine/fuzz/corpus/`.

use std::path::{Path, PathBuf};

use strata_engine::key::{internal_key, ValueKind};
use strata_engine::table::{encode_block, BlockBuilder, BlockCodec, TableBuilder};
use strata_engine::wal::LogWriter;
use strata_engine::{Db, Options, TableOptions, WriteBatch};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn save(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join(name), bytes).expect("write seed");
}

fn batch(rng: &mut Rng, ops: u64, max_value: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for _ in 0..ops {
        let k = format!("key{:05}", rng.below(500));
        if rng.below(5) == 0 {
            b.delete(k.as_bytes()).expect("delete");
        } else {
            let v = vec![b'a' + rng.below(26) as u8; rng.below(max_value + 1) as usize];
            b.put(k.as_bytes(), &v).expect("put");
        }
    }
    b.set_sequence(1 + rng.below(1000));
    b
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus-raw".into()));
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let tmp = out.join("_tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("mkdir tmp");

    // WAL files (and their records as batch seeds), including records spanning 32 KiB blocks.
    for i in 0..24u64 {
        let p = tmp.join(format!("{i}.log"));
        let mut w = LogWriter::create(&p).expect("create log");
        let records = 1 + rng.below(12);
        for r in 0..records {
            let max_value = if i % 6 == 5 && r == 0 { 40_000 } else { 200 };
            let ops = 1 + rng.below(6);
            let b = batch(&mut rng, ops, max_value);
            w.add_record(b.data()).expect("append");
            if r == 0 {
                save(&out, "batch_decode", &format!("seed-record-{i}"), b.data());
            }
        }
        w.sync().expect("sync");
        drop(w);
        let mut bytes = std::fs::read(&p).expect("read log");
        if i % 4 == 3 {
            // A torn tail: cut into the last record.
            let cut = bytes.len() - 1 - rng.below(8) as usize;
            bytes.truncate(cut);
        }
        save(&out, "wal_reader", &format!("seed-{i}"), &bytes);
    }
    // Packed-op batches (the JavaScript format).
    for i in 0..20u64 {
        let ops = 1 + rng.below(8);
        let b = batch(&mut rng, ops, 64);
        let mut packed = Vec::new();
        for op in b.iter() {
            let op = op.expect("op");
            packed.push(op.kind as u8);
            strata_engine::coding::put_length_prefixed(&mut packed, op.key);
            if op.kind == ValueKind::Put {
                strata_engine::coding::put_length_prefixed(&mut packed, op.value);
            }
        }
        save(&out, "batch_decode", &format!("seed-packed-{i}"), &packed);
    }

    // Single blocks: mode 0/1 = stored block + trailer (LZ4 or raw), mode 2 = raw contents.
    for i in 0..24u64 {
        let mut bb = BlockBuilder::new(1 + (i % 17) as usize);
        let n = 1 + rng.below(60);
        for j in 0..n {
            let k = internal_key(format!("user{:04}", j * 3).as_bytes(), 1000 - j, ValueKind::Put);
            let v = vec![b'x'; rng.below(80) as usize];
            bb.add(&k, &v).expect("block add");
        }
        let contents = bb.finish();
        let mode = (i % 3) as u8;
        let mut seed = vec![mode];
        if mode == 2 {
            seed.extend_from_slice(&contents);
        } else {
            let codec = [BlockCodec::None, BlockCodec::Lz4, BlockCodec::Zstd(3)][(i / 3 % 3) as usize];
            seed.extend_from_slice(&encode_block(&contents, codec).expect("encode").0);
        }
        save(&out, "block_decode", &format!("seed-{i}"), &seed);
    }

    // Standalone tables with varied options.
    for i in 0..24u64 {
        let p = tmp.join(format!("{i}.sst"));
        let opts = TableOptions {
            block_size: 256 << (i % 4),
            block_restart_interval: 1 + (i % 16) as usize,
            bloom_bits_per_key: (i % 3 * 5) as u32,
            compression: i % 2 == 0,
            // Every fourth compressed table is zstd (format version 2).
            zstd_level: (i % 8 == 4).then_some(3),
            verify_checksums: true,
        };
        let f = std::fs::File::create(&p).expect("create sst");
        let mut b = TableBuilder::new(f, p.clone(), opts);
        let n = 1 + rng.below(150);
        for j in 0..n {
            let kind = if rng.below(6) == 0 { ValueKind::Delete } else { ValueKind::Put };
            let v = if kind == ValueKind::Put { vec![b'a' + (j % 26) as u8; rng.below(40) as usize] } else { vec![] };
            b.add(&internal_key(format!("k{:05}", j * 7).as_bytes(), 5000 - j, kind), &v).expect("add");
        }
        b.finish().expect("finish");
        save(&out, "sst_open_scan", &format!("seed-{i}"), &std::fs::read(&p).expect("read sst"));
    }

    // Real databases: manifests after each flush, plus their SSTs and WALs.
    for d in 0..4u64 {
        let dir = tmp.join(format!("db{d}"));
        let opts = Options {
            memtable_size: 8192,
            block_size: 512,
            compression: d % 2 == 0,
            compaction: strata_engine::CompactionOptions {
                target_file_size: 8192,
                base_level_size: 16384,
                ..Default::default()
            },
            ..Options::default()
        };
        let db = Db::open(&dir, opts).expect("open db");
        for round in 0..6u64 {
            for _ in 0..120 {
                let k = format!("key{:05}", rng.below(2000));
                db.put(k.as_bytes(), &vec![b'v'; 1 + rng.below(40) as usize], false).expect("put");
            }
            db.flush().expect("flush");
            if round == 4 {
                db.compact_range(None, None).expect("compact");
            }
            let m = std::fs::read(dir.join("MANIFEST")).expect("manifest");
            save(&out, "manifest_decode", &format!("seed-db{d}-{round}"), &m);
        }
        for e in std::fs::read_dir(&dir).expect("readdir") {
            let p = e.expect("entry").path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if name.ends_with(".sst") {
                save(&out, "sst_open_scan", &format!("seed-db{d}-{name}"), &std::fs::read(&p).expect("read"));
            }
        }
        db.close().expect("close");
    }

    // sst_roundtrip inputs: 3 option bytes, then [klen][key][seq][kind|vlen/13][value].
    for i in 0..24u64 {
        let mut s = vec![rng.below(256) as u8, rng.below(256) as u8, rng.below(256) as u8];
        for _ in 0..(1 + rng.below(60)) {
            let key = format!("k{}", rng.below(40));
            s.push(key.len() as u8);
            s.extend_from_slice(key.as_bytes());
            s.push(rng.below(256) as u8);
            let kv = rng.below(256) as u8;
            s.push(kv);
            let vlen = usize::from(kv >> 1) * 13;
            s.extend((0..vlen.min(24)).map(|_| rng.below(256) as u8));
        }
        save(&out, "sst_roundtrip", &format!("seed-{i}"), &s);
    }
    // Packed batches mixing user ops (kinds 0/1) with system ops (kinds 2/3, relative keys),
    // from their own generator so that the seeds above stay as they were.
    let mut srng = Rng(0x5eed_0000_0000_00ff);
    for i in 0..20u64 {
        let mut packed = Vec::new();
        for _ in 0..(1 + srng.below(8)) {
            let kind = srng.below(4) as u8;
            packed.push(kind);
            let key = format!("{}{:04}", if kind >= 2 { "\u{1}ix" } else { "key" }, srng.below(500));
            strata_engine::coding::put_length_prefixed(&mut packed, key.as_bytes());
            if kind % 2 == 1 {
                let v = vec![b'a' + srng.below(26) as u8; srng.below(65) as usize];
                strata_engine::coding::put_length_prefixed(&mut packed, &v);
            }
        }
        save(&out, "batch_decode", &format!("seed-packed-system-{i}"), &packed);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!("seeds written to {}", out.display());
}
