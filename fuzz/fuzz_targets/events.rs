//! Fuzz target `events`: what it checks is `kiln_fuzz::checks::events`
//! (src/checks/events.rs), shared with the upload crate's regression tests.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::checks::events::check(data));
