//! Reused buffers for decompressed blocks. A block missing from the cache is decompressed
//! into a buffer that an evicted (dropped) block gave back on this thread, instead of a fresh
//! zero-filled allocation: LZ4's safe decoder needs an initialised output slice, and a
//! buffer that held a block is one already. Every byte the block is read from is written by
//! the decoder (its output length is checked), so nothing of the previous block shows.

use std::cell::RefCell;

use bytes::Bytes;

/// Buffers kept per thread.
const MAX_POOLED: usize = 32;
/// Buffers larger than this are freed rather than kept (filter and index blocks).
const MAX_POOLED_CAPACITY: usize = 64 << 10;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of exactly `len` initialised bytes: a given-back one when this thread has one
/// (only the part beyond its old length is zero-filled), else a new zero-filled one. A
/// given-back buffer more than an eighth larger than `len` is freed instead: the block cache
/// weighs a block by its length, so a much larger buffer would hold memory it does not count.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let reused = if len <= MAX_POOLED_CAPACITY {
        POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop())).ok().flatten()
    } else {
        None
    };
    let reused = reused.filter(|b| b.capacity().saturating_sub(len) <= len / 8);
    let mut buf = reused.unwrap_or_default();
    buf.resize(len, 0);
    buf
}

/// `buf` as shared bytes that give the buffer back to the pool of the thread that drops the
/// last reference.
pub(crate) fn share(buf: Vec<u8>) -> Bytes {
    Bytes::from_owner(Recycled(buf))
}

/// Owner of a pooled buffer inside a `Bytes`.
struct Recycled(Vec<u8>);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() == 0 || buf.capacity() > MAX_POOLED_CAPACITY {
            return;
        }
        // At thread exit the pool may be gone already: the buffer is simply freed then.
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                if p.len() < MAX_POOLED {
                    p.push(buf);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled() -> usize {
        POOL.with(|p| p.borrow().len())
    }

    #[test]
    fn buffers_come_back_and_are_reused_at_the_asked_length() {
        POOL.with(|p| p.borrow_mut().clear());
        let mut a = take(100);
        assert_eq!(a, vec![0u8; 100]);
        a.fill(9);
        let shared = share(a);
        let slice = shared.slice(10..20);
        drop(shared);
        assert_eq!(pooled(), 0, "a slice still holds the buffer");
        assert_eq!(&slice[..], &[9u8; 10]);
        drop(slice);
        assert_eq!(pooled(), 1);
        // Shorter: the old bytes are kept (the decoder overwrites them); longer: zero-filled tail.
        let b = take(95);
        assert_eq!((b.len(), pooled()), (95, 0));
        assert_eq!(b, vec![9u8; 95]);
        drop(share(b));
        let c = take(105);
        assert_eq!(&c[..95], &[9u8; 95][..]);
        assert!(c[95..].iter().all(|x| *x == 0));
        // Much larger than asked for: freed, a fresh zero-filled buffer instead.
        drop(share(vec![5u8; 1000]));
        assert_eq!(pooled(), 1);
        let d = take(100);
        assert_eq!((d, pooled()), (vec![0u8; 100], 0));
        // Large buffers are not kept, nor more than MAX_POOLED of them.
        drop(share(vec![0u8; MAX_POOLED_CAPACITY + 1]));
        assert_eq!(pooled(), 0);
        assert!(take(MAX_POOLED_CAPACITY + 1).len() == MAX_POOLED_CAPACITY + 1);
        for _ in 0..MAX_POOLED + 5 {
            drop(share(vec![1u8; 10]));
        }
        assert_eq!(pooled(), MAX_POOLED);
        // Dropped on another thread: it goes to that thread's pool, not this one's.
        let d = share(vec![2u8; 10]);
        std::thread::spawn(move || drop(d)).join().expect("thread");
        assert_eq!(pooled(), MAX_POOLED);
    }
}
