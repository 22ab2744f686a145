//! The calibration data: one [`Row`] per measurement, kept as
//! `bench/calibration/memory.csv` so the fit can be rerun without measuring.

use anyhow::{bail, Context, Result};
use kiln_core::estimate::{Features, InputClass};
use std::fmt::Write as _;
use std::path::Path;

/// Native heap (counting allocator) or wasm linear memory under `spin up`.
pub const HEAP: &str = "heap";
pub const LINEAR: &str = "linear-memory";

/// One measured peak of one (input, output format) conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub input: String,
    /// [`InputClass::name`] of the input.
    pub input_format: String,
    pub progressive: bool,
    pub width: u32,
    pub height: u32,
    pub input_bytes: u64,
    pub jpeg_scale: u32,
    pub decoded_pixels: u64,
    pub target_pixels: u64,
    pub source_bytes: u64,
    pub target_bytes: u64,
    pub output: String,
    pub kind: String,
    /// HTTP status under spin (200 = measured; a trap is a 500); 0 natively.
    pub status: u16,
    /// Measured peak; 0 when the conversion failed.
    pub peak_bytes: u64,
    /// The hand-written phase model's peak.
    pub old_estimate: u64,
    /// The calibrated model's peak (filled in after the fit).
    pub new_estimate: u64,
}

const HEADER: &str = "input,input_format,progressive,width,height,input_bytes,jpeg_scale,decoded_pixels,target_pixels,\
source_bytes,target_bytes,output,kind,status,peak_bytes,old_estimate,new_estimate";

impl Row {
    pub fn class(&self) -> Result<InputClass> {
        InputClass::ALL
            .into_iter()
            .find(|c| c.name() == self.input_format)
            .with_context(|| format!("unknown input format {:?}", self.input_format))
    }

    pub fn features(&self) -> Result<Features> {
        Ok(Features {
            class: self.class()?,
            input_bytes: self.input_bytes,
            source_bytes: self.source_bytes,
            target_bytes: self.target_bytes,
        })
    }

    /// Whether this row holds a measured peak.
    pub fn measured(&self) -> bool {
        self.peak_bytes > 0
    }
}

pub fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let mut out = format!("{HEADER}\n");
    for r in rows {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.input, r.input_format, r.progressive, r.width, r.height, r.input_bytes, r.jpeg_scale,
            r.decoded_pixels, r.target_pixels, r.source_bytes, r.target_bytes, r.output, r.kind, r.status,
            r.peak_bytes, r.old_estimate, r.new_estimate
        )?;
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        bail!("{}: unexpected header (regenerate it with kiln-calibrate)", path.display());
    }
    lines.enumerate().map(|(i, line)| parse_row(line).with_context(|| format!("{}:{}", path.display(), i + 2))).collect()
}

fn parse_row(line: &str) -> Result<Row> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 17 {
        bail!("expected 17 fields, found {}", f.len());
    }
    Ok(Row {
        input: f[0].into(),
        input_format: f[1].into(),
        progressive: f[2].parse()?,
        width: f[3].parse()?,
        height: f[4].parse()?,
        input_bytes: f[5].parse()?,
        jpeg_scale: f[6].parse()?,
        decoded_pixels: f[7].parse()?,
        target_pixels: f[8].parse()?,
        source_bytes: f[9].parse()?,
        target_bytes: f[10].parse()?,
        output: f[11].into(),
        kind: f[12].into(),
        status: f[13].parse()?,
        peak_bytes: f[14].parse()?,
        old_estimate: f[15].parse()?,
        new_estimate: f[16].parse()?,
    })
}
