//! Fuzz target `decode_many`: arbitrary bytes through
//! `kiln_core::convert_many` (the combined converter: one decode, a 1024 px
//! JPEG and a 256 px PNG from the same base) with production's `Limits`.
//! Any `Err` is fine; a panic, an abort or a heap over the 120 MiB budget
//! is a finding.
#![no_main]

use kiln_fuzz::{budget, calls};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: budget::Budgeted = budget::Budgeted;

fuzz_target!(|data: &[u8]| {
    let input = data.to_vec();
    let budget = calls::limits().max_memory_bytes;
    if let Ok(many) = budget::within(budget, input.len(), || calls::decode_many(input)) {
        assert_eq!(many.outputs.len(), 2);
        for out in many.outputs.iter().flatten() {
            assert!(!out.bytes.is_empty(), "empty {} output", out.format.name);
        }
    }
});
