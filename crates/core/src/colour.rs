//! Colour management: an input's embedded ICC profile, read from its
//! container (JPEG APP2 segments, PNG `iCCP`, WebP `ICCP`) and applied to
//! the resized image, so every output is sRGB, the colour space browsers
//! assume for untagged images. A Display P3 or Adobe RGB photo whose profile
//! were dropped without converting would come out washed out.
//!
//! The conversion runs at the output size, after the resize, as libvips'
//! thumbnail does: a few ms on a 2048 px image instead of one pass over
//! every source pixel. It uses moxcms (pure Rust, builds for wasm). A
//! profile is bounded ([`crate::Limits::max_icc_bytes`]; larger is refused
//! with a 413) and so are the tables moxcms may build from it; a profile
//! that does not parse, or whose segments disagree, is ignored as browsers
//! ignore it: the pixels are taken as sRGB.
//!
//! - **RGB** profiles: [`to_srgb`], on the output image.
//! - **Gray** profiles: [`to_srgb`] too. A gray image is decoded widened to
//!   RGB (R = G = B), so the profile's tone curve is applied through a
//!   256-entry table of gray level → sRGB; a gray profile on an image that
//!   is not gray is ignored, as a profile of the wrong colour space is.
//! - **CMYK** JPEGs: converted when decoded ([`cmyk_to_srgb`]), the only
//!   point where their ink values exist, with the embedded CMYK profile or,
//!   when there is no usable one, [`DEFAULT_CMYK_PROFILE`] (FOGRA39, coated
//!   offset: what most untagged CMYK files were separated for).

use crate::container::{chunk, jpeg_segments, Chunked};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use crate::probe::ImageInfo;
use crate::sniff::{sniff, InputFormat};
use moxcms::{ColorProfile, DataColorSpace, Layout, ParsingOptions, RenderingIntent, TransformOptions};

/// Default cap on an embedded ICC profile's (decompressed) size. Display
/// and camera profiles are a few KiB; the largest common print (CMYK)
/// profiles ~2 MiB.
pub const DEFAULT_MAX_ICC_BYTES: u64 = 4 * 1024 * 1024;
/// A compressed profile's size past the limit: unknown, it was not inflated.
const INFLATES_PAST_LIMIT: u64 = u64::MAX;
/// The largest lookup table moxcms may read from a profile.
const MAX_CLUT_BYTES: usize = 4 * 1024 * 1024;

/// The CMYK profile a CMYK JPEG without a usable embedded one is converted
/// with: FOGRA39 (ISO 12647-2 coated offset, the characterisation data ISO
/// Coated v2 is built from), made by Argyll's colprof from the zlib-licensed
/// FOGRA39L.ti3 of icc-profiles-free (scripts/make-cmyk-profile.sh;
/// crates/core/assets/README.md). A 9-point CMYK → Lab table, 71 KB.
pub const DEFAULT_CMYK_PROFILE: &[u8] = include_bytes!("../assets/fogra39-default.icc");

/// Memory the conversion may take on top of the image: the profile, what
/// moxcms parses it into (tables as f32: up to 4 bytes per profile byte)
/// and the transform's own tables, with a fixed allowance for those.
pub fn working_bytes(profile_len: u64) -> u64 {
    if profile_len == 0 { 0 } else { 5 * profile_len + 1024 * 1024 }
}

/// What moxcms's CMYK → RGB transform takes on top of the profile it is
/// made from: it samples the profile on a 17⁴ grid (RGB as f32, 1 MB) and
/// holds copies while it builds it (2.6 MB measured in all, parsing the
/// default profile included: tests/colour_memory.rs).
pub const CMYK_TRANSFORM_BYTES: u64 = 3 * 1024 * 1024;

/// Colour management's memory for converting `info`, given `embedded`
/// ([`working_bytes`] of its embedded profile, 0 without one): that, except
/// for a CMYK JPEG, converted with its own profile or, when that is missing
/// or unusable, [`DEFAULT_CMYK_PROFILE`]: the larger of the two and the
/// CMYK transform's grid ([`CMYK_TRANSFORM_BYTES`]). Counted by
/// [`crate::estimate::estimate`].
pub fn estimate_bytes(info: &ImageInfo, embedded: u64) -> u64 {
    let cmyk = info.jpeg.as_ref().is_some_and(|f| f.components.len() == 4);
    if cmyk { embedded.max(working_bytes(DEFAULT_CMYK_PROFILE.len() as u64)) + CMYK_TRANSFORM_BYTES } else { embedded }
}

/// The ICC profile embedded in `bytes`, if any: at most `max_bytes`
/// (decompressed), else a 413.
pub fn read_icc(bytes: &[u8], max_bytes: u64) -> Result<Option<Vec<u8>>, KilnError> {
    let too_large = |len: u64| {
        KilnError::TooLarge(if len == INFLATES_PAST_LIMIT {
            format!("its ICC profile inflates to more than the limit of {max_bytes} bytes")
        } else {
            format!("its ICC profile is {len} bytes, the limit is {max_bytes} bytes")
        })
    };
    match sniff(bytes) {
        Some(InputFormat::Jpeg) => jpeg_icc(bytes, max_bytes).map_err(too_large),
        Some(InputFormat::Png) => png_icc(bytes, max_bytes).map_err(too_large),
        Some(InputFormat::Webp) => match chunk(bytes, Chunked::Riff, b"ICCP") {
            Some(p) if p.len() as u64 > max_bytes => Err(too_large(p.len() as u64)),
            p => Ok(p.map(<[u8]>::to_vec)),
        },
        // A GIF's profile lives in an application extension almost no
        // encoder writes.
        Some(InputFormat::Gif) | None => Ok(None),
    }
}

/// A JPEG's profile: the APP2 `ICC_PROFILE` segments, each numbered
/// `seq` of `count`, joined in order. Segments that are missing, repeated
/// or disagree on the count leave the image untagged.
fn jpeg_icc(bytes: &[u8], max_bytes: u64) -> Result<Option<Vec<u8>>, u64> {
    let mut parts: Vec<(u8, u8, &[u8])> = jpeg_segments(bytes)
        .filter(|(marker, _)| *marker == 0xE2)
        .filter_map(|(_, body)| body.strip_prefix(b"ICC_PROFILE\0"))
        .filter_map(|rest| Some((*rest.first()?, *rest.get(1)?, rest.get(2..)?)))
        .collect();
    let total: u64 = parts.iter().map(|p| p.2.len() as u64).sum();
    if total > max_bytes {
        return Err(total);
    }
    parts.sort_by_key(|p| p.0);
    let count = parts.len();
    let consistent = count > 0 && parts.iter().enumerate().all(|(i, p)| p.0 as usize == i + 1 && p.1 as usize == count);
    Ok(consistent.then(|| parts.iter().flat_map(|p| p.2.iter().copied()).collect()))
}

/// A PNG's profile: the `iCCP` chunk's zlib stream, inflated to at most
/// `max_bytes`. A stream that does not inflate leaves the image untagged.
fn png_icc(bytes: &[u8], max_bytes: u64) -> Result<Option<Vec<u8>>, u64> {
    let Some(data) = chunk(bytes, Chunked::Png, b"iCCP") else { return Ok(None) };
    // Name (1-79 bytes), NUL, compression method 0, then the stream.
    let Some(stream) = data.iter().position(|&b| b == 0).and_then(|nul| data.get(nul + 2..)) else { return Ok(None) };
    match fdeflate::decompress_to_vec_bounded(stream, max_bytes.min(usize::MAX as u64) as usize) {
        Ok(profile) => Ok(Some(profile)),
        Err(fdeflate::BoundedDecompressionError::OutputTooLarge { .. }) => Err(INFLATES_PAST_LIMIT),
        Err(_) => Ok(None),
    }
}

/// Converts `image` from the colour space `icc` describes to sRGB, in
/// place. Returns whether it did: not for an absent or unusable profile,
/// nor for one that is neither RGB nor gray, nor for a gray one on an image
/// whose pixels are not all gray.
pub fn to_srgb(image: &mut Image, icc: Option<&[u8]>) -> Result<bool, KilnError> {
    let Some(profile) = icc.and_then(parse) else { return Ok(false) };
    match profile.color_space {
        DataColorSpace::Rgb => rgb_to_srgb(image, &profile),
        DataColorSpace::Gray => gray_to_srgb(image, &profile),
        _ => Ok(false),
    }
}

/// Relative colorimetric, as libvips' default: in-gamut colours kept
/// exactly, out-of-gamut ones clipped.
fn relative() -> TransformOptions {
    TransformOptions { rendering_intent: RenderingIntent::RelativeColorimetric, ..TransformOptions::default() }
}

fn rgb_to_srgb(image: &mut Image, profile: &ColorProfile) -> Result<bool, KilnError> {
    let layout = match image.layout {
        PixelLayout::Rgb8 => Layout::Rgb,
        PixelLayout::Rgba8 => Layout::Rgba,
    };
    let Ok(transform) = profile.create_transform_8bit(layout, &ColorProfile::new_srgb(), layout, relative()) else {
        return Ok(false);
    };
    let row_len = image.width as usize * image.layout.channels();
    let mut row = vec![0u8; row_len];
    for line in image.pixels.chunks_exact_mut(row_len) {
        row.copy_from_slice(line);
        transform.transform(&row, line).map_err(|e| KilnError::Corrupt(format!("ICC transform: {e}")))?;
    }
    Ok(true)
}

/// A gray image (widened to RGB by its decoder, so R = G = B; resizing and
/// orienting keep that) through its gray profile: each of the 256 levels
/// is converted once ([`gray_levels`]), and every pixel looked up. Alpha
/// is kept.
fn gray_to_srgb(image: &mut Image, profile: &ColorProfile) -> Result<bool, KilnError> {
    let channels = image.layout.channels();
    if !image.pixels.chunks_exact(channels).all(|p| p[0] == p[1] && p[1] == p[2]) {
        return Ok(false);
    }
    let Some(levels) = gray_levels(profile) else { return Ok(false) };
    for pixel in image.pixels.chunks_exact_mut(channels) {
        let level = levels[pixel[0] as usize];
        pixel[..3].fill(level);
    }
    Ok(true)
}

/// The sRGB value of each gray level under a gray `profile`, relative
/// colorimetric (its white is sRGB's white; a neutral stays neutral): the
/// profile's tone curve (moxcms evaluates it, to a linear gray) gives the
/// relative luminance Y, or L*/100 when the profile connects through Lab
/// (Gray-CIE_L.icc does; moxcms' own gray transforms take XYZ only), then
/// sRGB's curve.
fn gray_levels(profile: &ColorProfile) -> Option<[u8; 256]> {
    let lab = match profile.pcs {
        DataColorSpace::Xyz => false,
        DataColorSpace::Lab => true,
        _ => return None,
    };
    let mut curve = profile.clone();
    curve.pcs = DataColorSpace::Xyz;
    let linear = ColorProfile::new_gray_with_gamma(1.0);
    let transform = curve.create_transform_f32(Layout::Gray, &linear, Layout::Gray, relative()).ok()?;
    let levels: Vec<f32> = (0..=255u8).map(|g| g as f32 / 255.0).collect();
    let mut out = vec![0f32; 256];
    transform.transform(&levels, &mut out).ok()?;
    Some(std::array::from_fn(|g| {
        let v = (out[g] as f64).clamp(0.0, 1.0);
        let y = if lab { lstar_to_y(v * 100.0) } else { v };
        (srgb_encode(y) * 255.0).round() as u8
    }))
}

/// CIE L* to relative luminance Y (0-1).
fn lstar_to_y(l: f64) -> f64 {
    if l > 8.0 { ((l + 16.0) / 116.0).powi(3) } else { l / 903.296_3 }
}

/// sRGB's transfer curve, linear (0-1) to encoded (0-1).
fn srgb_encode(linear: f64) -> f64 {
    if linear <= 0.003_130_8 { 12.92 * linear } else { 1.055 * linear.powf(1.0 / 2.4) - 0.055 }
}

/// CMYK pixels (0 = no ink, as jpeg-decoder gives them after undoing
/// Adobe's inversion) to sRGB RGB8, `width` pixels per row, with `icc` when
/// it is a usable CMYK profile and [`DEFAULT_CMYK_PROFILE`] otherwise.
/// `None` only if neither makes a transform.
pub fn cmyk_to_srgb(cmyk: &[u8], width: usize, icc: Option<&[u8]>) -> Option<Vec<u8>> {
    let cmyk_profile = |icc: &[u8]| parse(icc).filter(|p| p.color_space == DataColorSpace::Cmyk);
    let profile = icc.and_then(cmyk_profile).or_else(|| cmyk_profile(DEFAULT_CMYK_PROFILE))?;
    let transform = profile.create_transform_8bit(Layout::Rgba, &ColorProfile::new_srgb(), Layout::Rgb, relative()).ok()?;
    drop(profile);
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    for (src, dst) in cmyk.chunks(width.max(1) * 4).zip(rgb.chunks_mut(width.max(1) * 3)) {
        transform.transform(src, dst).ok()?;
    }
    Some(rgb)
}

fn parse(icc: &[u8]) -> Option<ColorProfile> {
    let options = ParsingOptions { max_allowed_clut_size: MAX_CLUT_BYTES, ..ParsingOptions::default() };
    ColorProfile::new_from_slice_with_options(icc, options).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p3() -> Vec<u8> {
        ColorProfile::new_display_p3().encode().unwrap()
    }

    fn jpeg_with(segments: &[(u8, u8, &[u8])]) -> Vec<u8> {
        let mut jpeg = vec![0xFF, 0xD8];
        for (seq, count, data) in segments {
            let body = [&b"ICC_PROFILE\0"[..], &[*seq, *count], data].concat();
            jpeg.extend([0xFF, 0xE2]);
            jpeg.extend(((body.len() + 2) as u16).to_be_bytes());
            jpeg.extend(body);
        }
        jpeg.extend([0xFF, 0xDA, 0, 2, 0xFF, 0xD9]);
        jpeg
    }

    #[test]
    fn a_jpeg_profile_is_joined_from_its_segments_in_order() {
        let profile = p3();
        let (a, b) = profile.split_at(profile.len() / 2);
        for jpeg in [jpeg_with(&[(1, 2, a), (2, 2, b)]), jpeg_with(&[(2, 2, b), (1, 2, a)])] {
            assert_eq!(read_icc(&jpeg, 1 << 20).unwrap().as_deref(), Some(&profile[..]));
        }
        // Missing, repeated or disagreeing segments: untagged.
        for jpeg in [jpeg_with(&[(1, 2, a)]), jpeg_with(&[(1, 2, a), (1, 2, b)]), jpeg_with(&[(1, 2, a), (2, 3, b)]), jpeg_with(&[(0, 1, a)])] {
            assert_eq!(read_icc(&jpeg, 1 << 20).unwrap(), None);
        }
        let big = read_icc(&jpeg_with(&[(1, 2, a), (2, 2, b)]), 100).unwrap_err();
        assert!(matches!(&big, KilnError::TooLarge(m) if m.contains(&profile.len().to_string())), "{big}");
    }

    fn png_with_iccp(stream: &[u8]) -> Vec<u8> {
        let data = [&b"P3\0\0"[..], stream].concat();
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(b"iCCP");
        png.extend(&data);
        png.extend([0; 4]);
        png
    }

    #[test]
    fn a_png_profile_is_inflated_within_the_limit() {
        let profile = p3();
        let png = png_with_iccp(&fdeflate::compress_to_vec(&profile));
        assert_eq!(read_icc(&png, 1 << 20).unwrap().as_deref(), Some(&profile[..]));
        // A small stream that inflates past the limit is refused, not inflated.
        let bomb = png_with_iccp(&fdeflate::compress_to_vec(&vec![0u8; 8 << 20]));
        assert!(bomb.len() < 100_000);
        assert!(matches!(read_icc(&bomb, 1 << 20), Err(KilnError::TooLarge(m)) if m.contains("inflates to more than the limit of 1048576 bytes")));
        assert_eq!(read_icc(&png_with_iccp(b"not zlib"), 1 << 20).unwrap(), None);
    }

    /// sRGB pixels expressed in Display P3 (what a phone's camera writes).
    fn srgb_to_p3(pixels: &[u8], layout: Layout) -> Vec<u8> {
        let t = ColorProfile::new_srgb().create_transform_8bit(layout, &ColorProfile::new_display_p3(), layout, TransformOptions::default()).unwrap();
        let mut out = vec![0; pixels.len()];
        t.transform(pixels, &mut out).unwrap();
        out
    }

    #[test]
    fn display_p3_pixels_come_back_to_srgb() {
        let srgb: Vec<u8> = (0..64u32).flat_map(|i| [(i * 4) as u8, (255 - i * 3) as u8, (i * i % 256) as u8]).collect();
        let p3_pixels = srgb_to_p3(&srgb, Layout::Rgb);
        let untouched = p3_pixels.iter().zip(&srgb).map(|(a, b)| a.abs_diff(*b) as f64).sum::<f64>() / srgb.len() as f64;
        assert!(untouched > 5.0, "taken as sRGB, P3 pixels are off by {untouched} on average");
        let mut image = Image::new(8, 8, PixelLayout::Rgb8, p3_pixels);
        assert!(to_srgb(&mut image, Some(&p3())).unwrap());
        // The 8-bit P3 pixels are quantised: near-black channels of
        // saturated colours come back a few levels off, the rest within 1.
        let errors: Vec<u8> = image.pixels.iter().zip(&srgb).map(|(a, b)| a.abs_diff(*b)).collect();
        let mean = errors.iter().map(|&e| e as f64).sum::<f64>() / errors.len() as f64;
        assert!(mean < 0.7 && *errors.iter().max().unwrap() <= 8, "mean {mean}, max {:?}", errors.iter().max());
    }

    #[test]
    fn alpha_is_kept_and_bad_profiles_are_ignored() {
        let srgb: Vec<u8> = (0..16u32).flat_map(|i| [200, (i * 16) as u8, 30, (i * 16 + 3) as u8]).collect();
        let mut image = Image::new(4, 4, PixelLayout::Rgba8, srgb_to_p3(&srgb, Layout::Rgba));
        assert!(to_srgb(&mut image, Some(&p3())).unwrap());
        assert!(image.pixels.chunks(4).zip(srgb.chunks(4)).all(|(a, b)| a[3] == b[3]), "alpha changed");

        let before = image.pixels.clone();
        for bad in [&b"garbage"[..], &p3()[..100], &[]] {
            assert!(!to_srgb(&mut image, Some(bad)).unwrap());
        }
        assert!(!to_srgb(&mut image, None).unwrap());
        assert_eq!(image.pixels, before);
    }

    #[test]
    fn the_estimate_counts_a_profile_only_when_there_is_one() {
        assert_eq!(working_bytes(0), 0);
        assert!(working_bytes(3000) > 1 << 20);
    }

    /// A minimal JPEG header whose frame has `components` components.
    fn jpeg_header(components: u8) -> Vec<u8> {
        let mut sof = vec![8, 0, 8, 0, 8, components];
        for id in 1..=components {
            sof.extend([id, 0x11, 0]);
        }
        [&[0xFF, 0xD8, 0xFF, 0xC0][..], &((sof.len() + 2) as u16).to_be_bytes(), &sof].concat()
    }

    #[test]
    fn a_cmyk_jpeg_is_estimated_with_the_default_profile_and_others_are_not() {
        let cmyk = crate::probe::probe(&jpeg_header(4)).unwrap();
        let default = working_bytes(DEFAULT_CMYK_PROFILE.len() as u64) + CMYK_TRANSFORM_BYTES;
        assert_eq!(estimate_bytes(&cmyk, 0), default);
        // Its own profile, when larger, counts instead of the default.
        assert_eq!(estimate_bytes(&cmyk, working_bytes(1 << 20)), working_bytes(1 << 20) + CMYK_TRANSFORM_BYTES);
        for components in [1, 3] {
            let info = crate::probe::probe(&jpeg_header(components)).unwrap();
            assert_eq!((estimate_bytes(&info, 0), estimate_bytes(&info, 5000)), (0, 5000));
        }
        let plan = |colour_bytes| crate::estimate::Plan {
            input_bytes: 1000,
            jpeg_scale: 1,
            decoded: (8, 8),
            target: (8, 8),
            channels: 3,
            encoder_bytes: 0,
            output: "jpeg",
            colour_bytes,
        };
        let estimate = |colour_bytes| crate::estimate::estimate(&cmyk, &plan(colour_bytes));
        assert_eq!(estimate(0).decode, estimate(default - CMYK_TRANSFORM_BYTES).decode);
        assert!(estimate(0).decode >= default);
    }

    /// CMYK patches (0 = no ink) and their sRGB through the default profile
    /// according to libvips 8.14 (lcms2): `vips icc_transform <cmyk> out
    /// srgb --input-profile crates/core/assets/fogra39-default.icc --intent
    /// relative` on a raw 10x1 CMYK image of these values.
    const PATCHES: [([u8; 4], [u8; 3]); 10] = [
        ([0, 0, 0, 0], [255, 255, 255]),
        ([255, 0, 0, 0], [0, 161, 228]),
        ([0, 255, 0, 0], [230, 12, 128]),
        ([0, 0, 255, 0], [255, 237, 0]),
        ([0, 0, 0, 255], [43, 43, 42]),
        ([128, 128, 128, 0], [150, 131, 126]),
        ([64, 32, 200, 20], [197, 191, 84]),
        ([255, 255, 255, 255], [28, 27, 24]),
        ([30, 60, 90, 120], [148, 132, 115]),
        ([200, 10, 10, 60], [1, 148, 189]),
    ];

    #[test]
    fn cmyk_without_a_profile_is_converted_with_the_default_as_lcms_does() {
        let cmyk: Vec<u8> = PATCHES.iter().flat_map(|p| p.0).collect();
        let rgb = cmyk_to_srgb(&cmyk, PATCHES.len(), None).expect("the default profile makes a transform");
        let naive = crate::decode::cmyk_to_rgb(&cmyk);
        let (mut kiln_error, mut naive_error) = (0u32, 0u32);
        for (i, (patch, lcms)) in PATCHES.iter().enumerate() {
            let (got, plain) = (&rgb[i * 3..i * 3 + 3], &naive[i * 3..i * 3 + 3]);
            let off = got.iter().zip(lcms).map(|(a, b)| a.abs_diff(*b) as u32).max().unwrap();
            assert!(off <= 3, "{patch:?}: kiln {got:?}, lcms {lcms:?}");
            kiln_error += off;
            naive_error += plain.iter().zip(lcms).map(|(a, b)| a.abs_diff(*b) as u32).max().unwrap();
        }
        assert!(naive_error > 10 * kiln_error.max(1), "naive {naive_error}, kiln {kiln_error}");
        // An unusable or non-CMYK profile falls back to the default too; a
        // CMYK profile of its own is used instead of it.
        assert_eq!(cmyk_to_srgb(&cmyk, PATCHES.len(), Some(b"garbage")), Some(rgb.clone()));
        assert_eq!(cmyk_to_srgb(&cmyk, PATCHES.len(), Some(&p3())), Some(rgb.clone()));
        let own = ColorProfile::new_from_slice(DEFAULT_CMYK_PROFILE).unwrap();
        assert_eq!(own.color_space, DataColorSpace::Cmyk);
        assert!(DEFAULT_CMYK_PROFILE.len() < 100_000);
    }

    fn gray_profile(gamma: f32) -> Vec<u8> {
        ColorProfile::new_gray_with_gamma(gamma).encode().unwrap()
    }

    #[test]
    fn a_gray_profile_tone_curve_is_applied_to_gray_pixels() {
        let levels: Vec<u8> = (0..=255).collect();
        let widened = |alpha: bool| -> Vec<u8> { levels.iter().flat_map(|&g| if alpha { vec![g, g, g, 255 - g] } else { vec![g, g, g] }).collect() };
        for gamma in [1.0f32, 2.2, 1.8] {
            let mut image = Image::new(16, 16, PixelLayout::Rgb8, widened(false));
            assert!(to_srgb(&mut image, Some(&gray_profile(gamma))).unwrap(), "gamma {gamma}");
            for (&g, px) in levels.iter().zip(image.pixels.chunks_exact(3)) {
                let expected = srgb_encode((g as f64 / 255.0).powf(gamma as f64)) * 255.0;
                assert!(px.iter().all(|&c| (c as f64 - expected).abs() <= 1.5), "gamma {gamma}, level {g}: {px:?}, expected {expected:.1}");
            }
        }
        // Gamma 1 (linear) gray is far lighter in sRGB: mid-gray 128 -> ~188.
        let mut image = Image::new(16, 16, PixelLayout::Rgba8, widened(true));
        assert!(to_srgb(&mut image, Some(&gray_profile(1.0))).unwrap());
        let mid = &image.pixels[128 * 4..128 * 4 + 4];
        assert!(mid[..3].iter().all(|&c| c.abs_diff(188) <= 1) && mid[3] == 127, "{mid:?}");
    }

    #[test]
    fn a_gray_profile_connecting_through_lab_encodes_l_star() {
        // Gray-CIE_L.icc's shape: a linear curve to Lab, so a level is L*.
        let mut profile = ColorProfile::new_gray_with_gamma(1.0);
        profile.pcs = DataColorSpace::Lab;
        let bytes = profile.encode().unwrap();
        assert_eq!(parse(&bytes).unwrap().pcs, DataColorSpace::Lab);
        let levels: Vec<u8> = [0u8, 50, 128, 200, 255].iter().flat_map(|&g| [g, g, g]).collect();
        let mut image = Image::new(5, 1, PixelLayout::Rgb8, levels);
        assert!(to_srgb(&mut image, Some(&bytes)).unwrap());
        // L* = level / 255 x 100 is sRGB's own lightness scale, nearly:
        // L* 50 is sRGB 119, L* 78.4 is 194.
        let got: Vec<u8> = image.pixels.chunks(3).map(|p| p[0]).collect();
        let expected: Vec<u8> = [0u8, 50, 128, 200, 255].iter().map(|&g| (srgb_encode(lstar_to_y(g as f64 / 2.55)) * 255.0).round() as u8).collect();
        assert_eq!(got, expected);
        assert!(expected[2].abs_diff(119) <= 1 && expected[3].abs_diff(194) <= 1, "{expected:?}");
    }

    #[test]
    fn a_gray_profile_on_colour_pixels_is_ignored() {
        let colour: Vec<u8> = (0..64u32).flat_map(|i| [(i * 4) as u8, 100, 7]).collect();
        let mut image = Image::new(8, 8, PixelLayout::Rgb8, colour.clone());
        assert!(!to_srgb(&mut image, Some(&gray_profile(1.0))).unwrap());
        assert_eq!(image.pixels, colour);
    }
}
