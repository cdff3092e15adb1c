#![no_main]
//! Fuzz target `manifest_decode`: see `strata_engine_fuzz::checks::manifest_decode`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::manifest_decode(data);
});
