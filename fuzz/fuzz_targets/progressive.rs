//! Fuzz target `progressive`: arbitrary bytes straight into kiln's own
//! progressive JPEG decoder (`kiln_core::decode::progressive`), at the
//! scale the input's length picks (1, 2, 4 or 8), with the decoder budget
//! production would give a 100 MP JPEG. Any `Err` is fine; a panic, an
//! abort, a heap over the 120 MiB budget, or an image whose size or buffer
//! disagrees with its frame header is a finding. Seeds: libjpeg-turbo's
//! progressive files in every sampling (crates/core/tests/fixtures/progressive/).
#![no_main]

use kiln_fuzz::{budget, calls};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: budget::Budgeted = budget::Budgeted;

fuzz_target!(|data: &[u8]| {
    let budget = calls::limits().max_memory_bytes;
    let _ = budget::within(budget, 0, || calls::progressive(data));
});
