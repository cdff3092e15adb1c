//! The properties block: table-wide statistics (see `docs/format.md`).

use crate::coding::{put_length_prefixed, put_varint, Decoder};
use crate::error::{Error, Result};
use crate::key::SeqNo;

/// Version of the properties block layout.
pub const PROPERTIES_VERSION: u64 = 1;

/// Table-wide statistics, stored in the properties block (except `file_size`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Number of entries (puts and deletes).
    pub num_entries: u64,
    /// Number of tombstones.
    pub num_deletions: u64,
    /// Sum of internal-key lengths.
    pub raw_key_bytes: u64,
    /// Sum of value lengths.
    pub raw_value_bytes: u64,
    /// Number of data blocks.
    pub data_blocks: u64,
    /// Smallest sequence number in the table.
    pub min_seq: SeqNo,
    /// Largest sequence number in the table.
    pub max_seq: SeqNo,
    /// First internal key.
    pub smallest_key: Vec<u8>,
    /// Last internal key.
    pub largest_key: Vec<u8>,
    /// Size of the file in bytes (not stored in the block; taken from the file).
    pub file_size: u64,
}

impl TableProperties {
    /// Encodes the properties block contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.smallest_key.len() + self.largest_key.len());
        for v in [
            PROPERTIES_VERSION,
            self.num_entries,
            self.num_deletions,
            self.raw_key_bytes,
            self.raw_value_bytes,
            self.data_blocks,
            self.min_seq,
            self.max_seq,
        ] {
            put_varint(&mut out, v);
        }
        put_length_prefixed(&mut out, &self.smallest_key);
        put_length_prefixed(&mut out, &self.largest_key);
        out
    }

    /// Decodes the properties block contents (which must be consumed exactly); `file_size`
    /// is left at 0.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(buf, "properties block");
        let version = d.varint()?;
        if version != PROPERTIES_VERSION {
            return Err(Error::corruption(None, Some(0), format!("unsupported properties version {version}")));
        }
        let p = TableProperties {
            num_entries: d.varint()?,
            num_deletions: d.varint()?,
            raw_key_bytes: d.varint()?,
            raw_value_bytes: d.varint()?,
            data_blocks: d.varint()?,
            min_seq: d.varint()?,
            max_seq: d.varint()?,
            smallest_key: d.length_prefixed()?.to_vec(),
            largest_key: d.length_prefixed()?.to_vec(),
            file_size: 0,
        };
        if !d.is_empty() {
            return Err(Error::corruption(None, Some(d.position() as u64), "properties block: trailing bytes"));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let p = TableProperties {
            num_entries: 10,
            num_deletions: 2,
            raw_key_bytes: 300,
            raw_value_bytes: 1 << 40,
            data_blocks: 3,
            min_seq: 1,
            max_seq: 99,
            smallest_key: b"aaaaaaaaa".to_vec(),
            largest_key: b"zzzzzzzzz".to_vec(),
            file_size: 0,
        };
        let enc = p.encode();
        assert_eq!(TableProperties::decode(&enc).expect("decodes"), p);
        for n in 0..enc.len() {
            assert!(TableProperties::decode(&enc[..n]).is_err());
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert!(TableProperties::decode(&longer).is_err());
    }
}
