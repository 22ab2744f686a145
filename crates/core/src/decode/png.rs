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

type Reader<'a> = png::Reader<std::io::BufReader<Chunks<'a>>>;

/// The decoder, past the header, normalised to 8-bit gray, gray-alpha, RGB
/// or RGBA, allocating at most `max_alloc`.
fn reader(bytes: &[u8], max_alloc: u64) -> Result<Reader<'_>, KilnError> {
    let limits = png::Limits { bytes: max_alloc.min(usize::MAX as u64) as usize };
    let mut decoder = png::Decoder::new_with_limits(std::io::BufReader::new(Chunks::without_skipped(bytes)?), limits);
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.read_info().map_err(map_err)
}

pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<Image, KilnError> {
    let mut reader = reader(bytes, max_alloc)?;
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

/// A non-interlaced PNG decoded one row at a time, top to bottom, each row
/// widened to RGB8 or RGBA8: the image is never held whole.
pub struct PngRows<'a> {
    reader: Reader<'a>,
    width: u32,
    height: u32,
    color: png::ColorType,
    /// The decoder's row, and the same row widened to RGB(A).
    raw: Vec<u8>,
    widened: Vec<u8>,
}

impl<'a> PngRows<'a> {
    pub(super) fn new(bytes: &'a [u8], max_alloc: u64) -> Result<PngRows<'a>, KilnError> {
        let reader = reader(bytes, max_alloc)?;
        let info = reader.info();
        if info.interlaced {
            return Err(KilnError::Unsupported("an interlaced PNG cannot be decoded row by row".into()));
        }
        let (width, height) = (info.width, info.height);
        // An APNG's first fcTL sets the rows' size; it must be the IHDR's.
        if let Some(fc) = info.frame_control.filter(|fc| (fc.width, fc.height, fc.x_offset, fc.y_offset) != (width, height, 0, 0)) {
            return Err(KilnError::Corrupt(format!(
                "APNG default image: its frame control says {}x{} at {},{}, the header {width}x{height}",
                fc.width, fc.height, fc.x_offset, fc.y_offset
            )));
        }
        let (color, _) = reader.output_color_type();
        let line = reader.output_line_size(width).ok_or_else(|| KilnError::TooLarge("PNG row size overflows".into()))?;
        let channels = match color {
            png::ColorType::Rgb | png::ColorType::Grayscale => 3,
            png::ColorType::Rgba | png::ColorType::GrayscaleAlpha => 4,
            png::ColorType::Indexed => return Err(KilnError::Corrupt("PNG palette was not expanded".into())),
        };
        let widened_len = width as usize * channels;
        if (line + widened_len) as u64 > max_alloc {
            return Err(KilnError::TooLarge(format!("a PNG row of {width} pixels is over the memory planned for it")));
        }
        Ok(PngRows { reader, width, height, color, raw: vec![0; line], widened: Vec::with_capacity(widened_len) })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn layout(&self) -> PixelLayout {
        match self.color {
            png::ColorType::Rgba | png::ColorType::GrayscaleAlpha => PixelLayout::Rgba8,
            _ => PixelLayout::Rgb8,
        }
    }

    /// Reads to the end of the image data after the last row, checking it
    /// as a whole-image decode does (the IDAT checksum, the zlib stream's
    /// end).
    pub fn finish(&mut self) -> Result<(), KilnError> {
        match self.reader.read_row(&mut self.raw).map_err(map_err)? {
            None => Ok(()),
            Some(_) => Err(KilnError::Corrupt(format!("PNG image data holds more than its {} rows", self.height))),
        }
    }

    /// The next row, or an error when the image data ends early or is corrupt.
    pub fn next_row(&mut self) -> Result<&[u8], KilnError> {
        match self.reader.read_row(&mut self.raw).map_err(map_err)? {
            Some(_) => {}
            None => return Err(KilnError::Corrupt(format!("PNG image data ends before its {} rows", self.height))),
        }
        Ok(match self.color {
            png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => {
                self.widened.clear();
                let alpha = self.color == png::ColorType::GrayscaleAlpha;
                let gray = &self.raw[..self.width as usize * if alpha { 2 } else { 1 }];
                if alpha {
                    self.widened.extend(gray.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]));
                } else {
                    self.widened.extend(gray.iter().flat_map(|&g| [g, g, g]));
                }
                &self.widened
            }
            _ => &self.raw[..self.width as usize * self.layout().channels()],
        })
    }
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
            if &head[4..8] == b"PLTE" && (len == 0 || !len.is_multiple_of(3) || len > 3 * 256) {
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
