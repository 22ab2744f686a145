//! Checks of converter outputs: the bytes are the claimed format, decode
//! (JPEG, PNG, WebP with kiln-core's decoders; AVIF by its box structure,
//! as there is no pure-Rust AV1 decoder), and have the claimed size.

use kiln_core::probe::probe;
use kiln_core::InputFormat;

/// Verifies `bytes` is a complete image of `mime` and returns its size.
pub fn verify(bytes: &[u8], mime: &str) -> Result<(u32, u32), String> {
    if bytes.is_empty() {
        return Err("empty output".into());
    }
    if mime == "image/avif" {
        return avif_size(bytes);
    }
    let info = probe(bytes).map_err(|e| format!("output does not parse: {e}"))?;
    let expected = match mime {
        "image/webp" => InputFormat::Webp,
        "image/jpeg" => InputFormat::Jpeg,
        "image/png" => InputFormat::Png,
        other => return Err(format!("unexpected mime {other}")),
    };
    if info.format != expected {
        return Err(format!("output is {:?}, expected {expected:?}", info.format));
    }
    let image = kiln_core::decode::decode(bytes, &info, 1, u64::MAX).map_err(|e| format!("output does not decode: {e}"))?;
    Ok((image.width, image.height))
}

/// Size of an AVIF from its `ispe` property, after checking the brand and
/// that an AV1 config box and non-empty media data are present.
pub fn avif_size(bytes: &[u8]) -> Result<(u32, u32), String> {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" || &bytes[8..12] != b"avif" {
        return Err("not an AVIF (ftyp brand)".into());
    }
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag);
    find(b"av1C").ok_or("no av1C box")?;
    let mdat = find(b"mdat").ok_or("no mdat box")?;
    let mdat_len = u32::from_be_bytes(bytes[mdat - 4..mdat].try_into().unwrap());
    if mdat_len <= 8 {
        return Err("empty mdat".into());
    }
    let at = find(b"ispe").ok_or("no ispe box")?;
    let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    Ok((be(at + 8), be(at + 12)))
}

/// The size a source of `w` x `h` (as displayed) takes when fitted into
/// `max_side`, as kiln computes it.
pub fn fitted(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    kiln_core::resize::fit_within(w, h, max_side)
}
