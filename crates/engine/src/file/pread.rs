//! Positioned reads (`pread`) of an immutable file.

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{check_range, RandomAccess};
use crate::error::{Error, Result};

/// A file read with positioned reads. Unlike [`super::MmapFile`], a file truncated by another
/// process while open yields an I/O error instead of a `SIGBUS`.
#[derive(Debug)]
pub struct PreadFile {
    file: File,
    path: PathBuf,
    size: u64,
}

impl PreadFile {
    /// Wraps an open file; its size is read once, now.
    pub fn open(file: File, path: &Path) -> Result<Self> {
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(PreadFile { file, path: path.to_path_buf(), size })
    }
}

impl RandomAccess for PreadFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        check_range(&self.path, self.size, offset, len)?;
        let mut buf = vec![0u8; len];
        read_exact_at(&self.file, &mut buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::corruption(
                    Some(self.path.clone()),
                    Some(offset),
                    format!("file shrank: short read of {len} bytes"),
                )
            } else {
                Error::io(&self.path, e)
            }
        })?;
        Ok(Bytes::from(buf))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                let rest = std::mem::take(&mut buf);
                buf = rest.get_mut(n..).unwrap_or_default();
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
