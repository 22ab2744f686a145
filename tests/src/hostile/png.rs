//! Hostile PNG and APNG files: dimension and decompression bombs in
//! ancillary chunks (iCCP, zTXt, iTXt, eXIf, trailing IDAT data), broken
//! chunk framing, APNG frame tricks, 16-bit and low-bit-depth edge cases,
//! 0×0 and 1×N images, and a valid file cut at every chunk boundary.

use super::bits::{pattern, tiff_absurd, tiff_orientation, zlib_stored, zlib_zeros};
use super::{case, cut_cases, Answer::*, Case, Cut, Kind::*};

pub const MAGIC: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
const RGB: u8 = 2;
const GRAY: u8 = 0;

/// One chunk: length, type, data, CRC of type and data.
pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&super::bits::crc32(&[kind, data]).to_be_bytes());
    out
}

/// IHDR data: size, bit depth, colour type, no interlace.
fn ihdr(w: u32, h: u32, depth: u8, color: u8) -> Vec<u8> {
    let mut data = w.to_be_bytes().to_vec();
    data.extend_from_slice(&h.to_be_bytes());
    data.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(b"IHDR", &data)
}

/// A hand-framed PNG: IHDR, `extra` chunks, one IDAT of stored DEFLATE
/// blocks holding `rows` (filter bytes included), IEND.
fn framed(w: u32, h: u32, depth: u8, color: u8, extra: &[Vec<u8>], rows: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(ihdr(w, h, depth, color));
    extra.iter().for_each(|c| out.extend_from_slice(c));
    out.extend(chunk(b"IDAT", &zlib_stored(rows)));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// `png` with its IHDR's interlace method set to Adam7 (CRC fixed).
fn adam7(mut png: Vec<u8>) -> Vec<u8> {
    png[8 + 8 + 12] = 1;
    let crc = super::bits::crc32(&[b"IHDR", &png[16..29]]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// Unfiltered 8-bit RGB scanlines of the test pattern.
fn rgb_rows(w: u32, h: u32) -> Vec<u8> {
    let pixels = pattern(w, h, 3);
    pixels.chunks(w as usize * 3).flat_map(|row| std::iter::once(0).chain(row.iter().copied())).collect()
}

/// A 1×1 RGB PNG with `extra` chunks before its pixels.
fn one_pixel_with(extra: &[Vec<u8>]) -> Vec<u8> {
    framed(1, 1, 8, RGB, extra, &rgb_rows(1, 1))
}

/// A PNG written by the `png` crate (a real encoder's framing).
pub fn encoded(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(pixels).expect("PNG pixels");
    writer.finish().expect("PNG end");
    out
}

/// The valid file the truncations cut: 32×24 RGB from the png crate.
pub fn base() -> Vec<u8> {
    encoded(32, 24, png::ColorType::Rgb, png::BitDepth::Eight, &pattern(32, 24, 3))
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![case(Control, "png-base-32x24-rgb.png", &[Image], "valid 32×24 RGB PNG (png crate): the file the png-cut-* files cut", base())];
    out.extend(bombs());
    out.extend(metadata());
    out.extend(apng());
    out.extend(depths());
    out.extend(shapes());
    out.extend(malformed());
    out.extend(cut_cases("png-base-32x24-rgb.png", "png", &base(), boundaries(&base())));
    out
}

fn bombs() -> Vec<Case> {
    vec![
        case(DimensionBomb, "png-dims-65535x65535.png", &[TooLarge], "IHDR claims 65535×65535 RGB (4.3 GP) over one short row of data: refused from the header, over max_pixels", framed(65535, 65535, 8, RGB, &[], &[0; 64])),
        case(DimensionBomb, "png-dims-7000x7000-gray.png", &[Corrupt], "IHDR claims 7000×7000 gray (49 MP, under the pixel limit) with one row of data: streamed row by row (never held whole), it runs out of data after the first row: 422", framed(7000, 7000, 8, GRAY, &[], &[0; 7001])),
        case(DimensionBomb, "png-dims-7000x7000-gray-adam7.png", &[TooLarge], "the same, Adam7-interlaced, which must be decoded whole: the memory estimate must refuse it before decoding", adam7(framed(7000, 7000, 8, GRAY, &[], &[0; 7001]))),
        case(MetadataBomb, "png-iccp-bomb-300mb.png", &[Image, TooLarge], "1×1 RGB with a ~290 KB iCCP chunk whose zlib stream inflates to 300 MB of zeros: skip or cap the profile (image), or 413; never inflate it whole", one_pixel_with(&[iccp(300_000_000)])),
        case(MetadataBomb, "png-ztxt-bomb-300mb.png", &[Image, TooLarge], "1×1 RGB with a ~290 KB zTXt chunk that inflates to 300 MB: text is never needed, so an image (or 413)", one_pixel_with(&[ztxt(300_000_000)])),
        case(MetadataBomb, "png-itxt-bomb-300mb.png", &[Image, TooLarge], "1×1 RGB with a compressed ~290 KB iTXt chunk that inflates to 300 MB: an image (or 413)", one_pixel_with(&[itxt(300_000_000)])),
        case(MetadataBomb, "png-idat-trailing-300mb.png", &[Image, Corrupt], "1×1 RGB whose IDAT stream inflates to 300 MB (4 bytes of pixels, then zeros): stop at the image's end (image) or refuse the excess (422), never buffer it", one_pixel_with_idat(zlib_zeros(300_000_000))),
    ]
}

fn iccp(inflated: u64) -> Vec<u8> {
    let mut data = b"bomb\0\0".to_vec();
    data.extend(zlib_zeros(inflated));
    chunk(b"iCCP", &data)
}

fn ztxt(inflated: u64) -> Vec<u8> {
    let mut data = b"Comment\0\0".to_vec();
    data.extend(zlib_zeros(inflated));
    chunk(b"zTXt", &data)
}

fn itxt(inflated: u64) -> Vec<u8> {
    let mut data = b"Comment\0\x01\0en\0Comment\0".to_vec();
    data.extend(zlib_zeros(inflated));
    chunk(b"iTXt", &data)
}

fn one_pixel_with_idat(stream: Vec<u8>) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(ihdr(1, 1, 8, RGB));
    out.extend(chunk(b"IDAT", &stream));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn metadata() -> Vec<Case> {
    let text = |kind: &[u8; 4], body: Vec<u8>| chunk(kind, &body);
    let mut big_text = b"Comment\0".to_vec();
    big_text.resize(256 * 1024, b'A');
    vec![
        case(MetadataBomb, "png-text-256kb.png", &[Image], "1×1 RGB with a 256 KB uncompressed tEXt chunk: an image", one_pixel_with(&[text(b"tEXt", big_text)])),
        case(MetadataBomb, "png-exif-1mb-orientation-6.png", &[Image], "24×16 RGB with a 1 MB eXIf chunk (Orientation 6, then zeros): an image (16×24 if the orientation is read, 24×16 if the chunk is skipped)", framed(24, 16, 8, RGB, &[chunk(b"eXIf", &tiff_orientation(6, 1 << 20))], &rgb_rows(24, 16))),
        case(MetadataBomb, "png-exif-absurd-ifd.png", &[Image], "8×8 RGB whose eXIf declares 65535 IFD entries, counts of 2^30 and offsets past the end: the orientation is unreadable, the image converts", framed(8, 8, 8, RGB, &[chunk(b"eXIf", &tiff_absurd())], &rgb_rows(8, 8))),
    ]
}

/// acTL: frame count, play count.
fn actl(frames: u32) -> Vec<u8> {
    let mut data = frames.to_be_bytes().to_vec();
    data.extend_from_slice(&0u32.to_be_bytes());
    chunk(b"acTL", &data)
}

/// fcTL: sequence, size, offset, delay 1/10 s, no dispose, source blend.
fn fctl(seq: u32, w: u32, h: u32, x: u32, y: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for v in [seq, w, h, x, y] {
        data.extend_from_slice(&v.to_be_bytes());
    }
    data.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
    chunk(b"fcTL", &data)
}

/// fdAT: sequence number, then a frame's zlib stream.
fn fdat(seq: u32, rows: &[u8]) -> Vec<u8> {
    let mut data = seq.to_be_bytes().to_vec();
    data.extend(zlib_stored(rows));
    chunk(b"fdAT", &data)
}

/// An APNG: `frames` declared in acTL, the default image (w×h, fcTL 0
/// `first`) and then `later` chunks.
fn apng_file(w: u32, h: u32, declared: u32, first: Vec<u8>, later: &[Vec<u8>]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(ihdr(w, h, 8, RGB));
    out.extend(actl(declared));
    out.extend(first);
    out.extend(chunk(b"IDAT", &zlib_stored(&rgb_rows(w, h))));
    later.iter().for_each(|c| out.extend_from_slice(c));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn apng() -> Vec<Case> {
    let (w, h) = (16, 16);
    let frames = [fctl(1, 8, 8, 4, 4), fdat(2, &rgb_rows(8, 8)), fctl(3, 16, 16, 0, 0), fdat(4, &rgb_rows(16, 16))];
    vec![
        case(Apng, "apng-3-frames-16x16.png", &[Image], "valid APNG (acTL/fcTL/fdAT), 3 frames on a 16×16 canvas: an image of the default frame", apng_file(w, h, 3, fctl(0, w, h, 0, 0), &frames)),
        case(Apng, "apng-frame-5600x5600-on-1x1.png", &[Image, Corrupt, TooLarge], "1×1 APNG whose second frame's fcTL claims 5600×5600 (larger than the canvas) over a few bytes: the default image (later frames unread), 422 or 413, never a 125 MB frame buffer", apng_file(1, 1, 2, fctl(0, 1, 1, 0, 0), &[fctl(1, 5600, 5600, 0, 0), fdat(2, &[0; 64])])),
        case(Apng, "apng-first-fctl-5600x5600-on-1x1.png", &[Corrupt, Image, TooLarge], "1×1 APNG whose default image's fcTL claims 5600×5600 (must equal IHDR): 422 (or the 1×1 image, or 413)", apng_file(1, 1, 1, fctl(0, 5600, 5600, 0, 0), &[])),
        case(Apng, "apng-frame-offset-outside.png", &[Image, Corrupt], "16×16 APNG whose second frame sits at (4294967295, 4294967295): the default image, or 422", apng_file(w, h, 2, fctl(0, w, h, 0, 0), &[fctl(1, 8, 8, u32::MAX, u32::MAX), fdat(2, &rgb_rows(8, 8))])),
        case(Apng, "apng-actl-4294967295-frames.png", &[Image, Corrupt, TooLarge], "16×16 APNG whose acTL declares 4294967295 frames but holds one: an image, 422, or 413 (frame limit)", apng_file(w, h, u32::MAX, fctl(0, w, h, 0, 0), &[])),
    ]
}

fn depths() -> Vec<Case> {
    use png::{BitDepth::*, ColorType as C};
    let sixteen = |channels: usize| pattern(32, 24, channels).iter().flat_map(|&v| [v, v ^ 0x5A]).collect::<Vec<u8>>();
    vec![
        case(DepthAndColor, "png-16bit-rgba.png", &[Image], "32×24 16-bit RGBA (alpha ramp): an image with alpha where the format keeps it", encoded(32, 24, C::Rgba, Sixteen, &sixteen(4))),
        case(DepthAndColor, "png-16bit-gray.png", &[Image], "32×24 16-bit grayscale: an image", encoded(32, 24, C::Grayscale, Sixteen, &sixteen(1))),
        case(DepthAndColor, "png-16bit-gray-alpha.png", &[Image], "32×24 16-bit gray + alpha: an image", encoded(32, 24, C::GrayscaleAlpha, Sixteen, &sixteen(2))),
        case(DepthAndColor, "png-2bit-gray.png", &[Image], "32×24 2-bit grayscale: an image", encoded(32, 24, C::Grayscale, Two, &[0b00_01_10_11; 8 * 24])),
        case(DepthAndColor, "png-1bit-palette-trns.png", &[Image], "32×24 1-bit palette with a tRNS entry (transparent colour 0): an image", palette_trns()),
        case(DepthAndColor, "png-16bit-rgb-adam7.png", &[Image], "16×16 16-bit RGB, Adam7-interlaced (hand-framed, stored DEFLATE): an image", adam7_16bit()),
    ]
}

fn palette_trns() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 32, 24);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_palette(vec![255, 0, 0, 0, 0, 255]);
    encoder.set_trns(vec![0]);
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(&[0b1010_1010; 4 * 24]).expect("PNG pixels");
    writer.finish().expect("PNG end");
    out
}

/// 16×16 16-bit RGB, interlaced: seven passes of unfiltered rows.
fn adam7_16bit() -> Vec<u8> {
    // Pass sizes for 16×16: (cols, rows) per Adam7 pass.
    let passes = [(2, 2), (2, 2), (4, 2), (4, 4), (8, 4), (8, 8), (16, 8)];
    let mut rows = Vec::new();
    for (cols, n) in passes {
        for r in 0..n {
            rows.push(0);
            rows.extend((0..cols * 6).map(|i| (i * 9 + r * 31) as u8));
        }
    }
    let mut out = MAGIC.to_vec();
    let mut data = 16u32.to_be_bytes().to_vec();
    data.extend_from_slice(&16u32.to_be_bytes());
    data.extend_from_slice(&[16, RGB, 0, 0, 1]);
    out.extend(chunk(b"IHDR", &data));
    out.extend(chunk(b"IDAT", &zlib_stored(&rows)));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn shapes() -> Vec<Case> {
    use png::{BitDepth::Eight, ColorType as C};
    vec![
        case(TinyAndThin, "png-0x0.png", &[Corrupt], "IHDR declares 0×0 (invalid in PNG): 422", framed(0, 0, 8, RGB, &[], &[])),
        case(TinyAndThin, "png-1x1.png", &[Image], "a single-pixel RGB PNG (png crate): an image", encoded(1, 1, C::Rgb, Eight, &pattern(1, 1, 3))),
        case(TinyAndThin, "png-1x10000.png", &[Image], "1×10000 gray (a one-pixel column): an image (1×2048 for the 2048 px variants)", encoded(1, 10000, C::Grayscale, Eight, &pattern(1, 10000, 1))),
        case(TinyAndThin, "png-10000x1.png", &[Image], "10000×1 RGBA (a one-pixel row): an image", encoded(10000, 1, C::Rgba, Eight, &pattern(10000, 1, 4))),
    ]
}

fn malformed() -> Vec<Case> {
    let mut bad_crc = base();
    let idat_crc = chunk_spans(&bad_crc).into_iter().find(|c| &c.kind == b"IDAT").map(|c| c.end - 1).expect("IDAT");
    bad_crc[idat_crc] ^= 0xFF;
    let mut huge_len = MAGIC.to_vec();
    huge_len.extend(ihdr(8, 8, 8, RGB));
    huge_len.extend_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
    huge_len.extend_from_slice(b"tEXtComment\0");
    let mut no_ihdr = MAGIC.to_vec();
    no_ihdr.extend(chunk(b"IDAT", &zlib_stored(&rgb_rows(1, 1))));
    no_ihdr.extend(chunk(b"IEND", &[]));
    let mut magic_jpeg = base();
    magic_jpeg[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    let mut magic_bad = base();
    magic_bad[6] = b'\n';
    vec![
        case(Malformed, "png-idat-crc-mismatch.png", &[Corrupt], "the valid base with its IDAT CRC flipped: 422", bad_crc),
        case(Malformed, "png-chunk-length-2gib.png", &[Corrupt], "8×8 IHDR, then a tEXt chunk claiming 2^31−1 bytes and the file ends: 422, without reserving 2 GiB", huge_len),
        case(Malformed, "png-ihdr-bit-depth-7.png", &[Corrupt], "1×1 whose IHDR says bit depth 7 (not a PNG depth): 422", framed(1, 1, 7, RGB, &[], &rgb_rows(1, 1))),
        case(Malformed, "png-no-ihdr.png", &[Corrupt], "PNG signature then IDAT first (no IHDR): 422", no_ihdr),
        case(WrongMagic, "png-magic-is-jpeg.png", &[Corrupt], "the valid PNG with its first 4 bytes replaced by a JPEG SOI + APP0 marker: sniffed as JPEG, then 422 (no JPEG frame)", magic_jpeg),
        case(WrongMagic, "png-magic-one-byte-off.png", &[Unsupported], "the valid PNG with its signature's CR LF turned into LF LF (a text-mode transfer): not a known signature, 415", magic_bad),
    ]
}

/// Where a chunk sits in a PNG: type, start (length field), end (after CRC).
pub struct Span {
    pub kind: [u8; 4],
    pub start: usize,
    pub end: usize,
}

/// The chunks of a well-formed PNG.
pub fn chunk_spans(png: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = png[at + 4..at + 8].try_into().unwrap();
        spans.push(Span { kind, start: at, end: at + 12 + len });
        at += 12 + len;
    }
    spans
}

/// The structural boundaries of `png` to cut at, each with the answer due.
fn boundaries(png: &[u8]) -> Vec<Cut> {
    let spans = chunk_spans(png);
    let idat = spans.iter().find(|c| &c.kind == b"IDAT").expect("IDAT");
    let iend = spans.last().expect("IEND");
    vec![
        Cut::new("in-signature", 4, &[Unsupported], "half the signature: not recognisable as PNG"),
        Cut::new("after-signature", 8, &[Corrupt], "the signature and nothing else"),
        Cut::new("mid-ihdr", 8 + 8 + 6, &[Corrupt], "inside the IHDR data (the width is whole, the height is not)"),
        Cut::new("after-ihdr", 33, &[Corrupt], "a whole IHDR, no pixel data"),
        Cut::new("after-idat-header", idat.start + 8, &[Corrupt], "the IDAT length and type, none of its data"),
        Cut::new("mid-idat", (idat.start + idat.end) / 2, &[Corrupt], "half of the compressed pixel data"),
        Cut::new("before-idat-crc", idat.end - 4, &[Corrupt, Image], "all pixel data but the IDAT CRC"),
        Cut::new("before-iend", iend.start, &[Image, Corrupt], "every pixel, no IEND trailer (decoders may accept it)"),
        Cut::new("mid-iend", iend.start + 6, &[Image, Corrupt], "every pixel, half an IEND trailer"),
    ]
}
