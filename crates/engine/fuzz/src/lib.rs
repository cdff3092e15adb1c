//! Decoder fuzzing harness for strata-engine. The checks live in `checks.rs`, a plain module
//! with no dependency on libFuzzer, so `crates/engine/tests/fuzz_corpus_replay.rs` replays
//! the committed corpora through exactly the same logic in `cargo test`.

#[path = "checks.rs"]
pub mod checks;
