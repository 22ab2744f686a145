//! The upload targets' properties, one module per target, each a
//! `check(data)` that panics on a finding. Plain functions of kiln-upload
//! and the crates it already depends on, so crates/upload/tests/
//! fuzz_regressions.rs includes these very files (`#[path]`) and checks
//! committed inputs exactly as the fuzzer did.

pub mod events;
pub mod keys;
pub mod tus_headers;
