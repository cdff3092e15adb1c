//! The compaction picker: leveled and size-tiered scoring, and manual range compactions.

use std::collections::HashSet;

use crate::options::{CompactionOptions, CompactionStyle};
use crate::version::{FileMeta, ManifestState, VersionEdit};

/// One compaction to run: merge `inputs` (from `level`) with `overlapping` (from
/// `output_level`) and write the result to `output_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionPick {
    /// The input level.
    pub level: usize,
    /// Files from `level`, in level order (for level 0: newest first).
    pub inputs: Vec<FileMeta>,
    /// Where the merged output goes.
    pub output_level: usize,
    /// Files of `output_level` that overlap the inputs' user-key range, in level order
    /// (empty when `output_level == level`).
    pub overlapping: Vec<FileMeta>,
    /// No file in any level deeper than `output_level` overlaps the user-key range of the
    /// compaction, so tombstones (and versions they shadow, unless a snapshot still needs
    /// them) may be dropped.
    pub bottommost: bool,
    /// Why this compaction was chosen, for logs and statistics.
    pub reason: &'static str,
}

impl CompactionPick {
    /// Every file the compaction reads, with its level: inputs first, then overlapping.
    pub fn all_files(&self) -> impl Iterator<Item = (usize, &FileMeta)> {
        self.inputs
            .iter()
            .map(move |f| (self.level, f))
            .chain(self.overlapping.iter().map(move |f| (self.output_level, f)))
    }

    /// Total bytes read.
    pub fn input_bytes(&self) -> u64 {
        self.all_files().map(|(_, f)| f.size).sum()
    }

    /// True when the compaction can be done by moving the single input file down a level
    /// without rewriting it (there is nothing to merge it with). When `bottommost` is also
    /// set and the file holds tombstones, an executor may prefer to rewrite it to drop them.
    pub fn is_trivial_move(&self) -> bool {
        self.level != self.output_level && self.inputs.len() == 1 && self.overlapping.is_empty()
    }

    /// The smallest and largest user keys of all files read.
    pub fn user_range(&self) -> Option<(&[u8], &[u8])> {
        let files: Vec<&FileMeta> = self.all_files().map(|(_, f)| f).collect();
        user_range(&files)
    }

    /// The edit that installs the result: removes every file read and adds `outputs` to
    /// `output_level`. The caller adds counters (`next_file_number`, ...) as needed.
    pub fn edit(&self, outputs: Vec<FileMeta>) -> VersionEdit {
        VersionEdit {
            deleted: self.all_files().map(|(l, f)| (l, f.number)).collect(),
            added: outputs.into_iter().map(|f| (self.output_level, f)).collect(),
            ..VersionEdit::default()
        }
    }
}

fn user_range<'a>(files: &[&'a FileMeta]) -> Option<(&'a [u8], &'a [u8])> {
    let lo = files.iter().map(|f| f.smallest_user_key()).min()?;
    let hi = files.iter().map(|f| f.largest_user_key()).max()?;
    Some((lo, hi))
}

/// Levels the picker works with: the configured number, but never fewer than two nor fewer
/// than needed to reach the deepest non-empty level of the state.
fn effective_levels(state: &ManifestState, opts: &CompactionOptions) -> usize {
    let needed = state.deepest_non_empty_level().map_or(0, |l| l + 1);
    opts.num_levels.max(needed).max(2)
}

/// Target size of level `level >= 1`: `base_level_size * level_size_ratio^(level-1)`.
fn level_target(opts: &CompactionOptions, level: usize) -> u64 {
    let mut t = opts.base_level_size.max(1);
    for _ in 1..level {
        t = t.saturating_mul(opts.level_size_ratio.max(1));
    }
    t
}

/// An estimate of the bytes compaction still has to rewrite before every level is within
/// its target, for monitoring (it steers nothing).
///
/// **Leveled**: all of L0 once it has `l0_compaction_trigger` files, plus, for each level
/// `n >= 1` above its target (`base_level_size * level_size_ratio^(n-1)`), the excess
/// (the last level never counts: it has no target). **Size-tiered**: all of level 0 once it
/// has `l0_compaction_trigger` runs.
pub fn pending_compaction_bytes(state: &ManifestState, opts: &CompactionOptions) -> u64 {
    let bytes = |l: usize| state.files(l).iter().map(|f| f.size).sum::<u64>();
    let l0_due = state.files(0).len() >= opts.l0_compaction_trigger;
    let mut pending = if l0_due { bytes(0) } else { 0 };
    if opts.style == CompactionStyle::Leveled {
        let levels = effective_levels(state, opts);
        for l in 1..levels.saturating_sub(1) {
            pending = pending.saturating_add(bytes(l).saturating_sub(level_target(opts, l)));
        }
    }
    pending
}

/// True if no file deeper than `output_level` overlaps `[lo, hi]`.
fn is_bottommost(state: &ManifestState, output_level: usize, lo: &[u8], hi: &[u8]) -> bool {
    (output_level + 1..state.levels.len())
        .all(|l| state.files(l).iter().all(|f| !f.overlaps_user_range(Some(lo), Some(hi))))
}

fn any_busy<'a>(mut files: impl Iterator<Item = &'a FileMeta>, busy: &HashSet<u64>) -> bool {
    files.any(|f| busy.contains(&f.number))
}

/// Builds a pick of `inputs` from `level` into `output_level` (> `level`), or `None` if a
/// file it would read is busy.
fn build_pick(
    state: &ManifestState,
    level: usize,
    inputs: Vec<FileMeta>,
    output_level: usize,
    busy: &HashSet<u64>,
    reason: &'static str,
) -> Option<CompactionPick> {
    let input_refs: Vec<&FileMeta> = inputs.iter().collect();
    let (lo, hi) = user_range(&input_refs)?;
    let overlapping = if output_level == level { Vec::new() } else { state.overlapping_files(output_level, lo, hi) };
    if any_busy(inputs.iter().chain(&overlapping), busy) {
        return None;
    }
    let all: Vec<&FileMeta> = inputs.iter().chain(&overlapping).collect();
    let (lo, hi) = user_range(&all)?;
    let bottommost = is_bottommost(state, output_level, lo, hi);
    Some(CompactionPick { level, inputs, output_level, overlapping, bottommost, reason })
}

/// Chooses the most urgent compaction, skipping any whose files include one whose number
/// is in `busy` (being compacted already). `None` when nothing needs compacting.
///
/// **Leveled**: level 0 scores `files / l0_compaction_trigger`, level `n >= 1` scores
/// `bytes not busy / (base_level_size * level_size_ratio^(n-1))`; the highest score `>= 1`
/// that yields a pick wins (the last level never scores). A level-0 pick takes every L0 file
/// plus the overlapping L1 files, and is not started while any L0 file is busy (two L0→L1
/// merges at once could reorder versions or overlap in L1). A level-`n` pick takes the one
/// file whose overlap with level `n+1` is smallest relative to its size (RocksDB's
/// "min overlapping ratio"), plus that overlap.
///
/// **Size-tiered**: level 0 holds sorted runs, newest first. Once there are
/// `l0_compaction_trigger` runs, the longest window of adjacent non-busy runs, at least
/// `l0_compaction_trigger` long, whose largest run is at most `level_size_ratio` times its
/// smallest is merged (ties: fewer bytes). Once there are `l0_stop_trigger` runs, the longest
/// stretch of adjacent non-busy runs is merged whatever the sizes. Output stays in level 0 as
/// one run.
pub fn pick_compaction(state: &ManifestState, opts: &CompactionOptions, busy: &HashSet<u64>) -> Option<CompactionPick> {
    match opts.style {
        CompactionStyle::Leveled => pick_leveled(state, opts, busy),
        CompactionStyle::SizeTiered => pick_tiered(state, opts, busy),
    }
}

fn pick_leveled(state: &ManifestState, opts: &CompactionOptions, busy: &HashSet<u64>) -> Option<CompactionPick> {
    let nl = effective_levels(state, opts);
    let trigger = opts.l0_compaction_trigger.max(1);
    let mut scores: Vec<(f64, usize)> = vec![(state.num_files(0) as f64 / trigger as f64, 0)];
    for level in 1..nl - 1 {
        let bytes: u64 = state.files(level).iter().filter(|f| !busy.contains(&f.number)).map(|f| f.size).sum();
        scores.push((bytes as f64 / level_target(opts, level) as f64, level));
    }
    // Highest score first; on ties the shallower level (stable sort keeps level order).
    scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, level) in scores {
        if score < 1.0 {
            break;
        }
        let pick = if level == 0 { pick_l0(state, busy) } else { pick_ln(state, level, busy) };
        if pick.is_some() {
            return pick;
        }
    }
    None
}

fn pick_l0(state: &ManifestState, busy: &HashSet<u64>) -> Option<CompactionPick> {
    let inputs = state.files(0).to_vec();
    if inputs.is_empty() || any_busy(inputs.iter(), busy) {
        return None;
    }
    build_pick(state, 0, inputs, 1, busy, "leveled: L0 file count")
}

fn pick_ln(state: &ManifestState, level: usize, busy: &HashSet<u64>) -> Option<CompactionPick> {
    let mut best: Option<(CompactionPick, u64, u64)> = None; // (pick, overlap bytes, file size)
    for f in state.files(level) {
        if busy.contains(&f.number) {
            continue;
        }
        let Some(pick) = build_pick(state, level, vec![f.clone()], level + 1, busy, "leveled: level size") else {
            continue;
        };
        let overlap: u64 = pick.overlapping.iter().map(|o| o.size).sum();
        let size = f.size.max(1);
        // overlap / size < best_overlap / best_size, compared without division.
        let better = best
            .as_ref()
            .is_none_or(|(_, bo, bs)| u128::from(overlap) * u128::from(*bs) < u128::from(*bo) * u128::from(size));
        if better {
            best = Some((pick, overlap, size));
        }
    }
    best.map(|(p, _, _)| p)
}

fn pick_tiered(state: &ManifestState, opts: &CompactionOptions, busy: &HashSet<u64>) -> Option<CompactionPick> {
    let runs = state.files(0);
    let n = runs.len();
    let trigger = opts.l0_compaction_trigger.max(2);
    if n < trigger {
        return None;
    }
    let stop = opts.l0_stop_trigger.max(trigger);
    let is_busy = |i: usize| runs.get(i).is_none_or(|r| busy.contains(&r.number));
    let size = |i: usize| runs.get(i).map_or(0, |r| r.size);
    // (start, end exclusive, bytes)
    let mut best: Option<(usize, usize, u64)> = None;
    let consider = |i: usize, j: usize, bytes: u64, best: &mut Option<(usize, usize, u64)>| {
        let better = best.is_none_or(|(bi, bj, bb)| j - i > bj - bi || (j - i == bj - bi && bytes < bb));
        if better {
            *best = Some((i, j, bytes));
        }
    };
    let mut reason = "size-tiered: similar-sized runs";
    if n >= stop {
        // Too many runs: merge the longest stretch of adjacent idle runs, whatever the sizes.
        let mut i = 0;
        while i < n {
            if is_busy(i) {
                i += 1;
                continue;
            }
            let mut j = i;
            let mut bytes = 0u64;
            while j < n && !is_busy(j) {
                bytes = bytes.saturating_add(size(j));
                j += 1;
            }
            if j - i >= 2 {
                consider(i, j, bytes, &mut best);
            }
            i = j;
        }
        if best.is_some() {
            reason = "size-tiered: run count reached l0_stop_trigger";
        }
    }
    if best.is_none() {
        let ratio = opts.level_size_ratio.max(1);
        for i in 0..n {
            if is_busy(i) {
                continue;
            }
            let (mut lo, mut hi, mut bytes) = (size(i), size(i), size(i));
            for j in i + 1..n {
                if is_busy(j) {
                    break;
                }
                lo = lo.min(size(j));
                hi = hi.max(size(j));
                if u128::from(hi) > u128::from(lo.max(1)) * u128::from(ratio) {
                    break;
                }
                bytes = bytes.saturating_add(size(j));
                if j + 1 - i >= trigger {
                    consider(i, j + 1, bytes, &mut best);
                }
            }
        }
    }
    let (i, j, _) = best?;
    tiered_pick(state, i, j, reason)
}

/// A size-tiered pick of runs `[i, j)` of level 0.
fn tiered_pick(state: &ManifestState, i: usize, j: usize, reason: &'static str) -> Option<CompactionPick> {
    let runs = state.files(0);
    let inputs = runs.get(i..j)?.to_vec();
    let refs: Vec<&FileMeta> = inputs.iter().collect();
    let (lo, hi) = user_range(&refs)?;
    let bottommost = j == runs.len() && is_bottommost(state, 0, lo, hi);
    Some(CompactionPick { level: 0, inputs, output_level: 0, overlapping: Vec::new(), bottommost, reason })
}

/// One step of a manual compaction of the user-key range `[start, end]` (`None` =
/// unbounded, both ends inclusive) at `level`, computed on `state`. Run the steps for
/// `level = 0, 1, ...` in order, re-planning on the state each step leaves (or use
/// [`plan_manual`] when planning on one state is enough). Busy files are not considered:
/// the caller must keep background compactions off these files while it runs.
///
/// **Leveled**: the files of `level` overlapping the range (for L0 widened so that no
/// overlapping L0 file is left behind) merge into `level + 1` with its overlapping files,
/// except at the deepest non-empty level (1 or deeper), which is rewritten in place
/// (`output_level == level`) so that tombstones can be dropped. `None` if `level` holds no
/// file in the range or is deeper than the deepest non-empty level.
///
/// **Size-tiered**: only level 0 has steps: the adjacent runs from the newest to the oldest
/// run overlapping the range (including the runs between them, to keep the newest-first
/// order) merge into one run.
pub fn pick_manual(
    state: &ManifestState,
    opts: &CompactionOptions,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
    level: usize,
) -> Option<CompactionPick> {
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return None;
        }
    }
    match opts.style {
        CompactionStyle::Leveled => {
            let nl = effective_levels(state, opts);
            let deepest = state.deepest_non_empty_level()?;
            if level > deepest || level >= nl {
                return None;
            }
            let inputs = state.overlapping_files_range(level, start, end);
            if inputs.is_empty() {
                return None;
            }
            let output_level = if level == 0 || level < deepest { level + 1 } else { level };
            build_pick(state, level, inputs, output_level, &HashSet::new(), "manual")
        }
        CompactionStyle::SizeTiered => {
            if level != 0 {
                return None;
            }
            let runs = state.files(0);
            let first = runs.iter().position(|r| r.overlaps_user_range(start, end))?;
            let last = runs.iter().rposition(|r| r.overlaps_user_range(start, end))?;
            tiered_pick(state, first, last + 1, "manual")
        }
    }
}

/// Every step of a manual compaction of `[start, end]`, level by level from 0, each
/// computed on `state` as it is now. Later steps go stale once earlier ones have run; a
/// caller that wants exact plans calls [`pick_manual`] again on the new state.
pub fn plan_manual(
    state: &ManifestState,
    opts: &CompactionOptions,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Vec<CompactionPick> {
    (0..effective_levels(state, opts)).filter_map(|level| pick_manual(state, opts, start, end, level)).collect()
}
