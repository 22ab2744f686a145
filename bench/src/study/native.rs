//! The lower bound: kiln's core natively, each conversion in a child
//! process of this binary (`kiln-study native-child`) so its peak RSS is
//! its own. `variant = "upload"` converts into all four formats in one
//! process with [`kiln_core::convert_many`] (decode once).

use super::settings::{self, VARIANTS};
use anyhow::{Context, Result};
use kiln_core::pipeline::plan;
use kiln_core::{convert, convert_many, ConvertOptions, Limits, Output};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The components' default limits, so the native conversion follows the
/// same plan (e.g. the same shrink-on-load scale) as the one under Spin.
fn limits() -> Limits {
    Limits::default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The child's work: converts `input` into `variant` and prints its stages
/// (ms), output sizes and the core's memory estimate as JSON.
pub fn child(input: &Path, variant: &str) -> Result<()> {
    let bytes = std::fs::read(input).with_context(|| input.display().to_string())?;
    let started = Instant::now();
    let report = if variant == "upload" {
        let encoders: Vec<_> = VARIANTS.iter().map(|v| (settings::side(v), settings::encoder(v))).collect();
        let outputs: Vec<Output> = encoders.iter().map(|(side, e)| Output { max_long_side: *side, encoder: e.as_ref(), placeholder: false, widths: &[], metadata: Default::default() }).collect();
        let many = convert_many(bytes, &outputs, limits())?;
        let mut stages = json!({"probe": ms(many.shared.probe), "decode": ms(many.shared.decode), "resize": ms(many.shared.resize)});
        let mut sizes = json!({});
        for (name, out) in VARIANTS.iter().zip(many.outputs) {
            let out = out?;
            stages[format!("{name}-resize")] = json!(ms(out.timings.resize - many.shared.resize));
            stages[format!("{name}-encode")] = json!(ms(out.timings.encode));
            sizes[*name] = json!(out.bytes.len());
        }
        stages["total"] = json!(ms(started.elapsed()));
        json!({"stages": stages, "sizes": sizes})
    } else {
        let encoder = settings::encoder(variant);
        let options = ConvertOptions { max_long_side: settings::side(variant), limits: limits(), metadata: Default::default() };
        let out = convert(bytes, &options, encoder.as_ref())?;
        let t = out.timings;
        let stages = json!({"probe": ms(t.probe), "decode": ms(t.decode), "resize": ms(t.resize), "encode": ms(t.encode), "total": ms(started.elapsed())});
        json!({"stages": stages, "sizes": {variant: out.bytes.len()}})
    };
    println!("{report}");
    Ok(())
}

/// The core's pre-decode peak-memory estimate for `variant` of `bytes`,
/// with the components' default limit (so the same shrink-on-load plan).
pub fn estimate(bytes: &[u8], variant: &str) -> Option<u64> {
    let encoder = settings::encoder(variant);
    let options = ConvertOptions { max_long_side: settings::side(variant), limits: Limits::default(), metadata: Default::default() };
    plan(bytes, &options, encoder.as_ref()).ok().map(|(_, _, memory)| memory.peak())
}

/// Parsed child output.
pub struct ChildReport {
    pub stages: Vec<(String, f64)>,
    pub sizes: Vec<(String, u64)>,
}

pub fn parse(stdout: &[u8]) -> Result<ChildReport> {
    let v: Value = serde_json::from_slice(stdout).context("native child output")?;
    let pairs = |o: &Value| o.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()).unwrap_or_default();
    Ok(ChildReport {
        stages: pairs(&v["stages"]).into_iter().filter_map(|(k, v)| Some((k, v.as_f64()?))).collect(),
        sizes: pairs(&v["sizes"]).into_iter().filter_map(|(k, v)| Some((k, v.as_u64()?))).collect(),
    })
}
