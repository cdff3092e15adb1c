//! [`Db::get_many_with`]: many point reads at one view in one call, user or system keys.
//!
//! The binding uses it to read a page of query results (user records) and to probe the
//! existence of many postings (system keys) with one crossing from JavaScript instead of one
//! per key. Each key is looked up exactly like [`Db::get_with`] (memtables, then the levels);
//! in cached-only mode a key whose answer needs a data block that is not in memory is
//! reported as not cached, and the others are still answered.

use super::{Db, Snapshot};
use crate::error::{Error, Result};
use crate::keyspace::{check_user_key, Keyspace, MAX_SYSTEM_KEY_SIZE, SYSTEM_PREFIX};

/// What [`Db::get_many_with`] found for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The key's value.
    Value(&'a [u8]),
    /// The key is absent (or deleted) at the view.
    Missing,
    /// Cached-only mode: the answer needs a disk read (ask again on a thread that may block).
    NotCached,
}

impl Db {
    /// Looks up every key of `keys` (of `keyspace`; system keys relative to
    /// [`SYSTEM_PREFIX`]) at one view (`snapshot`, or the current state pinned once for the
    /// whole call) and lends each answer to `f(index, lookup)`, in order. With `cached_only`,
    /// a key that needs a data block not in memory is [`Lookup::NotCached`]. A key the
    /// keyspace rejects (a user key with the system prefix, a system key over
    /// [`MAX_SYSTEM_KEY_SIZE`]) fails the whole call with `InvalidArgument` before any
    /// lookup.
    pub fn get_many_with(
        &self,
        keyspace: Keyspace,
        keys: &[&[u8]],
        snapshot: Option<&Snapshot>,
        cached_only: bool,
        mut f: impl FnMut(usize, Lookup<'_>),
    ) -> Result<()> {
        for k in keys {
            match keyspace {
                Keyspace::User => check_user_key(k)?,
                Keyspace::System if k.len() > MAX_SYSTEM_KEY_SIZE => {
                    return Err(Error::InvalidArgument(format!(
                        "system key of {} bytes exceeds the limit of {MAX_SYSTEM_KEY_SIZE} bytes",
                        k.len()
                    )))
                }
                Keyspace::System => {}
            }
        }
        let inner = self.inner();
        inner.check_open()?;
        let (seq, sv) = inner.read_view(snapshot.map(Snapshot::sequence));
        let mut stored: Vec<u8> = Vec::with_capacity(64);
        for (i, k) in keys.iter().enumerate() {
            let key: &[u8] = match keyspace {
                Keyspace::User => k,
                Keyspace::System => {
                    stored.clear();
                    stored.extend_from_slice(&SYSTEM_PREFIX);
                    stored.extend_from_slice(k);
                    &stored
                }
            };
            let got = if cached_only {
                match crate::cache::cached_only(|| inner.get_in(&sv, key, seq)) {
                    Ok(v) => Some(v),
                    Err(Error::WouldBlock) => None,
                    Err(e) => return Err(e),
                }
            } else {
                Some(inner.get_in(&sv, key, seq)?)
            };
            match got {
                None => f(i, Lookup::NotCached),
                Some(None) => f(i, Lookup::Missing),
                Some(Some(v)) => f(i, Lookup::Value(&v)),
            }
        }
        Ok(())
    }
}
