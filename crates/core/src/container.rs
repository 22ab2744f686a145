//! Walking an input's container without decoding it: a JPEG's marker
//! segments before the first scan, a PNG's or a WebP's chunks. Metadata
//! readers ([`crate::orient`] for EXIF, [`crate::colour`] for ICC profiles)
//! find their blocks here, borrowed from the input, so nothing is copied
//! before its size is checked.

/// A JPEG's marker segments up to the first scan (SOS): `(marker, body)`,
/// the body without its length field. Stops at the first malformed one.
pub(crate) fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut pos = 2;
    std::iter::from_fn(move || {
        let (marker, len) = (*bytes.get(pos + 1)?, u16::from_be_bytes([*bytes.get(pos + 2)?, *bytes.get(pos + 3)?]) as usize);
        if *bytes.get(pos)? != 0xFF || marker == 0xDA || len < 2 {
            return None;
        }
        let body = bytes.get(pos + 4..pos + 2 + len)?;
        pos += 2 + len;
        Some((marker, body))
    })
}

/// How a chunked container lays out its chunks.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Chunked {
    /// Length (big-endian), type, data, CRC; after the 8-byte signature.
    Png,
    /// Type, length (little-endian), data, a pad byte to even length;
    /// after the 12-byte RIFF/WEBP header.
    Riff,
}

/// The data of the first chunk of `kind`.
pub(crate) fn chunk<'a>(bytes: &'a [u8], layout: Chunked, kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut pos = if layout == Chunked::Png { 8 } else { 12 };
    loop {
        let head = bytes.get(pos..pos + 8)?;
        let (kind_here, len) = match layout {
            Chunked::Png => (&head[4..8], u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize),
            Chunked::Riff => (&head[0..4], u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize),
        };
        if kind_here == kind {
            return bytes.get(pos + 8..pos.checked_add(8 + len)?);
        }
        let trailer = if layout == Chunked::Png { 4 } else { len & 1 };
        pos = pos.checked_add(8 + len + trailer)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_segments_stop_at_the_scan_and_at_damage() {
        let mut jpeg = vec![0xFF, 0xD8];
        for (marker, body) in [(0xE0u8, &b"JFIF\0"[..]), (0xE2, b"ICC_PROFILE\0\x01\x01abc")] {
            jpeg.extend([0xFF, marker]);
            jpeg.extend(((body.len() + 2) as u16).to_be_bytes());
            jpeg.extend(body);
        }
        jpeg.extend([0xFF, 0xDA, 0, 2, 0xFF, 0xE2, 0, 5, 1, 2, 3]);
        let found: Vec<u8> = jpeg_segments(&jpeg).map(|(m, _)| m).collect();
        assert_eq!(found, [0xE0, 0xE2]);
        assert_eq!(jpeg_segments(&jpeg[..10]).count(), 0, "a cut segment ends the walk");
    }

    #[test]
    fn chunks_are_found_in_both_layouts() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend([0, 0, 0, 3]);
        png.extend(b"iCCPabc");
        png.extend([0; 4]);
        assert_eq!(chunk(&png, Chunked::Png, b"iCCP"), Some(&b"abc"[..]));
        assert_eq!(chunk(&png, Chunked::Png, b"eXIf"), None);
        let mut riff = b"RIFF\0\0\0\0WEBP".to_vec();
        riff.extend(b"ICCP");
        riff.extend(3u32.to_le_bytes());
        riff.extend(b"xyz\0");
        riff.extend(b"VP8 ");
        riff.extend(0u32.to_le_bytes());
        assert_eq!(chunk(&riff, Chunked::Riff, b"ICCP"), Some(&b"xyz"[..]));
        assert_eq!(chunk(&riff, Chunked::Riff, b"VP8 "), Some(&b""[..]));
    }
}
