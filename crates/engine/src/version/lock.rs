//! The directory lock and directory fsync.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::filename::lock_file_name;
use crate::error::{Error, Result};

/// Makes the directory entries of `dir` (creations, renames, deletions) durable by opening
/// the directory and fsyncing it. A no-op on platforms where directories cannot be opened
/// as files (non-Unix).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
        d.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

/// An exclusive lock on `dir/LOCK`, held for the lifetime of the value.
///
/// It is an advisory whole-file lock taken with [`File::try_lock`] (`flock` on Unix,
/// `LockFileEx` on Windows), which belongs to the open file description rather than the
/// process: a second [`DirLock::acquire`] in the same process fails like one from another
/// process, and opening and closing some other descriptor of `LOCK` does not release it
/// (unlike POSIX `fcntl` locks). The lock is released when the value is dropped or the
/// process exits. The `LOCK` file itself is left in place.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir/LOCK` if needed and locks it. `Error::Locked(dir)` if another holder
    /// (in this process or another) has it; `Error::Io` if it cannot be opened or locked.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = lock_file_name(dir);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking first makes it explicit.
        let _ = self.file.unlock();
    }
}
