//! Settings the worker and the driver share: where the object store is, and
//! which variants a conversion makes. The variant defaults are those of
//! kiln's benchmark stacks (`kiln_bench::FOUR_VARIANTS`, kiln's defaults
//! before the quality retune of docs/quality.md): WebP q80, AVIF q60 speed
//! 9, progressive JPEG q82, all at most 2048 px, and a 256 px PNG
//! thumbnail, so the glue-cost study compares the same work.

use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::KilnError;
use serde::{Deserialize, Serialize};

/// An S3-compatible bucket and the public base URL of its objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Settings {
    /// `http://host:port` of the S3 API.
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// Variants are reachable at `<public_base_url>/<key>`.
    pub public_base_url: String,
}

/// Output sizes and encoder settings of the four variants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VariantSettings {
    pub variant_max_side: u32,
    pub avif_max_side: u32,
    pub thumbnail_max_side: u32,
    pub webp_quality: f32,
    pub jpeg_quality: f32,
    pub avif_quality: f32,
    /// libaom cpu-used, 0 (slow) ..= 9 (fast).
    pub avif_speed: u8,
}

impl Default for VariantSettings {
    fn default() -> Self {
        VariantSettings {
            variant_max_side: 2048,
            avif_max_side: 2048,
            thumbnail_max_side: 256,
            webp_quality: 80.0,
            jpeg_quality: 82.0,
            avif_quality: 60.0,
            avif_speed: 9,
        }
    }
}

/// One variant to make: its encoder and the cap on its long side.
pub struct VariantJob {
    pub encoder: Box<dyn Encoder + Send + Sync>,
    pub max_side: u32,
}

impl VariantSettings {
    /// The four variants in a fixed order (webp, avif, jpeg, thumbnail);
    /// fails if a quality or speed is out of range.
    pub fn jobs(&self) -> Result<Vec<VariantJob>, KilnError> {
        let job = |encoder: Box<dyn Encoder + Send + Sync>, max_side| VariantJob { encoder, max_side };
        Ok(vec![
            job(Box::new(WebpEncoder::new(self.webp_quality)?), self.variant_max_side),
            job(Box::new(AvifEncoder::new(self.avif_quality, self.avif_speed, Chroma::Yuv420)?), self.avif_max_side),
            job(Box::new(JpegEncoder::new(self.jpeg_quality)?), self.variant_max_side),
            job(Box::new(PngEncoder), self.thumbnail_max_side),
        ])
    }
}
