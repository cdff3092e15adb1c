//! Compaction planning: which files to merge next. Everything here is a pure function of a
//! [`ManifestState`](crate::version::ManifestState) and the
//! [`CompactionOptions`](crate::options::CompactionOptions); no I/O.
//!
//! * [`pick_compaction`] chooses the most urgent background compaction.
//! * [`pick_manual`] plans one step of a manual compaction of a key range; [`plan_manual`]
//!   lists every step computed on one state.
//! * [`sim`] replays a synthetic flush workload through the picker to measure file counts
//!   and write amplification.
//!
//! The executor that merges the inputs must respect the level invariants of
//! [`ManifestState`](crate::version::ManifestState): in levels 1 and deeper it must never
//! cut an output file between two versions of the same user key.

mod picker;
pub mod sim;

pub use picker::{pending_compaction_bytes, pick_compaction, pick_manual, plan_manual, CompactionPick};
