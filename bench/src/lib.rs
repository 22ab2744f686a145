//! kiln-bench as a library: the modules behind its binaries — `report` (the
//! glue-cost report, `kiln-study --report-only`) and `calibrate` (the memory model,
//! `kiln-calibrate`) and `study` (the glue-cost measurements, `kiln-study`),
//! and `load` (many concurrent uploads, `kiln-load`).

/// Spin variables every benchmark stack runs with: the four variants of
/// the issues' and the docs' figures, and of the native chain they are
/// compared with — no responsive widths (README "Responsive widths";
/// their own cost is measured by `tests/tests/images.rs`, docs/widths.md).
pub const FOUR_VARIANTS: (&str, &str) = ("SPIN_VARIABLE_RESPONSIVE_WIDTHS", "");

pub mod calibrate;
pub mod load;
pub mod report;
pub mod study;
