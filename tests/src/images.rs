//! Checks of converter outputs: the bytes are the claimed format, decode
//! (JPEG, PNG, WebP with kiln-core's decoders; AVIF with libavif's
//! `avifdec` + dav1d from Debian's libavif-bin, installed by
//! scripts/setup.sh), and have the claimed size.

use kiln_core::probe::probe;
use kiln_core::InputFormat;

/// Verifies `bytes` is a complete image of `mime` and returns its size.
pub fn verify(bytes: &[u8], mime: &str) -> Result<(u32, u32), String> {
    if bytes.is_empty() {
        return Err("empty output".into());
    }
    if mime == "image/avif" {
        let declared = avif_size(bytes)?;
        let decoded = decode_avif(bytes)?;
        if decoded != declared {
            return Err(format!("AVIF declares {declared:?} but decodes to {decoded:?}"));
        }
        return Ok(decoded);
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

/// Decodes an AVIF with `avifdec` (dav1d) to PNG and returns its size.
pub fn decode_avif(bytes: &[u8]) -> Result<(u32, u32), String> {
    let (png, _) = avifdec(bytes)?;
    verify(&png, "image/png")
}

/// Decodes an AVIF with `avifdec` to pixels (RGB, or RGBA when it has
/// alpha) and returns them with what avifdec printed about the file
/// (`Format : YUV420`, `Alpha : ...`, `Range : Full`, ...).
pub fn decode_avif_pixels(bytes: &[u8]) -> Result<(kiln_core::image::Image, String), String> {
    let (png, info) = avifdec(bytes)?;
    let probed = probe(&png).map_err(|e| format!("avifdec's PNG does not parse: {e}"))?;
    let image = kiln_core::decode::decode(&png, &probed, 1, u64::MAX).map_err(|e| format!("avifdec's PNG does not decode: {e}"))?;
    Ok((image, info))
}

/// Runs avifdec on `bytes`: (the PNG it wrote, its stdout).
fn avifdec(bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir().join(format!("kiln-avif-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let (avif, png) = (base.with_extension("avif"), base.with_extension("png"));
    std::fs::write(&avif, bytes).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("avifdec")
        .arg(&avif)
        .arg(&png)
        .output()
        .map_err(|e| format!("cannot run avifdec (Debian package libavif-bin, scripts/setup.sh installs it): {e}"))?;
    let _ = std::fs::remove_file(&avif);
    if !out.status.success() {
        return Err(format!("avifdec failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let decoded = std::fs::read(&png).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&png);
    Ok((decoded?, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The manifest's placeholders describe the image: the aspect ratio as
/// displayed, a ThumbHash and a 4x3 BlurHash of the right shape, and a
/// dominant colour that the thumbnail's pixels really have.
pub fn check_placeholder(s: &crate::Stack, manifest: &serde_json::Value, aspect_ratio: f64) {
    let p = &manifest["placeholder"];
    assert!((p["aspect_ratio"].as_f64().unwrap() - aspect_ratio).abs() < 1e-3, "{p}");
    let thumbhash = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p["thumbhash"].as_str().unwrap()).unwrap();
    assert!((5..40).contains(&thumbhash.len()), "{p}");
    assert_eq!(p["blurhash"].as_str().unwrap().len(), 28, "{p}");
    let colour = p["dominant_color"].as_str().unwrap();
    let rgb: Vec<u8> = (0..3).map(|i| u8::from_str_radix(&colour[1 + 2 * i..3 + 2 * i], 16).unwrap()).collect();
    let thumbnail = manifest["variants"].as_array().unwrap().iter().find(|v| v["format"] == "thumbnail").unwrap();
    let pixels = crate::colour::decode_png(&s.get_url(thumbnail["url"].as_str().unwrap()).body);
    let near = pixels.pixels.chunks(3).filter(|px| px.iter().zip(&rgb).all(|(a, b)| a.abs_diff(*b) <= 16)).count();
    assert!(near * 200 > pixels.pixels.len() / 3, "{colour} is the colour of only {near} thumbnail pixels");
}


/// The manifest's responsive widths: WebP, AVIF and JPEG each have one
/// entry per configured width narrower than the variant (`widths`,
/// narrowest first), stored next to it as `<format>-<w>w.<ext>`, served at
/// their URL, decoding to their size at the variant's aspect ratio; and a
/// `srcset` listing them and the variant. The thumbnail has neither.
pub fn check_widths(s: &crate::Stack, manifest: &serde_json::Value, expected: &[u32]) {
    for v in manifest["variants"].as_array().unwrap() {
        let format = v["format"].as_str().unwrap();
        if format == "thumbnail" {
            assert!(v.get("widths").is_none() && v.get("srcset").is_none(), "{v}");
            continue;
        }
        let widths = v["widths"].as_array().map(Vec::as_slice).unwrap_or_default();
        let got: Vec<u64> = widths.iter().map(|w| w["width"].as_u64().unwrap()).collect();
        assert_eq!(got, expected.iter().map(|&w| w as u64).collect::<Vec<_>>(), "{format}: {v}");
        let (vw, vh) = (v["width"].as_f64().unwrap(), v["height"].as_f64().unwrap());
        let mut srcset = Vec::new();
        for w in widths {
            let key = w["key"].as_str().unwrap();
            let extension = v["url"].as_str().unwrap().rsplit('.').next().unwrap();
            assert!(key.ends_with(&format!("/{format}-{}w.{extension}", w["width"])), "{key}");
            let served = s.get_url(w["url"].as_str().unwrap());
            assert_eq!(served.status, 200, "{w}");
            assert_eq!(served.body.len() as u64, w["size"].as_u64().unwrap(), "{w}");
            let size = verify(&served.body, v["mime_type"].as_str().unwrap()).unwrap();
            assert_eq!((size.0 as u64, size.1 as u64), (w["width"].as_u64().unwrap(), w["height"].as_u64().unwrap()), "{w}");
            assert!((size.0 as f64 / size.1 as f64 - vw / vh).abs() < 0.01, "{format} {w}: aspect ratio");
            srcset.push(format!("{} {}w", w["url"].as_str().unwrap(), size.0));
        }
        srcset.push(format!("{} {vw}w", v["url"].as_str().unwrap()));
        assert_eq!(v["srcset"].as_str(), Some(srcset.join(", ").as_str()), "{format}");
    }
}

/// `jpeg` rewritten as a progressive JPEG by libjpeg-turbo's `jpegtran`
/// (its default scan script: spectral selection and successive
/// approximation), without re-encoding. jpegtran comes with
/// libjpeg-turbo-progs (scripts/setup.sh).
pub fn jpegtran_progressive(jpeg: &[u8]) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("kiln-jpegtran-{}-{}.jpg", std::process::id(), jpeg.len()));
    std::fs::write(&path, jpeg).unwrap();
    let out = std::process::Command::new("jpegtran").arg("-progressive").arg(&path).output().expect("jpegtran (libjpeg-turbo-progs, scripts/setup.sh)");
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "jpegtran: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
