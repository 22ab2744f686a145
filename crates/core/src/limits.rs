//! Limits that protect a function's memory and time budget. Every limit is
//! checked before the expensive work it guards: bytes before parsing, pixels
//! and the memory estimate before decoding.

/// Default cap on decoded source pixels: 100 MP (imgproxy: 50 MP). A baseline
/// JPEG this large converts within 128 MiB by shrink-on-load, a
/// non-interlaced PNG by streaming it row by row into the resizer; formats
/// that must be decoded whole (a progressive JPEG's coefficients, an
/// interlaced PNG, WebP, GIF) are refused by the memory estimate (413) long
/// before this.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Default cap on input bytes a function accepts (storage mode may exceed
/// the 10 MiB request limit of hosted Spin; direct mode cannot).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 40 * 1024 * 1024;
/// Default cap on the estimated peak memory: hosted Spin gives 128 MiB per
/// instance. The estimate is calibrated on whole linear memory (module,
/// stack and allocator slack included) with a 5 % margin, so 8 MiB of
/// headroom is kept on top (docs/memory-model.md).
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 120 * 1024 * 1024;

/// Default cap on the frames of an animation (imgproxy has the same knob).
pub const DEFAULT_MAX_ANIMATION_FRAMES: u64 = 1000;
/// Default cap on frames × screen pixels of an animation made into an
/// animated WebP ([`crate::animation`]): each frame is composited and
/// resized on the whole screen and encoded as (at most) the whole output,
/// so this is the work, however small the frames' rectangles. 50 MP, as
/// imgproxy's default for all frames of an animation (`max_src_resolution`
/// sums them); in the WebP component on a 2-core shared machine frames that
/// change entirely encode at 2.2–7.9 MP/s, so the limit is 6–23 s, inside
/// hosted Spin's 30 s (docs/animation.md).
pub const DEFAULT_MAX_ANIMATION_PIXELS: u64 = 50_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_input_bytes: u64,
    /// Source pixels; for an animation, the pixels of all its frames.
    pub max_pixels: u64,
    pub max_memory_bytes: u64,
    /// Frames of an animated input.
    pub max_animation_frames: u64,
    /// Frames × screen pixels of an animation made into an animated WebP.
    pub max_animation_pixels: u64,
    /// An embedded ICC profile's bytes (decompressed).
    pub max_icc_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_pixels: DEFAULT_MAX_PIXELS,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_animation_frames: DEFAULT_MAX_ANIMATION_FRAMES,
            max_animation_pixels: DEFAULT_MAX_ANIMATION_PIXELS,
            max_icc_bytes: crate::colour::DEFAULT_MAX_ICC_BYTES,
        }
    }
}
