//! The largest sources the memory estimate accepts per input class and
//! output, at the default 120 MiB limit (3:2 images, 2048 px outputs and
//! the 256 px thumbnail, the input taken at 0.25 bytes per pixel): the
//! figures in docs/memory-model.md and the README's `max_pixels` row.
//! `cargo test -p kiln-core --test largest_sources -- --nocapture` prints
//! them; the test asserts what the docs promise at the limit.

use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::estimate::{estimate, Plan};
use kiln_core::limits::{Limits, DEFAULT_MAX_PIXELS};
use kiln_core::probe::{ImageInfo, JpegFrame, Sampling};
use kiln_core::resize::{fit_within, jpeg_shrink_factor};
use kiln_core::InputFormat;

fn info(format: InputFormat, (w, h): (u32, u32), alpha: bool, progressive: bool, interlaced: bool) -> ImageInfo {
    let jpeg = (format == InputFormat::Jpeg).then(|| JpegFrame { progressive, components: vec![Sampling { h: 2, v: 2 }, Sampling { h: 1, v: 1 }, Sampling { h: 1, v: 1 }] });
    ImageInfo { format, width: w, height: h, has_alpha: alpha, jpeg, frames: 1, frame_pixels: w as u64 * h as u64, webp_lossless: false, interlaced }
}

/// Whether `info` fits to `encoder` at `side`, as `pipeline::plan` decides
/// (JPEG: the smallest shrink-on-load scale it may fall back to).
fn fits(info: &ImageInfo, encoder: &dyn Encoder, side: u32) -> bool {
    let (w, h) = (info.width, info.height);
    let target = fit_within(w, h, side);
    let scale = if info.format == InputFormat::Jpeg { jpeg_shrink_factor((w, h), target, 1) } else { 1 };
    let channels = if info.has_alpha && encoder.keeps_alpha() { 4 } else { 3 };
    let plan = Plan {
        input_bytes: info.pixels() / 4,
        jpeg_scale: scale,
        decoded: (w.div_ceil(scale), h.div_ceil(scale)),
        target,
        channels,
        encoder_bytes: encoder.working_bytes(target.0, target.1, channels),
        output: encoder.format().name,
        colour_bytes: 0,
    };
    estimate(info, &plan).peak() <= Limits::default().max_memory_bytes
}

/// The largest 3:2 size, in tenths of a megapixel up to `max_pixels`, that fits.
fn largest_mp(format: InputFormat, alpha: bool, progressive: bool, interlaced: bool, encoder: &dyn Encoder, side: u32) -> f64 {
    (1..=DEFAULT_MAX_PIXELS / 100_000)
        .map(|tenths| tenths as f64 / 10.0)
        .filter(|mp| {
            let w = (mp * 1e6 * 1.5).sqrt() as u32;
            fits(&info(format, (w, (w as f64 / 1.5) as u32), alpha, progressive, interlaced), encoder, side)
        })
        .last()
        .unwrap_or(0.0)
}

#[test]
fn largest_sources_per_class_and_output() {
    let encoders: Vec<(Box<dyn Encoder>, u32)> = vec![
        (Box::new(WebpEncoder::new(80.0).unwrap()), 2048),
        (Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap()), 2048),
        (Box::new(JpegEncoder::new(82.0).unwrap()), 2048),
        (Box::new(PngEncoder), 256),
    ];
    let classes = [
        ("jpeg baseline", InputFormat::Jpeg, false, false, false),
        ("jpeg progressive", InputFormat::Jpeg, false, true, false),
        ("png rgb", InputFormat::Png, false, false, false),
        ("png rgba", InputFormat::Png, true, false, false),
        ("png rgb adam7", InputFormat::Png, false, false, true),
        ("png rgba adam7", InputFormat::Png, true, false, true),
        ("webp", InputFormat::Webp, false, false, false),
        ("gif", InputFormat::Gif, false, false, false),
    ];
    println!("| input | webp | avif | jpeg | thumbnail |\n|---|---|---|---|---|");
    for (name, format, alpha, progressive, interlaced) in classes {
        let mp: Vec<f64> = encoders.iter().map(|(e, side)| largest_mp(format, alpha, progressive, interlaced, e.as_ref(), *side)).collect();
        println!("| {name} | {} |", mp.iter().map(|m| format!("{m} MP")).collect::<Vec<_>>().join(" | "));
        let limit = DEFAULT_MAX_PIXELS as f64 / 1e6;
        // A progressive JPEG too since kiln decodes it with its own lean
        // decoder when it shrinks on load (crate::decode::progressive).
        if matches!(name, "jpeg baseline" | "jpeg progressive" | "png rgb") {
            assert!(mp.iter().all(|&m| m >= limit - 0.1), "{name} must convert up to max_pixels: {mp:?}");
        }
    }
}
