//! kiln-bench as a library: the modules behind its binaries — `report` (the
//! glue-cost report, `kiln-study --report-only`) and `calibrate` (the memory model,
//! `kiln-calibrate`) and `study` (the glue-cost measurements, `kiln-study`).

pub mod calibrate;
pub mod report;
pub mod study;
