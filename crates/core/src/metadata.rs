//! Metadata policy: what of the input's metadata an output carries.
//!
//! By default nothing: every encoder writes pixels only, orientation is
//! applied to the pixels ([`crate::orient`]) and the colours are converted
//! to sRGB ([`crate::colour`]), so an output shows the same everywhere and
//! leaks nothing (GPS position, camera serial numbers, maker notes, an
//! embedded thumbnail of the uncropped original). A [`Metadata`] policy
//! may keep, per output:
//!
//! - [`ExifPolicy::Copyright`]: the source's EXIF `Artist` and `Copyright`,
//!   written into a fresh, minimal EXIF block with `Orientation` = 1 (the
//!   pixels are already upright). Nothing else of the source's EXIF is
//!   copied, and a tag longer than [`MAX_TAG_BYTES`] is dropped.
//! - [`ColourPolicy::Keep`]: an RGB ICC profile is embedded in the output
//!   and the pixels are left in the source's colour space (Display P3
//!   stays P3, with its wider gamut). A CMYK, grayscale or unparseable
//!   profile, or an output format that cannot carry one, falls back to
//!   [`ColourPolicy::Srgb`].
//!
//! What each container carries, and how, is [`embed`]'s.

use crate::error::KilnError;

/// What an output keeps of its source's metadata. The default keeps
/// nothing and converts colours to sRGB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metadata {
    pub exif: ExifPolicy,
    pub colour: ColourPolicy,
}

/// Which EXIF the output carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExifPolicy {
    /// None (the default).
    #[default]
    Strip,
    /// `Artist` and `Copyright`, with `Orientation` = 1.
    Copyright,
}

/// What is done with an embedded ICC profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColourPolicy {
    /// Convert the pixels to sRGB and strip the profile (the default).
    #[default]
    Srgb,
    /// Keep the pixels as they are and embed the (RGB) profile, where the
    /// output format can carry it.
    Keep,
}

impl ExifPolicy {
    /// `strip` or `copyright`.
    pub fn parse(s: &str) -> Result<Self, KilnError> {
        match s.trim() {
            "strip" => Ok(ExifPolicy::Strip),
            "copyright" => Ok(ExifPolicy::Copyright),
            _ => Err(KilnError::BadParameter(format!("metadata must be strip or copyright, got {s:?}"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExifPolicy::Strip => "strip",
            ExifPolicy::Copyright => "copyright",
        }
    }
}

impl ColourPolicy {
    /// `srgb` or `keep`.
    pub fn parse(s: &str) -> Result<Self, KilnError> {
        match s.trim() {
            "srgb" => Ok(ColourPolicy::Srgb),
            "keep" => Ok(ColourPolicy::Keep),
            _ => Err(KilnError::BadParameter(format!("colour must be srgb or keep, got {s:?}"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColourPolicy::Srgb => "srgb",
            ColourPolicy::Keep => "keep",
        }
    }
}

/// The longest EXIF tag value kept; a longer one is dropped.
pub const MAX_TAG_BYTES: usize = 2048;

/// What an output ended up carrying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Embedded {
    /// The source's ICC profile is embedded and the pixels are in its
    /// colour space (not converted to sRGB).
    pub icc: bool,
    /// An EXIF block (Artist, Copyright, Orientation = 1) is embedded.
    pub exif: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_default_to_strip_and_srgb() {
        assert_eq!(Metadata::default(), Metadata { exif: ExifPolicy::Strip, colour: ColourPolicy::Srgb });
        for p in [ExifPolicy::Strip, ExifPolicy::Copyright] {
            assert_eq!(ExifPolicy::parse(p.name()).unwrap(), p);
        }
        for p in [ColourPolicy::Srgb, ColourPolicy::Keep] {
            assert_eq!(ColourPolicy::parse(p.name()).unwrap(), p);
        }
        assert!(matches!(ExifPolicy::parse("all"), Err(KilnError::BadParameter(m)) if m.contains("strip or copyright")));
        assert!(matches!(ColourPolicy::parse("p3"), Err(KilnError::BadParameter(m)) if m.contains("srgb or keep")));
    }
}
