//! Converts every corpus image with every encoder and checks the outputs:
//! right format, right size, orientation applied; hostile files rejected
//! with the right typed error.

mod common;

use common::read;
use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::probe::probe;
use kiln_core::{convert, ConvertOptions, InputFormat, KilnError, Limits};

const FEATURES: &[&str] = &[
    "features/alpha.png",
    "features/animated.gif",
    "features/cmyk.jpg",
    "features/exif-orientation-6.jpg",
    "features/gray.jpg",
    "features/input.webp",
    "features/palette.png",
    "features/progressive.jpg",
    "features/rgb16.png",
    "photos/path-2560x1600.jpg",
];

fn options(max_long_side: u32) -> ConvertOptions {
    ConvertOptions { max_long_side, limits: Limits::default(), metadata: Default::default() }
}

fn encoders() -> Vec<Box<dyn Encoder>> {
    vec![
        Box::new(WebpEncoder::new(80.0).unwrap()),
        Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap()),
        Box::new(JpegEncoder::new(82.0).unwrap()),
        Box::new(PngEncoder),
    ]
}

/// Width and height an output declares, read back by format.
fn output_size(bytes: &[u8], mime: &str) -> (u32, u32) {
    if mime == "image/avif" {
        return avif_ispe(bytes);
    }
    let info = probe(bytes).expect("output must parse");
    let expected = match mime {
        "image/webp" => InputFormat::Webp,
        "image/jpeg" => InputFormat::Jpeg,
        _ => InputFormat::Png,
    };
    assert_eq!(info.format, expected);
    (info.width, info.height)
}

/// The `ispe` (image spatial extent) property of an AVIF file.
fn avif_ispe(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(&bytes[8..12], b"avif");
    let at = bytes.windows(4).position(|w| w == b"ispe").expect("ispe box");
    let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    (be(at + 8), be(at + 12))
}

#[test]
fn every_feature_file_converts_with_every_encoder() {
    for name in FEATURES {
        let input = read(name);
        let source = probe(&input).unwrap();
        for encoder in encoders() {
            let out = convert(input.clone(), &options(512), encoder.as_ref())
                .unwrap_or_else(|e| panic!("{name} -> {}: {e}", encoder.format().name));
            assert!(!out.bytes.is_empty());
            assert!(out.width.max(out.height) <= 512, "{name}: {}x{}", out.width, out.height);
            let (w, h) = output_size(&out.bytes, encoder.format().mime_type);
            assert_eq!((w, h), (out.width, out.height), "{name} -> {}", encoder.format().name);
            let swapped = kiln_core::orient::swaps_dimensions(out.orientation);
            let (sw, sh) = if swapped { (source.height, source.width) } else { (source.width, source.height) };
            // Aspect ratio kept within rounding.
            let ratio = |a: u32, b: u32| a as f64 / b as f64;
            assert!((ratio(w, h) - ratio(sw, sh)).abs() < 0.02, "{name}: {w}x{h} vs {sw}x{sh}");
        }
    }
}

#[test]
fn exif_orientation_6_is_applied() {
    let input = read("features/exif-orientation-6.jpg");
    let source = probe(&input).unwrap();
    assert_eq!((source.width, source.height), (1000, 1600));
    let out = convert(input, &options(2048), &JpegEncoder::new(82.0).unwrap()).unwrap();
    assert_eq!(out.orientation, 6);
    assert_eq!((out.width, out.height), (1600, 1000));
    assert_eq!(output_size(&out.bytes, "image/jpeg"), (1600, 1000));
}

#[test]
fn outputs_carry_no_exif() {
    let input = read("features/exif-orientation-6.jpg");
    for encoder in encoders() {
        let out = convert(input.clone(), &options(256), encoder.as_ref()).unwrap();
        assert!(!out.bytes.windows(6).any(|w| w == b"Exif\0\0"), "{} kept EXIF", encoder.format().name);
        assert_eq!(kiln_core::orient::read_orientation(&out.bytes), 1);
    }
}

#[test]
fn alpha_is_kept_where_the_format_has_it() {
    let input = read("features/alpha.png");
    let png = convert(input.clone(), &options(256), &PngEncoder).unwrap();
    let decoded = kiln_core::decode::decode(&png.bytes, &probe(&png.bytes).unwrap(), 1, u64::MAX).unwrap();
    assert!(decoded.uses_alpha(), "PNG thumbnail lost alpha");
    let webp = convert(input.clone(), &options(256), &WebpEncoder::new(80.0).unwrap()).unwrap();
    assert!(probe(&webp.bytes).unwrap().has_alpha, "WebP lost alpha");
    // AVIF stores alpha as an auxiliary image tagged with this URN.
    let avif = convert(input, &options(256), &AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap()).unwrap();
    let urn = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha";
    assert!(avif.bytes.windows(urn.len()).any(|w| w == urn), "AVIF lost alpha");
}

#[test]
fn webp_is_lossy_and_smaller_than_jpeg_for_a_photo() {
    let input = read("photos/path-2560x1600.jpg");
    let webp = convert(input.clone(), &options(2048), &WebpEncoder::new(80.0).unwrap()).unwrap();
    let jpeg = convert(input, &options(2048), &JpegEncoder::new(82.0).unwrap()).unwrap();
    // A lossy WebP has a "VP8 " chunk; lossless would be "VP8L".
    assert_eq!(&webp.bytes[12..16], b"VP8 ", "WebP output is not lossy");
    assert!(webp.bytes.len() < jpeg.bytes.len(), "webp {} >= jpeg {}", webp.bytes.len(), jpeg.bytes.len());
}

#[test]
fn shrink_on_load_matches_full_decode() {
    // Both JPEG paths (zune-jpeg full size, jpeg-decoder scaled) must agree
    // on colour, including CMYK, grayscale and progressive files.
    for name in ["features/cmyk.jpg", "features/gray.jpg", "features/progressive.jpg", "photos/path-2560x1600.jpg"] {
        let input = read(name);
        let info = probe(&input).unwrap();
        let full = kiln_core::decode::decode(&input, &info, 1, u64::MAX).unwrap();
        let half = kiln_core::decode::decode(&input, &info, 2, u64::MAX).unwrap();
        assert_eq!((half.width, half.height), (info.width.div_ceil(2), info.height.div_ceil(2)));
        let mean = |p: &[u8]| p.iter().map(|&v| v as f64).sum::<f64>() / p.len() as f64;
        let (a, b) = (mean(&full.pixels), mean(&half.pixels));
        assert!((a - b).abs() < 2.0, "{name}: mean {a:.1} full vs {b:.1} scaled");
    }
}

fn expect_err(rel: &str, check: impl Fn(&KilnError) -> bool) {
    let Err(err) = convert(read(rel), &options(2048), &JpegEncoder::new(82.0).unwrap()) else {
        panic!("{rel} was accepted");
    };
    assert!(check(&err), "{rel}: unexpected {err:?}");
}

#[test]
fn hostile_inputs_get_typed_errors() {
    expect_err("hostile/truncated.jpg", |e| matches!(e, KilnError::Corrupt(_)));
    expect_err("hostile/random.bin", |e| matches!(e, KilnError::Unsupported(_)));
    expect_err("hostile/empty.jpg", |e| matches!(e, KilnError::Unsupported(_)));
    expect_err("hostile/not-an-image.jpg", |e| matches!(e, KilnError::Unsupported(_)));
    expect_err("hostile/bomb-30000x30000.png", |e| matches!(e, KilnError::TooLarge(m) if m.contains("900000000")));
    expect_err("hostile/claims-100000x100000.png", |e| matches!(e, KilnError::TooLarge(_)));
}

#[test]
fn a_huge_size_claimed_by_the_exif_thumbnail_is_not_the_image() {
    // The 65500x65500 frame header in this file belongs to the JPEG
    // thumbnail inside its EXIF block; the image itself is 2560x1600. kiln
    // walks the marker segments, so it never mistakes one for the other.
    let input = read("hostile/sof-claims-65500x65500.jpg");
    assert_eq!(input.windows(4).filter(|w| *w == [0xFF, 0xDC, 0xFF, 0xDC]).count(), 1);
    let info = probe(&input).unwrap();
    assert_eq!((info.width, info.height), (2560, 1600));
    let out = convert(input, &options(2048), &JpegEncoder::new(82.0).unwrap()).unwrap();
    assert_eq!((out.width, out.height), (2048, 1280));
}

#[test]
fn memory_limit_rejects_before_decoding() {
    let input = read("photos/path-2560x1600.jpg");
    let tight = ConvertOptions { max_long_side: 2048, limits: Limits { max_memory_bytes: 8 << 20, ..Limits::default() }, metadata: Default::default() };
    let Err(err) = convert(input, &tight, &JpegEncoder::new(82.0).unwrap()) else { panic!("accepted") };
    assert_eq!(err.http_status(), 413);
    assert!(err.to_string().contains("MiB"), "{err}");
}
