//! Named crash points for whitebox crash tests (RELIABILITY.md, T2).
//!
//! The engine calls [`crash_point`] at the steps of its file protocol where a process
//! crash leaves a distinct on-disk state (see [`CRASH_POINTS`]). Without the
//! `crash-points` cargo feature (the default) the call is an empty inline function and
//! compiles to nothing.
//!
//! With the feature on, the environment is read once (on the first hit):
//!
//! * `STRATA_CRASH_POINT=<name>` and `STRATA_CRASH_HIT=<n>` (default 1): the process calls
//!   `std::process::abort()` on the n-th hit of that point;
//! * or `STRATA_CRASH_ODDS=<N>` and `STRATA_CRASH_SEED=<s>`: every hit of any point aborts
//!   with probability 1/N (RocksDB's kill odds);
//! * neither set: nothing aborts; the hits are only counted ([`hits`]).
//!
//! A `STRATA_CRASH_POINT` that names no point, or a value that does not parse, makes the
//! first hit print the problem and exit with status 2 (a test setup error must not look
//! like a crash).

/// Every crash point, in the order of the protocol steps. The name says what has happened
/// on disk when the process dies there.
pub const CRASH_POINTS: &[&str] = &[
    // Write path (db/write.rs).
    "wal.appended.before_sync",
    "wal.synced.before_ack",
    // Memtable rotation (db/write.rs `rotate_memtable`).
    "wal.rotate.old_synced.before_create",
    "wal.rotate.created.before_dir_sync",
    "wal.rotate.dir_synced.before_switch",
    // SSTable output of a flush, a compaction or recovery (table/builder.rs).
    "sst.written.before_sync",
    "sst.synced.before_dir_sync",
    // Version install (db/background.rs `install`).
    "install.dir_synced.before_manifest",
    // Manifest switch (version/manifest.rs `write_manifest_with`).
    "manifest.tmp_written.before_sync",
    "manifest.tmp_synced.before_rename",
    "manifest.renamed.before_dir_sync",
    "manifest.dir_synced.before_publish",
    // Compaction (db/background.rs `run_compaction`).
    "compaction.between_outputs",
    // Obsolete files: the flushed WAL (db/background.rs `flush_one`) and compacted SSTs
    // (db/mod.rs `TableHandle::drop`).
    "flush.wal.before_unlink",
    "flush.wal.after_unlink",
    "table.obsolete.before_unlink",
    "table.obsolete.after_unlink",
    // Open (db/recovery.rs).
    "open.manifest_written.before_wal_create",
    "open.obsolete.before_unlink",
    "open.obsolete.after_unlink",
];

/// Marks a crash point. Compiles to nothing without the `crash-points` feature.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn crash_point(_name: &'static str) {}

/// Marks a crash point: counts the hit and aborts the process if the environment asks for
/// a crash here (see the module documentation).
#[cfg(feature = "crash-points")]
#[inline(never)]
pub fn crash_point(name: &'static str) {
    imp::hit(name);
}

/// How often `name` was hit in this process (always 0 without the `crash-points` feature).
pub fn hits(name: &str) -> u64 {
    #[cfg(feature = "crash-points")]
    {
        imp::hits(name)
    }
    #[cfg(not(feature = "crash-points"))]
    {
        let _ = name;
        0
    }
}

/// True when the crate was built with the `crash-points` feature.
pub const ENABLED: bool = cfg!(feature = "crash-points");

#[cfg(feature = "crash-points")]
mod imp {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    use super::CRASH_POINTS;

    enum Mode {
        Off,
        /// Abort on the n-th hit of the point with this index.
        Point {
            index: usize,
            hit: u64,
        },
        /// Abort on any hit with probability 1/odds.
        Odds {
            odds: u64,
        },
        /// The environment is wrong: exit with status 2 on the first hit.
        Bad(String),
    }

    static MODE: OnceLock<Mode> = OnceLock::new();
    static COUNTS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
    static RNG: AtomicU64 = AtomicU64::new(0);

    fn env_u64(name: &str) -> Result<Option<u64>, String> {
        match std::env::var(name) {
            Ok(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v:?} is not a number")),
            Err(_) => Ok(None),
        }
    }

    fn mode_from_env() -> Result<Mode, String> {
        if let Ok(name) = std::env::var("STRATA_CRASH_POINT") {
            let index = CRASH_POINTS
                .iter()
                .position(|p| *p == name)
                .ok_or_else(|| format!("STRATA_CRASH_POINT={name:?} names no crash point"))?;
            let hit = env_u64("STRATA_CRASH_HIT")?.unwrap_or(1).max(1);
            return Ok(Mode::Point { index, hit });
        }
        if let Some(odds) = env_u64("STRATA_CRASH_ODDS")? {
            let seed = env_u64("STRATA_CRASH_SEED")?.unwrap_or(0);
            RNG.store(seed ^ 0x5DEE_CE66_D1CE_4E5B, Ordering::Relaxed);
            return Ok(Mode::Odds { odds: odds.max(1) });
        }
        Ok(Mode::Off)
    }

    /// SplitMix64 over a shared counter: one draw per hit, from any thread.
    fn draw() -> u64 {
        let mut z = RNG.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn die(name: &str, n: u64) -> ! {
        // One line on stderr so that the parent can tell where the child died.
        let _ = writeln!(std::io::stderr(), "strata crash point {name} (hit {n}): abort");
        std::process::abort()
    }

    pub(super) fn hit(name: &'static str) {
        let index = CRASH_POINTS.iter().position(|p| *p == name);
        debug_assert!(index.is_some(), "crash point {name:?} is not listed in CRASH_POINTS");
        let Some(index) = index else { return };
        let Some(counter) = COUNTS.get(index) else { return };
        let n = counter.fetch_add(1, Ordering::AcqRel) + 1;
        match MODE.get_or_init(|| mode_from_env().unwrap_or_else(Mode::Bad)) {
            Mode::Off => {}
            Mode::Point { index: at, hit } => {
                if *at == index && n == *hit {
                    die(name, n);
                }
            }
            Mode::Odds { odds } => {
                if draw().is_multiple_of(*odds) {
                    die(name, n);
                }
            }
            Mode::Bad(why) => {
                let _ = writeln!(std::io::stderr(), "strata crash points: {why}");
                std::process::exit(2);
            }
        }
    }

    pub(super) fn hits(name: &str) -> u64 {
        CRASH_POINTS
            .iter()
            .position(|p| *p == name)
            .and_then(|i| COUNTS.get(i))
            .map_or(0, |c| c.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fit_the_counters() {
        let set: std::collections::HashSet<_> = CRASH_POINTS.iter().collect();
        assert_eq!(set.len(), CRASH_POINTS.len());
        assert!(CRASH_POINTS.len() <= 64);
    }

    #[test]
    fn every_point_is_placed_in_the_engine_source() {
        // Each name appears in a `crash_point("...")` call somewhere under src/.
        let mut src = String::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("crash.rs") {
                    src.push_str(&std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        for name in CRASH_POINTS {
            assert!(src.contains(&format!("crash_point(\"{name}\")")), "crash point {name} is never called");
        }
    }
}
