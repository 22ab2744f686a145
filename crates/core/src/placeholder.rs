//! What a page shows before an image arrives, computed from the thumbnail
//! (already decoded, resized, oriented and in sRGB) at almost no cost: a
//! ThumbHash and a BlurHash (tiny blurred previews a page decodes in
//! JavaScript), the dominant colour (a background to paint at once) and
//! the aspect ratio (to reserve the space, so nothing jumps).

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use crate::resize::{fit_within, resize};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The placeholders of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placeholder {
    /// ThumbHash (evanw/thumbhash), base64: ~25 bytes, keeps alpha and the
    /// aspect ratio.
    pub thumbhash: String,
    /// BlurHash with 4×3 components (woltapp/blurhash).
    pub blurhash: String,
    /// The most common colour, `#rrggbb` (transparent pixels left out).
    pub dominant_color: String,
    /// Width ÷ height as displayed, to 4 decimals.
    pub aspect_ratio: f64,
}

/// ThumbHash encodes at most 100×100 pixels.
const HASH_SIDE: u32 = 100;

/// The placeholders of `image` (as displayed).
pub fn placeholder(image: &Image) -> Result<Placeholder, KilnError> {
    let aspect_ratio = (image.width as f64 / image.height as f64 * 10_000.0).round() / 10_000.0;
    let (w, h) = fit_within(image.width, image.height, HASH_SIDE);
    let small = resize(image.clone(), w, h)?;
    let rgba = match small.layout {
        PixelLayout::Rgba8 => small.pixels,
        PixelLayout::Rgb8 => small.pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
    };
    let thumbhash = base64::engine::general_purpose::STANDARD.encode(thumbhash::rgba_to_thumb_hash(w as usize, h as usize, &rgba));
    let blurhash = blurhash::encode(4, 3, w, h, &rgba).map_err(|e| KilnError::Encode(format!("blurhash: {e}")))?;
    Ok(Placeholder { thumbhash, blurhash, dominant_color: dominant_color(&rgba), aspect_ratio })
}

/// The mean of the fullest bucket of a 4-bit-per-channel histogram, over
/// pixels at least half opaque (white when there are none).
fn dominant_color(rgba: &[u8]) -> String {
    let mut buckets = vec![(0u32, [0u64; 3]); 4096];
    for p in rgba.chunks_exact(4).filter(|p| p[3] >= 128) {
        let slot = &mut buckets[(p[0] as usize >> 4) << 8 | (p[1] as usize >> 4) << 4 | p[2] as usize >> 4];
        slot.0 += 1;
        (0..3).for_each(|c| slot.1[c] += p[c] as u64);
    }
    let (count, sum) = buckets.into_iter().max_by_key(|b| b.0).filter(|b| b.0 > 0).unwrap_or((1, [255; 3]));
    let [r, g, b] = sum.map(|s| (s as f64 / count as f64).round() as u8);
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Image {
        let f = &f;
        let pixels = (0..h).flat_map(|y| (0..w).flat_map(move |x| f(x, y))).collect::<Vec<u8>>();
        Image::new(w, h, PixelLayout::Rgb8, pixels)
    }

    #[test]
    fn placeholders_describe_the_image() {
        // Mostly a blue field, a red band on the left: 256x128.
        let img = image(256, 128, |x, _| if x < 60 { [220, 30, 30] } else { [20, 60, 200] });
        let p = placeholder(&img).unwrap();
        assert_eq!(p.aspect_ratio, 2.0);
        assert_eq!(p.dominant_color, "#143cc8");
        assert_eq!(p.blurhash.len(), 2 + 4 + 2 * (4 * 3 - 1), "4x3 components: {}", p.blurhash);
        // The ThumbHash decodes to the image's colours and proportions.
        let hash = base64::engine::general_purpose::STANDARD.decode(&p.thumbhash).unwrap();
        assert!(hash.len() < 40, "{} bytes", hash.len());
        let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap();
        assert!((ratio - 2.0).abs() <= 0.3, "{ratio}"); // coarse by design
        let (r, g, b, _) = thumbhash::thumb_hash_to_average_rgba(&hash).unwrap();
        assert!(b > r && b > g, "average ({r}, {g}, {b}) is not blue");
    }

    #[test]
    fn transparent_pixels_have_no_say_in_the_dominant_colour() {
        let mut rgba = vec![0u8; 100 * 4];
        rgba.chunks_exact_mut(4).take(10).for_each(|p| p.copy_from_slice(&[0, 200, 0, 255]));
        rgba.chunks_exact_mut(4).skip(10).for_each(|p| p.copy_from_slice(&[255, 0, 0, 10]));
        assert_eq!(dominant_color(&rgba), "#00c800");
        assert_eq!(dominant_color(&[0, 0, 0, 0]), "#ffffff");
        let tall = image(50, 200, |_, _| [1, 2, 3]);
        assert_eq!(placeholder(&tall).unwrap().aspect_ratio, 0.25);
    }
}
