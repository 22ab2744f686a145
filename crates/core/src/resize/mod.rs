//! Fitting and resampling: the target size for a max long side (never
//! upscaling), the JPEG shrink-on-load factor, and a Lanczos3 resize with
//! fast_image_resize (alpha premultiplied during resampling) for decoded
//! images, and [`stream`] for images that arrive row by row.

pub mod stream;

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use fast_image_resize::{images::Image as FirImage, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// The size `(w, h)` fits into when its long side is capped at `max_long_side`.
/// Never upscales; keeps the aspect ratio; never returns a zero side.
pub fn fit_within(w: u32, h: u32, max_long_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max_long_side || max_long_side == 0 {
        return (w, h);
    }
    let scale = max_long_side as f64 / long as f64;
    let side = |v: u32| ((v as f64 * scale).round() as u32).clamp(1, max_long_side);
    (side(w), side(h))
}

/// The largest JPEG DCT scaling denominator (8, 4 or 2) that still leaves at
/// least `margin` times the target size in both dimensions; 1 when no
/// shrink-on-load applies. kiln prefers a margin of 2 (the final Lanczos
/// resize then has real pixels to filter) and falls back to 1 (what libvips
/// does) when the margin-2 decode would not fit the memory limit.
pub fn jpeg_shrink_factor(src: (u32, u32), target: (u32, u32), margin: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|&d| src.0.div_ceil(d) >= margin * target.0 && src.1.div_ceil(d) >= margin * target.1)
        .unwrap_or(1)
}

/// Resamples `img` to exactly `width` x `height` (Lanczos3). Returns the
/// input unchanged when the size already matches.
pub fn resize(img: Image, width: u32, height: u32) -> Result<Image, KilnError> {
    if (img.width, img.height) == (width, height) {
        return Ok(img);
    }
    resized(&img, width, height)
}

/// A resampled copy of `img` at `width` x `height` (Lanczos3); `img` stays.
pub fn resized(img: &Image, width: u32, height: u32) -> Result<Image, KilnError> {
    let pixel_type = match img.layout {
        PixelLayout::Rgb8 => PixelType::U8x3,
        PixelLayout::Rgba8 => PixelType::U8x4,
    };
    let src = ImageRef::new(img.width, img.height, &img.pixels, pixel_type)
        .map_err(|e| KilnError::Encode(format!("resize source: {e}")))?;
    let mut dst = FirImage::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| KilnError::Encode(format!("resize: {e}")))?;
    Ok(Image::new(width, height, img.layout, dst.into_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_upscales_and_keeps_ratio() {
        assert_eq!(fit_within(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit_within(3000, 4000, 2048), (1536, 2048));
        assert_eq!(fit_within(800, 600, 2048), (800, 600));
        assert_eq!(fit_within(10000, 1, 256), (256, 1));
    }

    #[test]
    fn shrink_factor_keeps_twice_the_target() {
        assert_eq!(jpeg_shrink_factor((4000, 3000), (2048, 1536), 2), 1);
        assert_eq!(jpeg_shrink_factor((8660, 5773), (2048, 1365), 2), 2);
        assert_eq!(jpeg_shrink_factor((4000, 3000), (256, 192), 2), 4);
        assert_eq!(jpeg_shrink_factor((20000, 15000), (256, 192), 2), 8);
        assert_eq!(jpeg_shrink_factor((800, 600), (800, 600), 2), 1);
        // Margin 1: the decoded image only has to cover the target.
        assert_eq!(jpeg_shrink_factor((4958, 6198), (1638, 2048), 2), 1);
        assert_eq!(jpeg_shrink_factor((4958, 6198), (1638, 2048), 1), 2);
    }

    #[test]
    fn resize_produces_requested_size() {
        let img = Image::new(4, 2, PixelLayout::Rgba8, vec![200; 4 * 2 * 4]);
        let out = resize(img, 2, 1).unwrap();
        assert_eq!((out.width, out.height, out.pixels.len()), (2, 1, 8));
        assert!(out.pixels.iter().all(|&v| v == 200));
    }
}
