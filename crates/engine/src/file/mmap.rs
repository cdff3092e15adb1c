//! Read-only memory maps of immutable files. This module holds the engine's `unsafe` blocks
//! (see `crates/engine/UNSAFE.md`).

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use parking_lot::Mutex;

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
    /// A recent residency map of the whole file, so that `is_resident` needs no system call
    /// for most blocks (see [`Residency`]).
    residency: Mutex<Residency>,
}

/// How many `is_resident` answers one whole-file `mincore` serves before it is taken again.
/// A page the kernel evicts in between is still reported resident until then: the read that
/// meets it waits for the disk on the calling thread (as every read of LMDB may); a page
/// reported missing is checked again live, so a block read in by the thread pool is seen at
/// once.
const RESIDENCY_REFRESH: u32 = 256;

/// One byte per page of the map as `mincore` left it (bit 0 = resident) at the last refresh,
/// and the answers left before the next one. Empty (`uses_left` 0) until the first check.
#[derive(Debug, Default)]
struct Residency {
    pages: Vec<u8>,
    uses_left: u32,
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
            return Ok(MmapFile { data: Bytes::new(), path: path.to_path_buf(), size, residency: Mutex::default() });
        }
        let map = map_read_only(&file, len).map_err(|e| Error::io(path, e))?;
        if map.len() != len {
            return Err(Error::corruption(
                Some(path.to_path_buf()),
                None,
                format!("mapped {} bytes of a {len}-byte file", map.len()),
            ));
        }
        Ok(MmapFile { data: Bytes::from_owner(map), path: path.to_path_buf(), size, residency: Mutex::default() })
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
        let (start, end) = match check_range(&self.path, self.size, offset, len) {
            Ok((start, end)) if end <= self.data.len() && start < end => (start, end),
            _ => return false,
        };
        let page = page_size();
        if page == 0 {
            return false;
        }
        let (first, last) = (start / page, (end - 1) / page);
        if last - first >= MAX_RESIDENT_PAGES {
            return false;
        }
        // Contended (another thread refreshing): ask the kernel about this range alone.
        let Some(mut r) = self.residency.try_lock() else {
            return pages_resident(&self.data, start, end);
        };
        if r.uses_left == 0 {
            let total = self.data.len().div_ceil(page);
            r.pages.clear();
            r.pages.resize(total, 0);
            if !mincore_pages(&self.data, 0, total, &mut r.pages) {
                r.pages.clear();
            }
            r.uses_left = RESIDENCY_REFRESH;
        }
        r.uses_left -= 1;
        let known = r.pages.get(first..=last).is_some_and(|p| p.iter().all(|b| b & 1 == 1));
        if known {
            return true;
        }
        let live = pages_resident(&self.data, start, end);
        if live {
            if let Some(p) = r.pages.get_mut(first..=last) {
                p.fill(1);
            }
        }
        live
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
fn pages_resident(map: &[u8], start: usize, end: usize) -> bool {
    let page = page_size();
    if page == 0 || start >= end || end > map.len() {
        return false;
    }
    let first = start / page;
    let pages = (end - 1) / page - first + 1;
    let mut vec = [0u8; MAX_RESIDENT_PAGES];
    pages <= MAX_RESIDENT_PAGES
        && mincore_pages(map, first, pages, &mut vec)
        && vec.iter().take(pages).all(|b| b & 1 == 1)
}

/// `mincore` of pages `first..first + pages` of `map` (the whole mapping, so its first byte
/// is page-aligned) into `out[..pages]`; false when the range or `out` do not fit or the
/// call fails.
#[cfg(unix)]
#[allow(unsafe_code)]
fn mincore_pages(map: &[u8], first: usize, pages: usize, out: &mut [u8]) -> bool {
    let page = page_size();
    let fits = page != 0
        && pages > 0
        && out.len() >= pages
        && (map.as_ptr() as usize).is_multiple_of(page)
        && first.checked_add(pages).and_then(|e| e.checked_mul(page)).is_some()
        && (first + pages - 1) * page < map.len();
    if !fits {
        return false;
    }
    // SAFETY: `mincore` reads the page tables for `[addr, addr + pages * page)` and writes
    // one byte per page into `out`; it never touches the mapped memory itself, so it cannot
    // fault even if the file behind the map was truncated. `addr` is page-aligned: the map
    // starts on a page (checked above) and the offset is a whole number of pages. The range
    // lies inside this live mapping: its last page starts below `map.len()` (checked, without
    // overflow), and the kernel maps whole pages, so the last partial page is mapped too.
    // `map` borrows the mapping for the whole call. `out` holds at least `pages` bytes
    // (checked). On any error (e.g. ENOMEM) we answer false, which only sends the read to the
    // thread pool.
    let rc = unsafe {
        libc::mincore(map.as_ptr().add(first * page) as *mut libc::c_void, pages * page, out.as_mut_ptr().cast())
    };
    rc == 0
}

#[cfg(not(unix))]
fn mincore_pages(_map: &[u8], _first: usize, _pages: usize, _out: &mut [u8]) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn residency_answers_from_the_whole_file_map_and_rechecks_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let page = page_size();
        assert!(page > 0);
        let len = 40 * page + 123;
        std::fs::write(&path, vec![7u8; len]).expect("write");
        let f = MmapFile::open(File::open(&path).expect("open"), &path).expect("map");
        // Touch every page so that all of them are resident.
        let sum: u64 = f.read_at(0, len).expect("read").iter().map(|b| u64::from(*b)).sum();
        assert_eq!(sum, 7 * len as u64);
        // Past several refreshes, every answer is the live one (all resident).
        for i in 0..(3 * RESIDENCY_REFRESH as usize) {
            let off = (i * 997) % (len - 5000);
            assert!(f.is_resident(off as u64, 5000), "offset {off}");
            assert_eq!(f.is_resident(off as u64, 5000), pages_resident(&f.data, off, off + 5000));
        }
        assert!(f.is_resident((len - 1) as u64, 1), "last partial page");
        // Outside the file, empty, or more pages than one check covers: not resident.
        assert!(!f.is_resident(len as u64, 1));
        assert!(!f.is_resident(0, len + 1));
        assert!(!f.is_resident(0, 0));
        assert!(!f.is_resident(0, (MAX_RESIDENT_PAGES + 1) * page));
        // A page the snapshot holds as missing is asked about again and then remembered.
        f.residency.lock().pages.fill(0);
        assert!(f.is_resident(0, 100));
        assert_eq!(f.residency.lock().pages.first(), Some(&1));
        // mincore_pages refuses ranges past the map and short output buffers.
        let mut out = [0u8; 4];
        assert!(!mincore_pages(&f.data, 40, 2, &mut out));
        assert!(!mincore_pages(&f.data, 0, 5, &mut out));
        assert!(mincore_pages(&f.data, 37, 4, &mut out) && out.iter().all(|b| b & 1 == 1));
        assert!(!mincore_pages(&f.data, usize::MAX, 2, &mut out));
    }
}
