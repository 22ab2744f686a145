//! kiln-bench as a library: the modules behind its binaries — `report` (the
//! glue-cost report, `kiln-study --report-only`) and `calibrate` (the memory model,
//! `kiln-calibrate`) and `study` (the glue-cost measurements, `kiln-study`),
//! and `load` (many concurrent uploads, `kiln-load`).

pub mod calibrate;
pub mod load;
pub mod report;
pub mod study;
