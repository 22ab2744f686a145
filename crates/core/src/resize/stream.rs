//! Resampling in strips: an image arrives row by row, top to bottom, and
//! leaves resized, without the source ever being held whole — the way
//! libvips streams. Source rows collect in a window; as soon as the window
//! holds every row a strip of output rows reads, fast_image_resize makes
//! that strip (Lanczos3, the same filter and weights as [`super::resized`]
//! on the whole image: the strip is a crop of the window at the strip's
//! exact, fractional source position, and the window includes the
//! filter's full support) straight into the output, and the rows no later
//! strip reads are dropped. Memory is the output image plus a window of
//! source rows whose height depends on the scale, not on the source's
//! height ([`RowResizer::working_bytes`]).

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use fast_image_resize::{images::Image as FirImage, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use std::time::{Duration, Instant};

/// Lanczos3's support, in source pixels at scale 1.
const SUPPORT: f64 = 3.0;
/// Source rows a strip covers besides the filter's support: output rows are
/// made this many source rows at a time.
const STRIP_SOURCE_ROWS: f64 = 64.0;

/// The rows a resize of `src_h` to `dst_h` rows makes and reads, strip by strip.
#[derive(Debug, Clone, Copy)]
struct Strips {
    src_h: u32,
    dst_h: u32,
    /// Source rows per output row.
    ratio: f64,
    /// The filter's radius in source rows.
    radius: f64,
    /// Output rows per strip.
    rows: u32,
}

impl Strips {
    fn new(src_h: u32, dst_h: u32) -> Strips {
        let ratio = src_h as f64 / dst_h as f64;
        let rows = ((STRIP_SOURCE_ROWS / ratio).ceil() as u32).clamp(1, dst_h);
        Strips { src_h, dst_h, ratio, radius: SUPPORT * ratio.max(1.0), rows }
    }

    /// The output rows of the strip starting at output row `y`.
    fn strip(&self, y: u32) -> (u32, u32) {
        (y, (y + self.rows).min(self.dst_h))
    }

    /// Source rows `[lo, hi)` that output rows `[y0, y1)` read, with a row of
    /// margin each side against rounding.
    fn reads(&self, (y0, y1): (u32, u32)) -> (u32, u32) {
        let lo = (y0 as f64 * self.ratio - self.radius).floor() - 1.0;
        let hi = (y1 as f64 * self.ratio + self.radius).ceil() + 1.0;
        (lo.max(0.0) as u32, (hi.max(0.0) as u32).min(self.src_h))
    }

    /// The most source rows held at once.
    fn window(&self) -> u64 {
        (self.rows as f64 * self.ratio + 2.0 * self.radius).ceil() as u64 + 3
    }
}

/// Resizes an image pushed to it one source row at a time.
pub struct RowResizer {
    src: (u32, u32),
    dst: (u32, u32),
    layout: PixelLayout,
    strips: Strips,
    /// Source rows `first..first + window.len() / row_bytes`.
    window: Vec<u8>,
    first: u32,
    pushed: u32,
    /// Output rows made so far.
    made: u32,
    out: Vec<u8>,
    resizer: Resizer,
    busy: Duration,
}

impl RowResizer {
    /// A resizer from `src` to `dst` (each side at least 1, never larger
    /// than the source's: kiln does not upscale) in `layout`.
    pub fn new(src: (u32, u32), dst: (u32, u32), layout: PixelLayout) -> Result<RowResizer, KilnError> {
        if src.0 == 0 || src.1 == 0 || dst.0 == 0 || dst.1 == 0 || dst.0 > src.0 || dst.1 > src.1 {
            return Err(KilnError::BadParameter(format!("cannot resize {}x{} to {}x{}", src.0, src.1, dst.0, dst.1)));
        }
        let out_len = dst.0 as usize * dst.1 as usize * layout.channels();
        let mut out = Vec::new();
        out.try_reserve_exact(out_len).map_err(|_| KilnError::TooLarge(format!("{out_len} bytes for the resized image")))?;
        let strips = Strips::new(src.1, dst.1);
        Ok(RowResizer { src, dst, layout, strips, window: Vec::new(), first: 0, pushed: 0, made: 0, out, resizer: Resizer::new(), busy: Duration::ZERO })
    }

    /// Bytes a resizer from `src` to `dst` holds besides its output: the
    /// window of source rows, fast_image_resize's premultiplied copy of it
    /// (alpha) and its intermediate strip (its vertical pass runs first),
    /// and the filter weights.
    pub fn working_bytes(src: (u32, u32), dst: (u32, u32), channels: u32) -> u64 {
        if src == dst {
            return 0;
        }
        let strips = Strips::new(src.1, dst.1);
        let row = src.0 as u64 * channels as u64;
        let copies = if channels == 4 { 2 } else { 1 };
        let taps = |ratio: f64| (SUPPORT * ratio.max(1.0)).ceil() as u64 * 2 + 1;
        let weights = (dst.0 as u64 * taps(src.0 as f64 / dst.0 as f64) + strips.rows as u64 * taps(strips.ratio)) * 8;
        strips.window() * row * copies + strips.rows as u64 * row + weights
    }

    /// Takes the next source row (`src.0` pixels in the resizer's layout).
    pub fn push(&mut self, row: &[u8]) -> Result<(), KilnError> {
        let row_bytes = self.src.0 as usize * self.layout.channels();
        if row.len() != row_bytes || self.pushed == self.src.1 {
            return Err(KilnError::Corrupt(format!("row {} of {} bytes for a {}x{} image", self.pushed + 1, row.len(), self.src.0, self.src.1)));
        }
        let started = Instant::now();
        self.pushed += 1;
        if self.src == self.dst {
            self.out.extend_from_slice(row);
        } else {
            self.window.extend_from_slice(row);
            while self.made < self.dst.1 {
                let strip = self.strips.strip(self.made);
                if self.strips.reads(strip).1 > self.pushed {
                    break;
                }
                self.make(strip)?;
            }
        }
        self.busy += started.elapsed();
        Ok(())
    }

    /// Makes output rows `[y0, y1)` from the window, then drops the source
    /// rows the next strip does not read.
    fn make(&mut self, (y0, y1): (u32, u32)) -> Result<(), KilnError> {
        let ch = self.layout.channels();
        let row_bytes = self.src.0 as usize * ch;
        let held = (self.window.len() / row_bytes) as u32;
        let pixel_type = match self.layout {
            PixelLayout::Rgb8 => PixelType::U8x3,
            PixelLayout::Rgba8 => PixelType::U8x4,
        };
        let fail = |e: &dyn std::fmt::Display| KilnError::Encode(format!("resize: {e}"));
        let src = ImageRef::new(self.src.0, held, &self.window, pixel_type).map_err(|e| fail(&e))?;
        let top = y0 as f64 * self.strips.ratio - self.first as f64;
        let height = ((y1 - y0) as f64 * self.strips.ratio).min(held as f64 - top);
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)).crop(0.0, top, self.src.0 as f64, height);
        let start = self.out.len();
        self.out.resize(start + (y1 - y0) as usize * self.dst.0 as usize * ch, 0);
        let mut dst = FirImage::from_slice_u8(self.dst.0, y1 - y0, &mut self.out[start..], pixel_type).map_err(|e| fail(&e))?;
        self.resizer.resize(&src, &mut dst, &options).map_err(|e| fail(&e))?;
        self.made = y1;
        if self.made < self.dst.1 {
            let keep_from = self.strips.reads(self.strips.strip(self.made)).0.max(self.first);
            self.window.drain(..(keep_from - self.first) as usize * row_bytes);
            self.first = keep_from;
        } else {
            self.window = Vec::new();
        }
        Ok(())
    }

    /// Time spent resampling so far (the rest of a streamed decode is the
    /// decoder's).
    pub fn busy(&self) -> Duration {
        self.busy
    }

    /// The resized image, once every source row has been pushed.
    pub fn finish(self) -> Result<Image, KilnError> {
        if self.pushed != self.src.1 || (self.src != self.dst && self.made != self.dst.1) {
            return Err(KilnError::Corrupt(format!("the image ended after {} of its {} rows", self.pushed, self.src.1)));
        }
        Ok(Image::new(self.dst.0, self.dst.1, self.layout, self.out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resize::resized;

    /// A deterministic image with edges, gradients and (for RGBA) varied alpha.
    fn pattern(w: u32, h: u32, layout: PixelLayout, seed: u32) -> Image {
        let ch = layout.channels();
        let mut state = seed.wrapping_mul(2654435761).max(1);
        let mut pixels = Vec::with_capacity(w as usize * h as usize * ch);
        for y in 0..h {
            for x in 0..w {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = state & 31;
                let colour = [(x * 255 / w.max(1)) ^ if (x / 7 + y / 5) % 2 == 0 { 0 } else { 96 }, y * 255 / h.max(1), (x + y) % 256];
                // Colours stay within 32..=223, so a Lanczos overshoot is
                // never clipped (fast_image_resize clips between its passes).
                pixels.extend(colour.iter().map(|v| (32 + (v + noise) % 192) as u8));
                if ch == 4 {
                    pixels.push(if (x / 11) % 3 == 0 { 0 } else { (128 + (x * 127 / w)) as u8 });
                }
            }
        }
        Image::new(w, h, layout, pixels)
    }

    fn streamed(img: &Image, dst: (u32, u32)) -> Image {
        let mut r = RowResizer::new((img.width, img.height), dst, img.layout).unwrap();
        let row = img.width as usize * img.layout.channels();
        for line in img.pixels.chunks_exact(row) {
            r.push(line).unwrap();
        }
        r.finish().unwrap()
    }

    fn max_diff(a: &Image, b: &Image) -> u8 {
        assert_eq!((a.width, a.height, a.layout), (b.width, b.height, b.layout));
        let ch = a.layout.channels();
        a.pixels
            .chunks_exact(ch)
            .zip(b.pixels.chunks_exact(ch))
            // Under low alpha, fast_image_resize's 8-bit premultiplied
            // colours lose precision that unpremultiplying amplifies.
            .filter(|(p, q)| ch == 3 || (p[3] > 64 && q[3] > 64))
            .flat_map(|(p, q)| p.iter().zip(q).map(|(x, y)| x.abs_diff(*y)))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn matches_the_whole_image_resizer() {
        for (layout, src, dst) in [
            (PixelLayout::Rgb8, (640, 480), (320, 240)),
            (PixelLayout::Rgb8, (641, 479), (256, 191)),
            (PixelLayout::Rgb8, (1000, 37), (97, 4)),
            (PixelLayout::Rgba8, (400, 300), (150, 113)),
            (PixelLayout::Rgb8, (300, 200), (300, 199)),
            (PixelLayout::Rgb8, (5000, 3), (256, 1)),
            (PixelLayout::Rgba8, (60, 3000), (12, 600)),
            (PixelLayout::Rgb8, (300, 4000), (19, 256)),
        ] {
            let img = pattern(src.0, src.1, layout, src.0 ^ dst.1);
            let ours = streamed(&img, dst);
            let theirs = resized(&img, dst.0, dst.1).unwrap();
            let diff = max_diff(&ours, &theirs);
            // The same weights as the whole-image resizer, up to rounding.
            let tolerance = 1;
            assert!(diff <= tolerance, "{layout:?} {src:?} -> {dst:?}: differs by up to {diff} levels");
        }
    }

    #[test]
    fn flat_images_stay_flat_and_same_size_is_a_copy() {
        let flat = Image::new(90, 70, PixelLayout::Rgba8, [10, 200, 30, 255].repeat(90 * 70));
        let out = streamed(&flat, (31, 17));
        assert!(out.pixels.chunks_exact(4).all(|p| p == [10, 200, 30, 255]), "{:?}", &out.pixels[..8]);
        let img = pattern(33, 21, PixelLayout::Rgb8, 7);
        assert_eq!(streamed(&img, (33, 21)).pixels, img.pixels);
    }

    #[test]
    fn transparent_pixels_lend_no_colour() {
        // Left half opaque red, right half transparent green.
        let mut pixels = Vec::new();
        for _ in 0..40 {
            for x in 0..40 {
                pixels.extend_from_slice(if x < 20 { &[255, 0, 0, 255] } else { &[0, 255, 0, 0] });
            }
        }
        let out = streamed(&Image::new(40, 40, PixelLayout::Rgba8, pixels), (10, 10));
        for p in out.pixels.chunks_exact(4).filter(|p| p[3] > 0) {
            assert!(p[1] <= 1, "green bled into {p:?}");
        }
    }

    #[test]
    fn the_window_is_independent_of_the_source_height() {
        let short = RowResizer::working_bytes((4000, 3000), (2048, 1536), 4);
        let tall = RowResizer::working_bytes((4000, 300_000), (2048, 153_600), 4);
        assert_eq!(short, tall);
        assert!(short < 4 << 20, "{short}");
    }

    #[test]
    fn a_short_image_or_a_wrong_row_is_refused() {
        let mut r = RowResizer::new((10, 10), (5, 5), PixelLayout::Rgb8).unwrap();
        assert!(r.push(&[0; 29]).is_err());
        for _ in 0..9 {
            r.push(&[0; 30]).unwrap();
        }
        assert!(r.finish().is_err());
        assert!(RowResizer::new((10, 10), (11, 5), PixelLayout::Rgb8).is_err());
    }
}
