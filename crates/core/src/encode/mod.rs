//! Output encoders, one module per format behind the [`Encoder`] trait. Each
//! is behind a cargo feature so a Spin component links only its own codec.

#[cfg(feature = "avif")]
pub mod avif;
#[cfg(feature = "jpeg")]
pub mod jpeg;
#[cfg(feature = "png")]
pub mod png;
#[cfg(feature = "webp")]
pub mod webp;
#[cfg(feature = "webp")]
pub mod webp_anim;

use crate::error::KilnError;
use crate::image::Image;

/// Name, MIME type and file extension of an output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormat {
    pub name: &'static str,
    pub mime_type: &'static str,
    pub extension: &'static str,
}

pub const WEBP: OutputFormat = OutputFormat { name: "webp", mime_type: "image/webp", extension: "webp" };
pub const AVIF: OutputFormat = OutputFormat { name: "avif", mime_type: "image/avif", extension: "avif" };
pub const JPEG: OutputFormat = OutputFormat { name: "jpeg", mime_type: "image/jpeg", extension: "jpg" };
pub const PNG: OutputFormat = OutputFormat { name: "thumbnail", mime_type: "image/png", extension: "png" };

/// An output encoder. Implementations strip all metadata: they write pixels only.
pub trait Encoder {
    fn format(&self) -> OutputFormat;
    /// Whether the format keeps an alpha channel (else pixels are flattened
    /// onto white before encoding).
    fn keeps_alpha(&self) -> bool;
    /// Upper bound of the bytes the encoder allocates for a `width` x
    /// `height` image with `channels` channels, input pixels excluded.
    fn working_bytes(&self, width: u32, height: u32, channels: u32) -> u64;
    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError>;
    /// This encoder as the WebP encoder, when it is one: an animated input
    /// then becomes an animated WebP ([`crate::animation`]) instead of its
    /// first frame.
    #[cfg(feature = "webp")]
    fn as_webp(&self) -> Option<&webp::WebpEncoder> {
        None
    }
    /// The quality [`crate::auto_quality`] picked, once this encoder (an
    /// [`crate::auto_quality::AutoEncoder`]) has encoded an image.
    fn auto_choice(&self) -> Option<crate::auto_quality::Choice> {
        None
    }
    /// `img` encoded with `exif` (a TIFF block) inside, by an encoder that
    /// writes its container itself and can hold EXIF there (AVIF), where
    /// [`crate::metadata::embed`] cannot add it afterwards; `None` when it
    /// cannot (the output is then made without it).
    fn encode_with_exif(&self, img: &Image, exif: &[u8]) -> Option<Result<Vec<u8>, KilnError>> {
        let _ = (img, exif);
        None
    }
}

/// Checks a 0..=100 quality parameter.
pub fn check_quality(quality: f32) -> Result<f32, KilnError> {
    if (1.0..=100.0).contains(&quality) {
        Ok(quality)
    } else {
        Err(KilnError::BadParameter(format!("quality must be between 1 and 100, got {quality}")))
    }
}

#[allow(dead_code)] // unused when no encoder feature is enabled
pub(crate) const MIB: u64 = 1024 * 1024;

#[allow(dead_code)]
pub(crate) fn pixels(width: u32, height: u32) -> u64 {
    width as u64 * height as u64
}
