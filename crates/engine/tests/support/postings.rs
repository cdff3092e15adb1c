//! Shared by the posting-scan tests (`scan_get.rs`, `scan_probe.rs`): record keys, postings
//! `term · key` in the system keyspace with one-byte terms, and a term's range.
#![allow(dead_code)]

use std::ops::Bound;

use strata_engine::{Keyspace, RangeOptions};

pub fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

/// A posting of record `i` under term `t`: `t · key(i)` (the term is one byte).
pub fn posting(t: u8, i: u32) -> Vec<u8> {
    [&[t][..], &key(i)].concat()
}

pub fn term_range(t: u8) -> RangeOptions {
    RangeOptions {
        lower: Bound::Included(vec![t]),
        upper: Bound::Excluded(vec![t + 1]),
        keyspace: Keyspace::System,
        ..RangeOptions::default()
    }
}
