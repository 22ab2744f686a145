//! What kiln's fuzz targets share: the memory budget enforced per input
//! ([`budget`]), the exact calls the image targets make ([`calls`]) and the
//! upload targets' properties ([`checks`]). The regression tests
//! (crates/core/tests/fuzz_regressions.rs, crates/upload/tests/
//! fuzz_regressions.rs) include `calls` and `checks` by path, so a target
//! and its regression test agree on what "the same input" means.

pub mod budget;
pub mod calls;
pub mod checks;
