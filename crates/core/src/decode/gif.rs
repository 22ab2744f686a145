//! GIF decoding: the first frame, composited onto a transparent canvas of
//! the logical screen size (later frames of an animation are ignored). The
//! probe has checked every frame lies within the screen; the decoder's
//! memory limit is the budget planned from the screen, so a frame larger
//! than planned is refused, not allocated.

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    options.check_frame_consistency(true);
    // The frame's output buffer is held to the planned budget (at least 1 byte).
    options.set_memory_limit(gif::MemoryLimit::Bytes(std::num::NonZeroU64::MIN.saturating_add(max_alloc.saturating_sub(1))));
    let mut decoder = options.read_info(std::io::Cursor::new(bytes)).map_err(map_err)?;
    let (w, h) = (decoder.width() as usize, decoder.height() as usize);
    let canvas_len = rgba_len(w, h).filter(|&n| n as u64 <= max_alloc).ok_or_else(|| too_large(w, h))?;
    let mut canvas = vec![0u8; canvas_len];
    let frame = decoder.read_next_frame().map_err(map_err)?.ok_or_else(|| KilnError::Corrupt("GIF has no frames".into()))?;
    let (fx, fy) = (frame.left as usize, frame.top as usize);
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    if fx + fw > w || fy + fh > h || rgba_len(fw, fh) != Some(frame.buffer.len()) {
        return Err(KilnError::Corrupt(format!("GIF frame {fw}x{fh} at {fx},{fy} does not fit the {w}x{h} screen")));
    }
    for (row, src) in frame.buffer.chunks_exact(fw * 4).enumerate() {
        let start = ((fy + row) * w + fx) * 4;
        canvas[start..start + fw * 4].copy_from_slice(src);
    }
    Ok(Image::new(w as u32, h as u32, PixelLayout::Rgba8, canvas))
}

/// `w × h × 4`, if it fits in memory's address space.
fn rgba_len(w: usize, h: usize) -> Option<usize> {
    w.checked_mul(h)?.checked_mul(4)
}

fn too_large(w: usize, h: usize) -> KilnError {
    KilnError::TooLarge(format!("GIF {w}x{h} is over the memory planned for it"))
}

fn map_err(e: gif::DecodingError) -> KilnError {
    match e {
        gif::DecodingError::MemoryLimit | gif::DecodingError::OutOfMemory => {
            KilnError::TooLarge("a GIF frame needs more memory than its header planned (frame larger than the screen?)".into())
        }
        other => KilnError::Corrupt(format!("GIF: {other}")),
    }
}
