//! kiln's progressive JPEG decoder (crate::decode::progressive) against
//! full-size decoders, on libjpeg-turbo-made fixtures of every sampling
//! (scripts/make-progressive-fixtures.sh), the corpus' progressive photo,
//! and jpeg-encoder's own progressive output; damaged files are refused or
//! decoded without a panic. Its memory: tests/progressive_memory.rs.

mod common;

use kiln_core::decode::progressive::{decode_scaled, working_bytes, MAX_SCANS};
use kiln_core::encode::{jpeg::JpegEncoder, Encoder};
use kiln_core::probe::probe;
use kiln_core::{Image, KilnError};

const FIXTURES: &[&str] = &["ycc420", "ycc422", "ycc444", "ycc440", "ycc411", "gray", "rgb", "restart", "scans", "large"];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/progressive/{name}.jpg", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The full-size decode kiln itself uses (zune-jpeg), RGB.
fn reference(bytes: &[u8]) -> Image {
    kiln_core::decode::decode(bytes, &probe(bytes).unwrap(), 1, u64::MAX).unwrap()
}

/// jpeg-decoder's scaled decode (kiln's baseline shrink-on-load), RGB.
fn jpeg_decoder_scaled(bytes: &[u8], full: &Image, s: u32) -> Image {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().unwrap();
    let (w, h) = decoder.scale(full.width.div_ceil(s) as u16, full.height.div_ceil(s) as u16).unwrap();
    let pixels = decoder.decode().unwrap();
    let pixels = if pixels.len() == w as usize * h as usize { pixels.iter().flat_map(|&g| [g; 3]).collect() } else { pixels };
    Image::new(w as u32, h as u32, kiln_core::PixelLayout::Rgb8, pixels)
}

/// `image` averaged over s × s boxes (edge boxes partial): what 1/s of it should look like.
fn box_shrink(image: &Image, s: u32) -> Image {
    let (w, h) = (image.width.div_ceil(s), image.height.div_ceil(s));
    let mut out = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            let mut sum = [0u32; 3];
            let mut count = 0;
            for sy in y * s..((y + 1) * s).min(image.height) {
                for sx in x * s..((x + 1) * s).min(image.width) {
                    let at = ((sy * image.width + sx) * 3) as usize;
                    (0..3).for_each(|c| sum[c] += image.pixels[at + c] as u32);
                    count += 1;
                }
            }
            let at = ((y * w + x) * 3) as usize;
            (0..3).for_each(|c| out[at + c] = ((sum[c] + count / 2) / count) as u8);
        }
    }
    Image::new(w, h, kiln_core::PixelLayout::Rgb8, out)
}

/// (PSNR in dB, largest difference) between two images of one size.
fn compare(a: &Image, b: &Image) -> (f64, u8) {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let (mut squares, mut worst) = (0f64, 0u8);
    for (p, q) in a.pixels.iter().zip(&b.pixels) {
        let d = p.abs_diff(*q);
        squares += (d as f64).powi(2);
        worst = worst.max(d);
    }
    let mse = squares / a.pixels.len() as f64;
    (10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10(), worst)
}

/// Decodes `bytes` with kiln at full size and compares it with `full`.
fn check_full(name: &str, bytes: &[u8], full: &Image, max_worst: u8) {
    let ours = decode_scaled(bytes, 1, u64::MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (psnr, worst) = compare(&ours, full);
    eprintln!("{name} 1/1: {psnr:.1} dB, largest difference {worst}");
    assert!(psnr >= 50.0 && worst <= max_worst, "{name}: {psnr:.1} dB, largest difference {worst}");
}

/// Decodes `bytes` with kiln at 1/`s`, compares it with jpeg-decoder's
/// scaled decode (which keeps every coefficient), and checks that both are
/// as close to `full` averaged over s × s boxes.
fn check_scaled(name: &str, bytes: &[u8], full: &Image, s: u32) {
    let ours = decode_scaled(bytes, s, u64::MAX).unwrap_or_else(|e| panic!("{name} at 1/{s}: {e}"));
    let theirs = jpeg_decoder_scaled(bytes, full, s);
    let shrunk = box_shrink(full, s);
    let ((psnr, worst), (ours_box, _), (theirs_box, _)) = (compare(&ours, &theirs), compare(&ours, &shrunk), compare(&theirs, &shrunk));
    eprintln!("{name} 1/{s}: {psnr:.1} dB from jpeg-decoder (largest difference {worst}); box average: kiln {ours_box:.1} dB, jpeg-decoder {theirs_box:.1} dB");
    // 45-70 dB measured; 41 for 4:1:1, whose chroma jpeg-decoder upsamples differently.
    assert!(psnr >= 40.0, "{name} at 1/{s}: {psnr:.1} dB from jpeg-decoder");
    assert!(ours_box >= theirs_box - 0.5, "{name} at 1/{s}: kiln {ours_box:.1} dB, jpeg-decoder {theirs_box:.1} dB");
}

#[test]
fn full_size_matches_libjpeg_turbo_in_every_sampling() {
    // At scale 1 every coefficient is kept: any entropy-decoding slip (a
    // refinement bit, an end-of-band run, a restart) shows as a block
    // gone wrong, far below these bounds. 4:1:1 chroma is upsampled
    // differently (bilinear here), so its edges differ more.
    for name in FIXTURES {
        let bytes = fixture(name);
        let worst = if *name == "ycc411" { 32 } else { 3 };
        check_full(name, &bytes, &reference(&bytes), worst);
    }
}

#[test]
fn scaled_decodes_match_the_full_decode_shrunk() {
    for name in FIXTURES {
        let bytes = fixture(name);
        let full = reference(&bytes);
        for s in [2, 4, 8] {
            check_scaled(name, &bytes, &full, s);
        }
    }
}

#[test]
fn the_corpus_photo_and_kiln_s_own_progressive_output_decode() {
    let photo = common::read("features/progressive.jpg");
    let full = reference(&photo);
    check_full("corpus progressive.jpg", &photo, &full, 4);
    for s in [2, 4, 8] {
        check_scaled("corpus progressive.jpg", &photo, &full, s);
    }
    // jpeg-encoder writes its own scan script (kiln's JPEG output).
    let encoded = JpegEncoder::new(85.0).unwrap().encode(&full).unwrap();
    let full = reference(&encoded);
    check_full("kiln's JPEG output", &encoded, &full, 4);
    check_scaled("kiln's JPEG output", &encoded, &full, 4);
}

#[test]
fn damaged_files_are_refused_or_decoded_without_a_panic() {
    let bytes = fixture("scans");
    // Cut anywhere: the end-of-image marker is missing, so it is refused.
    for cut in (2..bytes.len() - 2).step_by(97) {
        assert!(decode_scaled(&bytes[..cut], 4, u64::MAX).is_err(), "cut at {cut} was accepted");
    }
    // Any one byte changed: an error or an image of the right size.
    for at in (2..bytes.len()).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5A;
        if let Ok(image) = decode_scaled(&damaged, 2, 64 << 20) {
            assert_eq!(image.pixels.len(), (image.width * image.height * 3) as usize);
        }
    }
}

#[test]
fn more_scans_than_the_limit_are_refused() {
    // The fixture's DC refining scan repeated until the file holds
    // MAX_SCANS + 1: it reads one bit per block whatever came before (OR-ed
    // into the DC), so the file stays valid until the limit.
    let bytes = fixture("ycc444");
    let starts: Vec<usize> = bytes.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
    let is_dc_refine = |at: usize| {
        let count = bytes[at + 4] as usize;
        let (ss, ah) = (bytes[at + 5 + 2 * count], bytes[at + 7 + 2 * count] >> 4);
        ss == 0 && ah > 0
    };
    let i = starts.iter().position(|&at| is_dc_refine(at)).expect("a DC refining scan");
    let (sos, end) = (starts[i], starts[i + 1]);
    let eoi = bytes.len() - 2;
    let scans = starts.len();
    let grow = |total: usize| [&bytes[..eoi], &bytes[sos..end].repeat(total - scans), &bytes[eoi..]].concat();
    assert!(decode_scaled(&grow(MAX_SCANS), 2, u64::MAX).is_ok());
    let err = decode_scaled(&grow(MAX_SCANS + 1), 2, u64::MAX).unwrap_err();
    assert!(matches!(err, KilnError::TooLarge(ref m) if m.contains("scans")), "{err}");
}

#[test]
fn a_frame_whose_coefficients_exceed_the_allowance_is_refused_before_decoding() {
    let bytes = fixture("ycc420");
    let blocks = [(42, 32), (21, 16), (21, 16)]; // 333x251 at 4:2:0: 21x16 MCUs
    let needed = working_bytes(&blocks, 4);
    let err = decode_scaled(&bytes, 4, needed - 1).unwrap_err();
    assert!(matches!(err, KilnError::TooLarge(_)), "{err}");
    assert!(decode_scaled(&bytes, 4, needed).is_ok());
}
