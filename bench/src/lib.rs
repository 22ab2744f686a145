//! kiln-bench as a library: the modules behind its binaries — `report` (the
//! glue-cost report, `kiln-study --report-only`) and `calibrate` (the memory model,
//! `kiln-calibrate`) and `study` (the glue-cost measurements, `kiln-study`),
//! and `load` (many concurrent uploads, `kiln-load`).

/// Spin variables every benchmark stack runs with: the four variants of
/// the issues' and the docs' figures, and of the native chain they are
/// compared with — no responsive widths (README "Responsive widths";
/// their own cost is measured by `tests/tests/images.rs`, docs/widths.md),
/// and the qualities of the native chain (issue 11: JPEG 82, AVIF 60),
/// kiln's defaults before they were retuned (docs/quality.md, "The
/// defaults"), so the figures stay the same work as before and as vips'.
pub const FOUR_VARIANTS: [(&str, &str); 3] =
    [("SPIN_VARIABLE_RESPONSIVE_WIDTHS", ""), ("SPIN_VARIABLE_JPEG_QUALITY", "82"), ("SPIN_VARIABLE_AVIF_QUALITY", "60")];

pub mod calibrate;
pub mod load;
pub mod report;
pub mod study;
