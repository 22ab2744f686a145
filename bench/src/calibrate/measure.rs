//! Measures conversion peaks: natively (heap, counting allocator) and under
//! a real `spin up` (the component's linear memory, reported in its
//! `x-kiln-linear-memory` header), one [`Row`] per measurement.

use kiln_core::alloc_counter::peak_of;
use super::inputs::Input;
use super::table::{Row, HEAP, LINEAR};
use anyhow::{bail, Context, Result};
use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::estimate::features;
use kiln_core::pipeline::plan;
use kiln_core::{convert, ConvertOptions, Limits};
use kiln_e2e::Stack;

/// One output format as a component serves it with spin.toml's defaults.
pub struct Output {
    pub route: &'static str,
    pub max_long_side: u32,
    pub encoder: Box<dyn Encoder>,
}

pub fn outputs() -> Result<Vec<Output>> {
    Ok(vec![
        Output { route: "/v1/convert/webp", max_long_side: 2048, encoder: Box::new(WebpEncoder::new(80.0)?) },
        Output { route: "/v1/convert/avif", max_long_side: 2048, encoder: Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420)?) },
        Output { route: "/v1/convert/jpeg", max_long_side: 2048, encoder: Box::new(JpegEncoder::new(82.0)?) },
        Output { route: "/v1/thumbnail", max_long_side: 256, encoder: Box::new(PngEncoder) },
    ])
}

/// No memory or input-size limit: calibration must see every peak.
pub fn unlimited() -> Limits {
    Limits { max_input_bytes: u64::MAX, max_memory_bytes: u64::MAX, ..Limits::default() }
}

/// Whether the default limits make `output` decode `bytes` at a smaller
/// JPEG scale than without limits (the plan's fallback): such conversions
/// are measured a second time, as production runs them.
pub fn falls_back(bytes: &[u8], output: &Output) -> bool {
    let scale = |limits| {
        plan(bytes, &ConvertOptions { max_long_side: output.max_long_side, limits, metadata: Default::default() }, output.encoder.as_ref()).ok().map(|p| p.1.jpeg_scale)
    };
    matches!((scale(unlimited()), scale(Limits::default())), (Some(a), Some(b)) if a != b)
}

/// Spin variables that lift the same limits in the components (hosted
/// Spin's 128 MiB instance limit stays: a conversion above it traps).
pub const SPIN_UNLIMITED: &[(&str, &str)] =
    &[("SPIN_VARIABLE_MAX_MEMORY_BYTES", "100000000000"), ("SPIN_VARIABLE_MAX_INPUT_BYTES", "100000000000")];

/// The row for `bytes` → `output` under `limits`, all but the measurement.
pub fn planned_row(input: &Input, bytes: &[u8], output: &Output, limits: Limits) -> Result<Row> {
    let options = ConvertOptions { max_long_side: output.max_long_side, limits, metadata: Default::default() };
    let (info, plan, memory) = plan(bytes, &options, output.encoder.as_ref()).with_context(|| input.name.clone())?;
    let f = features(&info, &plan);
    Ok(Row {
        input: input.name.clone(),
        input_format: f.class.name().into(),
        progressive: info.jpeg.as_ref().is_some_and(|j| j.progressive),
        width: info.width,
        height: info.height,
        input_bytes: f.input_bytes,
        jpeg_scale: plan.jpeg_scale,
        decoded_pixels: plan.decoded.0 as u64 * plan.decoded.1 as u64,
        target_pixels: plan.target.0 as u64 * plan.target.1 as u64,
        source_bytes: f.source_bytes,
        target_bytes: f.target_bytes,
        output: output.encoder.format().name.into(),
        kind: String::new(),
        status: 0,
        peak_bytes: 0,
        old_estimate: memory.phase_peak(),
        new_estimate: memory.peak(),
    })
}

/// The native heap peak of converting `bytes` (input buffer included).
pub fn native(input: &Input, bytes: Vec<u8>, output: &Output, limits: Limits) -> Result<Row> {
    let mut row = planned_row(input, &bytes, output, limits)?;
    let options = ConvertOptions { max_long_side: output.max_long_side, limits, metadata: Default::default() };
    let len = bytes.len();
    let (result, peak) = peak_of(len, || convert(bytes, &options, output.encoder.as_ref()));
    result.with_context(|| format!("{} -> {}", input.name, row.output))?;
    row.kind = HEAP.into();
    row.peak_bytes = peak;
    Ok(row)
}

/// The component's linear-memory peak for `bytes` under `stack`, whose
/// components run with `limits` (status and no peak when the request
/// fails, e.g. traps at 128 MiB).
pub fn linear(stack: &Stack, input: &Input, bytes: &[u8], output: &Output, limits: Limits) -> Result<Row> {
    let mut row = planned_row(input, bytes, output, limits)?;
    let reply = stack.convert(output.route, bytes);
    row.kind = LINEAR.into();
    row.status = reply.status;
    if reply.status == 200 {
        let Some(value) = reply.header("x-kiln-linear-memory") else {
            bail!("{} answers without x-kiln-linear-memory: rebuild the components (scripts/build-components.sh)", output.route);
        };
        row.peak_bytes = value.parse().with_context(|| format!("x-kiln-linear-memory: {value:?}"))?;
    }
    Ok(row)
}
