//! Appending records to a log, and group-committed `fdatasync`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::{fragment_crc, BLOCK_SIZE, HEADER_SIZE, TYPE_FIRST, TYPE_FULL, TYPE_LAST, TYPE_MIDDLE};
use crate::error::{Error, Result};
use crate::file::{Fs, RealFs, WritableFile};

/// Record buffers larger than this are released after the write instead of being kept for reuse.
const KEEP_BUFFER_CAPACITY: usize = 1 << 20;

/// Appends logical records to one log file.
///
/// Each [`add_record`](LogWriter::add_record) builds every fragment of the record (plus any
/// block trailer before it) in a reusable buffer and hands it to the OS with one write, so a
/// record is either in the OS page cache when the call returns or the call failed.
#[derive(Debug)]
pub struct LogWriter {
    file: Arc<dyn WritableFile>,
    path: PathBuf,
    /// Offset inside the current block where the next fragment goes.
    block_offset: usize,
    len: u64,
    buf: Vec<u8>,
    handle: Arc<SyncHandle>,
    /// Set when a write failed part-way: the file end is unknown, so no more appends.
    broken: bool,
}

impl LogWriter {
    /// Creates/truncates `path` on the real file system, positioned at offset 0.
    pub fn create(path: &Path) -> Result<LogWriter> {
        Self::create_with(&RealFs, path)
    }

    /// Creates/truncates `path` on `fs`, positioned at offset 0.
    pub fn create_with(fs: &dyn Fs, path: &Path) -> Result<LogWriter> {
        let file: Arc<dyn WritableFile> = Arc::from(fs.create(path).map_err(|e| Error::io(path, e))?);
        let sync_file = Arc::clone(&file);
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            block_offset: 0,
            len: 0,
            buf: Vec::new(),
            handle: Arc::new(SyncHandle::new(sync_file, path.to_path_buf())),
            broken: false,
        })
    }

    /// A writer that discards what it is given, for a database opened read-only (whose
    /// writes are refused before they reach the log): nothing is created at `path`.
    pub(crate) fn discarding(path: &Path) -> LogWriter {
        let file: Arc<dyn WritableFile> = Arc::new(Discard);
        LogWriter {
            file: Arc::clone(&file),
            path: path.to_path_buf(),
            block_offset: 0,
            len: 0,
            buf: Vec::new(),
            handle: Arc::new(SyncHandle::new(file, path.to_path_buf())),
            broken: false,
        }
    }

    /// Appends one logical record with a single write(2) call (all fragments are built in a
    /// reusable buffer first), so the bytes are in the OS before it returns. Returns the file
    /// offset just past the record.
    ///
    /// After a failed write the writer refuses further appends: part of the record may have
    /// reached the file, so the end offset is unknown.
    pub fn add_record(&mut self, payload: &[u8]) -> Result<u64> {
        if self.broken {
            return Err(Error::io(
                &self.path,
                std::io::Error::other("an earlier write to this log failed; it accepts no more records"),
            ));
        }
        self.buf.clear();
        let block_offset = encode_record(&mut self.buf, self.block_offset, payload)?;
        if let Err(e) = self.file.write_all(&self.buf) {
            self.broken = true;
            return Err(Error::io(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        self.block_offset = block_offset;
        if self.buf.capacity() > KEEP_BUFFER_CAPACITY {
            self.buf = Vec::new();
        }
        self.handle.written.store(self.len, Ordering::Release);
        Ok(self.len)
    }

    /// Bytes written so far (== current end offset).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle that can fdatasync this file without holding the writer (for group commit).
    pub fn sync_handle(&self) -> Result<Arc<SyncHandle>> {
        Ok(Arc::clone(&self.handle))
    }

    /// fdatasync now: returns once every record written so far is durable. Goes through the
    /// [`SyncHandle`], so it shares fsyncs with concurrent `sync_to` callers and reports a
    /// failure of an earlier fsync (which is never retried).
    pub fn sync(&mut self) -> Result<()> {
        self.handle.sync_to(self.len)
    }
}

/// The file behind [`LogWriter::discarding`].
#[derive(Debug)]
struct Discard;

impl WritableFile for Discard {
    fn write_all(&self, _buf: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::new(std::io::ErrorKind::ReadOnlyFilesystem, "database is open read-only"))
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_all(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends the fragments of `payload` to `out`, starting at `block_offset` inside the
/// current block; returns the block offset after the record.
fn encode_record(out: &mut Vec<u8>, mut block_offset: usize, payload: &[u8]) -> Result<usize> {
    let mut rest = payload;
    let mut first = true;
    loop {
        let leftover = BLOCK_SIZE.saturating_sub(block_offset);
        if leftover < HEADER_SIZE {
            // Too small for a header: zero-fill the trailer and start a new block.
            out.resize(out.len() + leftover, 0);
            block_offset = 0;
        }
        let avail = BLOCK_SIZE - block_offset - HEADER_SIZE;
        let n = rest.len().min(avail);
        let (frag, tail) = rest.split_at(n);
        let last = tail.is_empty();
        let typ = match (first, last) {
            (true, true) => TYPE_FULL,
            (true, false) => TYPE_FIRST,
            (false, false) => TYPE_MIDDLE,
            (false, true) => TYPE_LAST,
        };
        let len =
            u16::try_from(n).map_err(|_| Error::InvalidArgument(format!("log fragment of {n} bytes is too long")))?;
        out.extend_from_slice(&fragment_crc(typ, frag).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.push(typ);
        out.extend_from_slice(frag);
        block_offset += HEADER_SIZE + n;
        rest = tail;
        first = false;
        if last {
            return Ok(block_offset);
        }
    }
}

/// Group commit for one log file.
///
/// Many threads call [`sync_to`](SyncHandle::sync_to) concurrently with the offsets their
/// `add_record` calls returned. Only one `fdatasync` runs at a time, and each one covers
/// every record written before it started, so concurrent sync writers share fsyncs.
///
/// An fsync failure is returned to every caller whose offset was not yet durable, and the
/// handle stays failed: fsync is never retried (after a failed fsync the kernel may have
/// dropped the dirty pages, so a later "successful" fsync would prove nothing).
#[derive(Debug)]
pub struct SyncHandle {
    file: Arc<dyn WritableFile>,
    path: PathBuf,
    /// Bytes handed to the OS by the writer (published after each `add_record`).
    written: AtomicU64,
    state: Mutex<SyncState>,
    done: Condvar,
    syncs: AtomicU64,
    #[cfg(test)]
    fail_next_sync: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Every byte below this offset is durable.
    synced: u64,
    /// A thread is running fdatasync right now.
    syncing: bool,
    /// The failure of an earlier fdatasync; the handle never syncs again.
    failed: Option<(std::io::ErrorKind, String)>,
}

impl SyncHandle {
    fn new(file: Arc<dyn WritableFile>, path: PathBuf) -> Self {
        SyncHandle {
            file,
            path,
            written: AtomicU64::new(0),
            state: Mutex::new(SyncState::default()),
            done: Condvar::new(),
            syncs: AtomicU64::new(0),
            #[cfg(test)]
            fail_next_sync: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Returns once every byte before `offset` (an offset returned by `add_record`) is
    /// durable, running or waiting for an fdatasync as needed.
    pub fn sync_to(&self, offset: u64) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if offset <= st.synced {
                return Ok(());
            }
            if let Some((kind, msg)) = &st.failed {
                return Err(Error::io(
                    &self.path,
                    std::io::Error::new(*kind, format!("an earlier fdatasync of this log failed: {msg}")),
                ));
            }
            if st.syncing {
                self.done.wait(&mut st);
                continue;
            }
            let target = self.written.load(Ordering::Acquire);
            if offset > target {
                return Err(Error::InvalidArgument(format!(
                    "sync_to({offset}) is past the {target} bytes written to {}",
                    self.path.display()
                )));
            }
            st.syncing = true;
            let res = MutexGuard::unlocked(&mut st, || self.sync_data());
            st.syncing = false;
            self.syncs.fetch_add(1, Ordering::Relaxed);
            match res {
                Ok(()) => st.synced = st.synced.max(target),
                Err(e) => {
                    st.failed = Some((e.kind(), e.to_string()));
                    self.done.notify_all();
                    return Err(Error::io(&self.path, e));
                }
            }
            self.done.notify_all();
        }
    }

    /// Number of fdatasync calls performed (successful or not).
    pub fn syncs_performed(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        #[cfg(test)]
        if self.fail_next_sync.swap(false, Ordering::SeqCst) {
            return Err(std::io::Error::other("injected fdatasync failure"));
        }
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::read_log_bytes;
    use crate::RecoveryMode;

    fn read_all(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let rep = read_log_bytes(data, Path::new("t.log"), RecoveryMode::TolerateCorruptedTail, true, &mut |off, p| {
            out.push((off, p.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(rep.dropped_tail, None);
        assert_eq!(rep.records, out.len() as u64);
        out
    }

    #[test]
    fn trailer_edge_cases() {
        // Leave exactly 7, 6 and 0 bytes in the first block.
        for leave in [8usize, 7, 6, 1, 0] {
            let mut out = Vec::new();
            let first = BLOCK_SIZE - HEADER_SIZE - leave;
            let off = encode_record(&mut out, 0, &vec![1u8; first]).unwrap();
            assert_eq!(off, BLOCK_SIZE - leave);
            let off2 = encode_record(&mut out, off, b"xyz").unwrap();
            if leave < HEADER_SIZE {
                // Trailer is zero-filled, next record starts at the next block.
                assert_eq!(out.len(), BLOCK_SIZE + HEADER_SIZE + 3);
                assert!(out[BLOCK_SIZE - leave..BLOCK_SIZE].iter().all(|&b| b == 0));
                assert_eq!(off2, HEADER_SIZE + 3);
            } else {
                // FIRST fills the block (with leave - 7 payload bytes), LAST in the next block.
                assert_eq!(out.len(), BLOCK_SIZE + HEADER_SIZE + 3 - (leave - HEADER_SIZE));
            }
            let recs = read_all(&out);
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0].1.len(), first);
            assert_eq!(recs[1].1, b"xyz");
            assert_eq!(recs[1].0 as usize, if leave < HEADER_SIZE { BLOCK_SIZE } else { BLOCK_SIZE - leave });
        }
    }

    #[test]
    fn exactly_seven_bytes_left_gives_empty_first_fragment() {
        let mut out = Vec::new();
        let off = encode_record(&mut out, 0, &vec![2u8; BLOCK_SIZE - 2 * HEADER_SIZE]).unwrap();
        assert_eq!(BLOCK_SIZE - off, HEADER_SIZE);
        encode_record(&mut out, off, b"hello").unwrap();
        assert_eq!(out[off + 6], TYPE_FIRST);
        assert_eq!(&out[off + 4..off + 6], &[0, 0]);
        assert_eq!(out[BLOCK_SIZE + 6], TYPE_LAST);
        assert_eq!(read_all(&out)[1].1, b"hello");
    }

    #[test]
    fn fsync_failure_is_sticky_and_reaches_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::create(&dir.path().join("f.log")).unwrap();
        let h = w.sync_handle().unwrap();
        let a = w.add_record(b"one").unwrap();
        h.sync_to(a).unwrap();
        assert_eq!(h.syncs_performed(), 1);
        let b = w.add_record(b"two").unwrap();
        h.fail_next_sync.store(true, Ordering::SeqCst);
        assert!(matches!(h.sync_to(b), Err(Error::Io { .. })));
        // Already-durable offsets are still fine; anything later fails forever, without retrying.
        h.sync_to(a).unwrap();
        assert!(h.sync_to(b).is_err());
        let c = w.add_record(b"three").unwrap();
        assert!(h.sync_to(c).is_err());
        assert!(w.sync().is_err());
        assert_eq!(h.syncs_performed(), 2);
    }

    #[test]
    fn sync_to_past_written_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::create(&dir.path().join("f.log")).unwrap();
        let h = w.sync_handle().unwrap();
        h.sync_to(0).unwrap();
        assert!(matches!(h.sync_to(5), Err(Error::InvalidArgument(_))));
        let end = w.add_record(b"abc").unwrap();
        assert_eq!(end, (HEADER_SIZE + 3) as u64);
        assert_eq!(w.len(), end);
        w.sync().unwrap();
        h.sync_to(end).unwrap();
        assert_eq!(h.syncs_performed(), 1);
    }
}
