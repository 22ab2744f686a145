//! GIF decoding: [`decode`] gives the first frame, composited onto a
//! transparent canvas of the logical screen size (what every still output
//! takes); [`Frames`] streams an animation's frames one at a time,
//! composited as browsers show them (what the animated WebP takes,
//! [`crate::animation`]). The probe has checked every frame lies within
//! the screen; the decoder's memory limit is the budget planned from the
//! screen, so a frame larger than planned is refused, not allocated.

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

/// An animated GIF's frames, one at a time, composited onto a canvas of the
/// logical screen size as browsers show them: a frame's transparent pixels
/// leave the canvas as it was; before the next frame is drawn, the frame's
/// disposal method is applied — `Keep` and `Any` (unspecified) leave it,
/// `Background` clears its rectangle to transparent (what browsers do,
/// rather than paint the background colour), `Previous` restores the
/// rectangle as it was before the frame. Holds the canvas, the current
/// frame's decoded rectangle and, for `Previous`, a copy of the rectangle
/// it covers: never more than one frame at a time.
pub struct Frames<'a> {
    decoder: gif::Decoder<std::io::Cursor<&'a [u8]>>,
    canvas: Image,
    /// What the last frame drawn asks for before the next one.
    pending: Disposal,
    /// The rectangle `Previous` restores, as it was before the frame.
    saved: Vec<u8>,
    max_alloc: u64,
}

/// A disposal waiting for the next frame: the rectangle (x, y, w, h).
#[derive(Debug, Clone, Copy)]
enum Disposal {
    None,
    Clear(Rect),
    Restore(Rect),
}

type Rect = (usize, usize, usize, usize);

impl<'a> Frames<'a> {
    /// Reads the header of `bytes`; every allocation (canvas, frame, saved
    /// rectangle) is held to `max_alloc` bytes each.
    pub fn new(bytes: &'a [u8], max_alloc: u64) -> Result<Frames<'a>, KilnError> {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        options.check_frame_consistency(true);
        options.set_memory_limit(gif::MemoryLimit::Bytes(std::num::NonZeroU64::MIN.saturating_add(max_alloc.saturating_sub(1))));
        let decoder = options.read_info(std::io::Cursor::new(bytes)).map_err(map_err)?;
        let (w, h) = (decoder.width() as usize, decoder.height() as usize);
        let canvas_len = rgba_len(w, h).filter(|&n| n as u64 <= max_alloc).ok_or_else(|| too_large(w, h))?;
        let canvas = Image::new(w as u32, h as u32, PixelLayout::Rgba8, vec![0u8; canvas_len]);
        Ok(Frames { decoder, canvas, pending: Disposal::None, saved: Vec::new(), max_alloc })
    }

    /// The NETSCAPE2.0 loop count (GIF's meaning: repetitions after the
    /// first play), as read before the first frame.
    pub fn repeat(&self) -> gif::Repeat {
        self.decoder.repeat()
    }

    /// Draws the next frame; returns its delay in 1/100 s, or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<u16>, KilnError> {
        let Some(frame) = self.decoder.read_next_frame().map_err(map_err)? else { return Ok(None) };
        let (w, h) = (self.canvas.width as usize, self.canvas.height as usize);
        let rect = (frame.left as usize, frame.top as usize, frame.width as usize, frame.height as usize);
        if rect.0 + rect.2 > w || rect.1 + rect.3 > h || rgba_len(rect.2, rect.3) != Some(frame.buffer.len()) {
            return Err(KilnError::Corrupt(format!("GIF frame {}x{} at {},{} does not fit the {w}x{h} screen", rect.2, rect.3, rect.0, rect.1)));
        }
        let (delay, dispose) = (frame.delay, frame.dispose);
        match self.pending {
            Disposal::None => {}
            Disposal::Clear(r) => rows_mut(&mut self.canvas.pixels, w, r).for_each(|row| row.fill(0)),
            Disposal::Restore(r) => {
                rows_mut(&mut self.canvas.pixels, w, r).zip(self.saved.chunks_exact(r.2 * 4)).for_each(|(row, s)| row.copy_from_slice(s))
            }
        }
        self.pending = match dispose {
            gif::DisposalMethod::Any | gif::DisposalMethod::Keep => Disposal::None,
            gif::DisposalMethod::Background => Disposal::Clear(rect),
            gif::DisposalMethod::Previous => {
                if rect.2 as u64 * rect.3 as u64 * 4 > self.max_alloc {
                    return Err(too_large(rect.2, rect.3));
                }
                self.saved.clear();
                rows_mut(&mut self.canvas.pixels, w, rect).for_each(|row| self.saved.extend_from_slice(row));
                Disposal::Restore(rect)
            }
        };
        for (row, src) in rows_mut(&mut self.canvas.pixels, w, rect).zip(frame.buffer.chunks_exact(rect.2 * 4)) {
            // GIF alpha is 0 (the transparent index: canvas shows through) or 255.
            for (dst, px) in row.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                if px[3] != 0 {
                    dst.copy_from_slice(px);
                }
            }
        }
        Ok(Some(delay))
    }

    /// The canvas as the last frame left it (RGBA, logical screen size).
    pub fn canvas(&self) -> &Image {
        &self.canvas
    }
}

/// The canvas rows of rectangle `r` (x, y, w, h) in an RGBA image `width` wide.
fn rows_mut(pixels: &mut [u8], width: usize, r: Rect) -> impl Iterator<Item = &mut [u8]> {
    pixels.chunks_exact_mut(width * 4).skip(r.1).take(r.3).map(move |row| &mut row[r.0 * 4..(r.0 + r.2) * 4])
}
