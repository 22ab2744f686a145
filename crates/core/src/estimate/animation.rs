//! The memory of an animated conversion ([`crate::animation`]): a GIF or
//! an animated WebP is decoded one frame at a time onto a canvas, each canvas resized and
//! handed to libwebp's animation encoder, so nothing grows with the frame
//! count but the encoded frames. Every part below is alive for the whole
//! loop, so each phase lists what is held besides its own buffers, and the
//! peak is the largest phase (no calibrated model: the phase model is the
//! limit). The figures are upper bounds read from the code:
//!
//! - the GIF side, per screen pixel: the canvas (4 B), the current frame's
//!   RGBA buffer and its palette indices (at most 5 B), the rectangle a
//!   `Previous` disposal restores (at most 4 B): 13 B;
//! - or the WebP side (image-webp 0.2's `read_frame`), per screen pixel:
//!   its canvas (4 B), one decoded frame (lossy: YUV planes 1.5 B and the
//!   RGB(A) frame 3-4 B; lossless: the RGBA frame 4 B), its output (RGB,
//!   3 B, when the animation has no alpha) and kiln's RGBA canvas (4 B):
//!   at most 16.5 B, counted as [`WEBP_DECODER_BYTES`] (measured:
//!   `animated_webp_decoding_stays_within_the_estimate`);
//! - libwebp's `WebPAnimEncoder` (src/mux/anim_encode.c), per output pixel:
//!   three ARGB canvases allocated at creation (`curr_canvas_copy_`,
//!   `prev_canvas_`, `prev_canvas_disposed_`: 12 B), the `WebPPicture` a
//!   frame is imported into (4 B, freed after each frame) and one frame's
//!   lossy encode (YUVA planes, macroblock state, output: the still
//!   encoder's 6 B + 4 MiB); key frames are off, so one encoded frame
//!   waits at a time besides those already in the muxer;
//! - the encoded frames: the muxer keeps each until the end, and assembling
//!   makes the file once more (then the encoder is freed before kiln copies
//!   it out): twice [`encoded_bytes_per_pixel`] per output pixel per frame.

use super::phases::side_bytes;
use super::{MemoryEstimate, Plan};
use crate::probe::ImageInfo;

/// Encoded bytes per output pixel per frame the estimate reserves at
/// `quality`. Lossy WebP of per-pixel noise (every pixel a random colour,
/// a new draw each frame: the worst case) measured 0.72 B/px at quality 80,
/// 0.88 at 90 and 1.18 at 100 (`encoded_size_stays_within_the_estimate` in
/// crate::animation checks 80 and 90); real animations, which change part
/// of the frame, need far less.
pub fn encoded_bytes_per_pixel(quality: f32) -> f64 {
    if quality <= 90.0 { 1.0 } else { 1.25 }
}

/// Bytes per screen pixel the GIF side holds (see the module's notes).
const GIF_DECODER_BYTES: u64 = 4 + 5 + 4;
/// Bytes per screen pixel the WebP side holds (see the module's notes).
pub const WEBP_DECODER_BYTES: u64 = 18;

/// Bytes per output pixel of libwebp's three ARGB canvases.
const ENCODER_CANVAS_BYTES: u64 = 12;
/// Bytes per output pixel while one frame is added: the imported picture
/// (4) and the lossy encode of at most the whole canvas (6).
const ENCODER_FRAME_BYTES: u64 = 4 + 6;
const ENCODER_FRAME_INTERCEPT: u64 = 4 * 1024 * 1024;

/// The estimate for converting `info` (an animation) as `plan` says
/// (`plan.decoded` is the screen, `plan.target` the output canvas) at
/// lossy `quality`.
pub fn estimate(info: &ImageInfo, plan: &Plan, quality: f32) -> MemoryEstimate {
    let px = |(w, h): (u32, u32)| w as u64 * h as u64;
    let (screen, target) = (px(plan.decoded), px(plan.target));
    let encoded = (2.0 * encoded_bytes_per_pixel(quality) * target as f64 * info.frames as f64).ceil() as u64;
    // Held from the first frame to the end.
    let decoder = if info.format == crate::InputFormat::Webp { WEBP_DECODER_BYTES } else { GIF_DECODER_BYTES };
    let held = plan.input_bytes + screen * decoder + target * ENCODER_CANVAS_BYTES + encoded + plan.colour_bytes;
    let resize = if plan.decoded == plan.target {
        0
    } else {
        // fast_image_resize: a premultiplied copy of the canvas, the
        // intermediate (target width × screen height), the result, and
        // the filter coefficients.
        screen * 4 + plan.target.0 as u64 * plan.decoded.1 as u64 * 4 + target * 4 + side_bytes(info, plan).1
    };
    // The resized frame (when it is a copy) stays alive while it is encoded.
    let resized = if resize == 0 { 0 } else { target * 4 };
    MemoryEstimate {
        decode: held,
        resize: held + resize,
        encode: held + resized + target * ENCODER_FRAME_BYTES + ENCODER_FRAME_INTERCEPT,
        calibrated: None,
    }
}

