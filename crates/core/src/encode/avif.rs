//! AVIF with ravif (rav1e, pure Rust). Speed and quality are parameters:
//! in wasm rav1e has no SIMD kernels, so the speed preset decides whether a
//! conversion fits a 30 s request.

use super::{check_quality, pixels, Encoder, OutputFormat, AVIF, MIB};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use rgb::FromSlice;

#[derive(Debug, Clone)]
pub struct AvifEncoder {
    pub quality: f32,
    /// rav1e speed preset, 1 (slow, small) ..= 10 (fast).
    pub speed: u8,
}

impl AvifEncoder {
    pub fn new(quality: f32, speed: u8) -> Result<Self, KilnError> {
        if !(1..=10).contains(&speed) {
            return Err(KilnError::BadParameter(format!("AVIF speed must be between 1 and 10, got {speed}")));
        }
        Ok(AvifEncoder { quality: check_quality(quality)?, speed })
    }
}

impl Encoder for AvifEncoder {
    fn format(&self) -> OutputFormat {
        AVIF
    }

    fn keeps_alpha(&self) -> bool {
        true
    }

    fn working_bytes(&self, width: u32, height: u32, channels: u32) -> u64 {
        // YUV planes, rav1e's frame/reference copies with padding, tiles,
        // and a second pass for alpha.
        let per_pixel = if channels == 4 { 28 } else { 20 };
        pixels(width, height) * per_pixel + 8 * MIB
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        let encoder = ravif::Encoder::new()
            .with_quality(self.quality)
            .with_alpha_quality(self.quality)
            .with_speed(self.speed)
            .with_bit_depth(ravif::BitDepth::Eight)
            .with_num_threads(Some(1));
        let (w, h) = (img.width as usize, img.height as usize);
        let result = match img.layout {
            PixelLayout::Rgb8 => encoder.encode_rgb(ravif::Img::new(img.pixels.as_rgb(), w, h)),
            PixelLayout::Rgba8 => encoder.encode_rgba(ravif::Img::new(img.pixels.as_rgba(), w, h)),
        };
        result.map(|e| e.avif_file).map_err(|e| KilnError::Encode(format!("ravif: {e}")))
    }
}
