//! Internal keys: a user key followed by an 8-byte little-endian trailer
//! `(sequence << 8) | kind`, as in LevelDB. Internal keys sort by user key ascending
//! (bytewise), then by trailer descending, so the newest version of a key comes first.
//! See `docs/format.md`.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// A sequence number. Every write is stamped with one; a snapshot is one.
pub type SeqNo = u64;

/// The largest sequence number that fits in the 56 bits of a trailer.
pub const MAX_SEQ: SeqNo = (1 << 56) - 1;

/// Length of the trailer appended to every user key.
pub const TRAILER_LEN: usize = 8;

/// What an entry records about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// A tombstone: the key was deleted at this sequence number.
    Delete = 0,
    /// A value was written at this sequence number.
    Put = 1,
}

impl ValueKind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            _ => None,
        }
    }
}

/// The kind used in seek targets: the largest kind, so that a seek to `(key, seq)` lands on
/// the first entry of `key` whose sequence is `<= seq`.
pub const KIND_FOR_SEEK: ValueKind = ValueKind::Put;

/// Packs a sequence number and kind into a trailer value.
pub fn pack_trailer(seq: SeqNo, kind: ValueKind) -> u64 {
    debug_assert!(seq <= MAX_SEQ);
    (seq << 8) | kind as u64
}

/// Appends the internal key `user_key · trailer(seq, kind)` to `out`.
pub fn append_internal_key(out: &mut Vec<u8>, user_key: &[u8], seq: SeqNo, kind: ValueKind) {
    out.reserve(user_key.len() + TRAILER_LEN);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&pack_trailer(seq, kind).to_le_bytes());
}

/// Builds the internal key `user_key · trailer(seq, kind)`.
pub fn internal_key(user_key: &[u8], seq: SeqNo, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    append_internal_key(&mut out, user_key, seq, kind);
    out
}

/// The seek target that finds the newest version of `user_key` visible at `seq`.
pub fn seek_key(user_key: &[u8], seq: SeqNo) -> Vec<u8> {
    internal_key(user_key, seq, KIND_FOR_SEEK)
}

/// The user-key part of an internal key. Keys shorter than a trailer are returned whole
/// (they cannot come from the engine; decoders reject them with [`parse_internal_key`]).
pub fn user_key(ikey: &[u8]) -> &[u8] {
    ikey.get(..ikey.len().saturating_sub(TRAILER_LEN)).unwrap_or(ikey)
}

/// The raw trailer of an internal key (0 for keys shorter than a trailer).
pub fn trailer(ikey: &[u8]) -> u64 {
    let n = ikey.len();
    if n < TRAILER_LEN {
        return 0;
    }
    ikey.get(n - TRAILER_LEN..).and_then(|t| t.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// The sequence number of an internal key.
pub fn seq_of(ikey: &[u8]) -> SeqNo {
    trailer(ikey) >> 8
}

/// A parsed internal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The user key.
    pub user_key: &'a [u8],
    /// The sequence number.
    pub seq: SeqNo,
    /// The kind.
    pub kind: ValueKind,
}

/// Splits and validates an internal key; `Corruption` if it is too short or its kind unknown.
pub fn parse_internal_key(ikey: &[u8]) -> Result<ParsedKey<'_>> {
    if ikey.len() < TRAILER_LEN {
        return Err(Error::corruption(
            None,
            None,
            format!("internal key of {} bytes is shorter than its trailer", ikey.len()),
        ));
    }
    let t = trailer(ikey);
    #[allow(clippy::cast_possible_truncation, reason = "the low byte is the kind")]
    let kind = ValueKind::from_u8((t & 0xff) as u8)
        .ok_or_else(|| Error::corruption(None, None, format!("unknown value kind {}", t & 0xff)))?;
    Ok(ParsedKey { user_key: user_key(ikey), seq: t >> 8, kind })
}

/// Orders internal keys: user key ascending, then trailer (sequence, kind) descending.
pub fn compare_internal(a: &[u8], b: &[u8]) -> Ordering {
    user_key(a).cmp(user_key(b)).then_with(|| trailer(b).cmp(&trailer(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_is_user_key_then_newest_first() {
        let a1 = internal_key(b"a", 1, ValueKind::Put);
        let a2 = internal_key(b"a", 2, ValueKind::Put);
        let ab = internal_key(b"ab", 0, ValueKind::Delete);
        assert_eq!(compare_internal(&a2, &a1), Ordering::Less);
        assert_eq!(compare_internal(&a1, &ab), Ordering::Less);
        assert_eq!(compare_internal(&a2, &ab), Ordering::Less);
        let d2 = internal_key(b"a", 2, ValueKind::Delete);
        assert_eq!(compare_internal(&seek_key(b"a", 2), &d2), Ordering::Less);
        let p = parse_internal_key(&d2).expect("valid");
        assert_eq!((p.user_key, p.seq, p.kind), (&b"a"[..], 2, ValueKind::Delete));
        assert!(parse_internal_key(b"short").is_err());
    }
}
