//! `kiln-calibrate`: calibrates the core's pre-decode memory model. It
//! measures conversion peaks ([`measure`]) on the corpus and synthetic sizes
//! ([`inputs`]), keeps them as CSV ([`table`]), fits `peak ≈ a·pixels + b`
//! per output format so the line is never below a measurement ([`fit`]),
//! and writes the coefficients as Rust plus a residual report ([`emit`]).

pub mod emit;
pub mod fit;
pub mod inputs;
pub mod measure;
pub mod table;
