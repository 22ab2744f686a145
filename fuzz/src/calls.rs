//! The image targets' calls into kiln-core, with production's limits
//! (`Limits::default()`: 40 MiB input, 50 MP, 120 MiB estimated peak).
//! crates/core/tests/fuzz_regressions.rs includes this file by path and
//! makes the same calls on committed inputs. Plain kiln-core only.

use kiln_core::alloc_counter::peak_of;
use kiln_core::encode::{jpeg::JpegEncoder, png::PngEncoder, Encoder};
use kiln_core::error::KilnError;
use kiln_core::{convert, convert_many, orient, pipeline::plan, probe::probe, sniff::sniff};
use kiln_core::{ConvertOptions, Converted, ConvertedMany, InputFormat, Limits, Output};

/// Long side of the `decode` target's output (the thumbnail's size: the
/// cheapest resize and encode, so the time goes to decoding).
pub const DECODE_SIDE: u32 = 256;
/// Quality of the JPEG encoder (production's default `jpeg_quality`).
pub const JPEG_QUALITY: f32 = 75.0;

/// The limits every image target runs under: production's defaults.
pub fn limits() -> Limits {
    Limits::default()
}

/// `sniff_probe`: sniffing, probing and the EXIF orientation read, all
/// that runs before the estimate. Panics on a finding: a probe that
/// succeeds names the sniffed format, a non-zero size, and JPEG frame facts
/// exactly for a JPEG.
pub fn sniff_probe(data: &[u8]) {
    let format = sniff(data);
    let _ = orient::read_orientation(data);
    if let Ok(info) = probe(data) {
        assert_eq!(Some(info.format), format, "probe and sniff disagree");
        assert!(info.width > 0 && info.height > 0, "probe accepted a zero dimension: {info:?}");
        assert_eq!(info.jpeg.is_some(), info.format == InputFormat::Jpeg, "JPEG frame facts on {info:?}");
    }
}

/// `decode`: one conversion to a PNG thumbnail through the whole pipeline.
pub fn decode(input: Vec<u8>) -> Result<Converted, KilnError> {
    let options = ConvertOptions { max_long_side: DECODE_SIDE, limits: limits(), metadata: Default::default() };
    convert(input, &options, &PngEncoder)
}

/// `progressive`: kiln's progressive JPEG decoder alone, at the DCT scale
/// `data`'s length picks, allowed what production allows a decoder for a
/// 100 MP JPEG. Panics on a finding: a decoded image whose buffer is not
/// its size, or whose size is not the frame header's scaled (when the
/// probe reads one).
pub fn progressive(data: &[u8]) {
    let scale = [1, 2, 4, 8][data.len() % 4];
    let Ok(image) = kiln_core::decode::progressive::decode_scaled(data, scale, PROGRESSIVE_ALLOWANCE) else { return };
    assert_eq!(image.pixels.len() as u64, image.width as u64 * image.height as u64 * 3, "{}x{} image", image.width, image.height);
    if let Ok(info) = probe(data) {
        assert_eq!((image.width, image.height), (info.width.div_ceil(scale), info.height.div_ceil(scale)), "scale 1/{scale} of {info:?}");
    }
}

/// What the `progressive` target lets the decoder hold besides its output.
pub const PROGRESSIVE_ALLOWANCE: u64 = 64 << 20;

/// `decode_many`: decode once into a 1024 px JPEG and a 256 px PNG
/// thumbnail derived from the same base (the combined converter's path).
pub fn decode_many(input: Vec<u8>) -> Result<ConvertedMany, KilnError> {
    let jpeg = JpegEncoder::new(JPEG_QUALITY).expect("a valid quality");
    let outputs = [
        Output { max_long_side: 1024, encoder: &jpeg, placeholder: false, widths: &[], metadata: Default::default() },
        Output { max_long_side: DECODE_SIDE, encoder: &PngEncoder, placeholder: true, widths: &[], metadata: Default::default() },
    ];
    convert_many(input, &outputs, limits())
}

/// `estimate`: the encoder and long side an input of `len` bytes is
/// converted with: even lengths to a 2048 px JPEG (the variants' size),
/// odd ones to the 256 px PNG thumbnail, so both models are exercised.
pub fn estimate_case(len: usize) -> (Box<dyn Encoder>, u32) {
    if len.is_multiple_of(2) {
        (Box::new(JpegEncoder::new(JPEG_QUALITY).expect("a valid quality")), 2048)
    } else {
        (Box::new(PngEncoder), DECODE_SIDE)
    }
}

/// `estimate`: if `plan` accepts `data`, converts it and panics when the
/// measured peak of live heap bytes (input included) is over the estimate
/// the limits were checked against. Needs `kiln_core::alloc_counter::Counting`
/// as the global allocator.
///
/// Natively, jpeg-decoder (the shrink-on-load JPEG decoder) hands each
/// component's coefficient rows to a thread of its own through an unbounded
/// channel, for outputs over 128x128; in wasm, where the estimate is
/// calibrated and enforced, it decodes in place. Rows waiting in that
/// channel (at most the whole image's coefficients, 2 bytes per sample) are
/// memory only the native build holds, and how many wait depends on the
/// scheduler: for such decodes the check allows that much on top of the
/// estimate, and a peak over it is measured twice more, the smallest
/// counting. (The `decode` targets still hold them to the 120 MiB budget.)
pub fn estimate(data: &[u8]) {
    let (encoder, side) = estimate_case(data.len());
    let options = ConvertOptions { max_long_side: side, limits: limits(), metadata: Default::default() };
    let Ok((info, plan, estimate)) = plan(data, &options, encoder.as_ref()) else { return };
    let measure = || {
        let input = data.to_vec();
        peak_of(input.len(), || convert(input, &options, encoder.as_ref()).map(|out| out.bytes.len()))
    };
    let allowed = estimate.peak() + native_jpeg_queue(&info, plan.jpeg_scale, plan.decoded);
    let (result, first) = measure();
    if first <= allowed {
        return;
    }
    let peaks = [first, measure().1, measure().1];
    let peak = *peaks.iter().min().expect("three peaks");
    assert!(
        peak <= allowed,
        "{}x{} {:?} -> {} at {side} (scale 1/{}): measured peak {peak} bytes (of {peaks:?}) > estimate {} bytes ({estimate:?}; allowed {allowed}; result {:?})",
        info.width,
        info.height,
        info.format,
        encoder.format().name,
        plan.jpeg_scale,
        estimate.peak(),
        result.map_err(|e| e.to_string()),
    );
}

/// What natively only jpeg-decoder's threaded worker may queue (see
/// [`estimate`]): the image's coefficients, 2 bytes per sample, when it
/// decodes a JPEG at a reduced scale to more than 128x128 pixels.
fn native_jpeg_queue(info: &kiln_core::probe::ImageInfo, scale: u32, decoded: (u32, u32)) -> u64 {
    // (jpeg-decoder 0.3.2 compares width x width, not width x height.)
    let threaded = info.format == InputFormat::Jpeg && scale > 1 && decoded.0 as u64 * decoded.0 as u64 > 128 * 128;
    if threaded { kiln_core::estimate::phases::jpeg_samples(info).2 * 2 } else { 0 }
}
