//! The conversion settings every path of the study uses: spin.toml's
//! defaults (long side 2048 px for WebP q80, AVIF q60 speed 10, JPEG q82;
//! 256 px PNG thumbnail), and the matched options of the reference tools.

use kiln_core::encode::{avif::AvifEncoder, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};

pub const VARIANTS: [&str; 4] = ["webp", "avif", "jpeg", "thumbnail"];
pub const SIDE: u32 = 2048;
pub const THUMBNAIL_SIDE: u32 = 256;
pub const WEBP_QUALITY: f32 = 80.0;
pub const AVIF_QUALITY: f32 = 60.0;
pub const AVIF_SPEED: u8 = 10;
pub const JPEG_QUALITY: f32 = 82.0;

/// Long side of `variant`'s output.
pub fn side(variant: &str) -> u32 {
    if variant == "thumbnail" { THUMBNAIL_SIDE } else { SIDE }
}

/// The core's encoder for `variant`, as the components build it.
pub fn encoder(variant: &str) -> Box<dyn Encoder> {
    match variant {
        "webp" => Box::new(WebpEncoder::new(WEBP_QUALITY).expect("quality")),
        "avif" => Box::new(AvifEncoder::new(AVIF_QUALITY, AVIF_SPEED).expect("quality")),
        "jpeg" => Box::new(JpegEncoder::new(JPEG_QUALITY).expect("quality")),
        "thumbnail" => Box::new(PngEncoder),
        other => panic!("unknown variant {other}"),
    }
}

/// The quantizer on avifenc's 0..=63 scale that matches ravif's quality:
/// ravif (0.11, `quality_to_quantizer`) maps quality q in 0.25..0.82 to
/// (0.875 - q/2) on rav1e's 0..=255 scale; libavif scales 0..=63 to it.
pub fn avif_quantizer_63() -> u32 {
    let q = AVIF_QUALITY / 100.0;
    assert!((0.25..0.82).contains(&q), "avif_quantizer_63 covers ravif's middle range only");
    ((0.875 - q * 0.5) * 63.0).round() as u32
}
