//! End to end: the AVIF component (libaom built for wasm) under a real
//! `spin up`, its output decoded by a second implementation (avifdec +
//! dav1d) and compared pixel by pixel with the truth: the same conversion
//! to a lossless PNG by kiln's core natively. A wrong YCbCr matrix or range,
//! swapped planes or a broken alpha item would all fail here, where a check
//! of the size alone would pass.

use kiln_core::encode::png::PngEncoder;
use kiln_core::image::{Image, PixelLayout};
use kiln_core::{convert, ConvertOptions, Limits};
use kiln_e2e::images::decode_avif_pixels;
use kiln_e2e::{corpus, Stack};

/// The conversion kiln makes, losslessly: the reference pixels.
fn reference(input: &[u8], max_side: u32) -> Image {
    let options = ConvertOptions { max_long_side: max_side, limits: Limits::default(), metadata: Default::default() };
    let png = convert(input.to_vec(), &options, &PngEncoder).expect("native reference").bytes;
    let info = kiln_core::probe::probe(&png).unwrap();
    kiln_core::decode::decode(&png, &info, 1, u64::MAX).unwrap()
}

/// PSNR in dB over the channels `channels` of two images of the same size.
fn psnr(a: &Image, b: &Image, channels: std::ops::Range<usize>) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    let (ca, cb) = (a.layout.channels(), b.layout.channels());
    let (mut sum, mut n) = (0f64, 0f64);
    for (pa, pb) in a.pixels.chunks_exact(ca).zip(b.pixels.chunks_exact(cb)) {
        for c in channels.clone() {
            let d = pa[c] as f64 - pb[c] as f64;
            sum += d * d;
            n += 1.0;
        }
    }
    10.0 * (255.0f64 * 255.0 / (sum / n).max(1e-9)).log10()
}

fn avif_of(stack: &Stack, input: &[u8]) -> (Image, String) {
    let reply = stack.convert("/v1/convert/avif", input);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    decode_avif_pixels(&reply.body).expect("the AVIF decodes")
}

#[test]
fn a_photo_keeps_its_colours_in_420_and_444() {
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let truth = reference(&photo, 2048);
    let default = Stack::start_quiet("avif-420");
    let (image, info) = avif_of(&default, &photo);
    assert!(info.contains("YUV420") && info.contains("Full"), "{info}");
    assert_eq!(image.layout, PixelLayout::Rgb8, "an opaque photo has no alpha");
    let db = psnr(&truth, &image, 0..3);
    assert!(db > 30.0, "4:2:0 AVIF of the photo: PSNR {db:.1} dB against the lossless conversion");

    let full_chroma = Stack::start_with("avif-444", &[("SPIN_VARIABLE_AVIF_CHROMA", "444")]);
    let (image444, info) = avif_of(&full_chroma, &photo);
    assert!(info.contains("YUV444"), "{info}");
    let db444 = psnr(&truth, &image444, 0..3);
    assert!(db444 > 30.0, "4:4:4 AVIF of the photo: PSNR {db444:.1} dB");
}

#[test]
fn translucent_pixels_keep_their_alpha() {
    let png = std::fs::read(corpus().join("features/alpha.png")).unwrap();
    let truth = reference(&png, 2048);
    assert_eq!(truth.layout, PixelLayout::Rgba8);
    assert!(truth.pixels.chunks_exact(4).any(|p| p[3] < 128), "the fixture has translucent pixels");
    let stack = Stack::start_quiet("avif-alpha");
    let (image, info) = avif_of(&stack, &png);
    assert_eq!(image.layout, PixelLayout::Rgba8, "alpha lost: {info}");
    let db = psnr(&truth, &image, 3..4);
    assert!(db > 30.0, "alpha plane: PSNR {db:.1} dB against the source's");
}

#[test]
fn bad_avif_settings_are_refused_with_the_reason() {
    let photo = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    for (name, value, word) in [("SPIN_VARIABLE_AVIF_CHROMA", "422", "chroma"), ("SPIN_VARIABLE_AVIF_SPEED", "10", "speed")] {
        let stack = Stack::start_with(&format!("avif-bad-{word}"), &[(name, value)]);
        let reply = stack.convert("/v1/convert/avif", &photo);
        assert!(reply.status >= 400, "{name}={value}: {}", reply.status);
        let body = reply.json();
        assert!(body["error"].is_string() && body.to_string().contains(word), "{name}={value}: {body}");
    }
}
