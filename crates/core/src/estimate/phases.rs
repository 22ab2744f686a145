//! The hand-written phase model: what each phase of a conversion holds,
//! from the codecs' documented buffers. The conversion frees as it goes, so
//! its peak is the largest phase: decode (input bytes + decoder state +
//! decoded pixels), resize (decoded + resized + the resampler's
//! intermediate), encode (resized + encoder state + output); a streamed
//! PNG merges decode and resize into one phase that holds rows, not images. It was the
//! limit before the calibrated model ([`super::calibration`]); it still
//! explains a 413 phase by phase, and guards plans outside the calibrated
//! range.

use super::{MemoryEstimate, Plan};
use crate::probe::ImageInfo;
use crate::resize::stream::RowResizer;
use crate::sniff::InputFormat;

/// Fixed overhead: allocator slack, small buffers, metadata parsing.
pub const BASE_BYTES: u64 = 2 * 1024 * 1024;

/// The largest DCT partition a lossy WebP's 24-bit size field can state:
/// image-webp allocates it before reading it, so a few bytes claiming it
/// cost this much, briefly, whatever the image's size.
pub const VP8_MAX_PARTITION_BYTES: u64 = (1 << 24) - 1;

/// Each phase's bytes for `plan` (no calibrated value).
pub fn phases(info: &ImageInfo, plan: &Plan) -> MemoryEstimate {
    let px = |(w, h): (u32, u32)| w as u64 * h as u64;
    let decoded_ch: u64 = if info.has_alpha { 4 } else { 3 };
    let decoded = px(plan.decoded) * decoded_ch;
    let target = px(plan.target) * plan.channels as u64;
    let (decode_lines, resize_lines) = side_bytes(info, plan);
    if crate::decode::streams(info) {
        return streamed(plan, decode_lines + resize_lines);
    }
    let decode = (plan.input_bytes + decoder_bytes(info, plan.jpeg_scale) + decoded + decode_lines).max(uncalibrated_decode(info, plan));
    let resize = if plan.decoded == plan.target {
        decoded
    } else {
        // Two-pass resampler: an intermediate of target width x source
        // height, and a premultiplied copy of the source when alpha is used.
        let intermediate = plan.target.0 as u64 * plan.decoded.1 as u64 * decoded_ch;
        let premultiplied = if info.has_alpha { decoded } else { 0 };
        decoded + target + intermediate + premultiplied + resize_lines
    };
    // Orientation and alpha flattening each make one copy of the target.
    let encode = 2 * target + plan.encoder_bytes;
    MemoryEstimate { decode, resize, encode, calibrated: None }
}

/// A streamed decode ([`crate::resize::stream`]) has no resize phase: the
/// input, the decoder's and the resampler's rows (`lines`), the resampler's
/// window and the resized image are alive together, and an RGBA result
/// found opaque everywhere is copied to RGB once.
fn streamed(plan: &Plan, lines: u64) -> MemoryEstimate {
    let target = plan.target.0 as u64 * plan.target.1 as u64 * plan.channels as u64;
    let opaque_copy = if plan.channels == 4 { target / 4 * 3 } else { 0 };
    let window = RowResizer::working_bytes(plan.decoded, plan.target, plan.channels);
    let decode = plan.input_bytes + lines + window + target + opaque_copy;
    let encode = 2 * target + plan.encoder_bytes;
    MemoryEstimate { decode, resize: 0, encode, calibrated: None }
}

/// Bytes per source column a PNG decoder holds in row buffers: the raw
/// current and previous rows (up to 8 B/px at 16-bit RGBA), the expanded
/// row, and an interlaced image's line buffer.
const PNG_ROW_BYTES_PER_COLUMN: u64 = 32;
/// Bytes per source row and column of the Lanczos3 resampler's filter
/// coefficients: a window of at most 6·(source/target) + 2 taps per output
/// pixel, so at most 8 taps per source line, each an f64 and a normalised
/// 32-bit copy.
const RESIZE_BYTES_PER_LINE: u64 = 8 * 12;

/// Memory proportional to an image's sides rather than its area: (decode,
/// resize). A photo's is under a megabyte, lost in the calibration's
/// intercepts; a 16777216x2 PNG's row is 50 MB, and a 64001x1 GIF's filter
/// coefficients 4 MB. Both models add it (the fuzzer found both).
pub fn side_bytes(info: &ImageInfo, plan: &Plan) -> (u64, u64) {
    let decode = if info.format == InputFormat::Png { plan.decoded.0 as u64 * PNG_ROW_BYTES_PER_COLUMN } else { 0 };
    let resize = if plan.decoded == plan.target { 0 } else { (plan.decoded.0 as u64 + plan.decoded.1 as u64) * RESIZE_BYTES_PER_LINE };
    (decode, resize)
}

/// What a decoder may hold that no calibration input made it hold (the
/// calibration measured lossy WebP only), so the calibrated model cannot
/// know it: a floor under the decode phase and the calibrated peak, without
/// [`BASE_BYTES`]. Lossless WebP: the whole phase model's decode phase (an
/// RGBA scratch buffer besides an RGB output, transform buffers); lossy
/// WebP: the output, the YUV planes and the largest partition a header
/// can claim.
pub fn uncalibrated_decode(info: &ImageInfo, plan: &Plan) -> u64 {
    if info.format != InputFormat::Webp {
        return 0;
    }
    let decoded = plan.decoded.0 as u64 * plan.decoded.1 as u64 * if info.has_alpha { 4 } else { 3 };
    if info.webp_lossless {
        plan.input_bytes + decoder_bytes(info, plan.jpeg_scale) + decoded
    } else {
        // Y, U and V planes (1.5 B/px) are alive beside it.
        let yuv = info.pixels() * 3 / 2;
        plan.input_bytes + decoded + yuv + VP8_MAX_PARTITION_BYTES
    }
}

/// Decoder-internal memory (beyond its output buffer) for `info` at `scale`.
fn decoder_bytes(info: &ImageInfo, scale: u32) -> u64 {
    let pixels = info.pixels();
    match info.format {
        InputFormat::Jpeg => jpeg_decoder_bytes(info, scale),
        // Expanded output before our RGB(A) widening, plus row buffers.
        // (Its row buffers are in `side_bytes`.)
        InputFormat::Png => pixels * 4,
        // Full-screen canvas plus the first frame's RGBA buffer.
        InputFormat::Gif => pixels * 4,
        // Lossy: YUV planes; lossless: an RGBA scratch (image-webp decodes
        // RGBA, then copies to the RGB output) + transform buffers.
        InputFormat::Webp => pixels * 8,
    }
}

fn jpeg_decoder_bytes(info: &ImageInfo, scale: u32) -> u64 {
    let Some(frame) = &info.jpeg else { return 0 };
    let vmax = frame.components.iter().map(|c| c.v as u64).max().unwrap_or(1);
    let (padded_w, padded_h, samples) = jpeg_samples(info);
    let scale2 = (scale as u64).pow(2);
    if crate::decode::lean_progressive(info, scale) {
        // kiln's progressive decoder: the coefficients it keeps, then the
        // scaled planes (the RGB output is the decoded image).
        return crate::decode::progressive::working_bytes(&jpeg_blocks(info), scale);
    }
    // Other progressive JPEGs keep every coefficient (i16) until the last scan.
    let coefficients = if frame.progressive { samples * 2 } else { 0 };
    let components = frame.components.len() as u64;
    let working = if scale > 1 {
        // jpeg-decoder: component planes at the scaled size, alive with its
        // interleaved output. RGB output is the decoded image itself; gray
        // (1 B/px) and CMYK (4 B/px) outputs are converted by a copy.
        let converted = if components == 3 { 0 } else { padded_w * padded_h / scale2 * components };
        samples / scale2 + converted
    } else {
        // zune-jpeg: a few MCU rows per component, and a 4-channel pass for CMYK.
        let rows = padded_w * 16 * vmax * components * 4;
        rows + if components == 4 { info.pixels() * 4 } else { 0 }
    };
    coefficients + working
}

/// Blocks of each JPEG component, padded to whole MCUs (w, h), as kiln's
/// progressive decoder stores them.
pub fn jpeg_blocks(info: &ImageInfo) -> Vec<(usize, usize)> {
    let Some(frame) = &info.jpeg else { return Vec::new() };
    let sampling: Vec<_> = frame.components.iter().map(|c| (c.h as usize, c.v as usize)).collect();
    crate::decode::progressive::stored_blocks(info.width as usize, info.height as usize, &sampling)
}

/// MCU-padded width and height of a JPEG, and its full-resolution samples
/// summed over components (subsampling applied). Zero for other formats.
pub fn jpeg_samples(info: &ImageInfo) -> (u64, u64, u64) {
    let Some(frame) = &info.jpeg else { return (0, 0, 0) };
    let hmax = frame.components.iter().map(|c| c.h as u64).max().unwrap_or(1);
    let vmax = frame.components.iter().map(|c| c.v as u64).max().unwrap_or(1);
    let padded_w = (info.width as u64).div_ceil(8 * hmax) * 8 * hmax;
    let padded_h = (info.height as u64).div_ceil(8 * vmax) * 8 * vmax;
    let samples = frame.components.iter().map(|c| padded_w * c.h as u64 / hmax * (padded_h * c.v as u64 / vmax)).sum();
    (padded_w, padded_h, samples)
}
