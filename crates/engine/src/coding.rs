//! Fixed-width little-endian and varint encodings, with checked decoders that never panic.

use crate::error::{Error, Result};

/// Appends `v` as 4 little-endian bytes.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as 8 little-endian bytes.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as a LEB128 varint (1 to 10 bytes).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        #[allow(clippy::cast_possible_truncation, reason = "masked to 7 bits")]
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    #[allow(clippy::cast_possible_truncation, reason = "v < 0x80 here")]
    out.push(v as u8);
}

/// Appends a varint length followed by the bytes.
pub fn put_length_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads a little-endian u32 at `pos` of `buf`, or `None` if out of bounds.
pub fn get_u32_at(buf: &[u8], pos: usize) -> Option<u32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads a little-endian u64 at `pos` of `buf`, or `None` if out of bounds.
pub fn get_u64_at(buf: &[u8], pos: usize) -> Option<u64> {
    let b = buf.get(pos..pos.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// A cursor over a byte slice whose every read is bounds-checked and returns
/// `Error::Corruption` (without a file; callers add it with [`Error::with_file`]) on short input.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `buf`; `what` names the structure in error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Decoder { buf, pos: 0, what }
    }

    /// Current position from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when all bytes are consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn err(&self, msg: &str) -> Error {
        Error::corruption(None, Some(self.pos as u64), format!("{}: {msg}", self.what))
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.err("length overflow"))?;
        let out = self.buf.get(self.pos..end).ok_or_else(|| self.err("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        let b = self.bytes(1)?;
        b.first().copied().ok_or_else(|| self.err("truncated"))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes(b.try_into().map_err(|_| self.err("truncated"))?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| self.err("truncated"))?))
    }

    /// Reads a LEB128 varint of at most 10 bytes.
    #[inline]
    pub fn varint(&mut self) -> Result<u64> {
        // Fast path: lengths in blocks and batches are almost always below 128.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64> {
        let mut result: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let low = u64::from(byte & 0x7f);
            if shift == 63 && low > 1 {
                return Err(self.err("varint overflows u64"));
            }
            result |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(self.err("varint too long"))
    }

    /// Reads a varint that must fit in `usize` and be at most `max`.
    pub fn varint_len(&mut self, max: usize) -> Result<usize> {
        let v = self.varint()?;
        let v = usize::try_from(v).map_err(|_| self.err("length does not fit in memory"))?;
        if v > max {
            return Err(self.err("length out of range"));
        }
        Ok(v)
    }

    /// Reads a varint length and then that many bytes.
    pub fn length_prefixed(&mut self) -> Result<&'a [u8]> {
        let n = self.varint_len(self.remaining())?;
        self.bytes(n)
    }
}

/// CRC32 (IEEE, as computed by `crc32fast`) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// CRC32 of the concatenation of several slices, without copying them together.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_roundtrip_and_errors() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut d = Decoder::new(&out, "test");
            assert_eq!(d.varint().expect("decodes"), v);
            assert!(d.is_empty());
        }
        assert!(Decoder::new(&[0x80, 0x80], "t").varint().is_err());
        assert!(Decoder::new(&[0xff; 11], "t").varint().is_err());
        assert!(Decoder::new(&[1, 2, 3], "t").u32().is_err());
        let mut d = Decoder::new(&[5, 1, 2], "t");
        assert!(d.length_prefixed().is_err());
    }
}
