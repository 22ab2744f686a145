//! Fuzz target `tus_headers`: what it checks is `kiln_fuzz::checks::tus_headers`
//! (src/checks/tus_headers.rs), shared with the upload crate's regression tests.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::checks::tus_headers::check(data));
