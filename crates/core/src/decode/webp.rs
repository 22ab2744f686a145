//! WebP decoding (lossy and lossless, still images) with image-webp.

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let corrupt = |e: image_webp::DecodingError| KilnError::Corrupt(format!("WebP: {e}"));
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(corrupt)?;
    decoder.set_memory_limit(max_alloc.min(usize::MAX as u64) as usize);
    let (w, h) = decoder.dimensions();
    let size = decoder
        .output_buffer_size()
        .ok_or_else(|| KilnError::TooLarge(format!("WebP {w}x{h} output buffer overflows")))?;
    let mut pixels = vec![0u8; size];
    decoder.read_image(&mut pixels).map_err(corrupt)?;
    let layout = if decoder.has_alpha() { PixelLayout::Rgba8 } else { PixelLayout::Rgb8 };
    Ok(Image::new(w, h, layout, pixels))
}
