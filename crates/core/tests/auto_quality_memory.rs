//! The heap peak of `quality=auto`'s search stays within what its encoder
//! declares for it ([`kiln_core::auto_quality::AutoEncoder`]'s
//! `working_bytes`): SSIMULACRA2's working memory per sample pixel, and a
//! whole JPEG search (the Rust encoder's allocations are counted; libwebp's
//! and libaom's C mallocs are not, so those two are checked under spin up).
//! A binary of its own: the counting allocator is process-wide.

use kiln_core::alloc_counter::{peak_of, Counting};
use kiln_core::auto_quality::{choose, sample, score, AutoEncoder, Sampling, SCORE_BYTES_PER_PIXEL};
use kiln_core::encode::jpeg::JpegEncoder;
use kiln_core::encode::Encoder;
use kiln_core::{Image, PixelLayout};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A photo-like 2048x1536 picture: gradients and texture.
fn picture() -> Image {
    let (w, h) = (2048u32, 1536u32);
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    let mut state = 0x9e37_79b9_u32;
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let t = (state % 32) as u8;
            pixels.extend([(x * 200 / w) as u8 + t, (y * 200 / h) as u8 + t / 2, ((x + y) * 100 / (w + h)) as u8 + t]);
        }
    }
    Image::new(w, h, PixelLayout::Rgb8, pixels)
}

/// One test: the counting allocator is process-wide, so two tests at once
/// would count each other's allocations.
#[test]
fn the_search_stays_within_its_declared_memory() {
    scoring_stays_within_its_bytes_per_pixel();
    a_jpeg_search_stays_within_the_declared_working_bytes();
}

fn scoring_stays_within_its_bytes_per_pixel() {
    let img = picture();
    let s = sample(&img, &Sampling::DEFAULT);
    let shown = sample(&img, &Sampling::DEFAULT);
    let pixels = s.width as u64 * s.height as u64;
    let (value, peak) = peak_of(0, || score(&s, &shown).unwrap());
    eprintln!("SSIMULACRA2 of a {}x{} sample: heap peak {peak} bytes = {:.0} B/px (allowance {SCORE_BYTES_PER_PIXEL} B/px)", s.width, s.height, peak as f64 / pixels as f64);
    assert!(value > 99.0);
    assert!(peak <= pixels * SCORE_BYTES_PER_PIXEL, "{peak} > {}", pixels * SCORE_BYTES_PER_PIXEL);
}

fn a_jpeg_search_stays_within_the_declared_working_bytes() {
    let img = picture();
    let base = JpegEncoder::new(82.0).unwrap();
    let declared = AutoEncoder::new(base.clone(), 70.0).unwrap().working_bytes(img.width, img.height, 3);
    let (choice, peak) = peak_of(0, || choose(&base, &img, 70.0, &Sampling::DEFAULT).unwrap());
    eprintln!("JPEG search on 2048x1536 ({choice:?}): heap peak {peak} bytes, declared {declared} bytes");
    assert!(peak <= declared, "{peak} > {declared}");
}
