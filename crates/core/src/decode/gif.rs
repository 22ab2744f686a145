//! GIF decoding: the first frame, composited onto a transparent canvas of
//! the logical screen size (later frames of an animation are ignored).

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    options.set_memory_limit(gif::MemoryLimit::Bytes(max_alloc.max(1).try_into().unwrap()));
    let mut decoder = options.read_info(std::io::Cursor::new(bytes)).map_err(map_err)?;
    let (w, h) = (decoder.width() as usize, decoder.height() as usize);
    let mut canvas = vec![0u8; w * h * 4];
    let frame = decoder
        .read_next_frame()
        .map_err(map_err)?
        .ok_or_else(|| KilnError::Corrupt("GIF has no frames".into()))?;
    let (fx, fy) = (frame.left as usize, frame.top as usize);
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    for row in 0..fh.min(h.saturating_sub(fy)) {
        let copy = fw.min(w.saturating_sub(fx));
        let src = &frame.buffer[row * fw * 4..(row * fw + copy) * 4];
        let dst_start = ((fy + row) * w + fx) * 4;
        canvas[dst_start..dst_start + copy * 4].copy_from_slice(src);
    }
    Ok(Image::new(w as u32, h as u32, PixelLayout::Rgba8, canvas))
}

fn map_err(e: gif::DecodingError) -> KilnError {
    KilnError::Corrupt(format!("GIF: {e}"))
}
