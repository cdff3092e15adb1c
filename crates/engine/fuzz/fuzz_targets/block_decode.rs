#![no_main]
//! Fuzz target `block_decode`: see `strata_engine_fuzz::checks::block_decode`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::block_decode(data);
});
