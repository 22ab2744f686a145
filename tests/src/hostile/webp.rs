//! Hostile WebP files: VP8L, VP8X and VP8 headers claiming 16383×16383
//! and more, animations whose frames leave or outgrow the canvas, huge and
//! absurd EXIF chunks, broken RIFF framing, 0×0 and 1×N images, and a
//! lossless and a lossy file cut at every structural boundary.

use super::bits::{pattern, tiff_absurd, tiff_orientation, Rng};
use super::{case, cut_cases, Answer::*, Case, Cut, Kind::*};
use kiln_core::encode::Encoder;

/// One RIFF chunk: FourCC, little-endian size, data, a pad byte if odd.
fn chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = fourcc.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// `RIFF` <size> `WEBP` and `chunks`.
fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend(body);
    out
}

/// A 24-bit little-endian field (VP8X and ANMF sizes and offsets).
fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// VP8X: feature `flags` (0x02 animation, 0x08 EXIF, 0x10 alpha) and canvas size.
fn vp8x(flags: u8, w: u32, h: u32) -> Vec<u8> {
    let mut data = vec![flags, 0, 0, 0];
    data.extend_from_slice(&u24(w - 1));
    data.extend_from_slice(&u24(h - 1));
    chunk(b"VP8X", &data)
}

/// A lossless WebP from image-webp (RGBA when `channels` is 4), with an
/// EXIF chunk when `exif` is not empty.
fn lossless(w: u32, h: u32, channels: usize, exif: Vec<u8>) -> Vec<u8> {
    let color = if channels == 4 { image_webp::ColorType::Rgba8 } else { image_webp::ColorType::Rgb8 };
    let mut out = Vec::new();
    let mut encoder = image_webp::WebPEncoder::new(&mut out);
    encoder.set_exif_metadata(exif);
    encoder.encode(&pattern(w, h, channels), w, h, color).expect("lossless WebP");
    out
}

/// A lossy WebP from libwebp (kiln-core's encoder at quality 75, method 4).
fn lossy(w: u32, h: u32) -> Vec<u8> {
    let image = kiln_core::Image::new(w, h, kiln_core::PixelLayout::Rgb8, pattern(w, h, 3));
    kiln_core::encode::webp::WebpEncoder { quality: 75.0, method: 4 }.encode(&image).expect("lossy WebP")
}

/// The chunks of a RIFF WebP: (FourCC, start of the chunk header, payload).
fn chunks(webp: &[u8]) -> Vec<([u8; 4], usize, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut at = 12;
    while at + 8 <= webp.len() {
        let len = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((webp[at..at + 4].try_into().unwrap(), at, at + 8..at + 8 + len));
        at += 8 + len + len % 2;
    }
    out
}

/// The payload of the first `fourcc` chunk.
fn payload(webp: &[u8], fourcc: &[u8; 4]) -> Vec<u8> {
    let (_, _, range) = chunks(webp).into_iter().find(|c| &c.0 == fourcc).expect("chunk in the WebP");
    webp[range].to_vec()
}

/// A VP8L bitstream whose header claims `w`×`h` (14 bits each, minus one).
fn vp8l_claiming(mut vp8l: Vec<u8>, w: u32, h: u32) -> Vec<u8> {
    let bits = u32::from_le_bytes(vp8l[1..5].try_into().unwrap());
    let patched = (bits & !0x0FFF_FFFF) | (w - 1) | ((h - 1) << 14);
    vp8l[1..5].copy_from_slice(&patched.to_le_bytes());
    vp8l
}

/// A lossy file whose VP8 frame header claims `w`×`h` (14 bits, scale 0).
fn vp8_claiming(mut webp: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let (_, _, range) = chunks(&webp).into_iter().find(|c| &c.0 == b"VP8 ").expect("VP8 chunk");
    let dims = range.start + 6; // after the 3-byte frame tag and the 9D 01 2A start code
    webp[dims..dims + 2].copy_from_slice(&w.to_le_bytes());
    webp[dims + 2..dims + 4].copy_from_slice(&h.to_le_bytes());
    webp
}

pub fn base_lossless() -> Vec<u8> {
    lossless(32, 24, 4, Vec::new())
}

pub fn base_lossy() -> Vec<u8> {
    lossy(32, 24)
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![
        case(Control, "webp-base-lossless-32x24-rgba.webp", &[Image], "valid 32×24 lossless RGBA WebP (image-webp): the file the webp-lossless-cut-* files cut", base_lossless()),
        case(Control, "webp-base-lossy-32x24.webp", &[Image], "valid 32×24 lossy WebP (libwebp, quality 75): the file the webp-lossy-cut-* files cut", base_lossy()),
    ];
    out.extend(bombs());
    out.extend(animations());
    out.extend(metadata());
    out.extend(shapes());
    out.extend(malformed());
    out.extend(cut_cases("webp-base-lossless-32x24-rgba.webp", "webp-lossless", &base_lossless(), lossless_boundaries(&base_lossless())));
    out.extend(cut_cases("webp-base-lossy-32x24.webp", "webp-lossy", &base_lossy(), lossy_boundaries(&base_lossy())));
    out
}

fn bombs() -> Vec<Case> {
    let one = payload(&lossless(1, 1, 3, Vec::new()), b"VP8L");
    vec![
        case(DimensionBomb, "webp-vp8l-16383x16383.webp", &[TooLarge], "a lossless header claiming 16383×16383 (268 MP) over a 1×1 bitstream: 413 from the header", riff(&[chunk(b"VP8L", &vp8l_claiming(one.clone(), 16383, 16383))])),
        case(DimensionBomb, "webp-vp8l-16384x16384.webp", &[TooLarge], "a lossless header claiming 16384×16384, VP8L's maximum (image-webp 0.2 computes (1 + header) & 0x3FFF, reading it as 0×0): 413 from the header", riff(&[chunk(b"VP8L", &vp8l_claiming(one.clone(), 16384, 16384))])),
        case(DimensionBomb, "webp-vp8x-16383x16383.webp", &[TooLarge], "a VP8X canvas of 16383×16383 whose VP8L image claims the same over a 1×1 bitstream: 413 from the header", riff(&[vp8x(0, 16383, 16383), chunk(b"VP8L", &vp8l_claiming(one.clone(), 16383, 16383))])),
        case(DimensionBomb, "webp-vp8-16383x16383.webp", &[TooLarge], "the lossy base with its VP8 frame header patched to 16383×16383: 413 from the header", vp8_claiming(base_lossy(), 16383, 16383)),
        case(DimensionBomb, "webp-vp8x-canvas-16383-image-1x1.webp", &[Corrupt, TooLarge], "a VP8X canvas of 16383×16383 holding a 1×1 lossless image (sizes disagree): 422, or 413 from the canvas", riff(&[vp8x(0, 16383, 16383), chunk(b"VP8L", &one)])),
    ]
}

/// ANMF: frame offset (stored halved), size, 100 ms, no blending, then
/// the frame's own VP8L chunk.
fn anmf(x: u32, y: u32, w: u32, h: u32, vp8l: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    for v in [x / 2, y / 2, w - 1, h - 1, 100] {
        data.extend_from_slice(&u24(v));
    }
    data.push(0b10); // do not blend, do not dispose
    data.extend(chunk(b"VP8L", vp8l));
    chunk(b"ANMF", &data)
}

/// An animated WebP on a `w`×`h` canvas with `frames` ANMF chunks.
fn animated(w: u32, h: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut all = vec![vp8x(0x02 | 0x10, w, h), chunk(b"ANIM", &[0, 0, 0, 0, 0, 0])];
    all.extend_from_slice(frames);
    riff(&all)
}

fn animations() -> Vec<Case> {
    let frame = payload(&lossless(16, 16, 4, Vec::new()), b"VP8L");
    let two = [anmf(0, 0, 16, 16, &frame), anmf(0, 0, 16, 16, &frame)];
    vec![
        case(FrameBomb, "webp-animated-2-frames.webp", &[Image], "a valid animated WebP (VP8X, ANIM, two 16×16 ANMF frames): an animated WebP from the WebP converter, the first frame from the others, as for GIF", animated(16, 16, &two)),
        case(FrameBomb, "webp-anmf-outside-canvas.webp", &[Corrupt, Image], "a 16×16 canvas whose only frame sits at (32, 32): 422 (or the empty canvas)", animated(16, 16, &[anmf(32, 32, 16, 16, &frame)])),
        case(FrameBomb, "webp-anmf-5600x5600-on-1x1.webp", &[Corrupt, TooLarge], "a 1×1 canvas whose frame claims 5600×5600 (its VP8L header too) over a 16×16 bitstream: 422 or 413, never a 125 MB frame", animated(1, 1, &[anmf(0, 0, 5600, 5600, &vp8l_claiming(frame.clone(), 5600, 5600))])),
    ]
}

fn metadata() -> Vec<Case> {
    vec![
        case(MetadataBomb, "webp-exif-1mb-orientation-6.webp", &[Image], "24×16 lossless WebP with a 1 MB EXIF chunk (Orientation 6, then zeros): an image (16×24 if the orientation is read)", lossless(24, 16, 3, tiff_orientation(6, 1 << 20))),
        case(MetadataBomb, "webp-exif-absurd-ifd.webp", &[Image], "8×8 lossless WebP whose EXIF declares 65535 entries, counts of 2^30 and offsets past the end: an image", lossless(8, 8, 3, tiff_absurd())),
    ]
}

fn shapes() -> Vec<Case> {
    vec![
        case(TinyAndThin, "webp-vp8-0x0.webp", &[Corrupt], "the lossy base with its VP8 frame header patched to 0×0: 422", vp8_claiming(base_lossy(), 0, 0)),
        case(TinyAndThin, "webp-1x1.webp", &[Image], "a single-pixel lossless WebP: an image", lossless(1, 1, 3, Vec::new())),
        case(TinyAndThin, "webp-1x10000.webp", &[Image], "1×10000 lossless WebP: an image", lossless(1, 10000, 3, Vec::new())),
        case(TinyAndThin, "webp-10000x1.webp", &[Image], "10000×1 lossless RGBA WebP: an image", lossless(10000, 1, 4, Vec::new())),
    ]
}

fn malformed() -> Vec<Case> {
    let mut huge_riff = base_lossless();
    huge_riff[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut bad_signature = base_lossless();
    bad_signature[20] = 0x2E;
    let mut wave = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
    wave.extend(Rng::new(3).bytes(28));
    let mut garbage = b"RIFF\x04\x10\0\0WEBP".to_vec();
    garbage.extend(Rng::new(4).bytes(4096));
    vec![
        case(Malformed, "webp-riff-size-4gib.webp", &[Image, Corrupt], "the lossless base whose RIFF size says 4 GiB: the image (the chunks are whole), or 422", huge_riff),
        case(Malformed, "webp-vp8l-bad-signature.webp", &[Corrupt], "the lossless base with its VP8L signature byte 0x2F changed to 0x2E: 422", bad_signature),
        case(WrongMagic, "riff-wave-not-webp.webp", &[Unsupported], "a RIFF WAVE header named .webp: not an image, 415", wave),
        case(WrongMagic, "riff-webp-garbage.webp", &[Corrupt], "`RIFF` <size> `WEBP` then 4 KB of pseudo-random bytes: 422", garbage),
    ]
}

fn lossless_boundaries(webp: &[u8]) -> Vec<Cut> {
    vec![
        Cut::new("in-riff", 4, &[Unsupported], "`RIFF` only: not recognisable"),
        Cut::new("after-riff-size", 8, &[Unsupported], "`RIFF` and its size, no `WEBP`: not recognisable"),
        Cut::new("after-webp-tag", 12, &[Corrupt], "the RIFF header, no chunk"),
        Cut::new("mid-chunk-header", 16, &[Corrupt], "the VP8L FourCC, not its size"),
        Cut::new("after-chunk-header", 20, &[Corrupt], "the VP8L chunk header, no bitstream"),
        Cut::new("mid-vp8l-header", 22, &[Corrupt], "inside the VP8L size header"),
        Cut::new("after-vp8l-header", 25, &[Corrupt], "the VP8L size header, no pixel data"),
        Cut::new("mid-bitstream", (25 + webp.len()) / 2, &[Corrupt], "half of the entropy-coded pixels"),
        Cut::new("one-byte-short", webp.len() - 1, &[Corrupt, Image], "all but the last byte"),
    ]
}

fn lossy_boundaries(webp: &[u8]) -> Vec<Cut> {
    assert_eq!(&webp[12..16], b"VP8 ", "libwebp wrote the simple (VP8-only) format");
    let vp8 = 20; // the VP8 payload follows the 12-byte RIFF header and the 8-byte chunk header
    let tag = u32::from_le_bytes([webp[vp8], webp[vp8 + 1], webp[vp8 + 2], 0]);
    let first_partition = (tag >> 5) as usize;
    let after_header = vp8 + 10;
    vec![
        Cut::new("after-chunk-header", vp8, &[Corrupt], "the VP8 chunk header, no frame"),
        Cut::new("mid-frame-header", vp8 + 3, &[Corrupt], "the frame tag, not the start code and size"),
        Cut::new("after-frame-header", after_header, &[Corrupt], "the 10-byte key frame header, no partition"),
        Cut::new("mid-first-partition", after_header + first_partition / 2, &[Corrupt], "half of the first (mode) partition"),
        Cut::new("mid-token-partition", (after_header + first_partition + webp.len()) / 2, &[Corrupt], "half of the DCT token partition"),
        Cut::new("one-byte-short", webp.len() - 1, &[Corrupt, Image], "all but the last byte"),
    ]
}
