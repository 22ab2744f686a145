//! Reads just enough of an image's header to know its size and shape, so
//! limits and the memory estimate are checked before any pixel is decoded.

use crate::error::KilnError;
use crate::sniff::{sniff, InputFormat};

/// One JPEG frame component's sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    pub h: u8,
    pub v: u8,
}

/// What the JPEG frame header (SOFn) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegFrame {
    pub progressive: bool,
    pub components: Vec<Sampling>,
}

/// Header facts about an input image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: InputFormat,
    pub width: u32,
    pub height: u32,
    /// Whether the decoded image carries an alpha channel.
    pub has_alpha: bool,
    /// Present for JPEG only.
    pub jpeg: Option<JpegFrame>,
    /// Frames of an animation (1 for a still image).
    pub frames: u64,
    /// Pixels of all frames (the image's pixels for a still image).
    pub frame_pixels: u64,
    /// WebP only: an image (or a frame) is lossless (VP8L), whose decoder
    /// holds memory differently from the lossy one.
    pub webp_lossless: bool,
    /// PNG only: Adam7 interlacing, whose rows do not arrive in order, so
    /// the image cannot be decoded row by row.
    pub interlaced: bool,
}

impl ImageInfo {
    fn still(format: InputFormat, width: u32, height: u32, has_alpha: bool, jpeg: Option<JpegFrame>) -> ImageInfo {
        let pixels = width as u64 * height as u64;
        ImageInfo { format, width, height, has_alpha, jpeg, frames: 1, frame_pixels: pixels, webp_lossless: false, interlaced: false }
    }

    pub fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// Sniffs the format and parses its header.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    if bytes.is_empty() {
        return Err(KilnError::Unsupported("empty body: expected image bytes".into()));
    }
    let format = sniff(bytes).ok_or_else(|| {
        KilnError::Unsupported("not a JPEG, PNG, GIF or WebP image (checked the file signature)".into())
    })?;
    let info = match format {
        InputFormat::Jpeg => probe_jpeg(bytes)?,
        InputFormat::Png => probe_png(bytes)?,
        InputFormat::Gif => probe_gif(bytes)?,
        InputFormat::Webp => probe_webp(bytes)?,
    };
    if info.width == 0 || info.height == 0 {
        return Err(KilnError::Corrupt(format!("{format:?} header declares a zero dimension")));
    }
    Ok(info)
}

fn truncated(what: &str) -> KilnError {
    KilnError::Corrupt(format!("truncated {what} header"))
}

fn probe_jpeg(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let mut pos = 2; // after SOI
    loop {
        // Skip fill bytes, find the next marker.
        while pos < bytes.len() && bytes[pos] != 0xFF {
            pos += 1;
        }
        while pos < bytes.len() && bytes[pos] == 0xFF {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or_else(|| truncated("JPEG"))?;
        pos += 1;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue; // markers without a length
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err(KilnError::Corrupt("JPEG has no frame header before its scan".into()));
        }
        let len = u16::from_be_bytes([
            *bytes.get(pos).ok_or_else(|| truncated("JPEG"))?,
            *bytes.get(pos + 1).ok_or_else(|| truncated("JPEG"))?,
        ]) as usize;
        let segment = bytes.get(pos + 2..pos + len).ok_or_else(|| truncated("JPEG"))?;
        if is_sof(marker) {
            return parse_sof(marker, segment);
        }
        pos += len;
    }
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

fn parse_sof(marker: u8, seg: &[u8]) -> Result<ImageInfo, KilnError> {
    if seg.len() < 6 {
        return Err(truncated("JPEG frame"));
    }
    let height = u16::from_be_bytes([seg[1], seg[2]]) as u32;
    let width = u16::from_be_bytes([seg[3], seg[4]]) as u32;
    let count = seg[5] as usize;
    if count == 0 || seg.len() < 6 + 3 * count {
        return Err(KilnError::Corrupt("JPEG frame header lists no components".into()));
    }
    let components = (0..count)
        .map(|i| {
            let hv = seg[6 + 3 * i + 1];
            Sampling { h: (hv >> 4).max(1), v: (hv & 0x0F).max(1) }
        })
        .collect();
    let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
    Ok(ImageInfo::still(InputFormat::Jpeg, width, height, false, Some(JpegFrame { progressive, components })))
}

fn probe_png(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let ihdr = bytes.get(8..33).ok_or_else(|| truncated("PNG"))?;
    if &ihdr[4..8] != b"IHDR" {
        return Err(KilnError::Corrupt("PNG does not start with an IHDR chunk".into()));
    }
    let be32 = |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
    let (width, height) = (be32(8), be32(12));
    let color_type = ihdr[17];
    // Palette images may carry alpha in tRNS; assume they do (upper bound).
    let has_alpha = matches!(color_type, 3 | 4 | 6) || bytes.windows(4).take(4096).any(|w| w == b"tRNS");
    let interlaced = ihdr[20] != 0;
    Ok(ImageInfo { interlaced, ..ImageInfo::still(InputFormat::Png, width, height, has_alpha, None) })
}

fn probe_gif(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let screen = bytes.get(6..10).ok_or_else(|| truncated("GIF"))?;
    let width = u16::from_le_bytes([screen[0], screen[1]]) as u32;
    let height = u16::from_le_bytes([screen[2], screen[3]]) as u32;
    let frames = gif_frames(bytes)?;
    for (n, f) in frames.iter().enumerate() {
        let inside = f.left as u32 + f.width as u32 <= width && f.top as u32 + f.height as u32 <= height;
        if !inside || f.width == 0 || f.height == 0 {
            return Err(KilnError::Corrupt(format!(
                "GIF frame {} ({}x{} at {},{}) does not lie within the {width}x{height} logical screen",
                n + 1,
                f.width,
                f.height,
                f.left,
                f.top
            )));
        }
    }
    let mut info = ImageInfo::still(InputFormat::Gif, width, height, true, None);
    info.frames = frames.len() as u64;
    info.frame_pixels = frames.iter().map(|f| f.width as u64 * f.height as u64).sum();
    Ok(info)
}

/// One GIF image descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GifFrame {
    pub left: u16,
    pub top: u16,
    pub width: u16,
    pub height: u16,
}

/// Every frame of a GIF, by walking its blocks (no pixel is decoded). The
/// walk ends at the trailer, or where the data is cut short after a frame
/// (decoders show such files); a GIF without a frame is corrupt.
pub fn gif_frames(bytes: &[u8]) -> Result<Vec<GifFrame>, KilnError> {
    let lsd = bytes.get(6..13).ok_or_else(|| truncated("GIF"))?;
    let mut pos = 13 + color_table_len(lsd[4]);
    let mut frames = Vec::new();
    while let Some(&introducer) = bytes.get(pos) {
        match introducer {
            0x3B => break,
            0x21 => match skip_sub_blocks(bytes, pos + 2) {
                Some(next) => pos = next,
                None => break,
            },
            0x2C => {
                let Some(desc) = bytes.get(pos + 1..pos + 10) else { break };
                let le = |at: usize| u16::from_le_bytes([desc[at], desc[at + 1]]);
                frames.push(GifFrame { left: le(0), top: le(2), width: le(4), height: le(6) });
                // Local colour table, then the LZW minimum code size, then the data.
                match skip_sub_blocks(bytes, pos + 10 + color_table_len(desc[8]) + 1) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
            other => return Err(KilnError::Corrupt(format!("GIF: unknown block 0x{other:02x} at byte {pos}"))),
        }
    }
    if frames.is_empty() {
        return Err(KilnError::Corrupt("GIF has no frames".into()));
    }
    Ok(frames)
}

/// Bytes of the colour table a GIF packed-fields byte announces.
fn color_table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 { 0 } else { 3 << ((packed & 0x07) + 1) }
}

/// The position after the data sub-blocks starting at `pos` (each a length
/// byte and that many bytes, ended by a zero length); `None` if cut short.
fn skip_sub_blocks(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *bytes.get(pos)? as usize;
        pos += 1 + len;
        if len == 0 {
            return Some(pos);
        }
        if pos > bytes.len() {
            return None;
        }
    }
}

fn probe_webp(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes))
        .map_err(|e| KilnError::Corrupt(format!("WebP header: {e}")))?;
    let (width, height) = match decoder.dimensions() {
        // image-webp 0.2 wraps a lossless image's 16384 (the largest side
        // VP8L can state) to 0: read the header itself then.
        (0, _) | (_, 0) => vp8l_size(bytes).unwrap_or((0, 0)),
        size => size,
    };
    let mut info = ImageInfo::still(InputFormat::Webp, width, height, decoder.has_alpha(), None);
    info.webp_lossless = has_vp8l_chunk(bytes.get(12..).unwrap_or_default(), 0);
    if decoder.is_animated() {
        info.frames = decoder.num_frames() as u64;
        info.frame_pixels = info.pixels().saturating_mul(info.frames);
    }
    Ok(info)
}

/// Whether the first image bitstream in the RIFF chunks `chunks` (or, one
/// level down, in the first animation frame's `ANMF` chunk), the one the
/// decoder reads, is lossless (`VP8L`) rather than lossy (`VP8 `).
fn has_vp8l_chunk(mut chunks: &[u8], depth: u32) -> bool {
    while let (Some(fourcc), Some(size)) = (chunks.get(..4), chunks.get(4..8)) {
        let size = u32::from_le_bytes(size.try_into().expect("4 bytes")) as usize;
        let data = chunks.get(8..).unwrap_or_default();
        let data = &data[..size.min(data.len())];
        match fourcc {
            b"VP8L" => return true,
            b"VP8 " => return false,
            b"ANMF" if depth == 0 => return has_vp8l_chunk(data.get(16..).unwrap_or_default(), 1),
            _ => {}
        }
        chunks = chunks.get(8usize.saturating_add(size).saturating_add(size & 1)..).unwrap_or_default();
    }
    false
}

/// The size a simple lossless WebP (`RIFF....WEBPVP8L`) states: 14 bits
/// each for width - 1 and height - 1 after the 0x2f signature.
fn vp8l_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"VP8L" || *bytes.get(20)? != 0x2f {
        return None;
    }
    let bits = u32::from_le_bytes(bytes.get(21..25)?.try_into().ok()?);
    Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal_jpeg_header(marker: u8, w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, marker, 0x00, 17, 8];
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        b
    }

    #[test]
    fn parses_baseline_and_progressive_frames() {
        let info = probe(&minimal_jpeg_header(0xC0, 640, 480)).unwrap();
        assert_eq!((info.width, info.height), (640, 480));
        let frame = info.jpeg.unwrap();
        assert!(!frame.progressive);
        assert_eq!(frame.components[0], Sampling { h: 2, v: 2 });
        assert!(probe(&minimal_jpeg_header(0xC2, 8, 8)).unwrap().jpeg.unwrap().progressive);
    }

    /// A GIF with a `w`×`h` screen and frames at (left, top, width, height).
    fn gif(w: u16, h: u16, frames: &[(u16, u16, u16, u16)]) -> Vec<u8> {
        let mut b = b"GIF89a".to_vec();
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0]);
        for &(l, t, fw, fh) in frames {
            b.push(0x2C);
            for v in [l, t, fw, fh] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&[0, 2, 2, 0x4C, 0x01, 0]);
        }
        b.push(0x3B);
        b
    }

    #[test]
    fn gif_frames_are_counted_and_checked_against_the_screen() {
        let info = probe(&gif(10, 10, &[(0, 0, 10, 10), (2, 2, 5, 5), (0, 0, 1, 1)])).unwrap();
        assert_eq!((info.frames, info.frame_pixels), (3, 100 + 25 + 1));
        for outside in [(2, 0, 1, 1), (0, 0, 5600, 5600), (0, 0, 0, 1)] {
            let err = probe(&gif(1, 1, &[outside])).unwrap_err();
            assert!(matches!(&err, KilnError::Corrupt(m) if m.contains("logical screen")), "{outside:?}: {err}");
        }
        assert!(matches!(probe(&gif(1, 1, &[])), Err(KilnError::Corrupt(m)) if m.contains("no frames")));
        // Cut short after the first frame: still one frame.
        let cut = gif(4, 4, &[(0, 0, 4, 4), (0, 0, 4, 4)]);
        assert_eq!(probe(&cut[..cut.len() - 12]).unwrap().frames, 1);
    }

    #[test]
    fn lossless_webp_is_told_from_lossy_also_inside_an_animation() {
        let chunk = |fourcc: &[u8], data: &[u8]| [fourcc, &(data.len() as u32).to_le_bytes(), data].concat();
        assert!(has_vp8l_chunk(&chunk(b"VP8L", b"\x2f"), 0));
        assert!(!has_vp8l_chunk(&chunk(b"VP8 ", b"abc"), 0));
        let frame = [&[0u8; 16][..], &chunk(b"VP8L", b"x")].concat();
        assert!(has_vp8l_chunk(&[chunk(b"VP8X", &[0; 10]), chunk(b"ANMF", &frame)].concat(), 0));
        assert!(!has_vp8l_chunk(&chunk(b"VP8X", &[0; 3])[..9], 0));
        // Only the first bitstream counts: the decoder reads that one.
        assert!(!has_vp8l_chunk(&[chunk(b"VP8 ", b"abc"), chunk(b"VP8L", b"x")].concat(), 0));
    }

    #[test]
    fn a_lossless_webp_stating_16384_is_read_as_16384() {
        let bits: u32 = 16383 | (16383 << 14);
        let mut webp = b"RIFF\0\0\0\0WEBPVP8L\x05\0\0\0\x2f".to_vec();
        webp.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(vp8l_size(&webp), Some((16384, 16384)));
    }

    #[test]
    fn truncated_and_empty_inputs_are_errors() {
        let header = minimal_jpeg_header(0xC0, 640, 480);
        assert!(matches!(probe(&header[..12]), Err(KilnError::Corrupt(_))));
        assert!(matches!(probe(&[]), Err(KilnError::Unsupported(_))));
        assert!(matches!(probe(b"hello world, not an image"), Err(KilnError::Unsupported(_))));
    }
}
