//! Fuzz regressions: every input a fuzz target (fuzz/, fuzz/README.md) found
//! a crash with is kept in `tests/fuzz-regressions/<target>-<short-name>` and
//! runs here through the same call and the same checks as its target
//! (`fuzz/src/calls.rs`, `fuzz/fuzz_targets/<target>.rs`): no panic, the
//! conversion's live heap within the 120 MiB budget, and for `estimate`
//! inputs the measured peak not over the estimate. One test per input, named
//! in [`regressions!`]; `every_input_has_a_test` keeps the list and the folder
//! in step. An input whose bug is not fixed yet carries
//! `#[ignore = "fails until <what> is fixed"]`.

#[path = "../../../fuzz/src/regressions.rs"]
#[macro_use]
mod regressions;
#[path = "../../../fuzz/src/calls.rs"]
mod calls;

use kiln_core::alloc_counter::{peak_of, Counting};
use std::path::PathBuf;
use std::sync::Mutex;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocator's counters are process-wide: one measured run at a time.
static MEASURE: Mutex<()> = Mutex::new(());

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

/// Runs the input file `name` as its target (the name's prefix) does.
fn run(name: &str) {
    let bytes = std::fs::read(folder().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let _one = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    match name.split_once('-').map(|(target, _)| target) {
        Some("sniff_probe") => calls::sniff_probe(&bytes),
        Some("decode") => within_budget(bytes, |input| calls::decode(input).map(|_| ())),
        Some("decode_many") => within_budget(bytes, |input| calls::decode_many(input).map(|_| ())),
        Some("estimate") => calls::estimate(&bytes),
        Some("progressive") => within_budget(bytes, |input| {
            calls::progressive(&input);
            Ok::<(), ()>(())
        }),
        _ => panic!("{name}: no target of that name (sniff_probe, decode, decode_many, estimate, progressive)"),
    }
}

/// `decode`, `decode_many`: no panic, and the live heap within the budget
/// (the fuzz targets abort at the allocation that breaks it; this measures
/// the peak, which fails the same inputs).
fn within_budget<E: std::fmt::Debug>(input: Vec<u8>, call: impl FnOnce(Vec<u8>) -> Result<(), E>) {
    let budget = calls::limits().max_memory_bytes;
    let len = input.len();
    let (result, peak) = peak_of(len, || call(input));
    assert!(peak <= budget, "heap peak {peak} bytes over the budget of {budget} (result {result:?})");
}

regressions! {
    /// A 212-byte lossless WebP stating 8278x2185 without alpha: image-webp
    /// decodes it into an RGBA scratch besides the RGB output (7 B/px), 126
    /// MB in all, which the calibrated model (fitted on lossy WebP) put under
    /// 120 MiB. Lossless WebP now has the phase model as its floor: 413.
    decode_webp_lossless_rgb_8278x2185 => "decode-webp-lossless-rgb-8278x2185",
    /// A 220-byte lossy 32x24 WebP whose DCT partition claims 16 MB:
    /// image-webp allocates it before reading it; the estimate said 9.5 MB.
    estimate_webp_lossy_partition_claims_16mb => "estimate-webp-lossy-partition-claims-16mb",
    /// An interlaced RGB PNG of 16777216x2: the png crate's line buffer
    /// (50 MB) on top of the 100 MB output. Row buffers are now counted per
    /// column in both models (`estimate::phases::side_bytes`): 413.
    decode_png_interlaced_16777216x2 => "decode-png-interlaced-16777216x2",
    /// A 4x4 palette PNG whose PLTE is 49 bytes: png 0.18 panicked
    /// expanding the palette (index out of range). Now refused before
    /// decoding: 422.
    decode_many_png_palette_of_49_bytes => "decode_many-png-palette-of-49-bytes",
    /// A 64001x1 GIF to the 256 px thumbnail: the resampler's filter
    /// coefficients (4 MB, proportional to the source's sides) were in
    /// neither model; the estimate said 2.1 MB.
    estimate_gif_64001x1_resize_coefficients => "estimate-gif-64001x1-resize-coefficients",
    /// The first 64 KiB of a 2560x1600 photo, decoded at 1/4 natively:
    /// 22.9 MB against an estimate of 21.8 MB, the difference being
    /// coefficient rows queued for jpeg-decoder's per-component threads,
    /// which the wasm build (calibrated, enforced) does not have. The check
    /// now allows natively what that queue may hold (`calls::estimate`).
    estimate_jpeg_2560x1600_prefix_native_worker => "estimate-jpeg-2560x1600-prefix-native-worker",
    /// A 637-byte lossy WebP stating 2305x3664 whose partition claims
    /// 16 MB: output, YUV planes and the claimed partition held 53.2 MB
    /// against an estimate of 49.3 MB; the lossy floor lacked the planes.
    estimate_webp_lossy_2305x3664_partition_and_planes => "estimate-webp-lossy-2305x3664-partition-and-planes",
    /// A lossy 32x24 WebP claiming a 16 MB partition, followed by a chunk
    /// named VP8L: the probe called it lossless and gave it the lossless
    /// floor, which has no partition. Only the first bitstream (the one
    /// the decoder reads) decides now.
    estimate_webp_lossy_then_vp8l_chunk => "estimate-webp-lossy-then-vp8l-chunk",
    /// A 1833-byte baseline JPEG (6176x1, 4 components, one scan per
    /// component) with a DNL marker redefining its height: zune-jpeg
    /// 0.5.15 panicked in its IDCT writing past its output
    /// (`Option::unwrap()` on `None`). A DNL (allowed only with a height of
    /// 0, which the probe refuses) or a second frame header is now refused: 422.
    decode_jpeg_dnl_marker => "decode-jpeg-dnl-marker",
    /// A 341-byte 9x9 progressive JPEG to the thumbnail at full size: once
    /// shrunk-on-load progressive JPEGs got a class of their own, the
    /// thumbnail's jpeg-progressive class kept one calibration size, and
    /// the steepest slope through that one point gave a negative intercept:
    /// an estimate of 0 bytes against 352 KB measured. A single-size class's
    /// intercept is now at least the phase model's fixed 2 MiB.
    estimate_jpeg_progressive_9x9_single_size_class => "estimate-jpeg-progressive-9x9-single-size-class",
}
