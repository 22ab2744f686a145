//! Lossy WebP with libwebp (C, via the `webp` crate): the reference encoder,
//! BSD-licensed, built for wasm32-wasip2 with clang + wasi-libc.

use super::{check_quality, pixels, Encoder, OutputFormat, MIB, WEBP};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

#[derive(Debug, Clone)]
pub struct WebpEncoder {
    pub quality: f32,
    /// libwebp's speed/size trade-off, 0 (fast) ..= 6 (small).
    pub method: i32,
}

impl WebpEncoder {
    pub fn new(quality: f32) -> Result<Self, KilnError> {
        Ok(WebpEncoder { quality: check_quality(quality)?, method: 4 })
    }
}

impl Encoder for WebpEncoder {
    fn format(&self) -> OutputFormat {
        WEBP
    }

    fn keeps_alpha(&self) -> bool {
        true
    }

    fn working_bytes(&self, width: u32, height: u32, _channels: u32) -> u64 {
        // YUVA picture (2.5 B/px), per-macroblock state and tokens, output.
        pixels(width, height) * 6 + 4 * MIB
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        let layout = match img.layout {
            PixelLayout::Rgb8 => webp::PixelLayout::Rgb,
            PixelLayout::Rgba8 => webp::PixelLayout::Rgba,
        };
        let encoder = webp::Encoder::new(&img.pixels, layout, img.width, img.height);
        let mut config = webp::WebPConfig::new().map_err(|_| KilnError::Encode("libwebp config init".into()))?;
        config.lossless = 0;
        config.quality = self.quality;
        config.method = self.method;
        let memory = encoder
            .encode_advanced(&config)
            .map_err(|e| KilnError::Encode(format!("libwebp: {e:?}")))?;
        Ok(memory.to_vec())
    }

    fn as_webp(&self) -> Option<&WebpEncoder> {
        Some(self)
    }
}
