//! Fuzz target `decode`: arbitrary bytes through the real pipeline
//! (`kiln_core::convert` with production's `Limits`, to a 256 px PNG), so
//! every decoder sees them after the probe and the estimate let them in.
//! Any `Err` is fine; a panic, an abort, or more heap live at once than the
//! 120 MiB budget (the allocation site is printed) is a finding.
#![no_main]

use kiln_fuzz::{budget, calls};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: budget::Budgeted = budget::Budgeted;

fuzz_target!(|data: &[u8]| {
    let input = data.to_vec();
    let budget = calls::limits().max_memory_bytes;
    if let Ok(out) = budget::within(budget, input.len(), || calls::decode(input)) {
        assert!(out.width <= calls::DECODE_SIDE && out.height <= calls::DECODE_SIDE, "{}x{} output", out.width, out.height);
        assert!(!out.bytes.is_empty(), "empty output");
    }
});
