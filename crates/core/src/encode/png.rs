//! 8-bit PNG (RGB or RGBA), strongly compressed: the thumbnail format.

use super::{pixels, Encoder, OutputFormat, MIB, PNG};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

#[derive(Debug, Clone, Default)]
pub struct PngEncoder;

impl Encoder for PngEncoder {
    fn format(&self) -> OutputFormat {
        PNG
    }

    fn keeps_alpha(&self) -> bool {
        true
    }

    fn working_bytes(&self, width: u32, height: u32, channels: u32) -> u64 {
        // Filtered rows and the deflate output, at worst the raw size each.
        pixels(width, height) * channels as u64 * 2 + MIB
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        let err = |e: png::EncodingError| KilnError::Encode(format!("png: {e}"));
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, img.width, img.height);
        encoder.set_color(match img.layout {
            PixelLayout::Rgb8 => png::ColorType::Rgb,
            PixelLayout::Rgba8 => png::ColorType::Rgba,
        });
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(&img.pixels).map_err(err)?;
        writer.finish().map_err(err)?;
        Ok(out)
    }
}
