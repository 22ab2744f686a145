//! The heap peak of streaming an animated WebP's frames (image-webp's
//! decoder and canvas, kiln's RGBA canvas) stays within the bytes per
//! screen pixel the animation estimate holds for it
//! ([`kiln_core::estimate::animation::WEBP_DECODER_BYTES`]), for lossy
//! frames (made with kiln's own animation encoder) and lossless ones with
//! alpha (img2webp, Debian's `webp` package, when it is installed). A
//! binary of its own: the counting allocator is process-wide.

use kiln_core::alloc_counter::{peak_of, Counting};
use kiln_core::decode::WebpFrames;
use kiln_core::encode::webp_anim::AnimEncoder;
use kiln_core::estimate::animation::WEBP_DECODER_BYTES;
use std::process::Command;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const W: u32 = 320;
const H: u32 = 240;
const FRAMES: u32 = 6;

/// Noise: every pixel its own colour, a new draw for each frame.
fn noise(state: &mut u32, alpha: bool) -> Vec<u8> {
    (0..W * H)
        .flat_map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 17;
            *state ^= *state << 5;
            let [r, g, b, a] = state.to_le_bytes();
            [r, g, b, if alpha { a } else { 255 }]
        })
        .collect()
}

/// Streams every frame; returns the heap peak over the screen's pixels.
fn bytes_per_screen_pixel(webp: &[u8]) -> f64 {
    let (frames, peak) = peak_of(0, || {
        let mut frames = WebpFrames::new(webp, u64::MAX).unwrap();
        let mut n = 0;
        while frames.next_frame().unwrap().is_some() {
            n += 1;
        }
        n
    });
    assert_eq!(frames, FRAMES);
    peak as f64 / (W * H) as f64
}

#[test]
fn animated_webp_decoding_stays_within_the_estimate() {
    let mut state = 0x2545_f491;
    let mut encoder = AnimEncoder::new(W, H, 0, 90.0, 4).unwrap();
    for _ in 0..FRAMES {
        encoder.add(&noise(&mut state, false), 100).unwrap();
    }
    let lossy = encoder.finish().unwrap();
    let mut measured = vec![("lossy, no alpha", bytes_per_screen_pixel(&lossy))];

    let dir = std::env::temp_dir().join(format!("kiln-anim-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["-loop".to_string(), "0".into(), "-lossless".into()];
    for n in 0..FRAMES {
        let path = dir.join(format!("{n}.png"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut png = png::Encoder::new(&mut file, W, H);
        png.set_color(png::ColorType::Rgba);
        png.write_header().unwrap().write_image_data(&noise(&mut state, true)).unwrap();
        args.push(path.to_string_lossy().into_owned());
    }
    let out = dir.join("lossless.webp");
    match Command::new("img2webp").args(&args).arg("-o").arg(&out).output() {
        Ok(o) if o.status.success() => measured.push(("lossless, alpha (img2webp)", bytes_per_screen_pixel(&std::fs::read(&out).unwrap()))),
        _ => eprintln!("img2webp (Debian's webp package) is not installed: lossless frames not measured"),
    }
    std::fs::remove_dir_all(&dir).ok();
    for (what, per_px) in measured {
        eprintln!("{what}: {per_px:.2} B per screen pixel (estimate {WEBP_DECODER_BYTES})");
        assert!(per_px <= WEBP_DECODER_BYTES as f64, "{what}: {per_px:.2} B/px");
    }
}
