//! Decode-once conversion ([`kiln_core::convert_many`]) against one
//! conversion per format: same output formats and sizes, orientation and
//! alpha handled per output, and failure modes of the shared decode.

mod common;

use common::read;
use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::probe::probe;
use kiln_core::{convert, convert_many, convert_with, ConvertOptions, Extras, KilnError, Limits, Output};

fn encoders() -> Vec<(u32, Box<dyn Encoder>)> {
    vec![
        (2048, Box::new(WebpEncoder::new(80.0).unwrap())),
        (2048, Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap())),
        (2048, Box::new(JpegEncoder::new(82.0).unwrap())),
        (256, Box::new(PngEncoder)),
    ]
}

fn outputs(encoders: &[(u32, Box<dyn Encoder>)]) -> Vec<Output<'_>> {
    encoders.iter().map(|(side, e)| Output { max_long_side: *side, encoder: e.as_ref(), placeholder: false, widths: &[], metadata: Default::default() }).collect()
}

#[test]
fn matches_one_conversion_per_format() {
    for file in ["photos/path-4000x3000-12mp.jpg", "features/exif-orientation-6.jpg", "features/alpha.png", "features/cmyk.jpg"] {
        let input = read(file);
        let encoders = encoders();
        let many = convert_many(input.clone(), &outputs(&encoders), Limits::default()).unwrap();
        assert_eq!(many.outputs.len(), 4);
        for ((side, encoder), result) in encoders.iter().zip(many.outputs) {
            let got = result.unwrap_or_else(|e| panic!("{file} {}: {e}", encoder.format().name));
            let single = convert(input.clone(), &ConvertOptions { max_long_side: *side, limits: Limits::default(), metadata: Default::default() }, encoder.as_ref()).unwrap();
            assert_eq!(got.format, single.format, "{file}");
            assert_eq!((got.width, got.height), (single.width, single.height), "{file} {}", got.format.name);
            if got.format.name != "avif" {
                // (probe reads JPEG, PNG and WebP; AVIF outputs are decoded in the e2e tests)
                let info = probe(&got.bytes).unwrap_or_else(|e| panic!("{file} {}: output does not probe: {e}", got.format.name));
                assert_eq!((info.width, info.height), (got.width, got.height), "{file} {}", got.format.name);
            }
            // Shared stages are paid once and reported on every output.
            assert_eq!(got.timings.decode, many.shared.decode);
            assert!(got.timings.resize >= many.shared.resize);
        }
    }
}

#[test]
fn keeps_alpha_only_where_the_format_can() {
    let encoders = encoders();
    let many = convert_many(read("features/alpha.png"), &outputs(&encoders), Limits::default()).unwrap();
    let jpeg = many.outputs[2].as_ref().unwrap();
    let png = many.outputs[3].as_ref().unwrap();
    assert_eq!(jpeg.format.name, "jpeg");
    let thumb = image_has_alpha_png(&png.bytes);
    assert!(thumb, "the PNG thumbnail of an RGBA image keeps its alpha");
}

fn image_has_alpha_png(bytes: &[u8]) -> bool {
    // PNG IHDR colour type at byte 25: 6 = RGBA, 4 = gray + alpha.
    matches!(bytes[25], 4 | 6)
}

#[test]
fn shared_decode_failures_fail_the_call() {
    let encoders = encoders();
    let err = convert_many(read("hostile/truncated.jpg"), &outputs(&encoders), Limits::default()).err().expect("truncated JPEG refused");
    assert!(matches!(err, KilnError::Corrupt(_) | KilnError::Unsupported(_)), "{err:?}");
    let tight = Limits { max_memory_bytes: 8 << 20, ..Limits::default() };
    let err = convert_many(read("photos/path-4000x3000-12mp.jpg"), &outputs(&encoders), tight).err().expect("over the memory limit");
    assert!(matches!(err, KilnError::TooLarge(_)), "{err:?}");
    assert!(convert_many(read("photos/path-2560x1600.jpg"), &[], Limits::default()).is_err());
}

/// Responsive widths: each narrower displayed width once, narrowest first,
/// in displayed orientation, never the output's own width or wider.
#[test]
fn makes_each_narrower_responsive_width_from_the_same_decode() {
    let webp = WebpEncoder::new(80.0).unwrap();
    let widths = [1024, 480, 480, 2048, 4096];
    for (file, canonical, expected) in [
        ("photos/path-4000x3000-12mp.jpg", (2048, 1536), vec![(480, 360), (1024, 768)]),
        // Stored 1000x1600, displayed 1600x1000: widths are displayed widths.
        ("features/exif-orientation-6.jpg", (1600, 1000), vec![(480, 300), (1024, 640)]),
    ] {
        let outputs = [Output { max_long_side: 2048, encoder: &webp, placeholder: false, widths: &widths, metadata: Default::default() }];
        let many = convert_many(read(file), &outputs, Limits::default()).unwrap();
        let got = many.outputs.into_iter().next().unwrap().unwrap();
        let sizes: Vec<(u32, u32)> = got.renditions.iter().map(|r| (r.width, r.height)).collect();
        assert_eq!((got.width, got.height), canonical, "{file}");
        assert_eq!(sizes, expected, "{file}");
        for r in &got.renditions {
            let info = probe(&r.bytes).unwrap();
            assert_eq!((info.width, info.height), (r.width, r.height), "{file}: a rendition's bytes are its size");
            assert!(r.width < got.width && r.bytes.len() < got.bytes.len(), "{file}");
            let aspect = |w: u32, h: u32| w as f64 / h as f64;
            assert!((aspect(r.width, r.height) - aspect(got.width, got.height)).abs() < 0.02, "{file}: aspect kept");
        }
        assert!(sizes.iter().all(|&(w, _)| widths.contains(&w)), "{file}: {sizes:?}");
        // One conversion per format makes the same renditions from its own output.
        let options = ConvertOptions { max_long_side: 2048, limits: Limits::default(), metadata: Default::default() };
        let single = convert_with(read(file), &options, &webp, Extras { placeholder: false, widths: &widths }).unwrap();
        assert_eq!(single.renditions.iter().map(|r| (r.width, r.height)).collect::<Vec<_>>(), expected, "{file}");
        assert!(single.renditions.iter().all(|r| probe(&r.bytes).is_ok_and(|i| (i.width, i.height) == (r.width, r.height))));
    }
}

/// An animated GIF decoded once for the stills still makes an animated
/// WebP, as the WebP component does on its own; the others show frame 1.
#[test]
fn an_animated_gif_stays_animated_in_webp_only() {
    let input = read("features/animated.gif");
    let frames = probe(&input).unwrap().frames;
    assert!(frames > 1, "the corpus GIF is animated");
    let encoders = encoders();
    let many = convert_many(input.clone(), &outputs(&encoders), Limits::default()).unwrap();
    let webp = many.outputs[0].as_ref().unwrap();
    let single = convert(input, &ConvertOptions { max_long_side: 2048, limits: Limits::default(), metadata: Default::default() }, encoders[0].1.as_ref()).unwrap();
    assert_eq!(webp.bytes, single.bytes, "the same animated WebP as the WebP component's");
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&webp.bytes)).unwrap();
    assert!(decoder.is_animated() && decoder.num_frames() > 1, "{} frames", decoder.num_frames());
    // The stills come from the shared decode of frame 1, at the screen's size.
    let screen = probe(&read("features/animated.gif")).unwrap();
    let jpeg = many.outputs[2].as_ref().unwrap();
    assert_eq!((jpeg.format.name, jpeg.width, jpeg.height), ("jpeg", screen.width, screen.height));
    assert_eq!(probe(&jpeg.bytes).map(|i| (i.width, i.height)).unwrap(), (screen.width, screen.height));
}

/// An animated WebP input, likewise: the combined conversion's WebP is
/// animated with the input's frames, the stills show frame 1.
#[test]
fn an_animated_webp_stays_animated_in_webp_only() {
    let encoders = encoders();
    let options = ConvertOptions { max_long_side: 2048, limits: Limits::default(), metadata: Default::default() };
    let input = convert(read("features/animated.gif"), &options, encoders[0].1.as_ref()).unwrap().bytes;
    let info = probe(&input).unwrap();
    assert!(info.frames > 1, "the input WebP is animated");
    let many = convert_many(input.clone(), &outputs(&encoders), Limits::default()).unwrap();
    let webp = many.outputs[0].as_ref().unwrap();
    assert_eq!(webp.bytes, convert(input, &options, encoders[0].1.as_ref()).unwrap().bytes, "the same animated WebP as the WebP component's");
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&webp.bytes)).unwrap();
    assert!(decoder.is_animated() && decoder.num_frames() as u64 == info.frames, "{} frames of {}", decoder.num_frames(), info.frames);
    let jpeg = many.outputs[2].as_ref().unwrap();
    assert_eq!((jpeg.format.name, jpeg.width, jpeg.height), ("jpeg", info.width, info.height));
}
