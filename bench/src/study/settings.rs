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

/// The quantizer on avifenc's 0..=63 scale that matches ravif's quality:
/// ravif (0.11, `quality_to_quantizer`) maps quality q in 0.25..0.82 to
/// (0.875 - q/2) on rav1e's 0..=255 scale; libavif scales 0..=63 to it.
pub fn avif_quantizer_63() -> u32 {
    let q = defaults().avif_quality / 100.0;
    assert!((0.25..0.82).contains(&q), "avif_quantizer_63 covers ravif's middle range only");
    ((0.875 - q * 0.5) * 63.0).round() as u32
}
