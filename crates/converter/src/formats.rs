//! The four output formats as [`Converter`]s: which Spin variable caps the
//! long side and how the encoder is built (from `?quality=` or the format's
//! quality variable), and whether it makes responsive widths (all but the
//! thumbnail). Each is behind the cargo feature of its codec, so a
//! component links only the encoders it names.

#[allow(unused_imports)]
use crate::{params::Params, Converter};
#[allow(unused_imports)]
use kiln_spin::{config::var_num, http::ApiError};
#[allow(unused_imports)]
use kiln_core::encode::Encoder;

#[allow(dead_code)]
fn quality(params: &Params, variable: &str) -> Result<f32, ApiError> {
    match params.quality {
        Some(q) => Ok(q),
        None => var_num(variable),
    }
}

/// Lossy WebP (libwebp), quality from `webp_quality`.
#[cfg(feature = "webp")]
pub const WEBP: Converter = Converter {
    max_side_variable: "variant_max_side",
    build_encoder: |p| Ok(Box::new(kiln_core::encode::webp::WebpEncoder::new(quality(p, "webp_quality")?)?)),
    placeholder: false,
    responsive: true,
};

/// AVIF (libaom), quality from `avif_quality`, speed from `avif_speed`,
/// chroma subsampling from `avif_chroma`.
#[cfg(feature = "avif")]
pub const AVIF: Converter = Converter {
    max_side_variable: "avif_max_side",
    build_encoder: |p| {
        use kiln_core::encode::avif::{AvifEncoder, Chroma};
        let chroma = Chroma::parse(&kiln_spin::config::var("avif_chroma")?)?;
        Ok(Box::new(AvifEncoder::new(quality(p, "avif_quality")?, var_num("avif_speed")?, chroma)?))
    },
    placeholder: false,
    responsive: true,
};

/// Progressive 4:2:0 JPEG, quality from `jpeg_quality`.
#[cfg(feature = "jpeg")]
pub const JPEG: Converter = Converter {
    max_side_variable: "variant_max_side",
    build_encoder: |p| Ok(Box::new(kiln_core::encode::jpeg::JpegEncoder::new(quality(p, "jpeg_quality")?)?)),
    placeholder: false,
    responsive: true,
};

/// The small lossless PNG thumbnail; `quality` does not apply.
#[cfg(feature = "png")]
pub const THUMBNAIL: Converter = Converter {
    max_side_variable: "thumbnail_max_side",
    build_encoder: |p| {
        if p.quality.is_some() {
            return Err(ApiError::bad_request("the PNG thumbnail is lossless: 'quality' does not apply"));
        }
        Ok(Box::new(kiln_core::encode::png::PngEncoder))
    },
    placeholder: true,
    responsive: false,
};
