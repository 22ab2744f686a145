//! JPEG decoding. Full size: zune-jpeg (fast, progressive).
//! Shrink-on-load: jpeg-decoder's scaled IDCT, which decodes straight to
//! 1/2, 1/4 or 1/8 of the size and never holds the full-size pixels; a
//! progressive gray or colour JPEG goes to kiln's own decoder
//! ([`super::progressive`]), which also never holds the full-size
//! coefficients.
//! CMYK/YCCK: jpeg-decoder at every size, converted to sRGB with the
//! embedded CMYK profile ([`crate::colour::cmyk_to_srgb`]), or the default
//! CMYK profile (FOGRA39) without a usable one.

use super::{gray_to_rgb, cmyk_to_rgb};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use crate::probe::ImageInfo;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

pub(super) fn decode(bytes: &[u8], info: &ImageInfo, scale: u32, max_alloc: u64) -> Result<Image, KilnError> {
    ensure_complete(bytes)?;
    ensure_frame_markers(bytes)?;
    if super::lean_progressive(info, scale) {
        return super::progressive::decode_scaled(bytes, scale, max_alloc);
    }
    // CMYK goes through jpeg-decoder at every scale: it undoes Adobe's
    // inversion (zune-jpeg hands the raw values back), so the ink values
    // can be converted with the image's own CMYK profile.
    let cmyk = info.jpeg.as_ref().is_some_and(|f| f.components.len() == 4);
    if scale <= 1 && !cmyk { decode_full(bytes, info) } else { decode_scaled(bytes, info, scale.max(1)) }
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

/// The decoders must decode the frame the probe read, at the size it read:
/// a JPEG holds one frame header (SOF0-SOF15 but DHT, JPG and DAC), and a
/// DNL marker, which redefines the height, is only allowed when the frame
/// header's height is 0, which the probe refuses. A DNL in a 6176x1 frame
/// made zune-jpeg 0.5.15 write past its output and panic (a fuzz finding).
/// Entropy-coded data is skipped (0xFF there is followed by 0x00 or a
/// restart marker), so only marker segments are counted.
fn ensure_frame_markers(bytes: &[u8]) -> Result<(), KilnError> {
    let is_sof = |m: u8| (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC);
    let (mut pos, mut frames) = (2usize, 0u32);
    while pos + 1 < bytes.len() {
        if bytes[pos] != 0xFF {
            pos += 1; // entropy-coded data
            continue;
        }
        let marker = bytes[pos + 1];
        if marker == 0x00 || marker == 0xFF || (0xD0..=0xD7).contains(&marker) {
            pos += if marker == 0xFF { 1 } else { 2 };
            continue;
        }
        if marker == 0xD9 {
            break;
        }
        if marker == 0xDC {
            return Err(corrupt("a DNL marker: kiln reads the height from the frame header"));
        }
        if is_sof(marker) {
            frames += 1;
            if frames > 1 {
                return Err(corrupt("more than one frame header (SOF)"));
            }
        }
        let len = bytes.get(pos + 2..pos + 4).map_or(0, |l| u16::from_be_bytes([l[0], l[1]]) as usize);
        pos += 2 + len;
    }
    Ok(())
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
        jpeg_decoder::PixelFormat::CMYK32 => {
            // The profile's size was checked against the limit when planning.
            let icc = crate::colour::read_icc(bytes, u64::MAX).ok().flatten();
            crate::colour::cmyk_to_srgb(&raw, w as usize, icc.as_deref()).unwrap_or_else(|| cmyk_to_rgb(&raw))
        }
        jpeg_decoder::PixelFormat::L16 => {
            return Err(KilnError::Unsupported("12/16-bit lossless JPEG".into()));
        }
    };
    if pixels.len() as u64 != w as u64 * h as u64 * 3 {
        return Err(corrupt(format!("decoder returned {} bytes for {w}x{h}", pixels.len())));
    }
    Ok(Image::new(w, h, PixelLayout::Rgb8, pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        [&[0xFF, marker][..], &((body.len() + 2) as u16).to_be_bytes(), body].concat()
    }

    #[test]
    fn a_second_frame_header_or_a_dnl_is_refused_but_scan_data_is_not_read_as_markers() {
        let sof = segment(0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
        let sos = segment(0xDA, &[1, 1, 0, 0, 63, 0]);
        // Scan data holding a stuffed 0xFF 0x00 and a restart marker, then EOI.
        let scan = [0x12, 0xFF, 0x00, 0xC0, 0xFF, 0xD0, 0x34, 0xFF, 0xD9];
        let one = [&[0xFF, 0xD8][..], &sof, &sos, &scan].concat();
        assert!(ensure_frame_markers(&one).is_ok());
        let two = [&[0xFF, 0xD8][..], &sof, &segment(0xC2, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]), &sos, &scan].concat();
        assert!(ensure_frame_markers(&two).is_err());
        let dnl = [&[0xFF, 0xD8][..], &sof, &sos, &scan[..6], &segment(0xDC, &[0, 8]), &scan[6..]].concat();
        assert!(ensure_frame_markers(&dnl).is_err());
        // DHT (0xC4) is not a frame header.
        let dht = [&[0xFF, 0xD8][..], &sof, &segment(0xC4, &[0; 17]), &sos, &scan].concat();
        assert!(ensure_frame_markers(&dht).is_ok());
    }
}
