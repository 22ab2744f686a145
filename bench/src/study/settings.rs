//! The conversion settings every path of the study uses: kiln's defaults
//! (spin.toml's, as the offload worker's [`VariantSettings::default`] holds
//! them: long side 2048 px for WebP q80, AVIF q60 speed 10, JPEG q82; 256 px
//! PNG thumbnail), and the matched options of the reference tools.

use kiln_core::encode::Encoder;
use kiln_offload::VariantSettings;

/// The variants, in the order [`VariantSettings::jobs`] makes them.
pub const VARIANTS: [&str; 4] = ["webp", "avif", "jpeg", "thumbnail"];

pub fn defaults() -> VariantSettings {
    VariantSettings::default()
}

/// Long side of `variant`'s output.
pub fn side(variant: &str) -> u32 {
    let s = defaults();
    match variant {
        "avif" => s.avif_max_side,
        "thumbnail" => s.thumbnail_max_side,
        _ => s.variant_max_side,
    }
}

/// The core's encoder for `variant`, as the components build it.
pub fn encoder(variant: &str) -> Box<dyn Encoder> {
    let i = VARIANTS.iter().position(|v| *v == variant).unwrap_or_else(|| panic!("unknown variant {variant}"));
    defaults().jobs().expect("default settings are valid").swap_remove(i).encoder
}

/// The quantizer on avifenc's 0..=63 scale for kiln's AVIF quality: the
/// same mapping as libavif's (kiln's encoder is libaom too).
pub fn avif_quantizer_63() -> u32 {
    let s = defaults();
    kiln_core::encode::avif::AvifEncoder::new(s.avif_quality, s.avif_speed, kiln_core::encode::avif::Chroma::Yuv420)
        .expect("default AVIF settings are valid")
        .quantizer()
}
