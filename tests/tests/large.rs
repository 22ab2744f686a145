//! End to end: the memory budget. Under `spin up --max-instance-memory
//! 128 MiB`, every component converts:
//! - a baseline and a progressive JPEG at the default `max_pixels` (100 MP
//!   since issue 11; imgproxy's default is 50), by shrink-on-load (the
//!   progressive one with kiln's own decoder, which keeps only the
//!   coefficients the scaled IDCT reads);
//! - a 4K RGBA screenshot PNG and an RGBA PNG at `max_pixels`, decoded row
//!   by row into the streaming resizer, so memory follows the output;
//! - the 4K screenshot into all four formats in one call (the combined
//!   converter).

use kiln_core::image::{Image, PixelLayout};
use kiln_core::probe::probe;
use kiln_e2e::images::{fitted, jpegtran_progressive, verify};
use kiln_e2e::{corpus, Reply, Stack};

/// `spin up --max-instance-memory` in these tests.
const INSTANCE_MEMORY: u64 = 128 << 20;

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
fn jpegs_at_max_pixels_convert_within_the_instance_memory() {
    let s = Stack::start_quiet("large");
    let baseline = at_max_pixels(false);
    assert!(baseline.len() as u64 <= kiln_core::limits::Limits::default().max_input_bytes, "{} bytes", baseline.len());
    s.put_object("originals/large/baseline-max.jpg", &baseline);
    converts_everywhere(&s, "originals/large/baseline-max.jpg", (W, H));

    // Progressive JPEGs too: kiln's own decoder keeps only the
    // coefficients the scaled IDCT reads (crate::decode::progressive).
    // jpeg-encoder's scan script (spectral selection only), and
    // libjpeg-turbo's (successive approximation, refining scans), the
    // baseline file made progressive losslessly by jpegtran.
    let progressive = at_max_pixels(true);
    let libjpeg = jpegtran_progressive(&baseline);
    for (key, bytes) in [("originals/large/progressive-max.jpg", progressive), ("originals/large/libjpeg-progressive-max.jpg", libjpeg)] {
        assert!(probe(&bytes).unwrap().jpeg.unwrap().progressive, "{key}");
        assert!(bytes.len() as u64 <= kiln_core::limits::Limits::default().max_input_bytes, "{key}: {} bytes", bytes.len());
        s.put_object(key, &bytes);
        converts_everywhere(&s, key, (W, H));
    }
}

/// A screenshot-like RGBA image: flat panels, a gradient, text-like
/// stripes, and a translucent sidebar, so alpha survives.
fn screenshot(w: u32, h: u32) -> Vec<u8> {
    // Written row by row to a file: the stream writer owns its sink.
    let path = std::env::temp_dir().join(format!("kiln-screenshot-{w}x{h}-{}.png", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut encoder = png::Encoder::new(file, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap().into_stream_writer().unwrap();
    let mut row = Vec::with_capacity(w as usize * 4);
    for y in 0..h {
        row.clear();
        for x in 0..w {
            let panel = ((x / 480 + y / 270) % 3) as u8;
            let text = y % 24 < 12 && (x / 6) % 5 != 0 && x % 480 > 40;
            let rgb = if text { [20, 20, 30] } else { [40 + panel * 70, (y * 200 / h) as u8 + 20, (x * 200 / w) as u8 + 30] };
            let alpha = if x < w / 10 { 160 } else { 255 };
            row.extend_from_slice(&[rgb[0], rgb[1], rgb[2], alpha]);
        }
        std::io::Write::write_all(&mut writer, &row).unwrap();
    }
    writer.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

/// Converts `key` with every per-format component; each must succeed
/// within the instance memory and keep the aspect.
fn converts_everywhere(s: &Stack, key: &str, (w, h): (u32, u32)) {
    for (route, mime, side) in [
        ("/v1/convert/webp", "image/webp", 2048),
        ("/v1/convert/avif", "image/avif", 2048),
        ("/v1/convert/jpeg", "image/jpeg", 2048),
        ("/v1/thumbnail", "image/png", 256),
    ] {
        let reply = s.convert_key(route, key);
        assert_eq!(reply.status, 200, "{w}x{h} -> {route}: {}", String::from_utf8_lossy(&reply.body));
        assert!(within_instance_memory(&reply), "{route}: {:?}", reply.header("x-kiln-linear-memory"));
        eprintln!("{w}x{h} {route}: linear memory {:?}, {:?}", reply.header("x-kiln-linear-memory"), reply.header("server-timing"));
        let url = reply.json()["url"].as_str().unwrap().to_string();
        assert_eq!(verify(&s.get_url(&url).body, mime).unwrap(), fitted(w, h, side), "{route}");
    }
}

fn within_instance_memory(reply: &Reply) -> bool {
    reply.header("x-kiln-linear-memory").and_then(|m| m.parse::<u64>().ok()).is_some_and(|m| m > 0 && m <= INSTANCE_MEMORY)
}

#[test]
fn pngs_up_to_max_pixels_stream_within_the_instance_memory() {
    let s = Stack::start_quiet("large-png");
    // The screenshot issue 11 found refused (an estimated 165 MiB for WebP).
    let screen = screenshot(3840, 2160);
    s.put_object("originals/large/screen-4k.png", &screen);
    converts_everywhere(&s, "originals/large/screen-4k.png", (3840, 2160));

    let big = screenshot(W, H);
    assert!(big.len() as u64 <= kiln_core::limits::Limits::default().max_input_bytes, "{} bytes", big.len());
    s.put_object("originals/large/screen-max.png", &big);
    converts_everywhere(&s, "originals/large/screen-max.png", (W, H));

    // All four from one decode, in one instance (the combined converter).
    // At max_pixels it refuses this one: its estimate adds the retained base
    // image to AVIF's, 125 MiB (docs/memory-model.md).
    let reply = s.post("/v1/convert/all", "application/json", br#"{"key":"originals/large/screen-4k.png"}"#, Some(&s.token));
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert!(within_instance_memory(&reply), "{:?}", reply.header("x-kiln-linear-memory"));
    let sizes: Vec<u64> = reply.json()["variants"].as_array().unwrap().iter().map(|v| v["variant"]["width"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [2048, 2048, 2048, 256]);
}
