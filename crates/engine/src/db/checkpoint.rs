//! Checkpoints: an openable copy of the live database at one sequence number, taken while
//! writes continue (RocksDB's `Checkpoint`, in its "flush first" form).
//!
//! 1. The memtable is switched (as a flush would) and the checkpoint waits until every
//!    memtable holding sequence numbers up to that switch is in an SSTable, so the SSTables
//!    alone hold a prefix of the write history, ending at a batch boundary.
//! 2. Under the manifest lock the file set and the current version are taken together; the
//!    version keeps those SSTables from being deleted while they are linked or copied.
//! 3. Each SSTable is hard-linked into a temporary directory beside the target (SSTables are
//!    immutable), or copied and synced where linking fails (another file system).
//! 4. A manifest naming exactly those files (and a WAL number no file has: nothing to replay)
//!    is written durably; the temporary directory is synced and renamed to the target, and
//!    the target's parent directory is synced. A crash before the rename leaves only the
//!    temporary directory (`<target>.checkpoint-tmp`), never a half-made checkpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::DbInner;
use crate::error::{Error, Result};
use crate::key::SeqNo;
use crate::version::{sync_dir_with, table_file_name, write_manifest_with};

/// What a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// Every write with a sequence number at or below this is in the checkpoint, none above.
    pub sequence: SeqNo,
    /// SSTables in the checkpoint.
    pub files: u64,
    /// Of those, how many were hard links (the rest were copied).
    pub linked: u64,
    /// Total size of the SSTables.
    pub bytes: u64,
}

fn temp_dir_for(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("checkpoint target {} has no file name", target.display())))?;
    let mut tmp = name.to_os_string();
    tmp.push(".checkpoint-tmp");
    Ok(target.with_file_name(tmp))
}

impl DbInner {
    pub(super) fn checkpoint(&self, target: &Path) -> Result<CheckpointInfo> {
        self.check_writable()?;
        let fs = self.opts.fs.as_ref();
        if fs.exists(target) {
            let empty = fs.is_dir(target) && fs.read_dir(target).map_err(|e| Error::io(target, e))?.is_empty();
            if !empty {
                return Err(Error::InvalidArgument(format!(
                    "checkpoint target {} exists and is not an empty directory",
                    target.display()
                )));
            }
        }
        if self.path.canonicalize().ok().zip(target.canonicalize().ok()).is_some_and(|(a, b)| a == b) {
            return Err(Error::InvalidArgument("the checkpoint target is the database directory itself".into()));
        }
        let tmp = temp_dir_for(target)?;
        if fs.exists(&tmp) {
            // Left by a checkpoint that crashed before its rename: never a checkpoint.
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }

        // 1. Everything up to `upto` goes to SSTables.
        let (switched_wal, upto) = {
            let mut w = self.write.lock();
            let wal = w.wal_number;
            self.rotate_memtable(&mut w)?;
            (wal, self.last_seq.load(Ordering::Acquire))
        };
        self.kick_background();
        loop {
            if self.super_version().imms.iter().all(|i| i.wal_number > switched_wal) {
                break;
            }
            self.check_writable()?;
            let mut bg = self.bg.lock();
            self.bg_cv.wait_for(&mut bg, Duration::from_millis(20));
        }

        // 2. The file set, pinned.
        let (mut state, _pinned) = {
            let manifest = self.manifest.lock();
            (manifest.clone(), self.super_version())
        };

        // 3. Link or copy.
        fs.create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let result = (|| -> Result<CheckpointInfo> {
            let mut info = CheckpointInfo { sequence: upto, files: 0, linked: 0, bytes: 0 };
            for meta in state.levels.iter().flatten() {
                let from = table_file_name(&self.path, meta.number);
                let to = table_file_name(&tmp, meta.number);
                if fs.hard_link(&from, &to).is_ok() {
                    info.linked += 1;
                } else {
                    fs.copy_file(&from, &to).map_err(|e| Error::io(&to, e))?;
                }
                info.files += 1;
                info.bytes += meta.size;
                // Later flushes may be in the set too (they hold later batches, in order).
                info.sequence = info.sequence.max(meta.max_seq);
            }
            // 4. The manifest: those files, nothing to replay.
            state.log_number = state.next_file_number;
            state.next_file_number += 1;
            state.last_sequence = state.last_sequence.max(info.sequence);
            write_manifest_with(fs, &tmp, &state)?;
            sync_dir_with(fs, &tmp)?;
            if fs.exists(target) {
                std::fs::remove_dir(target).map_err(|e| Error::io(target, e))?;
            }
            fs.rename(&tmp, target).map_err(|e| Error::io(target, e))?;
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir_with(fs, parent)?;
            }
            Ok(info)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }
}
