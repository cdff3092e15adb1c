//! Read-only memory maps of immutable files. This module holds the engine's `unsafe` blocks
//! (see `crates/engine/UNSAFE.md`).

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{check_range, RandomAccess};
use crate::error::{Error, Result};

/// A file read through a read-only memory map. Reads are zero-copy: the returned `Bytes`
/// share the map, which stays alive as long as any of them does.
#[derive(Debug)]
pub struct MmapFile {
    /// The whole mapped file (empty, and unmapped, for an empty file).
    data: Bytes,
    path: PathBuf,
    size: u64,
}

impl MmapFile {
    /// Maps an open file read-only. The file must be an immutable, fully written and fsynced
    /// file owned by the engine (an SSTable).
    pub fn open(file: File, path: &Path) -> Result<Self> {
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let len = usize::try_from(size).map_err(|_| {
            Error::corruption(Some(path.to_path_buf()), None, format!("file of {size} bytes is too large to map"))
        })?;
        if len == 0 {
            // Mapping zero bytes is an error on some platforms; there is nothing to read.
            return Ok(MmapFile { data: Bytes::new(), path: path.to_path_buf(), size });
        }
        let map = map_read_only(&file, len).map_err(|e| Error::io(path, e))?;
        if map.len() != len {
            return Err(Error::corruption(
                Some(path.to_path_buf()),
                None,
                format!("mapped {} bytes of a {len}-byte file", map.len()),
            ));
        }
        Ok(MmapFile { data: Bytes::from_owner(map), path: path.to_path_buf(), size })
    }
}

/// Maps exactly `len` bytes of `file` read-only.
#[allow(unsafe_code)]
fn map_read_only(file: &File, len: usize) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: `memmap2::MmapOptions::map` is unsafe because the mapped memory may be changed or
    // truncated by others while we hold `&[u8]` views of it, which would break Rust's aliasing
    // and validity guarantees. The engine only maps SSTables: files it wrote itself, that were
    // completely written and fsynced by `TableBuilder::finish` before they were ever opened for
    // reading, that no code path of the engine opens for writing again (they are immutable
    // until deleted, and deletion by unlink keeps the mapping valid), and that live in a
    // directory the engine locks for exclusive use. The map is read-only (PROT_READ,
    // MAP_SHARED), so this process cannot write through it. `len` is the file size taken from
    // the open file's metadata just before mapping; the caller checks the returned map's length
    // against it, and every access goes through `RandomAccess::read_at`, which bounds-checks the
    // requested range against that size, so no byte outside the file is ever touched.
    // Residual risk: another process truncating the file while it is mapped makes accesses to
    // the lost pages raise SIGBUS; this is outside the engine's control, which is why the
    // positioned-read mode (`use_mmap = false`, `PreadFile`) exists.
    unsafe { memmap2::MmapOptions::new().len(len).map(file) }
}

impl RandomAccess for MmapFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let (start, end) = check_range(&self.path, self.size, offset, len)?;
        if end > self.data.len() {
            return Err(Error::corruption(Some(self.path.clone()), Some(offset), "read past the mapped length"));
        }
        Ok(self.data.slice(start..end))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn is_resident(&self, offset: u64, len: usize) -> bool {
        match check_range(&self.path, self.size, offset, len) {
            Ok((start, end)) if end <= self.data.len() && start < end => pages_resident(&self.data, start, end),
            _ => false,
        }
    }
}

/// Pages of a range checked at most, so that the answer fits a stack array (64 KiB with
/// 4 KiB pages; larger ranges are reported as not resident and read on the thread pool).
const MAX_RESIDENT_PAGES: usize = 16;

/// The system's page size, asked once.
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(sysconf_page_size)
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn sysconf_page_size() -> usize {
    // SAFETY: `sysconf` takes an integer name and returns an integer; it touches no memory
    // of ours. A failure (-1) or a value that is not a power of two gives 0, which turns the
    // residency check off.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(v).ok().filter(|p| p.is_power_of_two()).unwrap_or(0)
}

#[cfg(not(unix))]
fn sysconf_page_size() -> usize {
    0
}

/// Whether every page of `map[start..end]` is in memory (`mincore`). `map` is the whole
/// mapping, so its first byte is page-aligned.
#[cfg(unix)]
#[allow(unsafe_code)]
fn pages_resident(map: &[u8], start: usize, end: usize) -> bool {
    let page = page_size();
    if page == 0 || start >= end || end > map.len() || !(map.as_ptr() as usize).is_multiple_of(page) {
        return false;
    }
    let first = start & !(page - 1);
    let pages = (end - first).div_ceil(page);
    if pages > MAX_RESIDENT_PAGES {
        return false;
    }
    let mut vec = [0u8; MAX_RESIDENT_PAGES];
    // SAFETY: `mincore` reads the page tables for `[addr, addr + pages * page)` and writes
    // one byte per page into `vec`; it never touches the mapped memory itself, so it cannot
    // fault even if the file behind the map was truncated. `addr` is page-aligned: the map
    // starts on a page (checked above) and `first` is rounded down to a page. The range lies
    // inside this live mapping: `first < end <= map.len()`, and the kernel maps whole pages,
    // so the last partial page is mapped too. `map` borrows the mapping for the whole call.
    // `vec` holds `MAX_RESIDENT_PAGES >= pages` bytes. On any error (e.g. ENOMEM) we answer
    // "not resident", which only sends the read to the thread pool.
    let rc =
        unsafe { libc::mincore(map.as_ptr().add(first) as *mut libc::c_void, pages * page, vec.as_mut_ptr().cast()) };
    rc == 0 && vec.iter().take(pages).all(|b| b & 1 == 1)
}

#[cfg(not(unix))]
fn pages_resident(_map: &[u8], _start: usize, _end: usize) -> bool {
    false
}
