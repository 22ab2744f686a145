//! The four output formats as [`Converter`]s: which Spin variable caps the
//! long side and how the encoder is built (from `?quality=` or the format's
//! quality variable; `auto` wraps it in [`AutoEncoder`]), and whether it makes responsive widths (all but the
//! thumbnail). Each is behind the cargo feature of its codec, so a
//! component links only the encoders it names.

#[allow(unused_imports)]
use crate::{params::Params, Converter};
#[allow(unused_imports)]
use kiln_spin::{config::var_num, http::ApiError};
#[allow(unused_imports)]
use kiln_core::encode::Encoder;
#[allow(unused_imports)]
use kiln_core::auto_quality::{check_target, AutoEncoder, Tunable};
#[allow(unused_imports)]
use crate::params::Quality;

/// The quality asked for: the request's, else the format's variable
/// (`80`, or `auto`).
#[allow(dead_code)]
fn quality(params: &Params, variable: &str) -> Result<Quality, ApiError> {
    match params.quality {
        Some(q) => Ok(q),
        None => {
            let raw = kiln_spin::config::var(variable)?;
            Quality::parse(&raw).map_err(|e| ApiError::misconfigured(format!("Spin variable '{variable}' = {raw:?}: {e}")))
        }
    }
}

/// The encoder `at` builds, at a fixed quality or searching one
/// (`quality=auto`, from `start`, to the request's `target` or the
/// `auto_quality_target` variable).
#[allow(dead_code)]
fn tuned<E: Tunable + 'static>(
    params: &Params,
    variable: &str,
    start: f32,
    at: impl Fn(f32) -> Result<E, kiln_core::KilnError>,
) -> Result<Box<dyn Encoder>, ApiError> {
    Ok(match quality(params, variable)? {
        Quality::Fixed(q) => Box::new(at(q)?),
        Quality::Auto => {
            let target = match params.target {
                Some(t) => t,
                None => var_num("auto_quality_target")?,
            };
            let target = check_target(target).map_err(|e| ApiError::misconfigured(format!("Spin variable 'auto_quality_target': {e}")))?;
            Box::new(AutoEncoder::new(at(start)?, target)?)
        }
    })
}

/// Lossy WebP (libwebp), quality from `webp_quality`.
#[cfg(feature = "webp")]
pub const WEBP: Converter = Converter {
    max_side_variable: "variant_max_side",
    build_encoder: |p| tuned(p, "webp_quality", 80.0, kiln_core::encode::webp::WebpEncoder::new),
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
        let speed = var_num("avif_speed")?;
        tuned(p, "avif_quality", 67.0, |q| AvifEncoder::new(q, speed, chroma))
    },
    placeholder: false,
    responsive: true,
};

/// Progressive 4:2:0 JPEG, quality from `jpeg_quality`.
#[cfg(feature = "jpeg")]
pub const JPEG: Converter = Converter {
    max_side_variable: "variant_max_side",
    build_encoder: |p| tuned(p, "jpeg_quality", 75.0, kiln_core::encode::jpeg::JpegEncoder::new),
    placeholder: false,
    responsive: true,
};

/// The small lossless PNG thumbnail; `quality` does not apply.
#[cfg(feature = "png")]
pub const THUMBNAIL: Converter = Converter {
    max_side_variable: "thumbnail_max_side",
    build_encoder: |p| {
        if p.quality.is_some() || p.target.is_some() {
            return Err(ApiError::bad_request("the PNG thumbnail is lossless: 'quality' does not apply"));
        }
        Ok(Box::new(kiln_core::encode::png::PngEncoder))
    },
    placeholder: true,
    responsive: false,
};
