//! One `napi::Task` per asynchronous operation. Each `compute` runs its engine call inside
//! [`crate::error::guard`] (panics become `STRATA_INTERNAL`) and returns the coded outcome;
//! `resolve` settles it on the JS thread through [`crate::error::settle`], which keeps the code.

pub mod checkpoint;
pub mod clear;
pub mod close;
pub mod compact_range;
pub mod flush;
pub mod get;
pub mod get_many;
pub mod next_batch;
pub mod open;
pub mod panic;
pub mod verify;
pub mod write;
