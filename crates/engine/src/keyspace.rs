//! Keyspaces: the user's keys and StrataDB's own (see `docs/format.md`, "System keyspace").
//!
//! Every stored key that starts with [`SYSTEM_PREFIX`] (eight `0xff` bytes) belongs to the
//! system keyspace, where the layers above the engine keep what must be written in the same
//! atomic batch as user records but never be seen as one (secondary-index postings, the index
//! registry). Because the prefix is the largest 8-byte string, the system keyspace is exactly
//! the top of the key space, `[SYSTEM_PREFIX, ∞)`, and the user keyspace everything below it
//! (a user key such as `ff ff ff`, shorter than eight bytes, sorts below the prefix and is an
//! ordinary user key). FoundationDB's `\xff` system keys are the precedent.
//!
//! User-keyspace writes and point reads reject keys that start with the prefix; user
//! iteration and `clear` are clipped below it. System keys are written with
//! [`WriteBatch::put_system`](crate::WriteBatch::put_system) /
//! [`delete_system`](crate::WriteBatch::delete_system) (or packed op kinds 2 and 3), and read
//! by iterating with [`Keyspace::System`], whose bounds, seek targets and returned keys are
//! relative to the prefix.

use std::ops::Bound;

use crate::batch::MAX_KEY_SIZE;
use crate::error::{Error, Result};

/// The prefix of every stored key of the system keyspace: eight `0xff` bytes.
pub const SYSTEM_PREFIX: [u8; 8] = [0xff; 8];

/// Largest accepted system key (relative to [`SYSTEM_PREFIX`]), in bytes: system keys carry an
/// index id, an encoded term and a primary key, so they may exceed [`MAX_KEY_SIZE`].
pub const MAX_SYSTEM_KEY_SIZE: usize = MAX_KEY_SIZE + 4096;

/// Which keyspace a range, an iterator or a `clear` works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Keyspace {
    /// The user's keys: every stored key below [`SYSTEM_PREFIX`].
    #[default]
    User,
    /// StrataDB's own keys, stored under [`SYSTEM_PREFIX`]. Bounds, seek targets and returned
    /// keys are relative: the engine adds and strips the prefix.
    System,
}

/// True when a stored key belongs to the system keyspace. A prefix compare, no allocation.
#[inline]
pub fn is_system_key(key: &[u8]) -> bool {
    key.starts_with(&SYSTEM_PREFIX)
}

/// `Ok` for a key the user keyspace accepts; `InvalidArgument` for a key that starts with
/// [`SYSTEM_PREFIX`]. Cheap (a prefix compare); allocates only to build the error.
#[inline]
pub fn check_user_key(key: &[u8]) -> Result<()> {
    if is_system_key(key) {
        return Err(reserved());
    }
    Ok(())
}

#[cold]
fn reserved() -> Error {
    Error::InvalidArgument("keys starting with eight 0xff bytes are reserved for StrataDB's system keyspace".into())
}

/// `SYSTEM_PREFIX · key`.
pub fn system_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SYSTEM_PREFIX.len() + key.len());
    out.extend_from_slice(&SYSTEM_PREFIX);
    out.extend_from_slice(key);
    out
}

impl Keyspace {
    /// The bytes the engine puts in front of this keyspace's keys (empty for the user keyspace).
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Keyspace::User => &[],
            Keyspace::System => &SYSTEM_PREFIX,
        }
    }

    /// The stored form of a key of this keyspace (a seek target, a bound).
    pub fn stored_key(self, key: &[u8]) -> Vec<u8> {
        match self {
            Keyspace::User => key.to_vec(),
            Keyspace::System => system_key(key),
        }
    }

    /// Turns bounds of this keyspace into bounds on stored keys:
    ///
    /// * user keyspace: the bounds as given, with the upper bound clipped so that nothing at
    ///   or above [`SYSTEM_PREFIX`] is inside (an unbounded upper bound becomes
    ///   `< SYSTEM_PREFIX`; so does any upper bound at or above it). A lower bound at or above
    ///   the prefix makes the range empty.
    /// * system keyspace: both bounds prefixed; an unbounded lower bound becomes
    ///   `>= SYSTEM_PREFIX`, an unbounded upper bound stays unbounded (the end of the key
    ///   space).
    pub fn stored_bounds(self, lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        match self {
            Keyspace::User => {
                let upper = match upper {
                    Bound::Included(u) | Bound::Excluded(u) if is_system_key(u) => {
                        Bound::Excluded(SYSTEM_PREFIX.to_vec())
                    }
                    Bound::Unbounded => Bound::Excluded(SYSTEM_PREFIX.to_vec()),
                    other => other.clone(),
                };
                (lower.clone(), upper)
            }
            Keyspace::System => {
                let lower = match lower {
                    Bound::Included(l) => Bound::Included(system_key(l)),
                    Bound::Excluded(l) => Bound::Excluded(system_key(l)),
                    Bound::Unbounded => Bound::Included(SYSTEM_PREFIX.to_vec()),
                };
                let upper = match upper {
                    Bound::Included(u) => Bound::Included(system_key(u)),
                    Bound::Excluded(u) => Bound::Excluded(system_key(u)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                (lower, upper)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_checks_and_bounds() {
        assert!(is_system_key(&[0xff; 8]));
        assert!(is_system_key(&[0xff; 9]));
        assert!(!is_system_key(&[0xff; 7]));
        assert!(!is_system_key(b""));
        let mut almost = [0xff; 8];
        almost[7] = 0xfe;
        assert!(!is_system_key(&almost));
        assert!(check_user_key(&[0xff; 3]).is_ok());
        assert!(matches!(check_user_key(&[0xff; 8]), Err(Error::InvalidArgument(_))));

        let (l, u) = Keyspace::User.stored_bounds(&Bound::Unbounded, &Bound::Unbounded);
        assert_eq!((l, u), (Bound::Unbounded, Bound::Excluded(SYSTEM_PREFIX.to_vec())));
        let (_, u) = Keyspace::User.stored_bounds(&Bound::Unbounded, &Bound::Included(vec![0xff; 10]));
        assert_eq!(u, Bound::Excluded(SYSTEM_PREFIX.to_vec()));
        let (_, u) = Keyspace::User.stored_bounds(&Bound::Unbounded, &Bound::Included(vec![0xff; 7]));
        assert_eq!(u, Bound::Included(vec![0xff; 7]));
        let (l, u) = Keyspace::System.stored_bounds(&Bound::Excluded(b"a".to_vec()), &Bound::Unbounded);
        assert_eq!(l, Bound::Excluded(system_key(b"a")));
        assert_eq!(u, Bound::Unbounded);
        let (l, _) = Keyspace::System.stored_bounds(&Bound::Unbounded, &Bound::Unbounded);
        assert_eq!(l, Bound::Included(SYSTEM_PREFIX.to_vec()));
    }
}
