#![no_main]
//! Fuzz target `wal_reader`: see `strata_engine_fuzz::checks::wal_reader`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_engine_fuzz::checks::wal_reader(data);
});
