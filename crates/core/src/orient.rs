//! EXIF orientation: read the tag from the input's metadata and apply it to
//! the pixels, so outputs (which carry no metadata) display upright.

use crate::image::Image;

/// The EXIF Orientation value (1..=8) of `bytes`, or 1 when absent/invalid.
pub fn read_orientation(bytes: &[u8]) -> u16 {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|v| (1..=8).contains(v))
        .map_or(1, |v| v as u16)
}

/// True when the orientation swaps width and height (90° turns).
pub fn swaps_dimensions(orientation: u16) -> bool {
    (5..=8).contains(&orientation)
}

/// Returns `img` transformed so that it displays upright for `orientation`.
pub fn apply(img: Image, orientation: u16) -> Image {
    if !(2..=8).contains(&orientation) {
        return img;
    }
    oriented(&img, orientation)
}

/// An upright copy of `img` for an `orientation` in 2..=8.
pub fn oriented(img: &Image, orientation: u16) -> Image {
    let (w, h) = (img.width as usize, img.height as usize);
    let ch = img.layout.channels();
    let (ow, oh) = if swaps_dimensions(orientation) { (h, w) } else { (w, h) };
    let mut out = vec![0u8; img.pixels.len()];
    for y in 0..oh {
        for x in 0..ow {
            // For each output pixel, find the source pixel it comes from.
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x), // 8
            };
            let s = (sy * w + sx) * ch;
            let d = (y * ow + x) * ch;
            out[d..d + ch].copy_from_slice(&img.pixels[s..s + ch]);
        }
    }
    Image::new(ow as u32, oh as u32, img.layout, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::PixelLayout;

    /// A 2x1 image: red, green.
    fn two_pixels() -> Image {
        Image::new(2, 1, PixelLayout::Rgb8, vec![255, 0, 0, 0, 255, 0])
    }

    #[test]
    fn orientation_6_turns_clockwise() {
        // Stored red|green, shown rotated 90° clockwise: red on top.
        let out = apply(two_pixels(), 6);
        assert_eq!((out.width, out.height), (1, 2));
        assert_eq!(out.pixels, vec![255, 0, 0, 0, 255, 0]);
    }

    #[test]
    fn orientation_8_turns_counter_clockwise_and_2_mirrors() {
        let out = apply(two_pixels(), 8);
        assert_eq!(out.pixels, vec![0, 255, 0, 255, 0, 0]);
        assert_eq!(apply(two_pixels(), 2).pixels, vec![0, 255, 0, 255, 0, 0]);
        assert_eq!(apply(two_pixels(), 1).pixels, two_pixels().pixels);
    }

    #[test]
    fn missing_exif_reads_as_1() {
        assert_eq!(read_orientation(b"not an image"), 1);
    }
}
