//! kiln-bench as a library: the modules behind its binaries — `report` (the
//! glue-cost report, `kiln-report`) and `calibrate` (the memory model,
//! `kiln-calibrate`).

pub mod calibrate;
pub mod report;
