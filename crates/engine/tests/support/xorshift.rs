//! The small deterministic PRNG (xorshift64) shared by the iterator and memtable tests, so
//! that each test file does not carry its own copy. Seeds give the same sequences as before.

/// xorshift64 (13, 7, 17); the seed must be non-zero.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
