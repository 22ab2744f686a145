//! EXIF orientation: read the tag from the input's metadata and apply it to
//! the pixels, so outputs (which carry no metadata) display upright.
//!
//! The EXIF block is found by walking the container's own structure (JPEG
//! segments, PNG chunks, WebP RIFF chunks) and only a block of at most
//! [`MAX_EXIF_BYTES`] is parsed: a PNG or WebP can carry an EXIF chunk as
//! large as the file, and copying it whole was memory the estimate never
//! counted. A JPEG's APP1 segment cannot exceed that size anyway.

use crate::container::{chunk, jpeg_segments, Chunked};
use crate::image::Image;
use crate::sniff::{sniff, InputFormat};

/// The largest EXIF block read: a JPEG segment's maximum.
pub const MAX_EXIF_BYTES: usize = 65_535;

/// The EXIF Orientation value (1..=8) of `bytes`, or 1 when absent, too
/// large or invalid.
pub fn read_orientation(bytes: &[u8]) -> u16 {
    let Some(exif) = read_exif(bytes) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|v| (1..=8).contains(v))
        .map_or(1, |v| v as u16)
}

/// The parsed EXIF of `bytes`, when there is a block of at most
/// [`MAX_EXIF_BYTES`] and it parses (also [`crate::metadata`]'s source).
pub(crate) fn read_exif(bytes: &[u8]) -> Option<exif::Exif> {
    let tiff = exif_block(bytes).filter(|b| b.len() <= MAX_EXIF_BYTES)?;
    exif::Reader::new().read_raw(tiff.to_vec()).ok()
}

/// The TIFF-structured EXIF block of `bytes`, whatever its size.
pub(crate) fn exif_block(bytes: &[u8]) -> Option<&[u8]> {
    let block = match sniff(bytes)? {
        InputFormat::Jpeg => jpeg_app1(bytes),
        InputFormat::Png => chunk(bytes, Chunked::Png, b"eXIf"),
        InputFormat::Webp => chunk(bytes, Chunked::Riff, b"EXIF"),
        InputFormat::Gif => None,
    }?;
    Some(block.strip_prefix(b"Exif\0\0").unwrap_or(block))
}

/// The first APP1 segment holding EXIF, before the first scan.
fn jpeg_app1(bytes: &[u8]) -> Option<&[u8]> {
    jpeg_segments(bytes).find(|(marker, body)| *marker == 0xE1 && body.starts_with(b"Exif\0\0")).map(|(_, body)| body)
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

    /// A little-endian TIFF with one IFD entry: Orientation = `value`.
    fn tiff(value: u16) -> Vec<u8> {
        let mut t = b"II*\0\x08\0\0\0\x01\0".to_vec();
        t.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
        t.extend_from_slice(&value.to_le_bytes());
        t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        t
    }

    fn png_with_exif(exif: &[u8]) -> Vec<u8> {
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(b"IHDR");
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&(exif.len() as u32).to_be_bytes());
        p.extend_from_slice(b"eXIf");
        p.extend_from_slice(exif);
        p.extend_from_slice(&[0, 0, 0, 0]);
        p
    }

    #[test]
    fn exif_is_read_from_png_and_webp_chunks_and_capped() {
        assert_eq!(read_orientation(&png_with_exif(&tiff(6))), 6);
        let mut webp = b"RIFF\0\0\0\0WEBPEXIF".to_vec();
        let block = [b"Exif\0\0".as_slice(), &tiff(8)].concat();
        webp.extend_from_slice(&(block.len() as u32).to_le_bytes());
        webp.extend_from_slice(&block);
        assert_eq!(read_orientation(&webp), 8);
        // Over the cap: ignored, not read.
        let mut huge = tiff(6);
        huge.resize(MAX_EXIF_BYTES + 1, 0);
        assert_eq!(read_orientation(&png_with_exif(&huge)), 1);
    }
}
