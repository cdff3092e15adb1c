#![no_main]
//! Fuzz target `sst_roundtrip`: see `strata_engine_fuzz::checks::sst_roundtrip`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::sst_roundtrip(data);
});
