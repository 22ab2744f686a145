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
}

impl ImageInfo {
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
    Ok(ImageInfo {
        format: InputFormat::Jpeg,
        width,
        height,
        has_alpha: false,
        jpeg: Some(JpegFrame { progressive, components }),
    })
}

fn probe_png(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let ihdr = bytes.get(8..33).ok_or_else(|| truncated("PNG"))?;
    if &ihdr[4..8] != b"IHDR" {
        return Err(KilnError::Corrupt("PNG does not start with an IHDR chunk".into()));
    }
    let width = u32::from_be_bytes(ihdr[8..12].try_into().unwrap());
    let height = u32::from_be_bytes(ihdr[12..16].try_into().unwrap());
    let color_type = ihdr[17];
    // Palette images may carry alpha in tRNS; assume they do (upper bound).
    let has_alpha = matches!(color_type, 3 | 4 | 6) || bytes.windows(4).take(4096).any(|w| w == b"tRNS");
    Ok(ImageInfo { format: InputFormat::Png, width, height, has_alpha, jpeg: None })
}

fn probe_gif(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let screen = bytes.get(6..10).ok_or_else(|| truncated("GIF"))?;
    let width = u16::from_le_bytes([screen[0], screen[1]]) as u32;
    let height = u16::from_le_bytes([screen[2], screen[3]]) as u32;
    Ok(ImageInfo { format: InputFormat::Gif, width, height, has_alpha: true, jpeg: None })
}

fn probe_webp(bytes: &[u8]) -> Result<ImageInfo, KilnError> {
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes))
        .map_err(|e| KilnError::Corrupt(format!("WebP header: {e}")))?;
    let (width, height) = decoder.dimensions();
    Ok(ImageInfo { format: InputFormat::Webp, width, height, has_alpha: decoder.has_alpha(), jpeg: None })
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

    #[test]
    fn truncated_and_empty_inputs_are_errors() {
        let header = minimal_jpeg_header(0xC0, 640, 480);
        assert!(matches!(probe(&header[..12]), Err(KilnError::Corrupt(_))));
        assert!(matches!(probe(&[]), Err(KilnError::Unsupported(_))));
        assert!(matches!(probe(b"hello world, not an image"), Err(KilnError::Unsupported(_))));
    }
}
