//! Bloom filters over user keys (see `docs/format.md`, "Filter block").

use crate::error::{Error, Result};

const SEED: u64 = 0x5354_5241_5441_4442; // "STRATADB"
const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

/// murmur3's 64-bit finalizer.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The filter's stable 64-bit hash (murmur3-style mixing of 8-byte little-endian words).
pub fn hash64(data: &[u8]) -> u64 {
    let mut h = SEED ^ (data.len() as u64).wrapping_mul(C1);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let k = u64::from_le_bytes(w).wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(27).wrapping_mul(5).wrapping_add(0x52dc_e729);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
        let k = u64::from_le_bytes(w).wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h ^= k;
    }
    fmix64(h)
}

fn probes(h: u64) -> (u64, u64) {
    (h, fmix64(h ^ 0x9e37_79b9_7f4a_7c15) | 1)
}

/// Number of probes for `bits_per_key`: round(bits * 0.69) clamped to 1..=30.
pub fn num_probes(bits_per_key: u32) -> u8 {
    let k = (f64::from(bits_per_key) * 0.69).round();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 1..=30")]
    let k = k.clamp(1.0, 30.0) as u8;
    k
}

/// Builds a filter block from key hashes.
pub fn build_filter(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
    if bits_per_key == 0 || hashes.is_empty() {
        return Vec::new();
    }
    let k = num_probes(bits_per_key);
    let nbits = (hashes.len() as u64).saturating_mul(u64::from(bits_per_key)).max(64).div_ceil(8) * 8;
    let Ok(nbytes) = usize::try_from(nbits / 8) else {
        return Vec::new();
    };
    let mut out = vec![0u8; nbytes + 1];
    for &h in hashes {
        let (h1, h2) = probes(h);
        for i in 0..u64::from(k) {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % nbits;
            if let Some(b) = usize::try_from(bit / 8).ok().and_then(|i| out.get_mut(i)) {
                *b |= 1 << (bit % 8);
            }
        }
    }
    if let Some(last) = out.last_mut() {
        *last = k;
    }
    out
}

/// A decoded bloom filter.
#[derive(Debug, Clone)]
pub struct BloomFilter {
    bits: Vec<u8>,
    k: u8,
}

impl BloomFilter {
    /// Decodes a filter block; `None` for an empty block (no filter).
    pub fn decode(block: &[u8]) -> Result<Option<BloomFilter>> {
        let Some((&k, bits)) = block.split_last() else {
            return Ok(None);
        };
        if !(1..=30).contains(&k) || bits.is_empty() {
            return Err(Error::corruption(None, None, format!("filter block: bad probe count {k} or empty bitmap")));
        }
        Ok(Some(BloomFilter { bits: bits.to_vec(), k }))
    }

    /// False when `user_key` is certainly absent.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(hash64(user_key))
    }

    /// False when the key with hash `h` is certainly absent.
    pub fn may_contain_hash(&self, h: u64) -> bool {
        let nbits = self.bits.len() as u64 * 8;
        let (h1, h2) = probes(h);
        (0..u64::from(self.k)).all(|i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % nbits;
            usize::try_from(bit / 8).ok().and_then(|i| self.bits.get(i)).is_some_and(|b| b & (1 << (bit % 8)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        // Pinned values: the hash is part of the on-disk format.
        assert_eq!(hash64(b""), hash64(b""));
        assert_ne!(hash64(b"a"), hash64(b"b"));
        assert_ne!(hash64(b"12345678"), hash64(b"123456780"));
        let pinned = [hash64(b""), hash64(b"stratadb"), hash64(b"hello, world")];
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u64; 3] = [1_558_351_004_875_553_488, 6_256_121_376_048_996_244, 572_296_179_294_750_614];

    #[test]
    fn false_positive_rate_and_no_false_negatives() {
        let n = 10_000u32;
        let hashes: Vec<u64> = (0..n).map(|i| hash64(format!("key-{i}").as_bytes())).collect();
        let block = build_filter(&hashes, 10);
        assert_eq!(*block.last().expect("k"), 7);
        let f = BloomFilter::decode(&block).expect("decodes").expect("present");
        for i in 0..n {
            assert!(f.may_contain(format!("key-{i}").as_bytes()));
        }
        let trials = 100_000u32;
        let fp = (0..trials).filter(|i| f.may_contain(format!("absent-{i}").as_bytes())).count();
        let rate = fp as f64 / f64::from(trials);
        assert!(rate < 0.02, "false positive rate {rate}");
        assert!(rate > 0.001, "suspiciously low false positive rate {rate}");
    }

    #[test]
    fn empty_and_bad_filters() {
        assert!(build_filter(&[1, 2], 0).is_empty());
        assert!(BloomFilter::decode(&[]).expect("ok").is_none());
        assert!(BloomFilter::decode(&[7]).is_err());
        assert!(BloomFilter::decode(&[0, 0, 31]).is_err());
        assert_eq!(num_probes(1), 1);
        assert_eq!(num_probes(100), 30);
    }
}
