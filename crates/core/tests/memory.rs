//! Checks the pre-decode memory estimate (the calibrated model of
//! docs/memory-model.md) against the real peak of heap allocations,
//! measured with a counting global allocator, for every corpus image and
//! every pure-Rust encoder, and reports the estimate/measured ratio next to
//! the old phase model's. (libwebp allocates through C malloc, which this
//! allocator cannot see natively; the WebP model is calibrated on the
//! component's linear memory under `spin up` by kiln-calibrate instead.)

mod common;

use common::read;
use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, Encoder};
use kiln_core::{convert, ConvertOptions, Limits};
use kiln_core::alloc_counter::{peak_of, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (corpus file, max long side, memory limit in MiB or 0 for none).
const IMAGES: &[(&str, u32, u64)] = &[
    ("photos/path-4000x3000-12mp.jpg", 2048, 0),
    ("photos/fallenleaf-4958x6198-31mp.jpg", 2048, 0),
    // Under the default 112 MiB limit the 31 MP photo falls back to a 1/2
    // DCT-scaled decode and must then stay inside the limit.
    ("photos/fallenleaf-4958x6198-31mp.jpg", 2048, 112),
    ("photos/colorfulcups-2560x1600.jpg", 2048, 0),
    ("photos/path-4000x3000-12mp.jpg", 256, 0),
    ("photos/fallenleaf-4958x6198-31mp.jpg", 256, 0),
    ("features/progressive.jpg", 2048, 0),
    ("features/cmyk.jpg", 2048, 0),
    ("features/gray.jpg", 256, 0),
    ("features/alpha.png", 2048, 0),
    ("features/rgb16.png", 2048, 0),
    ("features/palette.png", 256, 0),
    ("features/animated.gif", 2048, 0),
    ("features/input.webp", 2048, 0),
];

/// One test function: the allocator counters are process-wide.
#[test]
fn estimate_is_never_below_the_measured_peak() {
    let encoders: Vec<Box<dyn Encoder>> = vec![
        Box::new(JpegEncoder::new(82.0).unwrap()),
        Box::new(PngEncoder),
        Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap()),
    ];
    let mut report = Vec::new();
    for &(name, side, limit_mib) in IMAGES {
        for encoder in &encoders {
            let input = read(name);
            let max_memory_bytes = if limit_mib == 0 { u64::MAX } else { limit_mib << 20 };
            let options = ConvertOptions { max_long_side: side, limits: Limits { max_memory_bytes, ..Limits::default() }, metadata: Default::default() };
            // The input buffer is live before convert starts: count it.
            let len = input.len();
            let (out, peak) = peak_of(len, || convert(input, &options, encoder.as_ref()).unwrap());
            let estimate = out.estimate.peak();
            assert_eq!(out.estimate.calibrated, Some(estimate), "{} has no calibrated model", encoder.format().name);
            report.push(format!(
                "{name:45} {side:5} {:9} scale 1/{} measured {:6.1} MiB estimate {:6.1} MiB ({:.2}x; phase model {:.2}x)",
                encoder.format().name,
                out.jpeg_scale,
                peak as f64 / 1048576.0,
                estimate as f64 / 1048576.0,
                estimate as f64 / peak as f64,
                out.estimate.phase_peak() as f64 / peak as f64
            ));
            assert!(peak <= max_memory_bytes, "{name}: measured {peak} over the limit");
            assert!(estimate >= peak, "{name} -> {} at {side}: estimate {estimate} < measured peak {peak}", encoder.format().name);
        }
    }
    println!("{}", report.join("\n"));
}
