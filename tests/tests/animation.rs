//! End to end: an animated GIF, and an animated WebP, under a real `spin
//! up` (128 MiB per instance). The WebP converter makes an animated WebP
//! with the input's frames, delays and loop count (direct mode, and through
//! the one-shot upload's manifest); JPEG, AVIF and the thumbnail are stills
//! of the first frame; an animation over the frame limit, or whose frames ×
//! screen exceed `max_animation_pixels`, gets a 413 that says so. Prints the
//! WebP converter's time and linear memory for the test animations
//! (`--nocapture`).

use image_webp::{LoopCount, WebPDecoder};
use kiln_e2e::images::{decode_avif_pixels, verify};
use kiln_core::encode::webp_anim::AnimEncoder;
use kiln_e2e::Stack;
use std::time::Instant;

const SIZE: (u16, u16) = (320, 240);
const FRAMES: usize = 24;
/// Delays in 1/100 s, cycled over the frames.
const DELAYS: [u16; 3] = [4, 8, 12];
/// The GIF repeats 3 times after the first play: 4 plays, WebP's loop count 4.
const GIF_REPEAT: u16 = 3;

/// A 256-colour palette: a ramp, index i = (i, 3i mod 256, 255 - i).
fn palette() -> Vec<u8> {
    (0..256u32).flat_map(|i| [i as u8, ((i * 3) % 256) as u8, (255 - i) as u8]).collect()
}

/// Frame `n`'s palette indices: a horizontal ramp shifted 40 px per frame
/// (coarse enough to tell frames apart on an 8×6 grid of cell means), with
/// a vertical step, so every frame differs from the one before.
fn frame_indices(n: usize) -> Vec<u8> {
    let (w, h) = (SIZE.0 as usize, SIZE.1 as usize);
    (0..w * h).map(|i| ((((i % w) + n * 40) % w * 200 / w) + (i / w) * 48 / h) as u8).collect()
}

/// An animated GIF of `frames` full-screen frames at `SIZE`.
fn animated_gif(frames: usize, repeat: gif::Repeat) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, SIZE.0, SIZE.1, &palette()).unwrap();
    encoder.set_repeat(repeat).unwrap();
    for n in 0..frames {
        let mut frame = gif::Frame::from_indexed_pixels(SIZE.0, SIZE.1, frame_indices(n), None);
        frame.delay = DELAYS[n % DELAYS.len()];
        encoder.write_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// A GIF of `frames` 1×1 frames on a `w`×`h` screen: small bytes, many frames.
fn tiny_frames_gif(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, w, h, &palette()).unwrap();
    encoder.set_repeat(gif::Repeat::Infinite).unwrap();
    for n in 0..frames {
        let mut frame = gif::Frame::from_indexed_pixels(1, 1, vec![(n % 256) as u8], None);
        frame.delay = 2;
        encoder.write_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// The test GIF as an animated WebP (kiln's libwebp animation encoder,
/// quality 95): its frames, its delays as durations (ms) and its plays as
/// WebP's loop count.
fn animated_webp(frames: usize) -> Vec<u8> {
    let palette = palette();
    let mut encoder = AnimEncoder::new(SIZE.0 as u32, SIZE.1 as u32, GIF_REPEAT + 1, 95.0, 4).unwrap();
    for n in 0..frames {
        let rgba: Vec<u8> = frame_indices(n).iter().flat_map(|&i| [palette[i as usize * 3], palette[i as usize * 3 + 1], palette[i as usize * 3 + 2], 255]).collect();
        encoder.add(&rgba, DELAYS[n % DELAYS.len()] as u32 * 10).unwrap();
    }
    encoder.finish().unwrap()
}

/// An animated WebP of `frames` frames on a `w`×`h` canvas, each differing
/// from the one before in one pixel, black or white (libwebp would merge
/// frames that do not differ): small bytes, many frames.
fn tiny_change_webp(w: u32, h: u32, frames: usize) -> Vec<u8> {
    let mut encoder = AnimEncoder::new(w, h, 0, 50.0, 0).unwrap();
    let mut rgba = vec![128u8; (w * h * 4) as usize];
    for n in 0..frames {
        rgba[..3].fill(if n % 2 == 0 { 0 } else { 255 });
        encoder.add(&rgba, 20).unwrap();
    }
    encoder.finish().unwrap()
}

/// Mean RGB of each cell of an 8×6 grid over an RGB(A) image.
fn grid(pixels: &[u8], width: usize, height: usize) -> Vec<[f64; 3]> {
    let channels = pixels.len() / (width * height);
    let mut cells = vec![([0.0; 3], 0.0); 48];
    for (i, px) in pixels.chunks_exact(channels).enumerate() {
        let cell = (i / width) * 6 / height * 8 + (i % width) * 8 / width;
        for (sum, &v) in cells[cell].0.iter_mut().zip(px) {
            *sum += v as f64;
        }
        cells[cell].1 += 1.0;
    }
    cells.into_iter().map(|(sum, n)| sum.map(|s| s / n)).collect()
}

/// Mean absolute difference between two grids.
fn distance(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (0..3).map(|c| (x[c] - y[c]).abs()).sum::<f64>()).sum::<f64>() / (a.len() * 3) as f64
}

/// Frame `n` of the GIF as it displays (RGB), on the grid.
fn gif_frame_grid(n: usize) -> Vec<[f64; 3]> {
    let palette = palette();
    let rgb: Vec<u8> = frame_indices(n).iter().flat_map(|&i| palette[i as usize * 3..][..3].to_vec()).collect();
    grid(&rgb, SIZE.0 as usize, SIZE.1 as usize)
}

/// Checks `bytes` is an animated WebP of the GIF: frame count, each
/// frame's duration, the loop count, the size, and each frame's pixels.
fn check_animated_webp(bytes: &[u8]) {
    let mut d = WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    assert!(d.is_animated(), "the WebP is not animated");
    assert_eq!(d.num_frames() as usize, FRAMES);
    assert_eq!(d.loop_count(), LoopCount::Times((GIF_REPEAT + 1).try_into().unwrap()));
    assert_eq!(d.dimensions(), (SIZE.0 as u32, SIZE.1 as u32));
    let mut buf = vec![0; d.output_buffer_size().unwrap()];
    for n in 0..FRAMES {
        let duration = d.read_frame(&mut buf).unwrap();
        assert_eq!(duration, DELAYS[n % DELAYS.len()] as u32 * 10, "frame {n}");
        let got = grid(&buf, SIZE.0 as usize, SIZE.1 as usize);
        let (own, next) = (distance(&got, &gif_frame_grid(n)), distance(&got, &gif_frame_grid(n + 1)));
        assert!(own < 6.0 && next > 4.0 * own, "frame {n}: {own:.1} from its GIF frame, {next:.1} from the next");
    }
}

/// Checks a still variant shows the GIF's first frame, not the second.
fn check_first_frame(pixels: &[u8], (w, h): (u32, u32), what: &str) {
    let got = grid(pixels, w as usize, h as usize);
    let (first, second) = (distance(&got, &gif_frame_grid(0)), distance(&got, &gif_frame_grid(1)));
    assert!(first < 8.0 && second > 3.0 * first, "{what}: {first:.1} from frame 1, {second:.1} from frame 2");
}

/// The corpus' animated GIF (real content): an animated WebP of at most its
/// frames (libwebp merges unchanged ones), with its time and memory printed.
fn measure_corpus_animation(s: &Stack) {
    let gif = std::fs::read(kiln_e2e::corpus().join("features/animated.gif")).unwrap();
    let info = kiln_core::probe::probe(&gif).unwrap();
    let started = Instant::now();
    let reply = s.convert("/v1/convert/webp", &gif);
    let wall = started.elapsed();
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let d = WebPDecoder::new(std::io::Cursor::new(&reply.body)).unwrap();
    assert!(d.is_animated() && (2..=info.frames).contains(&(d.num_frames() as u64)), "{} frames of {}", d.num_frames(), info.frames);
    println!(
        "corpus animated.gif {}x{} x {} frames ({} bytes) -> {} frames, {} bytes: {:.0} ms wall, Server-Timing {}, linear memory {:.1} MiB",
        info.width,
        info.height,
        info.frames,
        gif.len(),
        d.num_frames(),
        reply.body.len(),
        wall.as_secs_f64() * 1000.0,
        reply.header("server-timing").unwrap_or_default(),
        reply.header("x-kiln-linear-memory").and_then(|m| m.parse::<f64>().ok()).unwrap_or(0.0) / (1 << 20) as f64
    );
}

#[test]
fn an_animated_gif_becomes_an_animated_webp_and_stills_of_its_first_frame() {
    let s = Stack::start("animation");
    let gif = animated_gif(FRAMES, gif::Repeat::Finite(GIF_REPEAT));

    // Direct mode, the WebP converter.
    direct_animated_webp(&s, "animated GIF", &gif);
    measure_corpus_animation(&s);

    check_upload(&s, &gif, "anim.gif", "image/gif");
}

/// The one-shot upload of `input` (the test animation): the manifest's
/// WebP is animated, the rest stills of its first frame.
fn check_upload(s: &Stack, input: &[u8], filename: &str, mime: &str) {
    let reply = s.post(&format!("/v1/images?filename={filename}"), mime, input, Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    for v in manifest["variants"].as_array().unwrap() {
        let (format, mime) = (v["format"].as_str().unwrap(), v["mime_type"].as_str().unwrap());
        let served = s.get_url(v["url"].as_str().unwrap());
        assert_eq!(served.status, 200, "{v}");
        let size = (v["width"].as_u64().unwrap() as u32, v["height"].as_u64().unwrap() as u32);
        match format {
            "webp" => {
                check_animated_webp(&served.body);
                println!("manifest webp variant: {} bytes, linear memory {:?}", served.body.len(), v["linear_memory"]);
            }
            "avif" => {
                let (image, _) = decode_avif_pixels(&served.body).unwrap();
                assert_eq!((image.width, image.height), size);
                check_first_frame(&image.pixels, size, format);
            }
            _ => {
                assert_eq!(verify(&served.body, mime).unwrap(), size, "{format}");
                let info = kiln_core::probe::probe(&served.body).unwrap();
                assert_eq!(info.frames, 1, "{format} is a still");
                let image = kiln_core::decode::decode(&served.body, &info, 1, u64::MAX).unwrap();
                check_first_frame(&image.pixels, size, format);
            }
        }
    }
    let formats: Vec<_> = manifest["variants"].as_array().unwrap().iter().map(|v| v["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["webp", "avif", "jpeg", "thumbnail"]);
}

#[test]
fn an_animated_webp_stays_animated_and_stills_take_its_first_frame() {
    let s = Stack::start("animation-webp");
    let webp = animated_webp(FRAMES);
    let info = kiln_core::probe::probe(&webp).unwrap();
    assert_eq!((info.frames, info.width, info.height), (FRAMES as u64, SIZE.0 as u32, SIZE.1 as u32));
    check_animated_webp(&webp);

    direct_animated_webp(&s, "animated WebP", &webp);

    // Resized: every frame at the variant's size.
    let reply = s.convert("/v1/convert/webp?width=160", &webp);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let d = WebPDecoder::new(std::io::Cursor::new(&reply.body)).unwrap();
    assert_eq!((d.is_animated(), d.num_frames() as usize, d.dimensions()), (true, FRAMES, (160, 120)));

    check_upload(&s, &webp, "anim.webp", "image/webp");

    // Limits, as for a GIF.
    let many = tiny_change_webp(8, 8, 1001);
    assert_eq!(kiln_core::probe::probe(&many).unwrap().frames, 1001);
    check_limits(&s, &many, &tiny_change_webp(1000, 1000, 51));
}

#[test]
fn animations_over_the_limits_are_refused_with_a_reason() {
    let s = Stack::start_quiet("animation-limits");
    check_limits(&s, &tiny_frames_gif(8, 8, 1001), &tiny_frames_gif(1000, 1000, 51));
}

/// `many` (1001 frames) is over max_animation_frames (1000) for every
/// converter; `wide` (51 frames of a 1000x1000 screen: 51 MP of canvases)
/// is over max_animation_pixels (50 MP) for the animated WebP, while a
/// still of its first frame is fine.
fn check_limits(s: &Stack, many: &[u8], wide: &[u8]) {
    for route in ["/v1/convert/webp", "/v1/convert/jpeg"] {
        let reply = s.convert(route, many);
        assert_eq!(reply.status, 413, "{route}: {}", String::from_utf8_lossy(&reply.body));
        let json = reply.json();
        assert_eq!(json["error"], "too_large");
        assert!(json["detail"].as_str().unwrap().contains("1001 frames, the limit is 1000 frames"), "{json}");
    }
    let reply = s.convert("/v1/convert/webp", wide);
    assert_eq!(reply.status, 413, "{}", String::from_utf8_lossy(&reply.body));
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("51 frames of 1000x1000 makes 51000000 pixels, the limit is 50000000 pixels (max_animation_pixels)"), "{detail}");
    let reply = s.convert("/v1/convert/jpeg", wide);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
}

/// Converts `input` (the test animation, 320x240) in direct mode with the
/// WebP converter: an animated WebP comes back. Prints its cost and the
/// core's memory estimate for it.
fn direct_animated_webp(s: &Stack, label: &str, input: &[u8]) {
    let started = Instant::now();
    let reply = s.convert("/v1/convert/webp", input);
    let wall = started.elapsed();
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some("image/webp"));
    assert_eq!((reply.header("x-kiln-width"), reply.header("x-kiln-height")), (Some("320"), Some("240")));
    check_animated_webp(&reply.body);
    println!(
        "{label} {}x{} x {FRAMES} frames ({} bytes) -> animated WebP {} bytes: {:.0} ms wall, Server-Timing {}, linear memory {:.1} MiB",
        SIZE.0,
        SIZE.1,
        input.len(),
        reply.body.len(),
        wall.as_secs_f64() * 1000.0,
        reply.header("server-timing").unwrap_or_default(),
        reply.header("x-kiln-linear-memory").and_then(|m| m.parse::<f64>().ok()).unwrap_or(0.0) / (1 << 20) as f64
    );
    let options = kiln_core::ConvertOptions { max_long_side: 2048, limits: kiln_core::Limits::default(), metadata: Default::default() };
    let encoder = kiln_core::encode::webp::WebpEncoder::new(80.0).unwrap();
    let (_, _, estimate) = kiln_core::animation::plan_animation(input, &options, &encoder).unwrap();
    println!("  the core's memory estimate for it: {:.1} MiB", estimate.peak() as f64 / (1 << 20) as f64);
}
