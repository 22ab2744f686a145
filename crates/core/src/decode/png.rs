//! PNG decoding with the `png` crate: palette and low bit depths expanded,
//! 16-bit stripped to 8, gray widened to RGB; alpha kept.
//!
//! The decoder never sees the ancillary chunks kiln does not use and that a
//! file can make arbitrarily large: compressed ICC profiles (`iCCP`),
//! text (`tEXt`, `zTXt`, `iTXt`) and EXIF (`eXIf`, read for orientation by
//! [`crate::orient`] with a cap of its own). They are left out by a reader
//! over the input's own bytes, so nothing is copied; each kept chunk is
//! whole, so its CRC still holds.

use super::gray_to_rgb;
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use std::io::{Read, Seek, SeekFrom};

/// Chunks left out before decoding.
const SKIPPED: [&[u8; 4]; 5] = [b"iCCP", b"tEXt", b"zTXt", b"iTXt", b"eXIf"];

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let limits = png::Limits { bytes: max_alloc.min(usize::MAX as u64) as usize };
    let mut decoder = png::Decoder::new_with_limits(std::io::BufReader::new(Chunks::without_skipped(bytes)?), limits);
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(map_err)?;
    let size = reader.output_buffer_size().ok_or_else(|| KilnError::TooLarge("PNG output buffer overflows".into()))?;
    if size as u64 > max_alloc {
        return Err(KilnError::TooLarge(format!("the PNG's output ({size} bytes) is over the memory planned for it")));
    }
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

/// A reader (and seeker, as the decoder wants) over the slices of a PNG to keep.
struct Chunks<'a> {
    parts: Vec<&'a [u8]>,
    len: u64,
    pos: u64,
}

impl<'a> Chunks<'a> {
    /// The signature and every chunk but the [`SKIPPED`] ones. A file cut
    /// short is passed on as it is, for the decoder to report. A palette
    /// that is not 1 to 256 whole RGB entries is refused here: png 0.18
    /// panics expanding a `PLTE` whose length is not a multiple of 3.
    fn without_skipped(bytes: &'a [u8]) -> Result<Chunks<'a>, KilnError> {
        let mut parts = vec![&bytes[..bytes.len().min(8)]];
        let mut pos = 8;
        while pos < bytes.len() {
            let Some(head) = bytes.get(pos..pos + 8) else {
                parts.push(&bytes[pos..]);
                break;
            };
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let end = pos.saturating_add(12).saturating_add(len);
            if end > bytes.len() {
                parts.push(&bytes[pos..]);
                break;
            }
            if &head[4..8] == b"PLTE" && (len == 0 || len % 3 != 0 || len > 3 * 256) {
                return Err(KilnError::Corrupt(format!("PNG palette of {len} bytes: it must hold 1 to 256 RGB entries")));
            }
            if !SKIPPED.iter().any(|t| &head[4..8] == *t) {
                parts.push(&bytes[pos..end]);
            }
            pos = end;
        }
        let len = parts.iter().map(|p| p.len() as u64).sum();
        Ok(Chunks { parts, len, pos: 0 })
    }
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut start = 0u64;
        for part in &self.parts {
            let end = start + part.len() as u64;
            if self.pos < end {
                let from = (self.pos - start) as usize;
                let n = (part.len() - from).min(buf.len());
                buf[..n].copy_from_slice(&part[from..from + n]);
                self.pos += n as u64;
                return Ok(n);
            }
            start = end;
        }
        Ok(0)
    }
}

impl Seek for Chunks<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    }

    #[test]
    fn ancillary_chunks_are_left_out_and_the_rest_kept_whole() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let (ihdr, iccp, idat) = (chunk(b"IHDR", &[1; 13]), chunk(b"iCCP", &[2; 100]), chunk(b"IDAT", &[3; 5]));
        for c in [&ihdr, &iccp, &idat] {
            png.extend_from_slice(c);
        }
        png.extend_from_slice(&[9, 9]); // cut short
        let mut out = Vec::new();
        Chunks::without_skipped(&png).unwrap().read_to_end(&mut out).unwrap();
        let expected = [&png[..8], &ihdr[..], &idat[..], &[9, 9]].concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_palette_of_partial_entries_is_refused() {
        for (len, ok) in [(0, false), (3, true), (49, false), (768, true), (771, false)] {
            let png = [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &[1; 13]), &chunk(b"PLTE", &vec![7; len])].concat();
            assert_eq!(Chunks::without_skipped(&png).is_ok(), ok, "PLTE of {len} bytes");
        }
    }
}
