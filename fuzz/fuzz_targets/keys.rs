//! Fuzz target `keys`: what it checks is `kiln_fuzz::checks::keys`
//! (src/checks/keys.rs), shared with the upload crate's regression tests.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::checks::keys::check(data));
