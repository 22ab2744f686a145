//! `quality=auto`: per image, the lowest quality whose output reaches a
//! target SSIMULACRA2 score, instead of one fixed quality for every image.
//! A busy photo needs a higher setting than a smooth one to look as good;
//! a fixed setting is too high for most images so that it is high enough
//! for the worst.
//!
//! The search runs on a *sample* of the image: a mosaic of up to 4 x 4
//! tiles of 128 px spread over it, aligned to the codecs' blocks, so each
//! candidate costs a 0.26 MP encode, decode and score instead of a full
//! one. JPEG's and WebP's candidates are decoded by kiln's own decoders;
//! AVIF's are libaom's reconstruction (kiln has no AV1 decoder), which is
//! what a decoder shows. The scores are SSIMULACRA2 (the `ssimulacra2`
//! crate), the metric docs/quality.md measures with. The quality found is
//! then used for the output and its responsive widths. docs/auto-quality.md
//! measures the bytes saved and the time it costs.

use crate::encode::{Encoder, OutputFormat};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use std::borrow::Cow;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// The default target: SSIMULACRA2 70, "high quality" on its scale (about
/// where libjpeg-turbo's quality 70-75 lands on photos; kiln's WebP default,
/// 80, scores 71.7 on the corpus: docs/quality.md).
pub const DEFAULT_TARGET: f32 = 70.0;
/// How the search samples an image and how far above the target it aims.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Tiles' side, px: a multiple of 64 (JPEG's MCU, WebP's macroblock,
    /// AV1's superblock), so no block straddles two tiles.
    pub tile: u32,
    /// Tiles per side of the sample, at most.
    pub grid: u32,
    /// Score points the sample must reach above the target: the sample
    /// scores a little higher than the whole image does (docs/auto-quality.md).
    pub margin: f32,
}

impl Sampling {
    /// kiln's: 4 x 4 tiles of 128 px (0.26 MP), aiming 1 point above the
    /// target (the sample scored 0.1-2.1 points above the whole picture on
    /// the corpus; larger samples were no closer for 2-4x the time:
    /// docs/auto-quality.md).
    pub const DEFAULT: Sampling = Sampling { tile: 128, grid: 4, margin: 1.0 };
}
/// Candidates scored per image, at most.
const MAX_TRIALS: usize = 6;
/// A candidate within this much above the target ends the search.
const CLOSE_ENOUGH: f64 = 1.0;
/// Score points per quality step assumed before two candidates tell better.
const ASSUMED_SLOPE: f64 = 0.6;
/// Scoring's working memory per sample pixel (measured: 148 B): both images
/// as f32 RGB, linear RGB and XYB, then per scale six planar images and the
/// blur's buffers (crates/core/tests/auto_quality_memory.rs).
pub const SCORE_BYTES_PER_PIXEL: u64 = 160;

/// An encoder whose quality can be searched: what [`AutoEncoder`] wraps.
pub trait Tunable: Encoder + Sized {
    /// The configured quality: where the search starts.
    fn quality(&self) -> f32;
    /// The same encoder at another quality (1..=100).
    fn at(&self, quality: f32) -> Result<Self, KilnError>;
    /// Encodes `img` and returns the output's size and what a decoder
    /// shows from it.
    fn trial(&self, img: &Image) -> Result<(usize, Image), KilnError> {
        let bytes = self.encode(img)?;
        Ok((bytes.len(), decode_own(&bytes)?))
    }
}

/// What the search picked, for the manifest and the server timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The quality used.
    pub quality: f32,
    /// The target score, and the sample's score at `quality`.
    pub target: f32,
    pub score: f64,
    /// Whether `score` reaches `target` (false when even the highest
    /// quality tried does not).
    pub reached: bool,
    /// Candidates encoded and scored.
    pub trials: u32,
    /// Time the search took, before the output's own encode.
    pub search: Duration,
}

/// An encoder at the quality [`search`] picks for the first image it
/// encodes; later images (the responsive widths) reuse that quality.
pub struct AutoEncoder<E: Tunable> {
    base: E,
    target: f32,
    chosen: Cell<Option<Choice>>,
}

impl<E: Tunable> AutoEncoder<E> {
    /// `target`: the SSIMULACRA2 score to reach, 30..=95.
    pub fn new(base: E, target: f32) -> Result<Self, KilnError> {
        check_target(target)?;
        Ok(AutoEncoder { base, target, chosen: Cell::new(None) })
    }
}

impl<E: Tunable> AutoEncoder<E> {
    /// The quality already picked, else the one [`choose`] picks for `img`.
    fn choice_for(&self, img: &Image) -> Result<Choice, KilnError> {
        if let Some(choice) = self.chosen.get() {
            return Ok(choice);
        }
        let choice = choose(&self.base, img, self.target, &Sampling::DEFAULT)?;
        self.chosen.set(Some(choice));
        Ok(choice)
    }
}

/// Checks an auto-quality target.
pub fn check_target(target: f32) -> Result<f32, KilnError> {
    if (30.0..=95.0).contains(&target) {
        Ok(target)
    } else {
        Err(KilnError::BadParameter(format!("the auto-quality target must be an SSIMULACRA2 score between 30 and 95, got {target}")))
    }
}

impl<E: Tunable> Encoder for AutoEncoder<E> {
    fn format(&self) -> OutputFormat {
        self.base.format()
    }

    fn keeps_alpha(&self) -> bool {
        self.base.keeps_alpha()
    }

    fn working_bytes(&self, width: u32, height: u32, channels: u32) -> u64 {
        // The search ends before the output's encode starts: the larger of
        // the two, with the sample held through both.
        let (sw, sh) = sample_size(width, height, &Sampling::DEFAULT);
        let sample = sw as u64 * sh as u64;
        let search = self.base.working_bytes(sw, sh, channels) + sample * (2 * channels as u64 + SCORE_BYTES_PER_PIXEL);
        self.base.working_bytes(width, height, channels).max(search)
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        self.base.at(self.choice_for(img)?.quality)?.encode(img)
    }

    fn encode_with_exif(&self, img: &Image, exif: &[u8]) -> Option<Result<Vec<u8>, KilnError>> {
        let encoder = self.choice_for(img).and_then(|choice| self.base.at(choice.quality));
        match encoder {
            Ok(encoder) => encoder.encode_with_exif(img, exif),
            Err(e) => Some(Err(e)),
        }
    }

    fn auto_choice(&self) -> Option<Choice> {
        self.chosen.get()
    }

    #[cfg(feature = "webp")]
    fn as_webp(&self) -> Option<&crate::encode::webp::WebpEncoder> {
        // An animation is encoded at the configured quality.
        self.base.as_webp()
    }
}

/// Searches `encoder`'s quality for `img`'s sample.
pub fn choose<E: Tunable>(encoder: &E, img: &Image, target: f32, sampling: &Sampling) -> Result<Choice, KilnError> {
    let started = Instant::now();
    let sample = sample(img, sampling);
    let mut trials = 0;
    let aim = target as f64 + sampling.margin as f64;
    let found = search(encoder.quality(), aim, |quality| {
        trials += 1;
        let (_, shown) = encoder.at(quality as f32)?.trial(&sample)?;
        score(&sample, &shown)
    })?;
    Ok(Choice {
        quality: found.quality as f32,
        target,
        score: found.score,
        reached: found.score >= aim,
        trials,
        search: started.elapsed(),
    })
}

/// A quality and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub quality: u8,
    pub score: f64,
}

/// The lowest integer quality in 1..=100 whose `score_at` reaches `target`,
/// found with at most [`MAX_TRIALS`] calls, starting at `start`. Assumes the
/// score rises with the quality; between two candidates it interpolates.
/// Settles early for a candidate within [`CLOSE_ENOUGH`] above the target.
/// When no candidate reaches the target, the highest one tried is returned.
pub fn search(start: f32, target: f64, mut score_at: impl FnMut(u8) -> Result<f64, KilnError>) -> Result<Found, KilnError> {
    let mut pass: Option<Found> = None; // lowest quality reaching the target
    let mut fail: Option<Found> = None; // highest quality below it
    let mut quality = (start.round() as u8).clamp(1, 100);
    for _ in 0..MAX_TRIALS {
        let found = Found { quality, score: score_at(quality)? };
        if found.score >= target {
            pass = Some(pass.map_or(found, |p| if found.quality < p.quality { found } else { p }));
        } else {
            fail = Some(fail.map_or(found, |f| if found.quality > f.quality { found } else { f }));
        }
        let next = match (pass, fail) {
            (Some(p), _) if p.score - target < CLOSE_ENOUGH => break,
            (Some(p), Some(f)) if p.quality <= f.quality.saturating_add(1) => break,
            (Some(p), Some(f)) => {
                let slope = (p.score - f.score) / (p.quality - f.quality) as f64;
                let q = f.quality as f64 + (target - f.score) / slope.max(1e-3);
                (q.ceil() as i64).clamp(f.quality as i64 + 1, p.quality as i64 - 1)
            }
            (Some(p), None) if p.quality == 1 => break,
            (Some(p), None) => p.quality as i64 - step(p.score - target),
            (None, Some(f)) if f.quality == 100 => break,
            (None, Some(f)) => f.quality as i64 + step(target - f.score),
            (None, None) => unreachable!("a candidate was just scored"),
        };
        quality = next.clamp(1, 100) as u8;
    }
    Ok(pass.or(fail).expect("at least one candidate"))
}

/// Quality steps to cover `gap` score points at [`ASSUMED_SLOPE`], at least 2.
fn step(gap: f64) -> i64 {
    ((gap / ASSUMED_SLOPE).ceil() as i64).max(2)
}

/// The sample's size for a `width` x `height` image.
fn sample_size(width: u32, height: u32, sampling: &Sampling) -> (u32, u32) {
    let (gx, gy) = grid(width, height, sampling);
    if gx == 0 { (width, height) } else { (gx * sampling.tile, gy * sampling.tile) }
}

/// Tiles per row and column; (0, 0) when the image is its own sample
/// (small enough, or too narrow for tiles).
fn grid(width: u32, height: u32, sampling: &Sampling) -> (u32, u32) {
    let side = sampling.grid * sampling.tile;
    let (gx, gy) = ((width / sampling.tile).min(sampling.grid), (height / sampling.tile).min(sampling.grid));
    let whole = width as u64 * height as u64 <= 2 * side as u64 * side as u64;
    if whole || gx == 0 || gy == 0 { (0, 0) } else { (gx, gy) }
}

/// The tiles of `img` spread evenly over it, side by side in one image;
/// `img` itself (borrowed, not copied) when it is small.
pub fn sample<'a>(img: &'a Image, sampling: &Sampling) -> Cow<'a, Image> {
    let (gx, gy) = grid(img.width, img.height, sampling);
    if gx == 0 {
        return Cow::Borrowed(img);
    }
    let tile = sampling.tile;
    let channels = img.layout.channels();
    let (width, height) = (gx * tile, gy * tile);
    let mut pixels = vec![0u8; width as usize * height as usize * channels];
    let origin = |i: u32, tiles: u32, side: u32| -> u32 {
        let centre = (2 * i + 1) as u64 * side as u64 / (2 * tiles as u64);
        let start = (centre.saturating_sub(tile as u64 / 2) / 16 * 16) as u32;
        start.min(side - tile)
    };
    for ty in 0..gy {
        let y0 = origin(ty, gy, img.height);
        for tx in 0..gx {
            let x0 = origin(tx, gx, img.width);
            for row in 0..tile {
                let src = ((y0 + row) as usize * img.width as usize + x0 as usize) * channels;
                let dst = ((ty * tile + row) as usize * width as usize + (tx * tile) as usize) * channels;
                let len = tile as usize * channels;
                pixels[dst..dst + len].copy_from_slice(&img.pixels[src..src + len]);
            }
        }
    }
    Cow::Owned(Image::new(width, height, img.layout, pixels))
}

/// Decodes one of kiln's own outputs with kiln's decoders.
fn decode_own(bytes: &[u8]) -> Result<Image, KilnError> {
    let info = crate::probe::probe(bytes)?;
    let budget = info.pixels() * 8 + 16 * 1024 * 1024;
    crate::decode::decode(bytes, &info, 1, budget)
}

/// SSIMULACRA2 of `shown` against `reference` (same size). Where the
/// reference has alpha, both are composited onto white with the
/// reference's alpha, so only visible pixels count.
pub fn score(reference: &Image, shown: &Image) -> Result<f64, KilnError> {
    if (reference.width, reference.height) != (shown.width, shown.height) {
        return Err(KilnError::Encode(format!(
            "auto quality: the decoded candidate is {}x{}, the sample {}x{}",
            shown.width, shown.height, reference.width, reference.height
        )));
    }
    let alpha: Option<Vec<u8>> = (reference.layout == PixelLayout::Rgba8).then(|| reference.pixels.chunks_exact(4).map(|p| p[3]).collect());
    let to_rgb = |img: &Image| -> Result<ssimulacra2::Rgb, KilnError> {
        let channels = img.layout.channels();
        let data = img
            .pixels
            .chunks_exact(channels)
            .enumerate()
            .map(|(i, p)| {
                let a = alpha.as_ref().map_or(1.0, |a| a[i] as f32 / 255.0);
                let c = |v: u8| (v as f32 / 255.0) * a + (1.0 - a);
                [c(p[0]), c(p[1]), c(p[2])]
            })
            .collect();
        ssimulacra2::Rgb::new(data, img.width as usize, img.height as usize, ssimulacra2::TransferCharacteristic::SRGB, ssimulacra2::ColorPrimaries::BT709)
            .map_err(|e| KilnError::Encode(format!("auto quality: {e}")))
    };
    ssimulacra2::compute_frame_ssimulacra2(to_rgb(reference)?, to_rgb(shown)?).map_err(|e| KilnError::Encode(format!("auto quality: SSIMULACRA2: {e}")))
}

#[cfg(feature = "webp")]
impl Tunable for crate::encode::webp::WebpEncoder {
    fn quality(&self) -> f32 {
        self.quality
    }
    fn at(&self, quality: f32) -> Result<Self, KilnError> {
        Ok(crate::encode::webp::WebpEncoder { quality: crate::encode::check_quality(quality)?, ..self.clone() })
    }
}

#[cfg(feature = "jpeg")]
impl Tunable for crate::encode::jpeg::JpegEncoder {
    fn quality(&self) -> f32 {
        self.quality as f32
    }
    fn at(&self, quality: f32) -> Result<Self, KilnError> {
        crate::encode::jpeg::JpegEncoder::new(quality)
    }
}

#[cfg(feature = "avif")]
impl Tunable for crate::encode::avif::AvifEncoder {
    fn quality(&self) -> f32 {
        self.quality
    }
    fn at(&self, quality: f32) -> Result<Self, KilnError> {
        crate::encode::avif::AvifEncoder::new(quality, self.speed, self.chroma)
    }
    fn trial(&self, img: &Image) -> Result<(usize, Image), KilnError> {
        self.encode_reconstructed(img)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A score curve rising with the quality, `slope` points per step.
    fn curve(slope: f64, offset: f64) -> impl Fn(u8) -> f64 {
        move |q| offset + slope * q as f64
    }

    /// The lowest quality reaching `target` on `f`, by brute force.
    fn lowest(f: &impl Fn(u8) -> f64, target: f64) -> Option<u8> {
        (1..=100).find(|&q| f(q) >= target)
    }

    #[test]
    fn search_finds_the_lowest_passing_quality_within_close_enough() {
        for (slope, offset, start) in [(0.6, 20.0, 80.0), (1.1, -16.0, 80.0), (0.3, 50.0, 60.0), (2.0, -60.0, 82.0), (0.8, 10.0, 30.0)] {
            let f = curve(slope, offset);
            let mut calls = 0;
            let found = search(start, 70.0, |q| {
                calls += 1;
                Ok(f(q))
            })
            .unwrap();
            let best = lowest(&f, 70.0).unwrap();
            assert!(found.score >= 70.0, "{slope} {offset}: {found:?}");
            assert!(calls <= MAX_TRIALS, "{calls} trials");
            // Either the lowest quality, or one whose score is within
            // CLOSE_ENOUGH of the target.
            assert!(found.quality == best || found.score - 70.0 < CLOSE_ENOUGH + slope, "{slope} {offset}: {found:?} vs {best}");
        }
    }

    #[test]
    fn search_on_a_curved_score_stays_above_the_target() {
        // Saturating, like real codecs: steep at low qualities, flat at high.
        let f = |q: u8| 95.0 - 80.0 * (-(q as f64) / 30.0).exp();
        let found = search(80.0, 72.0, |q| Ok(f(q))).unwrap();
        let best = lowest(&f, 72.0).unwrap();
        assert!(found.score >= 72.0);
        assert!(found.quality >= best && found.quality <= best + 3, "{found:?} vs {best}");
    }

    #[test]
    fn an_unreachable_target_gives_the_highest_quality_tried() {
        let found = search(80.0, 99.0, |q| Ok(q as f64 * 0.5)).unwrap();
        assert!(found.score < 99.0);
        assert_eq!(found.quality, 100);
    }

    #[test]
    fn a_target_below_every_score_walks_down() {
        let found = search(80.0, 10.0, |q| Ok(50.0 + q as f64 * 0.1)).unwrap();
        assert!(found.quality < 20, "{found:?}");
    }

    #[test]
    fn scorer_errors_end_the_search() {
        let failed = search(80.0, 70.0, |_| Err(KilnError::Encode("boom".into())));
        assert!(failed.is_err());
    }

    fn noise(width: u32, height: u32, layout: PixelLayout) -> Image {
        let mut state = 0x2545_f491_u32;
        let channels = layout.channels();
        let pixels = (0..width as usize * height as usize * channels)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                // Smooth gradient plus some texture.
                let x = (i / channels) as u32 % width;
                ((x * 200 / width) as u8).wrapping_add((state % 24) as u8)
            })
            .collect();
        Image::new(width, height, layout, pixels)
    }

    #[test]
    fn the_sample_is_tiles_of_the_image() {
        let img = noise(2048, 1536, PixelLayout::Rgb8);
        let s = sample(&img, &Sampling::DEFAULT);
        assert_eq!((s.width, s.height), (512, 512));
        assert_eq!(sample_size(2048, 1536, &Sampling::DEFAULT), (512, 512));
        // The first tile starts at an aligned origin inside the image.
        let x0 = ((2048 / 8) - 64) / 16 * 16;
        let y0 = ((1536 / 8) - 64) / 16 * 16;
        assert_eq!(&s.pixels[..3 * 128], &img.pixels[(y0 * 2048 + x0) * 3..(y0 * 2048 + x0 + 128) * 3]);
        // A small image is its own sample; so is a strip too thin for tiles.
        assert_eq!(sample_size(600, 400, &Sampling::DEFAULT), (600, 400));
        assert_eq!(sample(&noise(600, 400, PixelLayout::Rgb8), &Sampling::DEFAULT).pixels.len(), 600 * 400 * 3);
        assert_eq!(sample_size(4000, 100, &Sampling::DEFAULT), (4000, 100));
        // A wide image gets fewer rows of tiles.
        assert_eq!(sample_size(2048, 300, &Sampling::DEFAULT), (512, 256));
    }

    #[test]
    fn identical_images_score_100_and_distortion_scores_less() {
        let img = noise(256, 192, PixelLayout::Rgb8);
        let same = score(&img, &img).unwrap();
        assert!(same > 99.0, "{same}");
        let mut worse = img.clone();
        worse.pixels.iter_mut().step_by(7).for_each(|p| *p = p.wrapping_add(40));
        assert!(score(&img, &worse).unwrap() < same - 10.0);
        assert!(score(&img, &noise(128, 128, PixelLayout::Rgb8)).is_err());
    }

    #[test]
    fn invisible_pixels_do_not_count() {
        let mut img = noise(128, 128, PixelLayout::Rgba8);
        img.pixels.chunks_exact_mut(4).for_each(|p| p[3] = 0);
        let mut other = img.clone();
        other.pixels.chunks_exact_mut(4).for_each(|p| p[0] = 255 - p[0]);
        assert!(score(&img, &other).unwrap() > 99.0);
    }

    #[test]
    fn targets_are_checked() {
        assert!(check_target(29.0).is_err());
        assert!(check_target(96.0).is_err());
        assert_eq!(check_target(70.0).unwrap(), 70.0);
    }

    #[cfg(feature = "jpeg")]
    #[test]
    fn auto_jpeg_reaches_the_target_on_the_sample_and_reuses_its_choice() {
        use crate::encode::jpeg::JpegEncoder;
        let img = noise(1024, 768, PixelLayout::Rgb8);
        let auto = AutoEncoder::new(JpegEncoder::new(82.0).unwrap(), 75.0).unwrap();
        let bytes = auto.encode(&img).unwrap();
        let choice = auto.auto_choice().unwrap();
        assert!(choice.reached && choice.score >= 75.0, "{choice:?}");
        assert!(choice.trials as usize <= MAX_TRIALS);
        assert_eq!(bytes, JpegEncoder::new(choice.quality).unwrap().encode(&img).unwrap());
        // The sample's score at the chosen quality is what the search says.
        let s = sample(&img, &Sampling::DEFAULT);
        let shown = decode_own(&JpegEncoder::new(choice.quality).unwrap().encode(&s).unwrap()).unwrap();
        assert!((score(&s, &shown).unwrap() - choice.score).abs() < 1e-9);
        // A second image (a responsive width) keeps the choice.
        auto.encode(&noise(480, 360, PixelLayout::Rgb8)).unwrap();
        assert_eq!(auto.auto_choice(), Some(choice));
    }

    #[cfg(feature = "avif")]
    #[test]
    fn avif_reconstruction_is_the_picture_at_its_quality() {
        use crate::encode::avif::{AvifEncoder, Chroma};
        let img = noise(256, 128, PixelLayout::Rgb8);
        for chroma in [Chroma::Yuv420, Chroma::Yuv444] {
            let low = AvifEncoder::new(20.0, 9, chroma).unwrap().encode_reconstructed(&img).unwrap();
            let high = AvifEncoder::new(90.0, 9, chroma).unwrap().encode_reconstructed(&img).unwrap();
            assert_eq!((high.1.width, high.1.height), (256, 128));
            assert!(high.0 > low.0, "more bytes at a higher quality");
            let (s_low, s_high) = (score(&img, &low.1).unwrap(), score(&img, &high.1).unwrap());
            assert!(s_high > s_low + 5.0 && s_high > 60.0, "{chroma:?}: {s_low} {s_high}");
        }
    }

    #[cfg(feature = "avif")]
    #[test]
    fn auto_avif_writes_exif_at_the_picked_quality() {
        use crate::encode::avif::{AvifEncoder, Chroma};
        let img = noise(300, 200, PixelLayout::Rgb8);
        let base = AvifEncoder::new(67.0, 9, Chroma::Yuv420).unwrap();
        let auto = AutoEncoder::new(base.clone(), 70.0).unwrap();
        let exif = b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0";
        let with = auto.encode_with_exif(&img, exif).expect("AVIF holds EXIF").unwrap();
        let choice = auto.auto_choice().expect("searched");
        let plain = base.at(choice.quality).unwrap().encode_with_exif(&img, exif).unwrap().unwrap();
        assert_eq!(with, plain);
    }

    #[cfg(feature = "webp")]
    #[test]
    fn auto_webp_picks_a_higher_quality_for_a_higher_target() {
        use crate::encode::webp::WebpEncoder;
        let img = noise(700, 500, PixelLayout::Rgb8);
        let pick = |target| choose(&WebpEncoder::new(80.0).unwrap(), &img, target, &Sampling::DEFAULT).unwrap();
        let (low, high) = (pick(55.0), pick(80.0));
        assert!(low.quality < high.quality, "{low:?} {high:?}");
        // Each reaches its aim (target + the margin) on the sample.
        assert!(low.reached && low.score >= 56.0, "{low:?}");
        assert!(high.reached && high.score >= 81.0, "{high:?}");
    }
}
