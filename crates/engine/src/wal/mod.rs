//! The write-ahead log, in LevelDB's log format (see `docs/format.md`).
//!
//! The file is a sequence of 32 KiB blocks. Every logical record (for the WAL, one write
//! batch) is stored as one or more physical fragments that never cross a block boundary:
//!
//! ```text
//! crc32:  u32 LE  // crc32fast over the type byte followed by the payload
//! length: u16 LE  // payload bytes in this fragment
//! type:   u8      // 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST (0 never written: zeros/padding)
//! payload: [u8; length]
//! ```
//!
//! When fewer than [`HEADER_SIZE`] bytes remain in a block they are zero-filled and the
//! next fragment starts at the next block. The format knows nothing about write batches,
//! so other logs (the manifest) can reuse it.
//!
//! [`LogWriter`] appends records (one `write(2)` per record) and hands out a
//! [`SyncHandle`] for group commit; [`read_log`] replays a log under a
//! [`RecoveryMode`](crate::options::RecoveryMode).

pub mod reader;
pub mod writer;

pub use reader::{read_log, read_log_bytes, read_log_with, RecoveryReport};
pub use writer::{LogWriter, SyncHandle};

/// Size of one block of the log file.
pub const BLOCK_SIZE: usize = 32 * 1024;
/// Size of a fragment header: crc32 (4) + length (2) + type (1).
pub const HEADER_SIZE: usize = 7;

/// Fragment type: a whole logical record in one fragment.
pub const TYPE_FULL: u8 = 1;
/// Fragment type: first fragment of a logical record.
pub const TYPE_FIRST: u8 = 2;
/// Fragment type: interior fragment of a logical record.
pub const TYPE_MIDDLE: u8 = 3;
/// Fragment type: last fragment of a logical record.
pub const TYPE_LAST: u8 = 4;

/// The checksum stored in a fragment header: CRC32 of the type byte followed by the payload.
pub fn fragment_crc(typ: u8, payload: &[u8]) -> u32 {
    crate::coding::crc32_parts(&[&[typ], payload])
}
