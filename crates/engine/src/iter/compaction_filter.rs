//! Which entries a compaction may drop, given the live snapshots.
//!
//! The readers that matter are the live snapshots plus the implicit newest reader at
//! `latest_seq`. They cut the sequence space into *stripes*: stripe `i` holds the sequence
//! numbers in `(reader[i-1], reader[i]]`. Every reader that can see an entry of stripe `i`
//! reads at `reader[i]` or later, so if a newer entry of the same user key lies in the same
//! stripe, every such reader sees that newer entry instead: the older one is dropped.
//!
//! A tombstone in the oldest stripe (sequence `<=` the oldest snapshot, or any sequence when
//! there are no snapshots) is dropped at the bottommost level: every older entry of its key
//! falls in the same stripe and is dropped too, so no reader can tell it is gone.

use crate::error::Result;
use crate::key::{self, SeqNo, ValueKind};

/// Feed the internal keys of a compaction's merged input in order; says which to drop.
#[derive(Debug, Clone)]
pub struct CompactionFilter {
    /// Sorted, deduplicated reader sequence numbers: the snapshots, then `latest_seq`.
    readers: Vec<SeqNo>,
    bottommost: bool,
    /// The user key of the previous entry.
    current_key: Option<Vec<u8>>,
    /// Stripe of the previous (newer) entry of `current_key`, dropped or kept.
    prev_stripe: Option<usize>,
}

impl CompactionFilter {
    /// `snapshots`: sorted ascending sequence numbers of live snapshots; `latest_seq`: the
    /// current last sequence (the implicit newest reader); `bottommost`: no older data for
    /// these keys exists below the output level.
    pub fn new(snapshots: Vec<SeqNo>, latest_seq: SeqNo, bottommost: bool) -> Self {
        let mut readers = snapshots;
        readers.push(latest_seq);
        readers.sort_unstable();
        readers.dedup();
        CompactionFilter { readers, bottommost, current_key: None, prev_stripe: None }
    }

    /// The stripe of `seq`: the index of the oldest reader that can see it (entries newer than
    /// every reader get a stripe of their own).
    fn stripe(&self, seq: SeqNo) -> usize {
        self.readers.partition_point(|&r| r < seq)
    }

    /// Returns true if the entry must be dropped from the output. Keys must come in internal
    /// order; `Corruption` if `ikey` is not a valid internal key.
    pub fn should_drop(&mut self, ikey: &[u8]) -> Result<bool> {
        let parsed = key::parse_internal_key(ikey)?;
        if self.current_key.as_deref() != Some(parsed.user_key) {
            self.current_key = Some(parsed.user_key.to_vec());
            self.prev_stripe = None;
        }
        let stripe = self.stripe(parsed.seq);
        let drop = if self.prev_stripe == Some(stripe) {
            // A newer entry of this key is visible to every reader that could see this one.
            true
        } else {
            // Dropping the tombstone also drops all older versions: they share stripe 0.
            parsed.kind == ValueKind::Delete && self.bottommost && stripe == 0
        };
        self.prev_stripe = Some(stripe);
        Ok(drop)
    }
}
