//! The streamed PNG path (row by row into the strip resizer) against the
//! whole-image path it replaced: for every PNG colour type and bit depth,
//! `convert` gives the pixels that decoding whole, preparing the channels
//! and resizing with `resize::resized` gives, to ±1 level; alpha is kept,
//! flattened or dropped as before.

use kiln_core::encode::{jpeg::JpegEncoder, png::PngEncoder, Encoder};
use kiln_core::image::{Image, PixelLayout};
use kiln_core::{convert, decode, probe::probe, resize, ConvertOptions, Limits};

const W: u32 = 97;
const H: u32 = 61;
const SIDE: u32 = 40;

/// A PNG of `color` at `depth`, non-interlaced, with a pattern that uses
/// every channel (and translucency when there is alpha).
fn png_file(color: png::ColorType, depth: png::BitDepth, opaque: bool) -> Vec<u8> {
    let samples = match color {
        png::ColorType::Grayscale | png::ColorType::Indexed => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
    };
    let wide = depth == png::BitDepth::Sixteen;
    let bits = match depth {
        png::BitDepth::One => 1,
        png::BitDepth::Two => 2,
        png::BitDepth::Four => 4,
        _ => 8,
    };
    let mut rows = Vec::new();
    for y in 0..H {
        let mut row = Vec::new();
        let data = &mut row;
        for x in 0..W {
            for s in 0..samples {
                let alpha = s + 1 == samples && matches!(color, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba);
                let v = if alpha {
                    if opaque { 255 } else { ((x * 255 / W) as u8).max(if y % 9 < 3 { 0 } else { 90 }) }
                } else if color == png::ColorType::Indexed {
                    ((x / 8 + y / 8) % 16) as u8
                } else {
                    ((x * 7 + y * 3 + s * 60) % 256) as u8
                };
                data.push(if bits < 8 { v % (1 << bits) } else { v });
                if wide {
                    data.push(v ^ 0x5a);
                }
            }
        }
        // Low bit depths pack samples into bytes, high bits first.
        if bits < 8 {
            row = row.chunks(8 / bits as usize).map(|c| c.iter().enumerate().fold(0u8, |b, (i, &v)| b | v << (8 - bits * (i as u8 + 1)))).collect();
        }
        rows.extend_from_slice(&row);
    }
    let data = rows;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, W, H);
    encoder.set_color(color);
    encoder.set_depth(depth);
    if color == png::ColorType::Indexed {
        encoder.set_palette((0..16u8).flat_map(|i| [i * 16, 255 - i * 16, i * 8]).collect::<Vec<_>>());
        if !opaque {
            encoder.set_trns((0..16u8).map(|i| i * 17).collect::<Vec<_>>());
        }
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

/// What the whole-image path makes of `bytes` for an encoder that keeps
/// alpha or not.
fn whole(bytes: &[u8], keep_alpha: bool) -> Image {
    let info = probe(bytes).unwrap();
    let image = decode::decode(bytes, &info, 1, u64::MAX).unwrap();
    let image = if keep_alpha { image.drop_opaque_alpha() } else { image.flatten_onto_white() };
    let (w, h) = resize::fit_within(W, H, SIDE);
    resize::resized(&image, w, h).unwrap()
}

fn decode_png(bytes: &[u8]) -> Image {
    let info = probe(bytes).unwrap();
    decode::decode(bytes, &info, 1, u64::MAX).unwrap()
}

fn max_diff(a: &Image, b: &Image) -> u8 {
    assert_eq!((a.width, a.height, a.layout), (b.width, b.height, b.layout));
    a.pixels.iter().zip(&b.pixels).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn every_png_kind_streams_to_the_whole_image_result() {
    use png::{BitDepth::*, ColorType::*};
    let options = ConvertOptions { max_long_side: SIDE, limits: Limits::default(), metadata: Default::default() };
    for (color, depth, opaque) in [
        (Grayscale, Eight, true),
        (Grayscale, Sixteen, true),
        (Grayscale, Two, true),
        (GrayscaleAlpha, Eight, false),
        (Rgb, Eight, true),
        (Rgb, Sixteen, true),
        (Rgba, Eight, false),
        (Rgba, Sixteen, false),
        (Rgba, Eight, true),
        (Indexed, Eight, true),
        (Indexed, Four, false),
    ] {
        let file = png_file(color, depth, opaque);
        assert!(decode::streams(&probe(&file).unwrap()), "{color:?} is decoded row by row");
        // PNG output keeps alpha (and is lossless, so it shows the pixels).
        let out = convert(file.clone(), &options, &PngEncoder).unwrap();
        let streamed = decode_png(&out.bytes);
        let expected = whole(&file, true);
        assert_eq!(streamed.layout, expected.layout, "{color:?} {depth:?} opaque={opaque}: alpha kept only where used");
        let diff = max_diff(&streamed, &expected);
        assert!(diff <= 1, "{color:?} {depth:?} opaque={opaque}: differs by {diff} levels");
        if opaque {
            assert_eq!(streamed.layout, PixelLayout::Rgb8, "{color:?}: opaque alpha is dropped");
        }
        // JPEG cannot keep alpha: flattened onto white before resizing.
        let jpeg = JpegEncoder::new(100.0).unwrap();
        assert!(!jpeg.keeps_alpha());
        let out = convert(file.clone(), &options, &jpeg).unwrap();
        assert_eq!((out.width, out.height), resize::fit_within(W, H, SIDE));
    }
}

#[test]
fn a_png_whose_rows_run_out_is_refused_and_one_at_full_size_is_copied() {
    let options = ConvertOptions { max_long_side: SIDE, limits: Limits::default(), metadata: Default::default() };
    let file = png_file(png::ColorType::Rgb, png::BitDepth::Eight, true);
    let idat = file.windows(4).position(|w| w == b"IDAT").unwrap();
    let cut = file[..idat + 4 + (file.len() - idat) / 3].to_vec();
    let err = convert(cut, &options, &PngEncoder).unwrap_err();
    assert!(matches!(err, kiln_core::KilnError::Corrupt(_)), "{err:?}");

    let big = ConvertOptions { max_long_side: 4096, ..options };
    let out = convert(file.clone(), &big, &PngEncoder).unwrap();
    assert_eq!(decode_png(&out.bytes).pixels, decode_png(&file).pixels);
}
