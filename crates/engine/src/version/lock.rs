//! The directory lock and directory fsync.

use std::path::{Path, PathBuf};

use super::filename::lock_file_name;
use crate::error::{Error, Result};
use crate::file::{FileLock, Fs, RealFs};

/// Makes the directory entries of `dir` (creations, renames, deletions) durable by opening
/// the directory and fsyncing it. A no-op on platforms where directories cannot be opened
/// as files (non-Unix).
pub fn sync_dir(dir: &Path) -> Result<()> {
    sync_dir_with(&RealFs, dir)
}

/// [`sync_dir`] through the file system `fs`.
pub fn sync_dir_with(fs: &dyn Fs, dir: &Path) -> Result<()> {
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// An exclusive lock on `dir/LOCK`, held for the lifetime of the value.
///
/// With [`RealFs`] it is an advisory whole-file lock taken with
/// [`File::try_lock`](std::fs::File::try_lock) (`flock` on Unix,
/// `LockFileEx` on Windows), which belongs to the open file description rather than the
/// process: a second [`DirLock::acquire`] in the same process fails like one from another
/// process, and opening and closing some other descriptor of `LOCK` does not release it
/// (unlike POSIX `fcntl` locks). The lock is released when the value is dropped or the
/// process exits. The `LOCK` file itself is left in place.
#[derive(Debug)]
pub struct DirLock {
    _lock: Box<dyn FileLock>,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir/LOCK` if needed and locks it. `Error::Locked(dir)` if another holder
    /// (in this process or another) has it; `Error::Io` if it cannot be opened or locked.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        Self::acquire_with(&RealFs, dir)
    }

    /// [`DirLock::acquire`] through the file system `fs` (whose lock may be emulated).
    pub fn acquire_with(fs: &dyn Fs, dir: &Path) -> Result<DirLock> {
        let path = lock_file_name(dir);
        match fs.try_lock(&path) {
            Ok(Some(lock)) => Ok(DirLock { _lock: lock, path }),
            Ok(None) => Err(Error::Locked(dir.to_path_buf())),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
