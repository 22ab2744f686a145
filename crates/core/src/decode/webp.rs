//! WebP decoding (lossy and lossless, still images; an animation's first
//! frame) with image-webp, held to the memory planned from the header.

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(map_err)?;
    decoder.set_memory_limit(max_alloc.min(usize::MAX as u64) as usize);
    let (w, h) = decoder.dimensions();
    let size = decoder
        .output_buffer_size()
        .filter(|&n| n as u64 <= max_alloc)
        .ok_or_else(|| KilnError::TooLarge(format!("WebP {w}x{h} output is over the memory planned for it")))?;
    let mut pixels = vec![0u8; size];
    decoder.read_image(&mut pixels).map_err(map_err)?;
    let layout = if decoder.has_alpha() { PixelLayout::Rgba8 } else { PixelLayout::Rgb8 };
    Ok(Image::new(w, h, layout, pixels))
}

fn map_err(e: image_webp::DecodingError) -> KilnError {
    match e {
        image_webp::DecodingError::MemoryLimitExceeded | image_webp::DecodingError::ImageTooLarge => {
            KilnError::TooLarge(format!("WebP: {e}"))
        }
        other => KilnError::Corrupt(format!("WebP: {other}")),
    }
}
