//! Block handles, block trailers (compression + CRC) and the footer. See
//! `docs/format.md`.

use bytes::Bytes;

use crate::coding::{crc32, crc32_parts, get_u32_at, get_u64_at, put_u32, put_u64, put_varint, Decoder};
use crate::error::{Error, Result};
use crate::file::RandomAccess;

/// Length of the trailer after every block: compression (1) + uncompressed length (4) + CRC (4).
pub const BLOCK_TRAILER_LEN: usize = 9;
/// Length of the footer.
pub const FOOTER_LEN: usize = 64;
/// The table format version written in the footer.
pub const FORMAT_VERSION: u32 = 1;
/// First 8 bytes of SHA-1("stratadb"), big-endian; stored little-endian.
pub const TABLE_MAGIC: u64 = 0xfad6_a3fb_09cb_745a;

/// Compression tag: stored raw.
pub const COMPRESSION_NONE: u8 = 0;
/// Compression tag: LZ4 block format.
pub const COMPRESSION_LZ4: u8 = 1;

/// Location of a block: offset and stored size (trailer excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    /// File offset of the block.
    pub offset: u64,
    /// Stored size of the block, without its trailer.
    pub size: u64,
}

impl BlockHandle {
    /// Appends the varint encoding.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    /// Decodes the varint encoding; the input must be consumed exactly.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(buf, "block handle");
        let offset = d.varint()?;
        let size = d.varint()?;
        if !d.is_empty() {
            return Err(Error::corruption(None, None, "block handle: trailing bytes"));
        }
        Ok(BlockHandle { offset, size })
    }

    /// Offset just past the block's trailer.
    pub fn end_with_trailer(&self) -> Option<u64> {
        self.offset.checked_add(self.size)?.checked_add(BLOCK_TRAILER_LEN as u64)
    }
}

/// The fixed-size footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// The index block.
    pub index: BlockHandle,
}

impl Footer {
    /// Encodes the 64-byte footer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        for h in [self.filter, self.properties, self.index] {
            put_u64(&mut out, h.offset);
            put_u64(&mut out, h.size);
        }
        put_u32(&mut out, FORMAT_VERSION);
        let crc = crc32(&out);
        put_u32(&mut out, crc);
        put_u64(&mut out, TABLE_MAGIC);
        out
    }

    /// Decodes and checks a footer (magic, CRC, version, contiguous handles ending at
    /// `footer_offset`). Errors are `Corruption` with offsets relative to the footer start.
    pub fn decode(buf: &[u8], footer_offset: u64) -> Result<Self> {
        let corrupt = |off: usize, what: String| Error::corruption(None, Some(off as u64), what);
        if buf.len() != FOOTER_LEN {
            return Err(corrupt(0, format!("footer of {} bytes, expected {FOOTER_LEN}", buf.len())));
        }
        let magic = get_u64_at(buf, 56).unwrap_or(0);
        if magic != TABLE_MAGIC {
            return Err(corrupt(56, format!("bad table magic {magic:#018x}")));
        }
        let stored_crc = get_u32_at(buf, 52).unwrap_or(0);
        let actual = crc32(buf.get(..52).unwrap_or_default());
        if stored_crc != actual {
            return Err(corrupt(
                52,
                format!("footer checksum mismatch (stored {stored_crc:#010x}, computed {actual:#010x})"),
            ));
        }
        let version = get_u32_at(buf, 48).unwrap_or(0);
        if version != FORMAT_VERSION {
            return Err(corrupt(48, format!("unsupported table format version {version}")));
        }
        let h = |i: usize| BlockHandle {
            offset: get_u64_at(buf, 16 * i).unwrap_or(0),
            size: get_u64_at(buf, 16 * i + 8).unwrap_or(0),
        };
        let footer = Footer { filter: h(0), properties: h(1), index: h(2) };
        if footer.filter.end_with_trailer() != Some(footer.properties.offset)
            || footer.properties.end_with_trailer() != Some(footer.index.offset)
            || footer.index.end_with_trailer() != Some(footer_offset)
        {
            return Err(corrupt(0, "footer block handles are not contiguous".into()));
        }
        Ok(footer)
    }
}

/// Encodes block contents with its trailer, compressing with LZ4 when asked and worthwhile.
/// Returns the bytes to write (stored block ‖ trailer).
pub fn encode_block(contents: &[u8], compress: bool) -> Result<Vec<u8>> {
    let uncompressed_len = u32::try_from(contents.len())
        .map_err(|_| Error::InvalidArgument(format!("block of {} bytes is too large", contents.len())))?;
    let mut out = None;
    if compress && !contents.is_empty() {
        let c = lz4_flex::block::compress(contents);
        if c.len() as u64 * 8 <= contents.len() as u64 * 7 {
            out = Some((c, COMPRESSION_LZ4));
        }
    }
    let (mut stored, tag) = out.unwrap_or_else(|| (contents.to_vec(), COMPRESSION_NONE));
    let mut meta = Vec::with_capacity(5);
    meta.push(tag);
    put_u32(&mut meta, uncompressed_len);
    let crc = crc32_parts(&[&stored, &meta]);
    stored.extend_from_slice(&meta);
    put_u32(&mut stored, crc);
    Ok(stored)
}

/// Reads the block at `handle`, checks its trailer (CRC when `verify`) and returns its
/// decompressed contents. Errors are `Corruption` naming the file and the block offset.
pub fn read_block(file: &dyn RandomAccess, handle: BlockHandle, verify: bool) -> Result<Bytes> {
    let corrupt = |what: String| Error::corruption(Some(file.path().to_path_buf()), Some(handle.offset), what);
    let total = usize::try_from(handle.size)
        .ok()
        .and_then(|s| s.checked_add(BLOCK_TRAILER_LEN))
        .ok_or_else(|| corrupt(format!("block size {} out of range", handle.size)))?;
    let raw = file.read_at(handle.offset, total)?;
    let n = total - BLOCK_TRAILER_LEN;
    let stored = raw.get(..n).unwrap_or_default();
    let meta = raw.get(n..n + 5).unwrap_or_default();
    let tag = meta.first().copied().unwrap_or(u8::MAX);
    let uncompressed_len = get_u32_at(meta, 1).unwrap_or(0) as usize;
    if verify {
        let stored_crc = get_u32_at(&raw, n + 5).unwrap_or(0);
        let actual = crc32_parts(&[stored, meta]);
        if stored_crc != actual {
            return Err(corrupt(format!(
                "block checksum mismatch (stored {stored_crc:#010x}, computed {actual:#010x})"
            )));
        }
    }
    match tag {
        COMPRESSION_NONE => {
            if uncompressed_len != n {
                return Err(corrupt(format!("raw block of {n} bytes claims {uncompressed_len} bytes")));
            }
            Ok(raw.slice(..n))
        }
        COMPRESSION_LZ4 => {
            if uncompressed_len as u64 > 255 * n as u64 + 16 {
                return Err(corrupt(format!("LZ4 block of {n} bytes claims {uncompressed_len} bytes")));
            }
            // Into a buffer a dropped block gave back (no zero-filled allocation per miss);
            // the length check below means every byte of it was written by the decoder.
            let mut out = super::recycle::take(uncompressed_len);
            let written = lz4_flex::block::decompress_into(stored, &mut out)
                .map_err(|e| corrupt(format!("LZ4 decompression failed: {e}")))?;
            if written != uncompressed_len {
                return Err(corrupt(format!("LZ4 block decompressed to {written} bytes, expected {uncompressed_len}")));
            }
            Ok(super::recycle::share(out))
        }
        other => Err(corrupt(format!("unknown block compression tag {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_roundtrip_and_every_byte_flip_is_detected() {
        let f = Footer {
            filter: BlockHandle { offset: 1000, size: 20 },
            properties: BlockHandle { offset: 1029, size: 40 },
            index: BlockHandle { offset: 1078, size: 100 },
        };
        let enc = f.encode();
        assert_eq!(enc.len(), FOOTER_LEN);
        assert_eq!(&enc[56..], &[0x5a, 0x74, 0xcb, 0x09, 0xfb, 0xa3, 0xd6, 0xfa]);
        assert_eq!(Footer::decode(&enc, 1187).expect("decodes"), f);
        assert!(Footer::decode(&enc, 1188).is_err());
        for i in 0..FOOTER_LEN {
            for bit in 0..8 {
                let mut bad = enc.clone();
                bad[i] ^= 1 << bit;
                assert!(matches!(Footer::decode(&bad, 1187), Err(Error::Corruption { .. })), "byte {i} bit {bit}");
            }
        }
        assert!(Footer::decode(&enc[1..], 1187).is_err());
    }

    #[test]
    fn handle_roundtrip() {
        let h = BlockHandle { offset: 1 << 40, size: 300 };
        let mut out = Vec::new();
        h.encode_to(&mut out);
        assert_eq!(BlockHandle::decode(&out).expect("decodes"), h);
        out.push(0);
        assert!(BlockHandle::decode(&out).is_err());
        assert!(BlockHandle::decode(&[0x80]).is_err());
    }
}
