//! JPEG decoding. Full size: zune-jpeg (fast, progressive, CMYK/YCCK to RGB).
//! Shrink-on-load: jpeg-decoder's scaled IDCT, which decodes straight to
//! 1/2, 1/4 or 1/8 of the size and never holds the full-size pixels.

use super::{gray_to_rgb, cmyk_to_rgb};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use crate::probe::ImageInfo;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

pub(super) fn decode(bytes: &[u8], info: &ImageInfo, scale: u32) -> Result<Image, KilnError> {
    ensure_complete(bytes)?;
    if scale <= 1 { decode_full(bytes, info) } else { decode_scaled(bytes, info, scale) }
}

/// Decoders fill a truncated scan with gray instead of failing; an upload
/// cut short must be refused, so require the end-of-image marker after the
/// first scan. (Inside entropy-coded data 0xFF is always stuffed, so FF D9
/// there can only be the real EOI.)
fn ensure_complete(bytes: &[u8]) -> Result<(), KilnError> {
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]);
    let has_eoi = sos.is_some_and(|at| bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]));
    if has_eoi {
        Ok(())
    } else {
        Err(KilnError::Corrupt("JPEG is truncated: no end-of-image marker after the scan data".into()))
    }
}

fn corrupt(e: impl std::fmt::Display) -> KilnError {
    KilnError::Corrupt(format!("JPEG: {e}"))
}

fn decode_full(bytes: &[u8], info: &ImageInfo) -> Result<Image, KilnError> {
    let options = DecoderOptions::new_safe()
        .set_max_width(info.width as usize)
        .set_max_height(info.height as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder.decode().map_err(corrupt)?;
    let frame = decoder.info().ok_or_else(|| corrupt("no frame info after decode"))?;
    let (w, h) = (frame.width as u32, frame.height as u32);
    if pixels.len() as u64 != w as u64 * h as u64 * 3 {
        return Err(corrupt(format!("decoder returned {} bytes for {w}x{h}", pixels.len())));
    }
    Ok(Image::new(w, h, PixelLayout::Rgb8, pixels))
}

fn decode_scaled(bytes: &[u8], info: &ImageInfo, scale: u32) -> Result<Image, KilnError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(corrupt)?;
    let want_w = info.width.div_ceil(scale).min(u16::MAX as u32) as u16;
    let want_h = info.height.div_ceil(scale).min(u16::MAX as u32) as u16;
    let (w, h) = decoder.scale(want_w, want_h).map_err(corrupt)?;
    let raw = decoder.decode().map_err(corrupt)?;
    let format = decoder.info().ok_or_else(|| corrupt("no frame info"))?.pixel_format;
    let (w, h) = (w as u32, h as u32);
    let pixels = match format {
        jpeg_decoder::PixelFormat::RGB24 => raw,
        jpeg_decoder::PixelFormat::L8 => gray_to_rgb(&raw, false),
        jpeg_decoder::PixelFormat::CMYK32 => cmyk_to_rgb(&raw),
        jpeg_decoder::PixelFormat::L16 => {
            return Err(KilnError::Unsupported("12/16-bit lossless JPEG".into()));
        }
    };
    if pixels.len() as u64 != w as u64 * h as u64 * 3 {
        return Err(corrupt(format!("decoder returned {} bytes for {w}x{h}", pixels.len())));
    }
    Ok(Image::new(w, h, PixelLayout::Rgb8, pixels))
}
