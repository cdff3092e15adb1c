#![no_main]
//! Fuzz target `sst_open_scan`: see `strata_engine_fuzz::checks::sst_open_scan`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::sst_open_scan(data);
});
