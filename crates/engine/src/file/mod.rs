//! The file-system interface ([`Fs`], [`RealFs`], and the fault-injecting [`fault::FaultFs`]),
//! read access to immutable files (SSTables) through memory maps or positioned reads, and
//! directory fsync.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

pub mod fault;
mod fs;
mod mmap;
mod pread;
mod readahead;

pub use fs::{real_fs, FileLock, Fs, OsFile, RealFs, WritableFile};
pub use mmap::MmapFile;
pub use pread::PreadFile;
pub use readahead::{ReadAhead, READ_AHEAD_CHUNK};

/// Random read access to an immutable file.
pub trait RandomAccess: Send + Sync + std::fmt::Debug {
    /// Reads exactly `len` bytes at `offset`; `Corruption` (naming the file and offset) if the
    /// range is outside the file.
    fn read_at(&self, offset: u64, len: usize) -> Result<bytes::Bytes>;
    /// The size of the file in bytes (as it was when opened).
    fn size(&self) -> u64;
    /// The path of the file.
    fn path(&self) -> &Path;
    /// True when reading `offset..offset+len` cannot wait for the disk: every page of it is
    /// in memory. Lets the `*_if_cached` reads serve a block that is missing from the block
    /// cache but sits in the page cache on the calling thread. `false` when not known.
    fn is_resident(&self, _offset: u64, _len: usize) -> bool {
        false
    }
}

/// Checks that `offset..offset+len` lies within a file of `size` bytes and returns the range
/// as `usize` bounds.
pub(crate) fn check_range(path: &Path, size: u64, offset: u64, len: usize) -> Result<(usize, usize)> {
    let out_of_range = || {
        Error::corruption(
            Some(path.to_path_buf()),
            Some(offset),
            format!("read of {len} bytes at offset {offset} is outside the file of {size} bytes"),
        )
    };
    let end = offset.checked_add(len as u64).ok_or_else(out_of_range)?;
    if end > size {
        return Err(out_of_range());
    }
    let start = usize::try_from(offset).map_err(|_| out_of_range())?;
    let end = usize::try_from(end).map_err(|_| out_of_range())?;
    Ok((start, end))
}

/// Opens `path` for random reads, through a memory map when `use_mmap` is true and with
/// positioned reads otherwise.
pub fn open_random_access(path: &Path, use_mmap: bool) -> Result<Arc<dyn RandomAccess>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    if use_mmap {
        Ok(Arc::new(MmapFile::open(file, path)?))
    } else {
        Ok(Arc::new(PreadFile::open(file, path)?))
    }
}

/// Fsyncs a directory, making file creations, renames and deletions in it durable.
/// A no-op on platforms that cannot open directories as files.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn both_modes_read_and_bound_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        let mut f = File::create(&p).expect("create");
        f.write_all(b"hello world").expect("write");
        drop(f);
        for mmap in [true, false] {
            let r = open_random_access(&p, mmap).expect("open");
            assert_eq!(r.size(), 11);
            assert_eq!(r.path(), p.as_path());
            assert_eq!(&r.read_at(6, 5).expect("read")[..], b"world");
            assert_eq!(&r.read_at(11, 0).expect("read")[..], b"");
            for (off, len) in [(7u64, 5usize), (12, 0), (u64::MAX, 2), (0, usize::MAX)] {
                match r.read_at(off, len) {
                    Err(Error::Corruption { file, offset, .. }) => {
                        assert_eq!(file.as_deref(), Some(p.as_path()));
                        assert_eq!(offset, Some(off));
                    }
                    other => panic!("expected corruption, got {other:?}"),
                }
            }
        }
        // Empty file in both modes.
        let e = dir.path().join("empty");
        File::create(&e).expect("create");
        for mmap in [true, false] {
            let r = open_random_access(&e, mmap).expect("open");
            assert_eq!(r.size(), 0);
            assert!(r.read_at(0, 1).is_err());
            assert!(r.read_at(0, 0).is_ok());
        }
        sync_dir(dir.path()).expect("sync dir");
        assert!(open_random_access(&dir.path().join("missing"), true).is_err());
    }
}
