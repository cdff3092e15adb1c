//! Group commit: concurrent `sync_to` callers share fdatasyncs, and every record they wrote
//! reads back.

use std::sync::{Arc, Barrier};

use parking_lot::Mutex;
use strata_engine::wal::{read_log, LogWriter};
use strata_engine::RecoveryMode;

const THREADS: usize = 8;

fn payload(t: usize, i: usize) -> Vec<u8> {
    let mut p = format!("thread {t} record {i} ").into_bytes();
    p.resize(p.len() + (t * 37 + i * 101) % 3000, t as u8);
    p
}

/// Runs `THREADS` writers; each appends `rounds` records and syncs each one. With `lockstep`
/// all threads append before any syncs in a round, so one fsync can cover the whole round.
fn run(rounds: usize, lockstep: bool) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gc.log");
    let writer = Arc::new(Mutex::new(LogWriter::create(&path).expect("create")));
    let handle = writer.lock().sync_handle().expect("handle");
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (writer, handle, barrier) = (Arc::clone(&writer), Arc::clone(&handle), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut calls = 0u64;
                for i in 0..rounds {
                    let end = writer.lock().add_record(&payload(t, i)).expect("append");
                    if lockstep {
                        barrier.wait();
                    }
                    handle.sync_to(end).expect("sync_to");
                    calls += 1;
                    if lockstep {
                        barrier.wait();
                    }
                }
                calls
            })
        })
        .collect();
    let calls: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    let syncs = handle.syncs_performed();

    // Every record is there, and each thread's records are in its own order.
    let mut seen = [0usize; THREADS];
    let rep = read_log(&path, RecoveryMode::TolerateCorruptedTail, false, &mut |_, p| {
        let text = String::from_utf8_lossy(p.get(..20).unwrap_or(p)).to_string();
        let t: usize = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("thread id");
        assert_eq!(p, payload(t, seen[t]).as_slice());
        seen[t] += 1;
        Ok(())
    })
    .expect("read back");
    assert_eq!(rep.records, (THREADS * rounds) as u64);
    assert!(seen.iter().all(|&n| n == rounds));
    assert_eq!(rep.valid_len, writer.lock().len());
    (calls, syncs)
}

#[test]
fn lockstep_sync_writers_share_fsyncs() {
    let rounds = 20;
    let (calls, syncs) = run(rounds, true);
    assert_eq!(calls, (THREADS * rounds) as u64);
    // All appends of a round precede its first fsync, which therefore covers the round.
    assert_eq!(syncs, rounds as u64);
    assert!(syncs < calls);
}

#[test]
fn free_running_sync_writers_share_fsyncs() {
    let rounds = 50;
    let (calls, syncs) = run(rounds, false);
    assert_eq!(calls, (THREADS * rounds) as u64);
    assert!(syncs >= 1 && syncs <= calls, "{syncs} fsyncs for {calls} calls");
}

#[test]
fn writer_sync_and_handle_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.log");
    let mut w = LogWriter::create(&path).expect("create");
    assert!(w.is_empty());
    assert_eq!(w.path(), path.as_path());
    let h = w.sync_handle().expect("handle");
    let a = w.add_record(b"a").expect("append");
    w.sync().expect("sync");
    assert_eq!(h.syncs_performed(), 1);
    // Already durable: no new fsync.
    h.sync_to(a).expect("sync_to");
    w.sync().expect("sync");
    assert_eq!(h.syncs_performed(), 1);
    let b = w.add_record(&vec![7u8; 100_000]).expect("append");
    assert_eq!(b, w.len());
    h.sync_to(b).expect("sync_to");
    assert_eq!(h.syncs_performed(), 2);
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), b);
}
