//! Write batches: the unit of atomicity. A batch's bytes are exactly the payload of one WAL
//! record (see `docs/format.md`, "Write batch"):
//!
//! ```text
//! seq:   u64 LE   // sequence number of the first operation (0 until the batch is committed)
//! count: u32 LE   // number of operations
//! op*:   kind u8 (0 = delete, 1 = put) · varint key_len · key · [varint value_len · value]
//! ```
//!
//! Keys are stored keys: a key of the system keyspace carries [`SYSTEM_PREFIX`] (see
//! [`crate::keyspace`]).
//!
//! The TypeScript layer packs batches in the same op layout and hands them over in one call
//! ([`WriteBatch::from_packed_ops`]); packed ops have two more kinds, 2 = system delete and
//! 3 = system put, whose key is relative to the system keyspace (the engine prepends the
//! prefix, so they are stored as kinds 0 and 1).

use crate::coding::{put_u32, put_u64, put_varint, Decoder};
use crate::error::{Error, Result};
use crate::key::{SeqNo, ValueKind};
use crate::keyspace::{check_user_key, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};

/// Length of the batch header (sequence number + count).
pub const HEADER_LEN: usize = 12;
/// Largest accepted key, in bytes.
pub const MAX_KEY_SIZE: usize = 64 * 1024;
/// Largest accepted value, in bytes.
pub const MAX_VALUE_SIZE: usize = 256 * 1024 * 1024;

/// Packed op kind: delete of a user key (= [`ValueKind::Delete`]).
pub const PACKED_DELETE: u8 = 0;
/// Packed op kind: put of a user key (= [`ValueKind::Put`]).
pub const PACKED_PUT: u8 = 1;
/// Packed op kind: delete of a system key (relative; stored under the system prefix).
pub const PACKED_SYSTEM_DELETE: u8 = 2;
/// Packed op kind: put of a system key (relative; stored under the system prefix).
pub const PACKED_SYSTEM_PUT: u8 = 3;

/// An ordered list of puts and deletes applied atomically.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
    user_bytes: u64,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

/// One operation read back from a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOp<'a> {
    /// Put or delete.
    pub kind: ValueKind,
    /// The stored key (system keys include [`SYSTEM_PREFIX`]).
    pub key: &'a [u8],
    /// The value (empty for deletes).
    pub value: &'a [u8],
}

/// Keys may be empty (the empty key sorts before every other key, as in LevelDB); the
/// length is limited, and keys starting with [`SYSTEM_PREFIX`] belong to the system keyspace.
fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::InvalidArgument(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_SIZE} bytes",
            key.len()
        )));
    }
    check_user_key(key)
}

/// A system key (relative to the prefix) may be up to [`MAX_SYSTEM_KEY_SIZE`] bytes.
fn check_system_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_SYSTEM_KEY_SIZE {
        return Err(Error::InvalidArgument(format!(
            "system key of {} bytes exceeds the limit of {MAX_SYSTEM_KEY_SIZE} bytes",
            key.len()
        )));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_SIZE {
        return Err(Error::InvalidArgument(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_SIZE} bytes",
            value.len()
        )));
    }
    Ok(())
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        let mut rep = Vec::with_capacity(64);
        rep.resize(HEADER_LEN, 0);
        WriteBatch { rep, count: 0, user_bytes: 0 }
    }

    /// An empty batch with room for `bytes` bytes of operations without reallocating.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut rep = Vec::with_capacity(HEADER_LEN + bytes);
        rep.resize(HEADER_LEN, 0);
        WriteBatch { rep, count: 0, user_bytes: 0 }
    }

    /// Adds a put of a user key. Fails (`InvalidArgument`, nothing added) on an oversized key
    /// or value and on a key starting with [`SYSTEM_PREFIX`].
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push_op(ValueKind::Put, &[], key, Some(value))
    }

    /// Adds a delete of a user key. Fails on an oversized key and on a key starting with
    /// [`SYSTEM_PREFIX`].
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.push_op(ValueKind::Delete, &[], key, None)
    }

    /// Adds a put of the system key `key` (stored as `SYSTEM_PREFIX · key`). Fails on a key
    /// longer than [`MAX_SYSTEM_KEY_SIZE`] or an oversized value.
    pub fn put_system(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_system_key(key)?;
        check_value(value)?;
        self.push_op(ValueKind::Put, &SYSTEM_PREFIX, key, Some(value))
    }

    /// Adds a delete of the system key `key` (stored as `SYSTEM_PREFIX · key`). Fails on a
    /// key longer than [`MAX_SYSTEM_KEY_SIZE`].
    pub fn delete_system(&mut self, key: &[u8]) -> Result<()> {
        check_system_key(key)?;
        self.push_op(ValueKind::Delete, &SYSTEM_PREFIX, key, None)
    }

    /// Appends one validated op whose stored key is `prefix · key`.
    fn push_op(&mut self, kind: ValueKind, prefix: &[u8], key: &[u8], value: Option<&[u8]>) -> Result<()> {
        // Count first, so that a batch that is full is left untouched.
        let count = self
            .count
            .checked_add(1)
            .ok_or_else(|| Error::InvalidArgument("too many operations in one batch".into()))?;
        let key_len = prefix.len() + key.len();
        self.rep.push(kind as u8);
        put_varint(&mut self.rep, key_len as u64);
        self.rep.extend_from_slice(prefix);
        self.rep.extend_from_slice(key);
        let value_len = value.map_or(0, <[u8]>::len);
        if let Some(v) = value {
            put_varint(&mut self.rep, v.len() as u64);
            self.rep.extend_from_slice(v);
        }
        self.count = count;
        self.user_bytes += (key_len + value_len) as u64;
        Ok(())
    }

    /// Builds a batch from packed operations (the op layout above, without header, plus
    /// kinds 2 = system delete and 3 = system put with relative keys), validating every
    /// operation. This is how batches arrive from JavaScript.
    pub fn from_packed_ops(ops: &[u8]) -> Result<Self> {
        let mut batch = WriteBatch::new();
        batch.rep.reserve(ops.len());
        let mut d = Decoder::new(ops, "packed batch");
        while !d.is_empty() {
            let kind = d.u8().map_err(invalid)?;
            let key = d.length_prefixed().map_err(invalid)?;
            match kind {
                PACKED_PUT => {
                    let value = d.length_prefixed().map_err(invalid)?;
                    batch.put(key, value)?;
                }
                PACKED_DELETE => batch.delete(key)?,
                PACKED_SYSTEM_PUT => {
                    let value = d.length_prefixed().map_err(invalid)?;
                    batch.put_system(key, value)?;
                }
                PACKED_SYSTEM_DELETE => batch.delete_system(key)?,
                _ => return Err(Error::InvalidArgument(format!("packed batch: unknown operation kind {kind}"))),
            }
        }
        Ok(batch)
    }

    /// Decodes a WAL record payload back into a batch (for recovery). Keys are stored keys,
    /// so keys of the system keyspace are accepted here.
    pub fn from_record(rep: Vec<u8>) -> Result<Self> {
        let mut d = Decoder::new(&rep, "write batch");
        let _seq = d.u64()?;
        let count = d.u32()?;
        let mut seen = 0u32;
        let mut user_bytes = 0u64;
        while !d.is_empty() {
            let kind = d.u8()?;
            let key = d.length_prefixed()?;
            user_bytes += key.len() as u64;
            match ValueKind::from_u8(kind) {
                Some(ValueKind::Put) => user_bytes += d.length_prefixed()?.len() as u64,
                Some(ValueKind::Delete) => {}
                None => {
                    return Err(Error::corruption(
                        None,
                        Some(d.position() as u64),
                        format!("write batch: unknown operation kind {kind}"),
                    ))
                }
            }
            seen =
                seen.checked_add(1).ok_or_else(|| Error::corruption(None, None, "write batch: too many operations"))?;
        }
        if seen != count {
            return Err(Error::corruption(
                None,
                None,
                format!("write batch: header says {count} operations, found {seen}"),
            ));
        }
        Ok(WriteBatch { rep, count, user_bytes })
    }

    /// Number of operations.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sum of key and value lengths.
    pub fn user_bytes(&self) -> u64 {
        self.user_bytes
    }

    /// Sequence number of the first operation (as stamped by [`WriteBatch::set_sequence`]).
    pub fn sequence(&self) -> SeqNo {
        crate::coding::get_u64_at(&self.rep, 0).unwrap_or(0)
    }

    /// Stamps the batch with the sequence number of its first operation and fixes the count.
    pub fn set_sequence(&mut self, seq: SeqNo) {
        let mut header = Vec::with_capacity(HEADER_LEN);
        put_u64(&mut header, seq);
        put_u32(&mut header, self.count);
        if let Some(h) = self.rep.get_mut(..HEADER_LEN) {
            h.copy_from_slice(&header);
        }
    }

    /// The encoded batch (the WAL record payload).
    pub fn data(&self) -> &[u8] {
        &self.rep
    }

    /// Appends all operations of `other` to this batch.
    pub fn append(&mut self, other: &WriteBatch) {
        if let Some(ops) = other.rep.get(HEADER_LEN..) {
            self.rep.extend_from_slice(ops);
        }
        self.count = self.count.saturating_add(other.count);
        self.user_bytes += other.user_bytes;
    }

    /// Iterates the operations. The batch was validated when built, so decoding errors
    /// cannot occur for batches built by this module; they are reported, not panicked on.
    pub fn iter(&self) -> BatchIter<'_> {
        let mut d = Decoder::new(&self.rep, "write batch");
        let _ = d.bytes(HEADER_LEN);
        BatchIter { d }
    }
}

fn invalid(e: Error) -> Error {
    Error::InvalidArgument(e.to_string())
}

/// Iterator over the operations of a batch.
#[derive(Debug)]
pub struct BatchIter<'a> {
    d: Decoder<'a>,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchOp<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.d.is_empty() {
            return None;
        }
        let op = (|| {
            let kind = self.d.u8()?;
            let key = self.d.length_prefixed()?;
            match ValueKind::from_u8(kind) {
                Some(ValueKind::Put) => Ok(BatchOp { kind: ValueKind::Put, key, value: self.d.length_prefixed()? }),
                Some(ValueKind::Delete) => Ok(BatchOp { kind: ValueKind::Delete, key, value: &[] }),
                None => Err(Error::corruption(None, None, format!("write batch: unknown operation kind {kind}"))),
            }
        })();
        if op.is_err() {
            // Stop after the first error.
            self.d = Decoder::new(&[], "write batch");
        }
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::system_key;

    #[test]
    fn roundtrip_and_validation() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1").expect("put");
        b.delete(b"k2").expect("delete");
        b.set_sequence(42);
        let back = WriteBatch::from_record(b.data().to_vec()).expect("decodes");
        assert_eq!(back.sequence(), 42);
        assert_eq!(back.count(), 2);
        let ops: Vec<_> = back.iter().collect::<Result<_>>().expect("ops");
        assert_eq!(ops[0], BatchOp { kind: ValueKind::Put, key: b"k1", value: b"v1" });
        assert_eq!(ops[1], BatchOp { kind: ValueKind::Delete, key: b"k2", value: b"" });
        assert!(WriteBatch::new().put(b"", b"x").is_ok(), "the empty key is valid");
        assert!(b.put(&vec![0u8; MAX_KEY_SIZE + 1], b"x").is_err());
        let packed = &b.data()[HEADER_LEN..];
        assert_eq!(WriteBatch::from_packed_ops(packed).expect("packed").count(), 2);
        assert!(WriteBatch::from_packed_ops(&[7, 1, b'a']).is_err());
        assert!(WriteBatch::from_packed_ops(&[1, 5, b'a']).is_err());
        let mut bad = b.data().to_vec();
        bad[8] = 9;
        assert!(WriteBatch::from_record(bad).is_err());
    }

    #[test]
    fn system_keyspace_ops() {
        let reserved = [0xffu8; 9];
        let mut b = WriteBatch::new();
        assert!(matches!(b.put(&reserved, b"v"), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.delete(&reserved[..8]), Err(Error::InvalidArgument(_))));
        assert!(b.is_empty() && b.data().len() == HEADER_LEN, "a rejected op leaves nothing behind");
        b.put(&[0xff; 7], b"short keys of 0xff are user keys").expect("put");
        b.put_system(b"ix", b"").expect("system put");
        b.delete_system(b"").expect("system delete of the empty relative key");
        assert!(b.put_system(&vec![0u8; MAX_SYSTEM_KEY_SIZE], b"").is_ok());
        assert!(b.put_system(&vec![0u8; MAX_SYSTEM_KEY_SIZE + 1], b"").is_err());
        let ops: Vec<_> = b.iter().collect::<Result<_>>().expect("ops");
        assert_eq!(ops[1], BatchOp { kind: ValueKind::Put, key: b"\xff\xff\xff\xff\xff\xff\xff\xffix", value: b"" });
        assert_eq!(ops[2], BatchOp { kind: ValueKind::Delete, key: &SYSTEM_PREFIX, value: b"" });
        b.set_sequence(7);
        let back = WriteBatch::from_record(b.data().to_vec()).expect("recovery accepts stored system keys");
        assert_eq!(back.count(), 4);

        // Packed kinds 2 and 3 carry relative keys.
        let packed = [3, 2, b'i', b'x', 1, b'v', 2, 1, b'k', 1, 1, b'u', 1, b'w'];
        let p = WriteBatch::from_packed_ops(&packed).expect("packed");
        let ops: Vec<_> = p.iter().collect::<Result<_>>().expect("ops");
        assert_eq!(ops[0], BatchOp { kind: ValueKind::Put, key: &system_key(b"ix"), value: b"v" });
        assert_eq!(ops[1], BatchOp { kind: ValueKind::Delete, key: &system_key(b"k"), value: b"" });
        assert_eq!(ops[2], BatchOp { kind: ValueKind::Put, key: b"u", value: b"w" });
        let mut user_reserved = vec![1, 8];
        user_reserved.extend_from_slice(&SYSTEM_PREFIX);
        user_reserved.push(0);
        assert!(matches!(WriteBatch::from_packed_ops(&user_reserved), Err(Error::InvalidArgument(_))));
        assert!(WriteBatch::from_packed_ops(&[4, 1, b'a']).is_err());
    }
}
