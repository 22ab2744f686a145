//! Fuzz target `estimate`: the pre-decode memory estimate against the heap
//! the conversion really uses. For every input `kiln_core::pipeline::plan`
//! accepts under production's limits, the conversion runs under
//! `kiln_core::alloc_counter::Counting` and its measured peak of live heap
//! bytes (input included) must not be over the estimate the limits were
//! checked against (`kiln_fuzz::calls::estimate`). JPEG or PNG output only:
//! libwebp's C allocations are invisible to a Rust allocator.
#![no_main]

use kiln_core::alloc_counter::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::calls::estimate(data));
