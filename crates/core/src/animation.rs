//! Animations: an animated GIF or an animated WebP becomes an animated
//! WebP, with each frame's delay and the loop count kept; every other
//! output (JPEG, AVIF, the thumbnail) takes the first frame, as before.
//!
//! **Streaming.** Frames are decoded one at a time ([`GifFrames`]: the
//! canvas composited with each frame's disposal; [`WebpFrames`]: image-webp
//! composites), the canvas resized to the output size
//! (`fit_within(screen, max_long_side)`, never upscaled) and handed at once
//! to libwebp's animation encoder ([`AnimEncoder`]), so memory is a few
//! canvases plus the encoded frames, never frames × canvas
//! ([`crate::estimate::animation`] counts it). An animated WebP is
//! re-encoded (resized, at the output's quality) like a GIF, not copied.
//!
//! **Delays.** GIF delays are in 1/100 s; frame *i* starts at the sum of
//! the delays before it × 10 ms and each WebP frame lasts exactly its GIF
//! delay. Delays of 0 or 1 (0 or 10 ms) are kept as they are: Chromium,
//! Firefox and Safari show any frame of ≤ 10 ms for 100 ms, in GIF and WebP
//! alike, so the WebP plays as the GIF did. A WebP input's durations (ms)
//! are kept as they are. libwebp merges a frame into the
//! previous one (adding its duration) when it does not differ from it
//! within the lossy tolerance: an animation of identical consecutive
//! frames comes out with fewer, longer frames and the same total time.
//!
//! **Loop count.** GIF (the NETSCAPE2.0 block) counts *repetitions after
//! the first play*, 0 = forever, and a GIF without the block plays once;
//! WebP (the ANIM chunk) counts *plays*, 0 = forever. Browsers read them so
//! (Chromium: a GIF's n means n + 1 plays, a WebP's n means n plays), and
//! libwebp's gif2webp maps them the same way as [`webp_loop_count`]:
//! forever → 0, no block → 1, n → n + 1 (65535 stays 65535, the largest
//! WebP can say). A WebP input's loop count is kept as it is.

use crate::decode::{GifFrames, WebpFrames};
use crate::encode::webp::WebpEncoder;
use crate::encode::webp_anim::AnimEncoder;
use crate::encode::WEBP;
use crate::error::KilnError;
use crate::estimate::{animation as memory, Plan};
use crate::estimate::{MemoryEstimate, BASE_BYTES};
use crate::pipeline::{plan, ConvertOptions, Converted, StageTimings};
use crate::probe::ImageInfo;
use crate::resize::resized;
use crate::sniff::InputFormat;
use std::borrow::Cow;
use std::time::Instant;

/// Whether `info` is converted into an animated WebP by a WebP output: a
/// GIF or an animated WebP of more than one frame.
pub fn is_animated(info: &ImageInfo) -> bool {
    matches!(info.format, InputFormat::Gif | InputFormat::Webp) && info.frames > 1
}

/// The frames of an animated input, one at a time (each decoder boxed:
/// several hundred bytes of state, made once per conversion).
enum Frames<'a> {
    Gif(Box<GifFrames<'a>>),
    Webp(Box<WebpFrames<'a>>),
}

impl<'a> Frames<'a> {
    fn new(bytes: &'a [u8], info: &ImageInfo, max_alloc: u64) -> Result<Frames<'a>, KilnError> {
        Ok(match info.format {
            InputFormat::Webp => Frames::Webp(Box::new(WebpFrames::new(bytes, max_alloc)?)),
            _ => Frames::Gif(Box::new(GifFrames::new(bytes, max_alloc)?)),
        })
    }

    /// WebP's loop count (plays, 0 = forever).
    fn loop_count(&self) -> u16 {
        match self {
            Frames::Gif(f) => webp_loop_count(f.repeat()),
            Frames::Webp(f) => f.loop_count(),
        }
    }

    /// Draws the next frame; its duration in ms, `None` after the last.
    fn next_frame(&mut self) -> Result<Option<u32>, KilnError> {
        match self {
            Frames::Gif(f) => Ok(f.next_frame()?.map(|cs| cs as u32 * 10)),
            Frames::Webp(f) => f.next_frame(),
        }
    }

    fn canvas(&self) -> &crate::image::Image {
        match self {
            Frames::Gif(f) => f.canvas(),
            Frames::Webp(f) => f.canvas(),
        }
    }
}

/// The WebP loop count (plays, 0 = forever) for a GIF's `repeat`
/// (repetitions after the first play; `Finite(0)` when it has no
/// NETSCAPE2.0 block): see the module's notes.
pub fn webp_loop_count(repeat: gif::Repeat) -> u16 {
    match repeat {
        gif::Repeat::Infinite => 0,
        gif::Repeat::Finite(n) => n.saturating_add(1),
    }
}

/// Plans an animated conversion from the header and checks every limit:
/// the still plan's (input bytes, screen pixels, frame count, the pixels of
/// all frames), the frames × screen pixels the animation makes (each frame
/// is composited and resized on the whole screen; `max_animation_pixels`),
/// and its memory.
pub fn plan_animation(bytes: &[u8], options: &ConvertOptions, encoder: &WebpEncoder) -> Result<(ImageInfo, Plan, MemoryEstimate), KilnError> {
    let (info, mut plan, _still) = plan(bytes, options, encoder)?;
    let limits = &options.limits;
    let canvases = info.frames.saturating_mul(info.pixels());
    if canvases > limits.max_animation_pixels {
        return Err(KilnError::TooLarge(format!(
            "an animation of {} frames of {}x{} makes {} pixels, the limit is {} pixels (max_animation_pixels)",
            info.frames, info.width, info.height, canvases, limits.max_animation_pixels
        )));
    }
    plan.channels = 4;
    let estimate = memory::estimate(&info, &plan, encoder.quality);
    if estimate.peak() > limits.max_memory_bytes {
        return Err(KilnError::TooLarge(format!(
            "an animation of {} frames of {}x{} into {}x{} needs an estimated {} MiB (frames, canvases and the encoded frames), the limit is {} MiB",
            info.frames,
            info.width,
            info.height,
            plan.target.0,
            plan.target.1,
            estimate.peak().div_ceil(1 << 20),
            limits.max_memory_bytes >> 20
        )));
    }
    Ok((info, plan, estimate))
}

/// Converts an animated GIF or WebP into an animated WebP with `encoder`'s quality
/// and method; an input that [`is_animated`] does not accept is refused
/// (convert it with [`crate::convert`]). Takes the input by value like
/// [`crate::convert`]; its bytes are read frame by frame until the end.
pub fn convert_animated(input: Vec<u8>, options: &ConvertOptions, encoder: &WebpEncoder) -> Result<Converted, KilnError> {
    let mut timings = StageTimings::default();
    let started = Instant::now();
    let (info, plan, estimate) = plan_animation(&input, options, encoder)?;
    if !is_animated(&info) {
        return Err(KilnError::Unsupported(format!("a {:?} of {} frame(s) is not converted as an animation", info.format, info.frames)));
    }
    let screen_bytes = info.pixels() * 4;
    let mut frames = Frames::new(&input, &info, screen_bytes + BASE_BYTES)?;
    let (w, h) = plan.target;
    let mut webp = AnimEncoder::new(w, h, frames.loop_count(), encoder.quality, encoder.method)?;
    timings.probe = started.elapsed();

    loop {
        let started = Instant::now();
        let Some(delay) = frames.next_frame()? else { break };
        timings.decode += started.elapsed();
        let started = Instant::now();
        let canvas = frames.canvas();
        let frame = if (canvas.width, canvas.height) == (w, h) { Cow::Borrowed(canvas) } else { Cow::Owned(resized(canvas, w, h)?) };
        timings.resize += started.elapsed();
        let started = Instant::now();
        webp.add(&frame.pixels, delay)?;
        timings.encode += started.elapsed();
    }
    let started = Instant::now();
    let bytes = webp.finish()?;
    timings.encode += started.elapsed();
    drop(input);
    Ok(converted(bytes, info, plan.target, estimate, timings))
}

fn converted(bytes: Vec<u8>, source: ImageInfo, (width, height): (u32, u32), estimate: MemoryEstimate, timings: StageTimings) -> Converted {
    Converted {
        bytes,
        format: WEBP,
        width,
        height,
        source,
        orientation: 1,
        colour_managed: false,
        embedded: crate::metadata::Embedded::default(),
        placeholder: None,
        renditions: Vec::new(),
        auto_quality: None,
        jpeg_scale: 1,
        estimate,
        timings,
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use gif::{DisposalMethod, Repeat};
    use image_webp::{LoopCount, WebPDecoder};

    /// One frame of a generated GIF: its rectangle (x, y, w, h), palette
    /// indices, delay (1/100 s) and disposal.
    struct Frame {
        rect: (u16, u16, u16, u16),
        indices: Vec<u8>,
        delay: u16,
        dispose: DisposalMethod,
    }

    /// Index 0 is transparent; 1 red, 2 green, 3 blue, 4 white; 5.. a colour ramp.
    fn palette() -> Vec<u8> {
        let mut p = vec![0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        p.extend((5..=255u32).flat_map(|i| [(i * 7 % 256) as u8, (i * 3 % 256) as u8, (255 - i) as u8]));
        p
    }

    fn gif(screen: (u16, u16), frames: &[Frame], repeat: Option<Repeat>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = gif::Encoder::new(&mut out, screen.0, screen.1, &palette()).unwrap();
        if let Some(repeat) = repeat {
            encoder.set_repeat(repeat).unwrap();
        }
        for f in frames {
            let mut frame = gif::Frame::from_indexed_pixels(f.rect.2, f.rect.3, f.indices.clone(), Some(0));
            (frame.left, frame.top, frame.delay, frame.dispose) = (f.rect.0, f.rect.1, f.delay, f.dispose);
            encoder.write_frame(&frame).unwrap();
        }
        drop(encoder);
        out
    }

    fn solid(rect: (u16, u16, u16, u16), index: u8, dispose: DisposalMethod) -> Frame {
        Frame { rect, indices: vec![index; rect.2 as usize * rect.3 as usize], delay: 10, dispose }
    }

    /// A full-screen frame of its own, unlike its neighbours: a ramp shifted by `n`.
    fn distinct(w: u16, h: u16, n: usize, delay: u16) -> Frame {
        let indices = (0..w as usize * h as usize).map(|i| (5 + (i % w as usize * 4 + n * 37) % 251) as u8).collect();
        Frame { rect: (0, 0, w, h), indices, delay, dispose: DisposalMethod::Keep }
    }

    /// The canvas after each frame, as `(x, y) -> RGBA` probes.
    fn canvases(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = GifFrames::new(bytes, 1 << 20).unwrap();
        let mut out = Vec::new();
        while frames.next_frame().unwrap().is_some() {
            out.push(frames.canvas().pixels.clone());
        }
        out
    }

    fn px(canvas: &[u8], width: usize, x: usize, y: usize) -> [u8; 4] {
        canvas[(y * width + x) * 4..][..4].try_into().unwrap()
    }

    const RED: [u8; 4] = [255, 0, 0, 255];
    const GREEN: [u8; 4] = [0, 255, 0, 255];
    const BLUE: [u8; 4] = [0, 0, 255, 255];
    const WHITE: [u8; 4] = [255, 255, 255, 255];
    const CLEAR: [u8; 4] = [0, 0, 0, 0];

    #[test]
    fn frames_are_composited_with_their_disposal() {
        let mut with_hole = solid((0, 0, 2, 1), 4, DisposalMethod::Keep);
        with_hole.indices[1] = 0; // transparent: what is below shows through
        let bytes = gif(
            (4, 4),
            &[
                solid((0, 0, 4, 4), 1, DisposalMethod::Keep),
                solid((1, 1, 2, 2), 3, DisposalMethod::Background),
                solid((0, 0, 1, 1), 2, DisposalMethod::Previous),
                solid((3, 3, 1, 1), 4, DisposalMethod::Keep),
                Frame { rect: (2, 0, 2, 1), ..with_hole },
            ],
            Some(Repeat::Infinite),
        );
        let c = canvases(&bytes);
        assert_eq!(c.len(), 5);
        assert!(c[0].chunks_exact(4).all(|p| p == RED));
        assert_eq!((px(&c[1], 4, 1, 1), px(&c[1], 4, 2, 2), px(&c[1], 4, 0, 0), px(&c[1], 4, 3, 3)), (BLUE, BLUE, RED, RED));
        // Background: frame 2's rectangle cleared to transparent before frame 3.
        assert_eq!((px(&c[2], 4, 1, 1), px(&c[2], 4, 2, 2), px(&c[2], 4, 0, 0), px(&c[2], 4, 3, 0)), (CLEAR, CLEAR, GREEN, RED));
        // Previous: frame 3's rectangle restored (red) before frame 4.
        assert_eq!((px(&c[3], 4, 0, 0), px(&c[3], 4, 3, 3), px(&c[3], 4, 1, 1)), (RED, WHITE, CLEAR));
        // A transparent pixel leaves the canvas as it was.
        assert_eq!((px(&c[4], 4, 2, 0), px(&c[4], 4, 3, 0)), (WHITE, RED));
    }

    /// Decodes an animated WebP: (frames' RGBA, durations in ms, loop count, size).
    fn decode_webp(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<u32>, LoopCount, (u32, u32)) {
        let mut d = WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        assert!(d.is_animated(), "not an animated WebP");
        let mut buf = vec![0; d.output_buffer_size().unwrap()];
        let (mut frames, mut durations) = (Vec::new(), Vec::new());
        for _ in 0..d.num_frames() {
            durations.push(d.read_frame(&mut buf).unwrap());
            frames.push(buf.clone());
        }
        (frames, durations, d.loop_count(), d.dimensions())
    }

    fn options(max_long_side: u32) -> ConvertOptions {
        ConvertOptions { max_long_side, limits: Limits::default(), metadata: Default::default() }
    }

    #[test]
    fn delays_and_loop_count_survive_into_the_webp() {
        let delays = [4, 8, 12, 4, 8, 12, 0, 1];
        let frames: Vec<_> = delays.iter().enumerate().map(|(n, &d)| distinct(48, 32, n, d)).collect();
        let encoder = WebpEncoder::new(80.0).unwrap();
        for (repeat, expected) in [(Some(Repeat::Finite(3)), LoopCount::Times(4.try_into().unwrap())), (Some(Repeat::Infinite), LoopCount::Forever), (None, LoopCount::Times(1.try_into().unwrap()))] {
            let out = crate::convert(gif((48, 32), &frames, repeat), &options(2048), &encoder).unwrap();
            let (decoded, durations, loop_count, size) = decode_webp(&out.bytes);
            assert_eq!(decoded.len(), delays.len(), "{repeat:?}");
            assert_eq!(durations, delays.iter().map(|&d| d as u32 * 10).collect::<Vec<_>>());
            assert_eq!(loop_count, expected, "{repeat:?}");
            assert_eq!((size, (out.width, out.height), out.format), ((48, 32), (48, 32), WEBP));
        }
    }

    #[test]
    fn frames_are_resized_to_the_output_and_keep_their_colours() {
        let bytes = gif((300, 200), &[solid((0, 0, 300, 200), 1, DisposalMethod::Keep), solid((0, 0, 300, 200), 3, DisposalMethod::Keep)], None);
        let out = crate::convert(bytes, &options(150), &WebpEncoder::new(90.0).unwrap()).unwrap();
        let (frames, _, _, size) = decode_webp(&out.bytes);
        assert_eq!((size, (out.width, out.height), frames.len()), ((150, 100), (150, 100), 2));
        let channels = frames[0].len() / (150 * 100);
        let centre = |f: &[u8]| f[(50 * 150 + 75) * channels..][..3].to_vec();
        let near = |p: Vec<u8>, q: [u8; 4]| p.iter().zip(q).all(|(a, b)| a.abs_diff(b) <= 12);
        assert!(near(centre(&frames[0]), RED) && near(centre(&frames[1]), BLUE), "{:?} {:?}", centre(&frames[0]), centre(&frames[1]));
    }

    #[test]
    fn a_still_gif_and_other_outputs_take_the_first_frame() {
        let still = gif((8, 8), &[solid((0, 0, 8, 8), 2, DisposalMethod::Keep)], None);
        let webp = crate::convert(still, &options(2048), &WebpEncoder::new(80.0).unwrap()).unwrap();
        let decoder = WebPDecoder::new(std::io::Cursor::new(&webp.bytes)).unwrap();
        assert!(!decoder.is_animated());
        let animated = gif((8, 8), &[solid((0, 0, 8, 8), 2, DisposalMethod::Keep), solid((0, 0, 8, 8), 3, DisposalMethod::Keep)], None);
        let png = crate::convert(animated, &options(2048), &crate::encode::png::PngEncoder).unwrap();
        assert_eq!(png.format.name, "thumbnail");
        assert!(png.bytes.starts_with(b"\x89PNG"));
    }

    #[test]
    fn frames_times_screen_over_the_limit_is_refused() {
        let frames: Vec<_> = (0..5).map(|n| solid((n, 0, 1, 1), 1 + n as u8 % 4, DisposalMethod::Keep)).collect();
        let bytes = gif((100, 100), &frames, None);
        let limits = Limits { max_animation_pixels: 49_999, ..Limits::default() };
        let err = crate::convert(bytes.clone(), &ConvertOptions { max_long_side: 2048, limits, metadata: Default::default() }, &WebpEncoder::new(80.0).unwrap()).unwrap_err();
        assert!(matches!(&err, KilnError::TooLarge(m) if m.contains("5 frames of 100x100") && m.contains("50000 pixels")), "{err}");
        let limits = Limits { max_memory_bytes: 4 << 20, ..Limits::default() };
        let err = crate::convert(bytes.clone(), &ConvertOptions { max_long_side: 2048, limits, metadata: Default::default() }, &WebpEncoder::new(80.0).unwrap()).unwrap_err();
        assert!(matches!(&err, KilnError::TooLarge(m) if m.contains("needs an estimated")), "{err}");
        // Within both, it converts.
        assert_eq!(decode_webp(&crate::convert(bytes, &options(2048), &WebpEncoder::new(80.0).unwrap()).unwrap().bytes).1.len(), 5);
    }

    /// An animated WebP made by kiln from a generated GIF of `delays`
    /// (1/100 s), `w`×`h`, repeating as `repeat` says.
    fn animated_webp(w: u16, h: u16, delays: &[u16], repeat: Option<Repeat>) -> Vec<u8> {
        let frames: Vec<_> = delays.iter().enumerate().map(|(n, &d)| distinct(w, h, n, d)).collect();
        crate::convert(gif((w, h), &frames, repeat), &options(2048), &WebpEncoder::new(90.0).unwrap()).unwrap().bytes
    }

    #[test]
    fn an_animated_webp_stays_animated_with_its_durations_and_loop_count() {
        let delays = [4, 8, 12, 4, 8, 12];
        let encoder = WebpEncoder::new(80.0).unwrap();
        for (repeat, expected) in [(Some(Repeat::Finite(3)), LoopCount::Times(4.try_into().unwrap())), (Some(Repeat::Infinite), LoopCount::Forever)] {
            let input = animated_webp(64, 48, &delays, repeat);
            let info = crate::probe::probe(&input).unwrap();
            assert!(is_animated(&info) && info.frames == 6, "{info:?}");
            let (source_frames, source_durations, _, _) = decode_webp(&input);
            let out = crate::convert(input, &options(2048), &encoder).unwrap();
            let (frames, durations, loop_count, size) = decode_webp(&out.bytes);
            assert_eq!((frames.len(), loop_count, size, out.source.frames), (6, expected, (64, 48), 6), "{repeat:?}");
            assert_eq!(durations, delays.iter().map(|&d| d as u32 * 10).collect::<Vec<_>>());
            assert_eq!(durations, source_durations);
            // Each frame is the input's frame (lossy twice: close, not equal).
            for (n, (a, b)) in frames.iter().zip(&source_frames).enumerate() {
                let mean = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as f64).sum::<f64>() / a.len() as f64;
                assert!(mean < 8.0, "frame {n}: mean difference {mean:.1}");
            }
        }
        // Resized to the output's long side, frame by frame.
        let out = crate::convert(animated_webp(64, 48, &delays, None), &options(32), &encoder).unwrap();
        let (frames, durations, loop_count, size) = decode_webp(&out.bytes);
        assert_eq!((frames.len(), size, (out.width, out.height), loop_count), (6, (32, 24), (32, 24), LoopCount::Times(1.try_into().unwrap())));
        assert_eq!(durations.iter().sum::<u32>(), 480);
    }

    #[test]
    fn an_animated_webp_into_still_outputs_takes_its_first_frame() {
        let input = animated_webp(32, 32, &[10, 10, 10], None);
        let (first, ..) = decode_webp(&input);
        let png = crate::convert(input.clone(), &options(2048), &crate::encode::png::PngEncoder).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(&png.bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let channels = frame.buffer_size() / (32 * 32);
        let same = buf.chunks(channels).zip(first[0].chunks(first[0].len() / (32 * 32))).all(|(a, b)| a[..3] == b[..3]);
        assert!(same, "the thumbnail is not the first frame");
        #[cfg(feature = "jpeg")]
        {
            let jpeg = crate::convert(input, &options(2048), &crate::encode::jpeg::JpegEncoder::new(80.0).unwrap()).unwrap();
            assert!(jpeg.bytes.starts_with(&[0xFF, 0xD8]) && (jpeg.width, jpeg.height) == (32, 32));
        }
    }

    #[test]
    fn an_animated_webp_over_the_limits_is_refused() {
        let input = animated_webp(100, 100, &[5; 5], None);
        let webp = WebpEncoder::new(80.0).unwrap();
        let convert = |limits| crate::convert(input.clone(), &ConvertOptions { max_long_side: 2048, limits, ..options(2048) }, &webp).unwrap_err();
        let err = convert(Limits { max_animation_pixels: 49_999, ..Limits::default() });
        assert!(matches!(&err, KilnError::TooLarge(m) if m.contains("5 frames of 100x100") && m.contains("max_animation_pixels")), "{err}");
        let err = convert(Limits { max_animation_frames: 4, ..Limits::default() });
        assert!(matches!(&err, KilnError::TooLarge(m) if m.contains("5 frames, the limit is 4")), "{err}");
        let err = convert(Limits { max_memory_bytes: 4 << 20, ..Limits::default() });
        assert!(matches!(&err, KilnError::TooLarge(m) if m.contains("needs an estimated")), "{err}");
    }

    #[test]
    fn a_cut_or_damaged_animated_webp_is_an_error_not_a_panic() {
        let input = animated_webp(48, 32, &[5, 5, 5, 5], None);
        let webp = WebpEncoder::new(80.0).unwrap();
        let mut refused = 0;
        for cut in (40..input.len()).step_by(97) {
            match crate::convert(input[..cut].to_vec(), &options(2048), &webp) {
                Err(KilnError::Corrupt(_)) => refused += 1,
                Err(e) => panic!("cut at {cut}: {e:?}"),
                Ok(out) => assert!(decode_webp(&out.bytes).0.len() <= 4),
            }
        }
        assert!(refused > 0);
        // Damaged frame data, past the headers.
        let mut damaged = input.clone();
        for b in damaged.iter_mut().skip(200).step_by(13) {
            *b ^= 0x5A;
        }
        let result = crate::convert(damaged, &options(2048), &webp);
        assert!(matches!(result, Err(KilnError::Corrupt(_)) | Ok(_)), "{result:?}");
    }

    #[test]
    fn gif_loop_counts_map_to_webp_plays() {
        assert_eq!(webp_loop_count(Repeat::Infinite), 0);
        assert_eq!(webp_loop_count(Repeat::Finite(0)), 1);
        assert_eq!(webp_loop_count(Repeat::Finite(3)), 4);
        assert_eq!(webp_loop_count(Repeat::Finite(u16::MAX)), u16::MAX);
    }

    /// Noise frames (every pixel a random palette colour, a new draw each
    /// frame: the worst case for a lossy encoder) stay within
    /// [`memory::encoded_bytes_per_pixel`] per pixel per frame.
    #[test]
    fn encoded_size_stays_within_the_estimate() {
        let (w, h, n) = (160u16, 120u16, 6);
        let mut state = 0x2545_f491_u32;
        let frames: Vec<_> = (0..n)
            .map(|_| {
                let indices = (0..w as usize * h as usize).map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (1 + state % 255) as u8
                });
                Frame { rect: (0, 0, w, h), indices: indices.collect(), delay: 5, dispose: DisposalMethod::Keep }
            })
            .collect();
        let bytes = gif((w, h), &frames, None);
        for quality in [80.0, 90.0] {
            let out = crate::convert(bytes.clone(), &options(2048), &WebpEncoder::new(quality).unwrap()).unwrap();
            let per_px = out.bytes.len() as f64 / (w as f64 * h as f64 * n as f64);
            eprintln!("noise at quality {quality}: {per_px:.3} B/px per frame (gif {:.3})", bytes.len() as f64 / (w as f64 * h as f64 * n as f64));
            assert!(per_px <= memory::encoded_bytes_per_pixel(quality), "quality {quality}: {per_px} B/px");
        }
    }
}
