//! PNG decoding with the `png` crate: palette and low bit depths expanded,
//! 16-bit stripped to 8, gray widened to RGB; alpha kept.

use super::gray_to_rgb;
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let limits = png::Limits { bytes: max_alloc.min(usize::MAX as u64) as usize };
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(map_err)?;
    let size = reader.output_buffer_size().ok_or_else(|| KilnError::TooLarge("PNG output buffer overflows".into()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(map_err)?;
    buf.truncate(frame.buffer_size());
    let (w, h) = (frame.width, frame.height);
    let (layout, pixels) = match frame.color_type {
        png::ColorType::Rgb => (PixelLayout::Rgb8, buf),
        png::ColorType::Rgba => (PixelLayout::Rgba8, buf),
        png::ColorType::Grayscale => (PixelLayout::Rgb8, gray_to_rgb(&buf, false)),
        png::ColorType::GrayscaleAlpha => (PixelLayout::Rgba8, gray_to_rgb(&buf, true)),
        png::ColorType::Indexed => return Err(KilnError::Corrupt("PNG palette was not expanded".into())),
    };
    Ok(Image::new(w, h, layout, pixels))
}

fn map_err(e: png::DecodingError) -> KilnError {
    match e {
        png::DecodingError::LimitsExceeded => KilnError::TooLarge("PNG decoder memory limit exceeded".into()),
        other => KilnError::Corrupt(format!("PNG: {other}")),
    }
}
