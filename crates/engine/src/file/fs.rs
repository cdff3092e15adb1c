//! The file-system interface the engine does all its I/O through, and its real
//! implementation.
//!
//! [`Options::fs`](crate::Options::fs) selects the implementation: [`RealFs`] (the default)
//! goes to the operating system; [`FaultFs`](super::fault::FaultFs) is an in-memory file
//! system that simulates power loss and injects I/O errors for the durability tests.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::RandomAccess;
use crate::error::Result;

/// A file open for writing (appending at its end).
///
/// Methods take `&self` so that one handle can be shared between the thread that appends
/// and the threads that sync it (WAL group commit).
pub trait WritableFile: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at the end of the file (`write(2)` semantics: the bytes are in the
    /// OS, not yet durable, when it returns).
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> std::io::Result<()>;
    /// Makes the file's data and metadata durable (`fsync`).
    fn sync_all(&self) -> std::io::Result<()>;
}

/// An exclusive lock on a file, released when dropped.
pub trait FileLock: Send + Sync + std::fmt::Debug {}

/// Every file operation the engine performs. Implementations must be usable from several
/// threads at once.
pub trait Fs: Send + Sync + std::fmt::Debug {
    /// Creates `path`, or truncates it if it exists, for writing.
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>>;
    /// Opens `path` for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>>;
    /// Reads the whole file.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// Opens an immutable file for random reads; through a memory map when `use_mmap` is
    /// true and the implementation supports it.
    fn open_random_access(&self, path: &Path, use_mmap: bool) -> Result<Arc<dyn RandomAccess>>;
    /// The size of a file in bytes.
    fn file_size(&self, path: &Path) -> std::io::Result<u64>;
    /// Renames `from` to `to`, replacing `to` atomically if it exists.
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> std::io::Result<()>;
    /// The names of the entries of a directory.
    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<OsString>>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()>;
    /// Makes the entries of `dir` (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()>;
    /// True if `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// True if `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Creates `path` if needed and takes an exclusive lock on it: `Ok(None)` if another
    /// holder (in this process or another) has it.
    fn try_lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn FileLock>>>;

    /// Makes `to` a second name of the file `from` (same file system only).
    fn hard_link(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::hard_link(from, to)
    }

    /// Copies the file `from` to a new file `to` and makes the copy durable; returns its size.
    fn copy_file(&self, from: &Path, to: &Path) -> std::io::Result<u64> {
        let n = std::fs::copy(from, to)?;
        File::open(to)?.sync_all()?;
        Ok(n)
    }
}

/// The operating system's file system: `std::fs`, memory maps or `pread` for SSTables,
/// `fdatasync`/`fsync`, directory fsync and `flock`-style locks.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

/// A [`WritableFile`] backed by an OS file.
#[derive(Debug)]
pub struct OsFile {
    file: File,
}

impl OsFile {
    /// Wraps an open file.
    pub fn new(file: File) -> Self {
        OsFile { file }
    }
}

impl WritableFile for OsFile {
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        (&self.file).write_all(buf)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        self.file.sync_all()
    }
}

/// An OS file lock (`flock` on Unix, `LockFileEx` on Windows), released on drop.
#[derive(Debug)]
struct OsLock {
    file: File,
}

impl FileLock for OsLock {}

impl Drop for OsLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking first makes it explicit.
        let _ = self.file.unlock();
    }
}

impl Fs for RealFs {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(Box::new(OsFile::new(file)))
    }

    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(Box::new(OsFile::new(file)))
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn open_random_access(&self, path: &Path, use_mmap: bool) -> Result<Arc<dyn RandomAccess>> {
        super::open_random_access(path, use_mmap)
    }

    fn file_size(&self, path: &Path) -> std::io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)
    }

    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name());
        }
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()?;
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn try_lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn FileLock>>> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(OsLock { file }))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// The default file system, shared.
pub fn real_fs() -> Arc<dyn Fs> {
    Arc::new(RealFs)
}
