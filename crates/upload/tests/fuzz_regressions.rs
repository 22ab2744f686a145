//! Fuzz regressions of the upload targets: every input the `tus_headers`,
//! `events` or `keys` fuzz target (fuzz/, fuzz/README.md) found a crash
//! with is kept in `tests/fuzz-regressions/<target>-<short-name>` and checked
//! here by the target's own checks, included from fuzz/src/checks/ by path
//! so the fuzzer and this test cannot drift apart. One test per input, named
//! in [`regressions!`]; `every_input_has_a_test` keeps the list and the
//! folder in step. An input whose bug is not fixed yet carries
//! `#[ignore = "fails until <what> is fixed"]`.

#[path = "../../../fuzz/src/regressions.rs"]
#[macro_use]
mod regressions;
#[path = "../../../fuzz/src/checks/events.rs"]
mod events;
#[path = "../../../fuzz/src/checks/keys.rs"]
mod keys;
#[path = "../../../fuzz/src/checks/tus_headers.rs"]
mod tus_headers;

use std::path::PathBuf;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

/// Checks the input file `name` as its target (the name's prefix) does.
fn run(name: &str) {
    let bytes = std::fs::read(folder().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    match name.split_once('-').map(|(target, _)| target) {
        Some("tus_headers") => tus_headers::check(&bytes),
        Some("events") => events::check(&bytes),
        Some("keys") => keys::check(&bytes),
        _ => panic!("{name}: no target of that name (tus_headers, events, keys)"),
    }
}

regressions! {
    /// A valid source key of 1024 bytes (S3's maximum): its variant keys
    /// were 1033 bytes, which S3 refuses. Source keys are now at most 960.
    source_key_of_1024_bytes => "keys-source-key-of-1024-bytes",
}
