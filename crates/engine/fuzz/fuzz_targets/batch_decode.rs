#![no_main]
//! Fuzz target `batch_decode`: see `strata_engine_fuzz::checks::batch_decode`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::batch_decode(data);
});
