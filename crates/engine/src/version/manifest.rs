//! The `MANIFEST` file: one checksummed snapshot of a [`ManifestState`], replaced
//! atomically. Layout (see `docs/format.md`):
//!
//! ```text
//! magic:          u64 LE  = u64::from_le_bytes(*b"STRATAMF")
//! format_version: u32 LE  = 1
//! body_len:       u64 LE
//! body:           body_len bytes of varint-encoded fields
//! crc32:          u32 LE  over every byte before it
//! ```

use std::path::Path;

use super::filename::{manifest_file_name, manifest_temp_file_name};
use super::{FileMeta, ManifestState};
use crate::coding::{self, Decoder};
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::file::{Fs, RealFs};

/// File name of the manifest inside the database directory.
pub const MANIFEST_NAME: &str = "MANIFEST";
/// The first 8 bytes of a manifest: the ASCII bytes `STRATAMF` read as a little-endian u64.
pub const MANIFEST_MAGIC: u64 = u64::from_le_bytes(*b"STRATAMF");
/// The format version this code writes and reads.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;
/// Bytes before the body: magic, format version, body length.
pub const MANIFEST_HEADER_LEN: usize = 8 + 4 + 8;
/// The most levels a manifest may describe.
pub const MAX_LEVELS: usize = 64;

const CRC_LEN: usize = 4;

/// Encodes `state` in the manifest format. Does not check invariants (see
/// [`write_manifest`]).
pub fn encode_manifest(state: &ManifestState) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + state.total_files() * 64);
    coding::put_varint(&mut body, state.next_file_number);
    coding::put_varint(&mut body, state.last_sequence);
    coding::put_varint(&mut body, state.log_number);
    coding::put_varint(&mut body, state.levels.len() as u64);
    for files in &state.levels {
        coding::put_varint(&mut body, files.len() as u64);
        for f in files {
            coding::put_varint(&mut body, f.number);
            coding::put_varint(&mut body, f.size);
            coding::put_length_prefixed(&mut body, &f.smallest);
            coding::put_length_prefixed(&mut body, &f.largest);
            coding::put_varint(&mut body, f.min_seq);
            coding::put_varint(&mut body, f.max_seq);
            coding::put_varint(&mut body, f.num_entries);
            coding::put_varint(&mut body, f.num_deletions);
        }
    }
    let mut out = Vec::with_capacity(MANIFEST_HEADER_LEN + body.len() + CRC_LEN);
    coding::put_u64(&mut out, MANIFEST_MAGIC);
    coding::put_u32(&mut out, MANIFEST_FORMAT_VERSION);
    coding::put_u64(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    let crc = coding::crc32(&out);
    coding::put_u32(&mut out, crc);
    out
}

fn corrupt(offset: usize, what: impl Into<String>) -> Error {
    Error::corruption(None, Some(offset as u64), what)
}

/// Decodes a manifest. Any damage — wrong magic or version, a length that does not match
/// the input, trailing bytes, a CRC mismatch, a malformed body or a state that breaks the
/// invariants of [`ManifestState`] — is `Error::Corruption` with the offset of the damage
/// (and no file; [`read_manifest`] adds it). Never panics.
pub fn decode_manifest(bytes: &[u8]) -> Result<ManifestState> {
    let magic = coding::get_u64_at(bytes, 0).ok_or_else(|| corrupt(bytes.len(), "manifest: truncated header"))?;
    if magic != MANIFEST_MAGIC {
        return Err(corrupt(0, format!("manifest: bad magic {magic:#018x}")));
    }
    let version = coding::get_u32_at(bytes, 8).ok_or_else(|| corrupt(bytes.len(), "manifest: truncated header"))?;
    if version != MANIFEST_FORMAT_VERSION {
        return Err(corrupt(8, format!("manifest: unsupported format version {version}")));
    }
    let body_len = coding::get_u64_at(bytes, 12).ok_or_else(|| corrupt(bytes.len(), "manifest: truncated header"))?;
    let expected = usize::try_from(body_len)
        .ok()
        .and_then(|b| b.checked_add(MANIFEST_HEADER_LEN + CRC_LEN))
        .ok_or_else(|| corrupt(12, format!("manifest: body length {body_len} out of range")))?;
    if bytes.len() < expected {
        return Err(corrupt(
            bytes.len(),
            format!("manifest: truncated: {} bytes, header announces {expected}", bytes.len()),
        ));
    }
    if bytes.len() > expected {
        return Err(corrupt(expected, format!("manifest: {} trailing bytes", bytes.len() - expected)));
    }
    let crc_at = expected - CRC_LEN;
    let stored = coding::get_u32_at(bytes, crc_at).ok_or_else(|| corrupt(crc_at, "manifest: truncated checksum"))?;
    let covered = bytes.get(..crc_at).ok_or_else(|| corrupt(crc_at, "manifest: truncated"))?;
    let actual = coding::crc32(covered);
    if stored != actual {
        return Err(corrupt(
            crc_at,
            format!("manifest: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    let body = covered.get(MANIFEST_HEADER_LEN..).ok_or_else(|| corrupt(MANIFEST_HEADER_LEN, "manifest: truncated"))?;
    let (state, record_offsets) = decode_body(body).map_err(|e| e.at_offset(MANIFEST_HEADER_LEN as u64))?;
    if let Some((at, what)) = state.find_violation() {
        let offset = at
            .and_then(|(level, i)| record_offsets.get(level).and_then(|l| l.get(i)).copied())
            .map_or(MANIFEST_HEADER_LEN, |o| o + MANIFEST_HEADER_LEN);
        return Err(corrupt(offset, format!("manifest: {what}")));
    }
    Ok(state)
}

/// Decodes the body, returning the state and the body offset of every file record.
fn decode_body(body: &[u8]) -> Result<(ManifestState, Vec<Vec<usize>>)> {
    let mut d = Decoder::new(body, "manifest");
    let next_file_number = d.varint()?;
    let last_sequence = d.varint()?;
    let log_number = d.varint()?;
    let num_levels = d.varint_len(MAX_LEVELS)?;
    let mut levels = Vec::with_capacity(num_levels);
    let mut offsets = Vec::with_capacity(num_levels);
    for _ in 0..num_levels {
        // Each record takes at least 8 bytes (8 one-byte varints), so the remaining length bounds the count.
        let count = d.varint_len(d.remaining() / 8)?;
        let mut files = Vec::with_capacity(count);
        let mut at = Vec::with_capacity(count);
        for _ in 0..count {
            at.push(d.position());
            let number = d.varint()?;
            let size = d.varint()?;
            let smallest = d.length_prefixed()?.to_vec();
            let largest = d.length_prefixed()?.to_vec();
            let min_seq = d.varint()?;
            let max_seq = d.varint()?;
            let num_entries = d.varint()?;
            let num_deletions = d.varint()?;
            files.push(FileMeta { number, size, smallest, largest, min_seq, max_seq, num_entries, num_deletions });
        }
        levels.push(files);
        offsets.push(at);
    }
    if !d.is_empty() {
        return Err(Error::corruption(
            None,
            Some(d.position() as u64),
            format!("manifest: {} unparsed bytes at the end of the body", d.remaining()),
        ));
    }
    Ok((ManifestState { next_file_number, last_sequence, log_number, levels }, offsets))
}

/// Writes the whole state durably and atomically: create `MANIFEST.tmp`, write, fsync the
/// file, rename it over `MANIFEST`, fsync the directory. A crash at any point leaves either
/// the old or the new manifest (plus perhaps a stale `MANIFEST.tmp`, which is garbage).
/// Refuses (with `Corruption`) a state that breaks the invariants, since it could not be
/// read back.
pub fn write_manifest(dir: &Path, state: &ManifestState) -> Result<()> {
    write_manifest_with(&RealFs, dir, state)
}

/// [`write_manifest`] through the file system `fs`.
pub fn write_manifest_with(fs: &dyn Fs, dir: &Path, state: &ManifestState) -> Result<()> {
    let path = manifest_file_name(dir);
    state.check_invariants().map_err(|e| match e {
        Error::Corruption { what, .. } => {
            Error::corruption(Some(path.clone()), None, format!("refusing to write an invalid state: {what}"))
        }
        other => other,
    })?;
    let bytes = encode_manifest(state);
    let tmp = manifest_temp_file_name(dir);
    {
        let f = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        crash_point("manifest.tmp_written.before_sync");
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    crash_point("manifest.tmp_synced.before_rename");
    fs.rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crash_point("manifest.renamed.before_dir_sync");
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    crash_point("manifest.dir_synced.before_publish");
    Ok(())
}

/// Reads `dir/MANIFEST`: `Ok(None)` if it does not exist, `Corruption` naming the file and
/// offset if it is damaged.
pub fn read_manifest(dir: &Path) -> Result<Option<ManifestState>> {
    read_manifest_with(&RealFs, dir)
}

/// [`read_manifest`] through the file system `fs`.
pub fn read_manifest_with(fs: &dyn Fs, dir: &Path) -> Result<Option<ManifestState>> {
    let path = manifest_file_name(dir);
    let bytes = match fs.read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    decode_manifest(&bytes).map(Some).map_err(|e| e.with_file(&path))
}
