//! The set of live SSTables and the counters that go with it (the *version*), its durable
//! form (the `MANIFEST` file), file naming inside a database directory, and the directory
//! lock. The format is written down in `docs/format.md`.
//!
//! The whole state is rewritten atomically on every change (write `MANIFEST.tmp`, fsync,
//! rename over `MANIFEST`, fsync the directory); there is no edit log to replay. States are
//! small (about 60 bytes plus two keys per SSTable), so this stays cheap.

mod filename;
mod lock;
mod manifest;

use std::collections::HashSet;

pub use filename::{
    lock_file_name, manifest_file_name, manifest_temp_file_name, parse_file_name, table_file_name, temp_file_name,
    wal_file_name, FileKind, LOCK_NAME, MANIFEST_TEMP_NAME,
};
pub use lock::{sync_dir, sync_dir_with, DirLock};
pub use manifest::{
    decode_manifest, encode_manifest, read_manifest, read_manifest_with, write_manifest, write_manifest_with,
    MANIFEST_FORMAT_VERSION, MANIFEST_HEADER_LEN, MANIFEST_MAGIC, MANIFEST_NAME, MAX_LEVELS,
};

use crate::error::{Error, Result};
use crate::key::{self, SeqNo};

/// What the manifest records about one SSTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The file number; the file is `table_file_name(dir, number)`.
    pub number: u64,
    /// Exact size of the file in bytes (checked when the table is opened).
    pub size: u64,
    /// Smallest internal key in the file.
    pub smallest: Vec<u8>,
    /// Largest internal key in the file.
    pub largest: Vec<u8>,
    /// Smallest sequence number of any entry in the file.
    pub min_seq: SeqNo,
    /// Largest sequence number of any entry in the file.
    pub max_seq: SeqNo,
    /// Number of entries (puts and tombstones).
    pub num_entries: u64,
    /// Number of tombstones among them.
    pub num_deletions: u64,
}

impl FileMeta {
    /// The user key of [`FileMeta::smallest`].
    pub fn smallest_user_key(&self) -> &[u8] {
        key::user_key(&self.smallest)
    }

    /// The user key of [`FileMeta::largest`].
    pub fn largest_user_key(&self) -> &[u8] {
        key::user_key(&self.largest)
    }

    /// True if the file's user-key range intersects `[start, end]` (`None` = unbounded,
    /// both ends inclusive).
    pub fn overlaps_user_range(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> bool {
        let before = end.is_some_and(|e| self.smallest_user_key() > e);
        let after = start.is_some_and(|s| self.largest_user_key() < s);
        !before && !after
    }
}

/// A change to a [`ManifestState`]: files removed and added, and counters advanced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// Files to remove, as `(level, file number)`.
    pub deleted: Vec<(usize, u64)>,
    /// Files to add, as `(level, meta)`.
    pub added: Vec<(usize, FileMeta)>,
    /// New [`ManifestState::log_number`], if it changes.
    pub log_number: Option<u64>,
    /// New [`ManifestState::last_sequence`], if it changes.
    pub last_sequence: Option<SeqNo>,
    /// New [`ManifestState::next_file_number`], if it changes.
    pub next_file_number: Option<u64>,
}

/// Everything the manifest stores: the live SSTables per level and the counters recovery
/// needs.
///
/// Invariants (checked by [`ManifestState::check_invariants`] and on every decode):
/// * at most [`MAX_LEVELS`] levels;
/// * every key is a valid internal key, `smallest <= largest`, `min_seq <= max_seq`,
///   `num_deletions <= num_entries`;
/// * every file number is unique and `< next_file_number`;
/// * every `max_seq <= last_sequence`;
/// * `levels[0]` is newest first: `max_seq` never increases along the level;
/// * in `levels[1..]` files are sorted by key and their **user-key** ranges are strictly
///   disjoint (`prev.largest_user_key < next.smallest_user_key`): compaction never splits
///   the versions of one user key across two files of a level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManifestState {
    /// The next number to hand out to a new file (WAL, SSTable or temporary file).
    pub next_file_number: u64,
    /// The largest sequence number ever assigned that is reflected in SSTables or WALs
    /// referenced by this state; recovery continues from the larger of this and the WAL.
    pub last_sequence: SeqNo,
    /// WAL files with number `>= log_number` hold data not yet in SSTables.
    pub log_number: u64,
    /// `levels[0]`: newest first (may overlap); `levels[1..]`: sorted by smallest key,
    /// non-overlapping.
    pub levels: Vec<Vec<FileMeta>>,
}

impl ManifestState {
    /// An empty state with `num_levels` empty levels and file numbering starting at 1.
    pub fn new(num_levels: usize) -> Self {
        ManifestState { next_file_number: 1, last_sequence: 0, log_number: 0, levels: vec![Vec::new(); num_levels] }
    }

    /// The files of `level` (empty if the level does not exist).
    pub fn files(&self, level: usize) -> &[FileMeta] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// Number of files in `level`.
    pub fn num_files(&self, level: usize) -> usize {
        self.files(level).len()
    }

    /// Number of files in all levels.
    pub fn total_files(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Total bytes of the files in `level`.
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.files(level).iter().map(|f| f.size).sum()
    }

    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.levels.iter().flatten().map(|f| f.size).sum()
    }

    /// The numbers of every live SSTable (anything else named `*.sst` can be deleted).
    pub fn live_files(&self) -> HashSet<u64> {
        self.levels.iter().flatten().map(|f| f.number).collect()
    }

    /// Finds a file by number, returning its level too.
    pub fn find_file(&self, number: u64) -> Option<(usize, &FileMeta)> {
        self.levels.iter().enumerate().find_map(|(l, files)| files.iter().find(|f| f.number == number).map(|f| (l, f)))
    }

    /// The deepest level holding at least one file.
    pub fn deepest_non_empty_level(&self) -> Option<usize> {
        self.levels.iter().rposition(|l| !l.is_empty())
    }

    /// Files of `level` whose user-key range intersects `[smallest_user, largest_user]`
    /// (inclusive), in level order. For level 0 the range is widened LevelDB-style until it
    /// is closed: every L0 file overlapping the union of the returned files is returned too,
    /// so that moving them down never lets an older overlapping L0 file shadow them.
    pub fn overlapping_files(&self, level: usize, smallest_user: &[u8], largest_user: &[u8]) -> Vec<FileMeta> {
        self.overlapping_files_range(level, Some(smallest_user), Some(largest_user))
    }

    /// Like [`ManifestState::overlapping_files`] with optional (unbounded) ends.
    pub fn overlapping_files_range(&self, level: usize, start: Option<&[u8]>, end: Option<&[u8]>) -> Vec<FileMeta> {
        let files = self.files(level);
        let mut lo: Option<Vec<u8>> = start.map(<[u8]>::to_vec);
        let mut hi: Option<Vec<u8>> = end.map(<[u8]>::to_vec);
        loop {
            let picked: Vec<&FileMeta> =
                files.iter().filter(|f| f.overlaps_user_range(lo.as_deref(), hi.as_deref())).collect();
            if level != 0 {
                return picked.into_iter().cloned().collect();
            }
            // Widen to the union of the picked L0 files; repeat until nothing new joins.
            let mut widened = false;
            for f in &picked {
                if lo.as_deref().is_some_and(|l| f.smallest_user_key() < l) {
                    lo = Some(f.smallest_user_key().to_vec());
                    widened = true;
                }
                if hi.as_deref().is_some_and(|h| f.largest_user_key() > h) {
                    hi = Some(f.largest_user_key().to_vec());
                    widened = true;
                }
            }
            if !widened {
                return picked.into_iter().cloned().collect();
            }
        }
    }

    /// Applies an edit: removes the deleted files, adds the new ones (creating levels as
    /// needed), re-sorts (level 0 by `max_seq` descending then number descending, deeper
    /// levels by smallest internal key) and advances the counters. Deleting a file that is
    /// not there is ignored; use [`ManifestState::apply_checked`] to reject it.
    pub fn apply(&mut self, edit: &VersionEdit) {
        for &(level, number) in &edit.deleted {
            if let Some(files) = self.levels.get_mut(level) {
                files.retain(|f| f.number != number);
            }
        }
        for (level, meta) in &edit.added {
            if self.levels.len() <= *level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            if let Some(files) = self.levels.get_mut(*level) {
                files.push(meta.clone());
            }
        }
        for (level, files) in self.levels.iter_mut().enumerate() {
            if level == 0 {
                files.sort_by(|a, b| b.max_seq.cmp(&a.max_seq).then(b.number.cmp(&a.number)));
            } else {
                files.sort_by(|a, b| key::compare_internal(&a.smallest, &b.smallest));
            }
        }
        if let Some(n) = edit.log_number {
            self.log_number = n;
        }
        if let Some(s) = edit.last_sequence {
            self.last_sequence = s;
        }
        if let Some(n) = edit.next_file_number {
            self.next_file_number = n;
        }
    }

    /// Applies `edit` only if every deleted file exists at the stated level and the result
    /// satisfies [`ManifestState::check_invariants`]; on error `self` is unchanged.
    pub fn apply_checked(&mut self, edit: &VersionEdit) -> Result<()> {
        for &(level, number) in &edit.deleted {
            if !self.files(level).iter().any(|f| f.number == number) {
                return Err(Error::InvalidArgument(format!(
                    "version edit deletes file {number} from level {level}, where it is not"
                )));
            }
        }
        let mut next = self.clone();
        next.apply(edit);
        next.check_invariants()?;
        *self = next;
        Ok(())
    }

    /// Checks the invariants listed on [`ManifestState`]; `Corruption` (without a file)
    /// naming the first violation.
    pub fn check_invariants(&self) -> Result<()> {
        match self.find_violation() {
            None => Ok(()),
            Some((_, what)) => Err(Error::corruption(None, None, what)),
        }
    }

    /// The first invariant violation: the `(level, index)` of the offending file when there
    /// is one, and a description.
    pub(crate) fn find_violation(&self) -> Option<(Option<(usize, usize)>, String)> {
        if self.levels.len() > MAX_LEVELS {
            return Some((None, format!("{} levels, more than the maximum {MAX_LEVELS}", self.levels.len())));
        }
        let mut seen = HashSet::new();
        for (level, files) in self.levels.iter().enumerate() {
            for (i, f) in files.iter().enumerate() {
                let at = Some((level, i));
                let name = format!("file {} in level {level}", f.number);
                for (which, k) in [("smallest", &f.smallest), ("largest", &f.largest)] {
                    if let Err(e) = key::parse_internal_key(k) {
                        return Some((at, format!("{name}: {which} key is not an internal key ({e})")));
                    }
                }
                if key::compare_internal(&f.smallest, &f.largest).is_gt() {
                    return Some((at, format!("{name}: smallest key sorts after largest key")));
                }
                if f.min_seq > f.max_seq {
                    return Some((at, format!("{name}: min_seq {} > max_seq {}", f.min_seq, f.max_seq)));
                }
                if f.num_deletions > f.num_entries {
                    return Some((at, format!("{name}: more deletions than entries")));
                }
                if f.max_seq > self.last_sequence {
                    return Some((at, format!("{name}: max_seq {} > last_sequence {}", f.max_seq, self.last_sequence)));
                }
                if f.number >= self.next_file_number {
                    return Some((
                        at,
                        format!("{name}: number is not below next_file_number {}", self.next_file_number),
                    ));
                }
                if !seen.insert(f.number) {
                    return Some((at, format!("{name}: file number listed twice")));
                }
                if i == 0 {
                    continue;
                }
                let Some(prev) = files.get(i - 1) else { continue };
                if level == 0 {
                    if prev.max_seq < f.max_seq {
                        return Some((at, format!("{name}: level 0 is not ordered newest first")));
                    }
                } else if prev.largest_user_key() >= f.smallest_user_key() {
                    return Some((at, format!("{name}: overlaps or sorts before the previous file {}", prev.number)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, ValueKind};

    fn meta(number: u64, lo: &[u8], hi: &[u8], seq: SeqNo) -> FileMeta {
        FileMeta {
            number,
            size: 100,
            smallest: internal_key(lo, seq, ValueKind::Put),
            largest: internal_key(hi, seq, ValueKind::Put),
            min_seq: seq,
            max_seq: seq,
            num_entries: 2,
            num_deletions: 0,
        }
    }

    #[test]
    fn apply_keeps_order_and_invariants() {
        let mut s = ManifestState::new(3);
        s.next_file_number = 10;
        s.last_sequence = 100;
        let edit = VersionEdit {
            added: vec![
                (0, meta(1, b"a", b"z", 5)),
                (0, meta(2, b"b", b"c", 9)),
                (1, meta(3, b"m", b"n", 1)),
                (1, meta(4, b"a", b"c", 1)),
            ],
            ..VersionEdit::default()
        };
        s.apply_checked(&edit).expect("valid");
        assert_eq!(s.files(0).iter().map(|f| f.number).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(s.files(1).iter().map(|f| f.number).collect::<Vec<_>>(), vec![4, 3]);
        // Overlap in L1 is rejected and leaves the state alone.
        let bad = VersionEdit { added: vec![(1, meta(5, b"c", b"d", 1))], ..VersionEdit::default() };
        let before = s.clone();
        assert!(s.apply_checked(&bad).is_err());
        assert_eq!(s, before);
        let missing = VersionEdit { deleted: vec![(2, 3)], ..VersionEdit::default() };
        assert!(s.apply_checked(&missing).is_err());
    }

    #[test]
    fn l0_overlap_expands() {
        let mut s = ManifestState::new(2);
        s.next_file_number = 10;
        s.last_sequence = 100;
        s.apply(&VersionEdit {
            added: vec![(0, meta(1, b"a", b"c", 3)), (0, meta(2, b"c", b"f", 2)), (0, meta(3, b"x", b"y", 1))],
            ..VersionEdit::default()
        });
        let got: Vec<u64> = s.overlapping_files(0, b"a", b"a").iter().map(|f| f.number).collect();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(s.overlapping_files_range(0, None, None).len(), 3);
        assert!(s.overlapping_files(0, b"g", b"h").is_empty());
    }
}
