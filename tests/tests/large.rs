//! End to end: the memory budget. A baseline JPEG at the default
//! `max_pixels` (100 MP since issue 11; imgproxy's default is 50) converts in
//! every component under `spin up --max-instance-memory 128 MiB`, by
//! shrink-on-load; a progressive JPEG of the same size, whose coefficients
//! alone exceed the budget, is refused with a 413 that says why — never an
//! OOM trap.

use kiln_core::image::{Image, PixelLayout};
use kiln_core::probe::probe;
use kiln_e2e::images::{fitted, verify};
use kiln_e2e::{corpus, Stack};

/// 3:2, as close to the default `max_pixels` as whole pixels allow.
const W: u32 = 12247;
const H: u32 = 8165;
const _: () = assert!(W as u64 * H as u64 <= kiln_core::limits::DEFAULT_MAX_PIXELS && (W as u64 + 1) * (H as u64 + 1) > kiln_core::limits::DEFAULT_MAX_PIXELS);

/// A JPEG at `max_pixels` made from the 12 MP corpus photo, upscaled.
fn at_max_pixels(progressive: bool) -> Vec<u8> {
    let src = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    let info = probe(&src).unwrap();
    let image = kiln_core::decode::decode(&src, &info, 1, u64::MAX).unwrap();
    let big: Image = kiln_core::resize::resize(image, W, H).unwrap();
    assert_eq!(big.layout, PixelLayout::Rgb8);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    encoder.set_progressive(progressive);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.encode(&big.pixels, W as u16, H as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

#[test]
fn jpegs_at_max_pixels_fit_or_get_a_clear_413() {
    let s = Stack::start_quiet("large");
    let baseline = at_max_pixels(false);
    assert!(baseline.len() as u64 <= kiln_core::limits::Limits::default().max_input_bytes, "{} bytes", baseline.len());
    s.put_object("originals/large/baseline-max.jpg", &baseline);
    for (route, mime, side) in [
        ("/v1/convert/webp", "image/webp", 2048),
        ("/v1/convert/avif", "image/avif", 2048),
        ("/v1/convert/jpeg", "image/jpeg", 2048),
        ("/v1/thumbnail", "image/png", 256),
    ] {
        let reply = s.convert_key(route, "originals/large/baseline-max.jpg");
        assert_eq!(reply.status, 200, "{W}x{H} -> {route}: {}", String::from_utf8_lossy(&reply.body));
        let url = reply.json()["url"].as_str().unwrap().to_string();
        assert_eq!(verify(&s.get_url(&url).body, mime).unwrap(), fitted(W, H, side), "{route}");
    }

    let progressive = at_max_pixels(true);
    s.put_object("originals/large/progressive-max.jpg", &progressive);
    let reply = s.convert_key("/v1/convert/webp", "originals/large/progressive-max.jpg");
    assert_eq!(reply.status, 413, "{}", String::from_utf8_lossy(&reply.body));
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("progressive") && detail.contains("MiB"), "{detail}");
    // The instance was refused before allocating, so the server still serves.
    let ok = s.convert_key("/v1/thumbnail", "originals/large/baseline-max.jpg");
    assert_eq!(ok.status, 200);
}
