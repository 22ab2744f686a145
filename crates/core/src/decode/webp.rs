//! WebP decoding with image-webp, held to the memory planned from the
//! header: [`decode`] gives a still image or an animation's first frame
//! (what every still output takes); [`Frames`] streams an animation's
//! frames one at a time, composited as browsers show them (what the
//! animated WebP takes, [`crate::animation`]).

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use image_webp::{LoopCount, WebPDecoder};
use std::io::Cursor;

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(map_err)?;
    decoder.set_memory_limit(max_alloc.min(usize::MAX as u64) as usize);
    if decoder.is_animated() {
        // The first frame on a transparent canvas, as [`Frames`] draws it.
        decoder.set_background_color([0; 4]).map_err(map_err)?;
    }
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

/// An animated WebP's frames, one at a time, on a canvas of the animation's
/// size. image-webp composites each frame (alpha blending or not, as the
/// frame says; the previous frame's rectangle disposed of when it asks) on
/// a canvas of its own; the canvas starts, and is disposed to,
/// **transparent** rather than the file's background colour, as browsers
/// and libwebp's `WebPAnimDecoder` do (the spec calls that colour a hint).
/// Holds image-webp's canvas and one decoded frame, and the canvas handed
/// out (RGBA; without alpha, also the RGB buffer image-webp writes first):
/// never more than one frame at a time.
pub struct Frames<'a> {
    decoder: WebPDecoder<Cursor<&'a [u8]>>,
    canvas: Image,
    /// image-webp's output when the animation has no alpha (RGB).
    rgb: Vec<u8>,
    left: u32,
}

impl<'a> Frames<'a> {
    /// Reads the header of `bytes`, an animated WebP; the decoder and each
    /// canvas are held to `max_alloc` bytes.
    pub fn new(bytes: &'a [u8], max_alloc: u64) -> Result<Frames<'a>, KilnError> {
        let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(map_err)?;
        if !decoder.is_animated() {
            return Err(KilnError::Unsupported("a still WebP has no frames to stream".into()));
        }
        decoder.set_memory_limit(max_alloc.min(usize::MAX as u64) as usize);
        decoder.set_background_color([0; 4]).map_err(map_err)?;
        let (w, h) = decoder.dimensions();
        let too_large = || KilnError::TooLarge(format!("WebP animation {w}x{h} is over the memory planned for it"));
        let out = decoder.output_buffer_size().filter(|&n| n as u64 <= max_alloc).ok_or_else(too_large)?;
        let rgba = (w as usize).checked_mul(h as usize).and_then(|n| n.checked_mul(4)).filter(|&n| n as u64 <= max_alloc).ok_or_else(too_large)?;
        let rgb = if decoder.has_alpha() { Vec::new() } else { vec![0; out] };
        let left = decoder.num_frames();
        Ok(Frames { decoder, canvas: Image::new(w, h, PixelLayout::Rgba8, vec![0; rgba]), rgb, left })
    }

    /// The ANIM chunk's loop count (WebP's meaning: plays, 0 = forever).
    pub fn loop_count(&self) -> u16 {
        match self.decoder.loop_count() {
            LoopCount::Forever => 0,
            LoopCount::Times(n) => n.get(),
        }
    }

    /// Draws the next frame; returns its duration in ms, or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<u32>, KilnError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if self.rgb.is_empty() {
            return self.decoder.read_frame(&mut self.canvas.pixels).map(Some).map_err(frame_err);
        }
        let duration = self.decoder.read_frame(&mut self.rgb).map_err(frame_err)?;
        for (dst, src) in self.canvas.pixels.chunks_exact_mut(4).zip(self.rgb.chunks_exact(3)) {
            dst[..3].copy_from_slice(src);
            dst[3] = 255;
        }
        Ok(Some(duration))
    }

    /// The canvas as the last frame left it (RGBA, the animation's size).
    pub fn canvas(&self) -> &Image {
        &self.canvas
    }
}

/// A frame's error. Its header stating more than 16384 px a side
/// (image-webp's `ImageTooLarge`) is damage, not size: a frame never
/// exceeds the canvas the plan was made for.
fn frame_err(e: image_webp::DecodingError) -> KilnError {
    match e {
        image_webp::DecodingError::ImageTooLarge => KilnError::Corrupt("WebP: a frame's header states a frame larger than its canvas".into()),
        other => map_err(other),
    }
}

fn map_err(e: image_webp::DecodingError) -> KilnError {
    match e {
        image_webp::DecodingError::MemoryLimitExceeded | image_webp::DecodingError::ImageTooLarge => {
            KilnError::TooLarge(format!("WebP: {e}"))
        }
        other => KilnError::Corrupt(format!("WebP: {other}")),
    }
}
