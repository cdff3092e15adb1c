//! Sequential reads of an immutable file in large chunks, for compaction input.
//!
//! Compaction reads each input table once, front to back, and then deletes it. Reading it
//! through the table's memory map would fault every page of the file into the process's
//! resident set, where the pages stay counted until the map goes (when the last reader of the
//! obsolete table lets go): at N = 1,000,000 that was most of the ~100 MiB of mapped table
//! pages in the benchmark's peak RSS. A [`ReadAhead`] reads the file with positioned reads
//! into a heap chunk that is dropped once the blocks cut from it are, so compaction holds
//! about one chunk per input and leaves the pages in the page cache only.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::{check_range, RandomAccess};
use crate::error::Result;

/// Bytes read from the file at once (and, roughly, held per compaction input).
pub const READ_AHEAD_CHUNK: usize = 256 << 10;

/// Reads `inner` in chunks of at least `chunk` bytes: a read inside the current chunk is a
/// slice of it; any other read replaces the chunk with one starting at the read's offset.
/// Meant for one reader going forward (compaction); random reads still work, each costing a
/// chunk.
#[derive(Debug)]
pub struct ReadAhead {
    inner: Arc<dyn RandomAccess>,
    chunk: usize,
    /// File offset of `buf`'s first byte, and the chunk.
    current: Mutex<(u64, Bytes)>,
}

impl ReadAhead {
    /// Wraps `inner` (best a positioned-read file, see the module comment).
    pub fn new(inner: Arc<dyn RandomAccess>, chunk: usize) -> Self {
        ReadAhead { inner, chunk: chunk.max(1), current: Mutex::new((0, Bytes::new())) }
    }
}

impl RandomAccess for ReadAhead {
    fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let size = self.inner.size();
        check_range(self.inner.path(), size, offset, len)?;
        let mut cur = self.current.lock();
        let (start, buf) = &*cur;
        if let Some(rel) = offset.checked_sub(*start).and_then(|r| usize::try_from(r).ok()) {
            if rel.checked_add(len).is_some_and(|end| end <= buf.len()) {
                return Ok(buf.slice(rel..rel + len));
            }
        }
        // `offset + len <= size` was checked, so the chunk is at least `len` long.
        let left = usize::try_from(size - offset).unwrap_or(usize::MAX);
        let want = len.max(self.chunk).min(left);
        let buf = self.inner.read_at(offset, want)?;
        let out = buf.slice(..len);
        *cur = (offset, buf);
        Ok(out)
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn path(&self) -> &Path {
        self.inner.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::io::Write;

    #[test]
    fn reads_match_the_file_across_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&p).and_then(|mut f| f.write_all(&data)).expect("write");
        let inner = crate::file::open_random_access(&p, false).expect("open");
        let r = ReadAhead::new(inner, 1000);
        assert_eq!(r.size(), 10_000);
        assert_eq!(r.path(), p.as_path());
        // Forward reads of every size, some straddling a chunk end, one larger than a chunk.
        let mut off = 0usize;
        for len in [0usize, 1, 10, 999, 1500, 3, 700, 2500].iter().cycle().take(40) {
            if off + len > data.len() {
                break;
            }
            assert_eq!(&r.read_at(off as u64, *len).expect("read")[..], &data[off..off + len]);
            off += len;
        }
        // Backward and random reads, and the last byte.
        for (o, l) in [(5usize, 20usize), (9_000, 1000), (0, 10_000), (9_999, 1), (4_321, 1234)] {
            assert_eq!(&r.read_at(o as u64, l).expect("read")[..], &data[o..o + l]);
        }
        for (o, l) in [(9_999u64, 2usize), (10_001, 0), (u64::MAX, 1)] {
            assert!(matches!(r.read_at(o, l), Err(Error::Corruption { .. })), "{o} {l}");
        }
    }
}
