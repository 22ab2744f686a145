//! Progressive baseline-compatible JPEG (4:2:0) with jpeg-encoder.

use super::{check_quality, pixels, Encoder, OutputFormat, JPEG, MIB};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

#[derive(Debug, Clone)]
pub struct JpegEncoder {
    pub quality: u8,
}

impl JpegEncoder {
    pub fn new(quality: f32) -> Result<Self, KilnError> {
        Ok(JpegEncoder { quality: check_quality(quality)?.round() as u8 })
    }
}

impl Encoder for JpegEncoder {
    fn format(&self) -> OutputFormat {
        JPEG
    }

    fn keeps_alpha(&self) -> bool {
        false
    }

    fn working_bytes(&self, width: u32, height: u32, _channels: u32) -> u64 {
        // Progressive mode keeps every block's coefficients (i16) for the
        // scans, 4:2:0 = 1.5 samples/px, plus the output stream.
        pixels(width, height) * 6 + MIB
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        if img.layout != PixelLayout::Rgb8 {
            return Err(KilnError::Encode("JPEG encoder needs RGB pixels".into()));
        }
        let (w, h) = (u16::try_from(img.width), u16::try_from(img.height));
        let (Ok(w), Ok(h)) = (w, h) else {
            return Err(KilnError::BadParameter("JPEG output is limited to 65535 px per side".into()));
        };
        let mut out = Vec::with_capacity(img.pixels.len() / 8);
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, self.quality);
        encoder.set_progressive(true);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        encoder
            .encode(&img.pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| KilnError::Encode(format!("jpeg-encoder: {e}")))?;
        Ok(out)
    }
}
