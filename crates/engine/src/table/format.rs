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
/// The table format version written in the footer of a table whose blocks use only
/// compression tags 0 and 1 (every table before zstd existed, and every table written without
/// it). Builds that know only version 1 read these.
pub const FORMAT_VERSION: u32 = 1;
/// The footer version of a table with at least one zstd block (tag 2). Readers accept both
/// versions; a build that knows only version 1 refuses these tables at open.
pub const FORMAT_VERSION_ZSTD: u32 = 2;
/// First 8 bytes of SHA-1("stratadb"), big-endian; stored little-endian.
pub const TABLE_MAGIC: u64 = 0xfad6_a3fb_09cb_745a;

/// Compression tag: stored raw.
pub const COMPRESSION_NONE: u8 = 0;
/// Compression tag: LZ4 block format.
pub const COMPRESSION_LZ4: u8 = 1;
/// Compression tag: one zstd frame (table format version 2).
pub const COMPRESSION_ZSTD: u8 = 2;

/// How [`encode_block`] compresses a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCodec {
    /// Stored raw.
    None,
    /// LZ4 block format.
    Lz4,
    /// zstd at this level (1–19).
    Zstd(i32),
}

/// The largest `uncompressed_len` a zstd block of `stored` bytes may claim: a guard against
/// huge allocations from a damaged trailer. The writer never stores a zstd block beyond it
/// (it falls back to LZ4), so every block it writes passes.
pub fn zstd_max_uncompressed(stored: usize) -> u64 {
    1024 * stored as u64 + 4096
}

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
    /// [`FORMAT_VERSION`], or [`FORMAT_VERSION_ZSTD`] when a block may be zstd.
    pub version: u32,
}

impl Footer {
    /// Encodes the 64-byte footer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        for h in [self.filter, self.properties, self.index] {
            put_u64(&mut out, h.offset);
            put_u64(&mut out, h.size);
        }
        put_u32(&mut out, self.version);
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
        if version != FORMAT_VERSION && version != FORMAT_VERSION_ZSTD {
            return Err(corrupt(48, format!("unsupported table format version {version}")));
        }
        let h = |i: usize| BlockHandle {
            offset: get_u64_at(buf, 16 * i).unwrap_or(0),
            size: get_u64_at(buf, 16 * i + 8).unwrap_or(0),
        };
        let footer = Footer { filter: h(0), properties: h(1), index: h(2), version };
        if footer.filter.end_with_trailer() != Some(footer.properties.offset)
            || footer.properties.end_with_trailer() != Some(footer.index.offset)
            || footer.index.end_with_trailer() != Some(footer_offset)
        {
            return Err(corrupt(0, "footer block handles are not contiguous".into()));
        }
        Ok(footer)
    }
}

/// Encodes block contents with its trailer, compressed with `codec` when that saves at least
/// 1/8 (else stored raw). Returns the bytes to write (stored block ‖ trailer) and the tag used.
pub fn encode_block(contents: &[u8], codec: BlockCodec) -> Result<(Vec<u8>, u8)> {
    let uncompressed_len = u32::try_from(contents.len())
        .map_err(|_| Error::InvalidArgument(format!("block of {} bytes is too large", contents.len())))?;
    let worthwhile = |c: &[u8]| c.len() as u64 * 8 <= contents.len() as u64 * 7;
    let mut out = None;
    if !contents.is_empty() {
        if let BlockCodec::Zstd(level) = codec {
            let c = zstd_compress(contents, level)
                .map_err(|e| Error::InvalidArgument(format!("zstd compression failed: {e}")))?;
            // A block that shrinks past what a reader accepts (a long run of one byte) is
            // stored with LZ4 instead.
            if worthwhile(&c) && contents.len() as u64 <= zstd_max_uncompressed(c.len()) {
                out = Some((c, COMPRESSION_ZSTD));
            }
        }
        if out.is_none() && codec != BlockCodec::None {
            let c = lz4_flex::block::compress(contents);
            if worthwhile(&c) {
                out = Some((c, COMPRESSION_LZ4));
            }
        }
    }
    let (mut stored, tag) = out.unwrap_or_else(|| (contents.to_vec(), COMPRESSION_NONE));
    let mut meta = Vec::with_capacity(5);
    meta.push(tag);
    put_u32(&mut meta, uncompressed_len);
    let crc = crc32_parts(&[&stored, &meta]);
    stored.extend_from_slice(&meta);
    put_u32(&mut stored, crc);
    Ok((stored, tag))
}

thread_local! {
    /// One zstd compression context per thread (flush and compaction threads), kept with its
    /// level: making one per block costs more than compressing the block.
    static ZSTD_COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    /// One zstd decompression context per reading thread, for the same reason.
    static ZSTD_DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn zstd_compress(contents: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    ZSTD_COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match &mut *slot {
            Some((l, c)) if *l == level => c,
            other => &mut other.insert((level, zstd::bulk::Compressor::new(level)?)).1,
        };
        c.compress(contents)
    })
}

fn zstd_decompress(stored: &[u8], uncompressed_len: usize) -> std::io::Result<Vec<u8>> {
    ZSTD_DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match &mut *slot {
            Some(d) => d,
            none => none.insert(zstd::bulk::Decompressor::new()?),
        };
        d.decompress(stored, uncompressed_len)
    })
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
        COMPRESSION_ZSTD => {
            if uncompressed_len as u64 > zstd_max_uncompressed(n) {
                return Err(corrupt(format!("zstd block of {n} bytes claims {uncompressed_len} bytes")));
            }
            let out = zstd_decompress(stored, uncompressed_len)
                .map_err(|e| corrupt(format!("zstd decompression failed: {e}")))?;
            if out.len() != uncompressed_len {
                return Err(corrupt(format!(
                    "zstd block decompressed to {} bytes, expected {uncompressed_len}",
                    out.len()
                )));
            }
            Ok(Bytes::from(out))
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
            version: FORMAT_VERSION,
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

    /// A file of `bytes` for `read_block`.
    fn file_of(bytes: Vec<u8>) -> (tempfile::TempDir, std::sync::Arc<dyn RandomAccess>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("b");
        std::fs::write(&p, bytes).expect("write");
        let f = crate::file::open_random_access(&p, false).expect("open");
        (dir, f)
    }

    fn compressible(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"stratadb-zstd-"[i % 14] ^ (i / 97) as u8).collect()
    }

    #[test]
    fn every_codec_roundtrips_and_zstd_is_tagged_2() {
        let contents = compressible(4096);
        for (codec, tag) in [
            (BlockCodec::None, COMPRESSION_NONE),
            (BlockCodec::Lz4, COMPRESSION_LZ4),
            (BlockCodec::Zstd(3), COMPRESSION_ZSTD),
        ] {
            let (enc, got) = encode_block(&contents, codec).expect("encodes");
            assert_eq!(got, tag);
            assert_eq!(enc[enc.len() - 9], tag);
            let size = (enc.len() - BLOCK_TRAILER_LEN) as u64;
            let (_d, f) = file_of(enc);
            let out = read_block(f.as_ref(), BlockHandle { offset: 0, size }, true).expect("reads");
            assert_eq!(&out[..], &contents[..]);
        }
    }

    #[test]
    fn zstd_falls_back_to_lz4_past_the_readers_bound_and_to_raw_when_nothing_is_saved() {
        // 1 MiB of one byte: zstd shrinks it to a few dozen bytes, past 1024× + 4096.
        let run = vec![7u8; 1 << 20];
        assert_eq!(encode_block(&run, BlockCodec::Zstd(3)).expect("encodes").1, COMPRESSION_LZ4);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(encode_block(&noise, BlockCodec::Zstd(3)).expect("encodes").1, COMPRESSION_NONE);
    }

    #[test]
    fn a_zstd_block_claiming_too_much_or_damaged_is_corruption() {
        let contents = compressible(4096);
        let (enc, _) = encode_block(&contents, BlockCodec::Zstd(3)).expect("encodes");
        let n = enc.len() - BLOCK_TRAILER_LEN;
        let h = BlockHandle { offset: 0, size: n as u64 };
        // A huge claimed length (CRC off: the guard, not the checksum, must catch it).
        let mut big = enc.clone();
        big[n + 1..n + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        let (_d, f) = file_of(big);
        assert!(matches!(read_block(f.as_ref(), h, false), Err(Error::Corruption { .. })));
        // A wrong claimed length, and damaged frame bytes.
        let mut short = enc.clone();
        short[n + 1..n + 5].copy_from_slice(&4000u32.to_le_bytes());
        let (_d2, f2) = file_of(short);
        assert!(matches!(read_block(f2.as_ref(), h, false), Err(Error::Corruption { .. })));
        for i in 0..n {
            let mut bad = enc.clone();
            bad[i] ^= 0x5a;
            let (_d3, f3) = file_of(bad.clone());
            assert!(matches!(read_block(f3.as_ref(), h, true), Err(Error::Corruption { .. })), "byte {i}");
            // Without the CRC a damaged frame may still decode; it must never panic.
            let _ = read_block(f3.as_ref(), h, false);
        }
    }

    #[test]
    fn footer_versions_1_and_2_decode_and_others_do_not() {
        let mut f = Footer {
            filter: BlockHandle { offset: 0, size: 20 },
            properties: BlockHandle { offset: 29, size: 40 },
            index: BlockHandle { offset: 78, size: 100 },
            version: FORMAT_VERSION_ZSTD,
        };
        assert_eq!(Footer::decode(&f.encode(), 187).expect("v2 decodes").version, 2);
        f.version = 3;
        assert!(matches!(Footer::decode(&f.encode(), 187), Err(Error::Corruption { .. })));
    }
}
