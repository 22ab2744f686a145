//! Metadata policy: what of the input's metadata an output carries.
//!
//! By default nothing: every encoder writes pixels only, orientation is
//! applied to the pixels ([`crate::orient`]) and the colours are converted
//! to sRGB ([`crate::colour`]), so an output shows the same everywhere and
//! leaks nothing (GPS position, camera serial numbers, maker notes, an
//! embedded thumbnail of the uncropped original). A [`Metadata`] policy
//! may keep, per output:
//!
//! - [`ExifPolicy::Copyright`]: the source's EXIF `Artist` and `Copyright`,
//!   written into a fresh, minimal EXIF block with `Orientation` = 1 (the
//!   pixels are already upright). Nothing else of the source's EXIF is
//!   copied, and a tag longer than [`MAX_TAG_BYTES`] is dropped.
//! - [`ColourPolicy::Keep`]: an RGB ICC profile is embedded in the output
//!   and the pixels are left in the source's colour space (Display P3
//!   stays P3, with its wider gamut). A CMYK, grayscale or unparseable
//!   profile, or an output format that cannot carry one, falls back to
//!   [`ColourPolicy::Srgb`].
//!
//! What each container carries, and how, is [`embed`]'s.

use crate::encode::{Encoder, OutputFormat, AVIF, JPEG, PNG, WEBP};
use crate::image::Image;
use crate::error::KilnError;
use crate::orient;
use exif::{Field, In, Tag, Value};
use moxcms::{ColorProfile, DataColorSpace};

/// What an output keeps of its source's metadata. The default keeps
/// nothing and converts colours to sRGB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metadata {
    pub exif: ExifPolicy,
    pub colour: ColourPolicy,
}

/// Which EXIF the output carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExifPolicy {
    /// None (the default).
    #[default]
    Strip,
    /// `Artist` and `Copyright`, with `Orientation` = 1.
    Copyright,
}

/// What is done with an embedded ICC profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColourPolicy {
    /// Convert the pixels to sRGB and strip the profile (the default).
    #[default]
    Srgb,
    /// Keep the pixels as they are and embed the (RGB) profile, where the
    /// output format can carry it.
    Keep,
}

impl ExifPolicy {
    /// `strip` or `copyright`; else what to say about it.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "strip" => Ok(ExifPolicy::Strip),
            "copyright" => Ok(ExifPolicy::Copyright),
            _ => Err(format!("metadata must be strip or copyright, got {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExifPolicy::Strip => "strip",
            ExifPolicy::Copyright => "copyright",
        }
    }
}

impl ColourPolicy {
    /// `srgb` or `keep`; else what to say about it.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "srgb" => Ok(ColourPolicy::Srgb),
            "keep" => Ok(ColourPolicy::Keep),
            _ => Err(format!("colour must be srgb or keep, got {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColourPolicy::Srgb => "srgb",
            ColourPolicy::Keep => "keep",
        }
    }
}

/// The longest EXIF tag value kept; a longer one is dropped.
pub const MAX_TAG_BYTES: usize = 2048;

/// What an output ended up carrying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Embedded {
    /// The source's ICC profile is embedded and the pixels are in its
    /// colour space (not converted to sRGB).
    pub icc: bool,
    /// An EXIF block (Artist, Copyright, Orientation = 1) is embedded.
    pub exif: bool,
}

impl Embedded {
    /// Nothing embedded (the default policy's outputs).
    pub fn is_none(&self) -> bool {
        !self.icc && !self.exif
    }
}

/// What is written into one output: a profile and a TIFF-structured EXIF
/// block (without JPEG's `Exif\0\0` prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Embed {
    pub icc: Option<Vec<u8>>,
    pub exif: Option<Vec<u8>>,
}

impl Embed {
    /// What `policy` keeps of `input`'s metadata, whose ICC profile (as
    /// [`crate::colour::read_icc`] read it) is `icc`: the profile only when
    /// it parses as an RGB profile, the EXIF only when the source has an
    /// `Artist` or a `Copyright` to keep.
    pub fn from_source(input: &[u8], icc: Option<&[u8]>, policy: Metadata) -> Embed {
        Embed {
            icc: icc.filter(|p| policy.colour == ColourPolicy::Keep && is_rgb(p)).map(<[u8]>::to_vec),
            exif: (policy.exif == ExifPolicy::Copyright).then(|| credits(input)).flatten(),
        }
    }

    /// What of this an output of `format` can carry: AVIF its EXIF only
    /// (see [`embed`]); a JPEG no profile of more than 255 APP2 segments.
    pub fn for_format(&self, format: OutputFormat) -> Embed {
        if format.mime_type == AVIF.mime_type {
            return Embed { icc: None, exif: self.exif.clone() };
        }
        if !carries_metadata(format) {
            return Embed::default();
        }
        let fits = |p: &&Vec<u8>| format != JPEG || p.len() <= JPEG_ICC_CHUNK * 255;
        Embed { icc: self.icc.as_ref().filter(fits).cloned(), exif: self.exif.clone() }
    }

    pub fn is_empty(&self) -> bool {
        self.icc.is_none() && self.exif.is_none()
    }
}

/// Whether [`embed`] can write metadata into `format`: JPEG, PNG and WebP.
pub fn carries_metadata(format: OutputFormat) -> bool {
    [JPEG.mime_type, PNG.mime_type, WEBP.mime_type].contains(&format.mime_type)
}

fn is_rgb(icc: &[u8]) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|p| p.color_space == DataColorSpace::Rgb)
}

/// A fresh EXIF block with `input`'s `Artist` and `Copyright` (each kept
/// when at most [`MAX_TAG_BYTES`]) and `Orientation` = 1, or `None` when
/// the input has neither. Every other tag (GPS, maker notes, thumbnails,
/// camera and lens, dates) is left behind: only these fields are written.
pub fn credits(input: &[u8]) -> Option<Vec<u8>> {
    let exif = orient::read_exif(input)?;
    let keep = |tag: Tag| {
        let field = exif.get_field(tag, In::PRIMARY)?;
        let Value::Ascii(parts) = &field.value else { return None };
        let len: usize = parts.iter().map(|p| p.len() + 1).sum();
        (len <= MAX_TAG_BYTES && parts.iter().any(|p| !p.is_empty()))
            .then(|| Field { tag, ifd_num: In::PRIMARY, value: Value::Ascii(parts.clone()) })
    };
    let fields: Vec<Field> = [Tag::Artist, Tag::Copyright].into_iter().filter_map(keep).collect();
    if fields.is_empty() {
        return None;
    }
    let orientation = Field { tag: Tag::Orientation, ifd_num: In::PRIMARY, value: Value::Short(vec![1]) };
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&orientation);
    for field in &fields {
        writer.push_field(field);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    writer.write(&mut out, false).ok()?;
    Some(out.into_inner())
}

/// Writes `what` into `bytes`, an output of `format` fresh from its
/// encoder (which writes no metadata), and says what it wrote. A rewrite
/// of the container after encoding, one small function per container:
///
/// - JPEG: an APP1 `Exif\0\0` segment, then the profile in APP2
///   `ICC_PROFILE` segments (as many as it takes, up to 255 of 64 KiB),
///   right after SOI and the JFIF APP0 segment.
/// - PNG: `iCCP` (the profile, zlib-compressed) and `eXIf` right after
///   `IHDR`.
/// - WebP: `ICCP` and `EXIF` chunks, set by libwebp's muxer (`WebPMux`),
///   which turns a simple (VP8/VP8L) file into an extended one (VP8X, with
///   its flags and canvas size) and fixes the RIFF size.
/// - AVIF: no profile. avif-serialize 0.8 writes an `nclx` colour box but
///   no ICC (`prof`) box, so [`Embed::for_format`] keeps no profile for
///   AVIF and its pixels are converted to sRGB. Its EXIF is written by the
///   encoder, as an `Exif` item ([`encode`]), not here.
pub fn embed(format: OutputFormat, bytes: Vec<u8>, what: &Embed) -> Result<(Vec<u8>, Embedded), KilnError> {
    if what.is_empty() || !carries_metadata(format) {
        return Ok((bytes, Embedded::default()));
    }
    let embedded = Embedded { icc: what.icc.is_some(), exif: what.exif.is_some() };
    let out = if format.mime_type == JPEG.mime_type {
        jpeg(&bytes, what)
    } else if format.mime_type == PNG.mime_type {
        png(&bytes, what)
    } else {
        webp(&bytes, what)
    };
    let out = out.ok_or_else(|| KilnError::Encode(format!("could not write metadata into the {} output", format.name)))?;
    Ok((out, embedded))
}

/// `image` encoded by `encoder` with what it can carry of `what`, and
/// what it carries: [`embed`] after encoding, or the EXIF written by the
/// encoder itself (AVIF, [`Encoder::encode_with_exif`]).
pub fn encode(encoder: &dyn Encoder, image: &Image, what: &Embed) -> Result<(Vec<u8>, Embedded), KilnError> {
    let format = encoder.format();
    if !carries_metadata(format) {
        if let Some(exif) = &what.exif
            && let Some(bytes) = encoder.encode_with_exif(image, exif)
        {
            return Ok((bytes?, Embedded { icc: false, exif: true }));
        }
        return Ok((encoder.encode(image)?, Embedded::default()));
    }
    embed(format, encoder.encode(image)?, what)
}

/// Profile bytes per JPEG APP2 segment: 65,535 less the length field and
/// the `ICC_PROFILE\0`, sequence and count bytes.
const JPEG_ICC_CHUNK: usize = 65_535 - 2 - 14;

fn jpeg(bytes: &[u8], what: &Embed) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    // After SOI, and after a JFIF APP0 segment when there is one.
    let mut at = 2;
    if bytes.get(2..4) == Some(&[0xFF, 0xE0]) {
        at = 4 + u16::from_be_bytes([*bytes.get(4)?, *bytes.get(5)?]) as usize;
    }
    let head = bytes.get(..at)?;
    let mut out = Vec::with_capacity(bytes.len() + what.icc.as_ref().map_or(0, |p| p.len() + 1024) + what.exif.as_ref().map_or(0, |e| e.len() + 10));
    out.extend_from_slice(head);
    let mut segment = |marker: u8, parts: &[&[u8]]| -> Option<()> {
        let len = 2 + parts.iter().map(|p| p.len()).sum::<usize>();
        out.extend([0xFF, marker]);
        out.extend(u16::try_from(len).ok()?.to_be_bytes());
        parts.iter().for_each(|p| out.extend_from_slice(p));
        Some(())
    };
    if let Some(exif) = &what.exif {
        segment(0xE1, &[b"Exif\0\0", exif])?;
    }
    if let Some(icc) = &what.icc {
        let chunks: Vec<&[u8]> = icc.chunks(JPEG_ICC_CHUNK).collect();
        let count = u8::try_from(chunks.len()).ok()?;
        for (seq, chunk) in (1..=count).zip(&chunks) {
            segment(0xE2, &[b"ICC_PROFILE\0", &[seq, count], chunk])?;
        }
    }
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

fn png(bytes: &[u8], what: &Embed) -> Option<Vec<u8>> {
    // The signature, then IHDR: length 13, type, data, CRC.
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.get(8..16) != Some(b"\0\0\0\x0dIHDR") {
        return None;
    }
    let at = 8 + 4 + 4 + 13 + 4;
    let mut out = Vec::with_capacity(bytes.len() + what.icc.as_ref().map_or(0, |p| p.len() + 64) + what.exif.as_ref().map_or(0, |e| e.len() + 12));
    out.extend_from_slice(bytes.get(..at)?);
    let mut chunk = |kind: &[u8; 4], parts: &[&[u8]]| -> Option<()> {
        let len = parts.iter().map(|p| p.len()).sum::<usize>();
        out.extend(u32::try_from(len).ok()?.to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        parts.iter().for_each(|p| out.extend_from_slice(p));
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
        Some(())
    };
    if let Some(icc) = &what.icc {
        // Profile name, NUL, compression method 0 (zlib), the stream.
        chunk(b"iCCP", &[b"ICC Profile\0\0", &fdeflate::compress_to_vec(icc)])?;
    }
    if let Some(exif) = &what.exif {
        chunk(b"eXIf", &[exif])?;
    }
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

/// CRC-32 (ISO 3309, as PNG uses), with crc32fast: the png crate's own.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(feature = "webp")]
fn webp(bytes: &[u8], what: &Embed) -> Option<Vec<u8>> {
    use libwebp_sys as sys;
    use std::ptr::NonNull;

    /// Owns a `WebPMux*`: deleted on drop.
    struct Mux(NonNull<sys::WebPMux>);
    impl Drop for Mux {
        fn drop(&mut self) {
            // SAFETY: the pointer came from WebPMuxCreateInternal and is deleted once.
            unsafe { sys::WebPMuxDelete(self.0.as_ptr()) }
        }
    }
    let data = sys::WebPData { bytes: bytes.as_ptr(), size: bytes.len() };
    // SAFETY: `data` points into `bytes`, which the muxer copies (copy_data = 1).
    let mux = Mux(NonNull::new(unsafe { sys::WebPMuxCreateInternal(&data, 1, sys::WEBP_MUX_ABI_VERSION as _) })?);
    let chunks = [(c"ICCP", what.icc.as_deref()), (c"EXIF", what.exif.as_deref())];
    for (fourcc, chunk) in chunks.into_iter().filter_map(|(f, c)| Some((f, c?))) {
        let chunk = sys::WebPData { bytes: chunk.as_ptr(), size: chunk.len() };
        // SAFETY: the mux is live, the fourcc is 4 bytes and NUL-terminated,
        // and the chunk is copied (copy_data = 1).
        if unsafe { sys::WebPMuxSetChunk(mux.0.as_ptr(), fourcc.as_ptr(), &chunk, 1) } != sys::WebPMuxError::WEBP_MUX_OK {
            return None;
        }
    }
    let mut assembled = sys::WebPData::default();
    // SAFETY: the mux is live; `assembled` is ours to free with WebPDataClear.
    let ok = unsafe { sys::WebPMuxAssemble(mux.0.as_ptr(), &mut assembled) } == sys::WebPMuxError::WEBP_MUX_OK;
    // SAFETY: on success libwebp filled `assembled` with `size` bytes it allocated.
    let out = (ok && !assembled.bytes.is_null()).then(|| unsafe { std::slice::from_raw_parts(assembled.bytes, assembled.size) }.to_vec());
    // SAFETY: frees what WebPMuxAssemble allocated (a null pointer is a no-op).
    unsafe { sys::WebPDataClear(&mut assembled) };
    out
}

#[cfg(not(feature = "webp"))]
fn webp(_bytes: &[u8], _what: &Embed) -> Option<Vec<u8>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
    use crate::image::{Image, PixelLayout};
    use crate::{colour, ConvertOptions, Limits};

    fn p3() -> Vec<u8> {
        ColorProfile::new_display_p3().encode().unwrap()
    }

    fn ascii(tag: Tag, s: &str) -> Field {
        Field { tag, ifd_num: In::PRIMARY, value: Value::Ascii(vec![s.as_bytes().to_vec()]) }
    }

    /// A camera's EXIF: credits, orientation 6, a GPS position, a make.
    fn camera_exif(artist: &str) -> Vec<u8> {
        let fields = [
            ascii(Tag::Artist, artist),
            ascii(Tag::Copyright, "(c) 2026 Jane Doe"),
            ascii(Tag::Make, "Pinhole"),
            Field { tag: Tag::Orientation, ifd_num: In::PRIMARY, value: Value::Short(vec![6]) },
            ascii(Tag::GPSLatitudeRef, "N"),
            Field { tag: Tag::GPSLatitude, ifd_num: In::PRIMARY, value: Value::Rational(vec![(48, 1).into(), (51, 1).into(), (24, 1).into()]) },
        ];
        let mut writer = exif::experimental::Writer::new();
        fields.iter().for_each(|f| writer.push_field(f));
        let mut out = std::io::Cursor::new(Vec::new());
        writer.write(&mut out, true).unwrap();
        out.into_inner()
    }

    /// A 6x4 JPEG with `what` embedded: a camera's photo.
    fn photo(what: &Embed) -> Vec<u8> {
        let pixels = (0..24u32).flat_map(|i| [(i * 10) as u8, 200 - (i * 5) as u8, 90]).collect();
        let jpeg = JpegEncoder::new(90.0).unwrap().encode(&Image::new(6, 4, PixelLayout::Rgb8, pixels)).unwrap();
        jpeg_with(jpeg, what)
    }

    fn jpeg_with(jpeg: Vec<u8>, what: &Embed) -> Vec<u8> {
        embed(crate::encode::JPEG, jpeg, what).unwrap().0
    }

    fn image() -> Image {
        Image::new(4, 3, PixelLayout::Rgba8, (0..48u32).map(|i| (i * 5) as u8).collect())
    }

    /// The tags of an EXIF block, and Artist and Copyright's values.
    fn tags(tiff: &[u8]) -> (Vec<Tag>, Vec<String>) {
        let exif = exif::Reader::new().read_raw(tiff.to_vec()).unwrap();
        let tags = exif.fields().map(|f| f.tag).collect();
        let text = [Tag::Artist, Tag::Copyright].map(|t| exif.get_field(t, In::PRIMARY).map(|f| f.display_value().to_string()).unwrap_or_default());
        (tags, text.to_vec())
    }

    #[test]
    fn credits_keep_artist_and_copyright_with_orientation_1_and_nothing_else() {
        let source = photo(&Embed { icc: None, exif: Some(camera_exif("Jane Doe")) });
        assert_eq!(orient::read_orientation(&source), 6);
        let block = credits(&source).unwrap();
        let (kept, text) = tags(&block);
        assert_eq!(kept, [Tag::Orientation, Tag::Artist, Tag::Copyright]);
        assert_eq!(text, ["\"Jane Doe\"", "\"(c) 2026 Jane Doe\""]);
        assert_eq!(orient::read_orientation(&jpeg_with(photo(&Embed::default()), &Embed { icc: None, exif: Some(block) })), 1);
        // Too long a tag is dropped; nothing to keep, no block.
        let long = credits(&photo(&Embed { icc: None, exif: Some(camera_exif(&"x".repeat(MAX_TAG_BYTES))) })).unwrap();
        assert_eq!(tags(&long).0, [Tag::Orientation, Tag::Copyright]);
        assert_eq!(credits(&photo(&Embed::default())), None);
    }

    #[test]
    fn policies_decide_what_is_kept_and_formats_what_is_carried() {
        let both = Embed { icc: Some(p3()), exif: Some(camera_exif("A")) };
        let source = photo(&both);
        let icc = colour::read_icc(&source, 1 << 20).unwrap();
        assert_eq!(icc.as_deref(), Some(&p3()[..]));
        assert_eq!(Embed::from_source(&source, icc.as_deref(), Metadata::default()), Embed::default());
        let all = Embed::from_source(&source, icc.as_deref(), Metadata { exif: ExifPolicy::Copyright, colour: ColourPolicy::Keep });
        assert_eq!(all.icc.as_deref(), Some(&p3()[..]));
        assert!(all.exif.is_some());
        assert_eq!(all.for_format(crate::encode::AVIF), Embed { icc: None, exif: all.exif.clone() });
        assert_eq!(all.for_format(crate::encode::WEBP), all);
        // A profile that is not RGB (or not a profile) is not kept.
        let gray = ColorProfile::new_gray_with_gamma(2.2).encode().unwrap();
        for bad in [&gray[..], b"garbage"] {
            let keep = Embed::from_source(&source, Some(bad), Metadata { exif: ExifPolicy::Strip, colour: ColourPolicy::Keep });
            assert_eq!(keep, Embed::default());
        }
    }

    fn everything() -> Embed {
        let source = photo(&Embed { icc: None, exif: Some(camera_exif("Jane Doe")) });
        Embed { icc: Some(p3()), exif: credits(&source) }
    }

    #[test]
    fn jpeg_carries_both_and_still_decodes() {
        let what = everything();
        let (out, embedded) = embed(crate::encode::JPEG, JpegEncoder::new(80.0).unwrap().encode(&image().flatten_onto_white()).unwrap(), &what).unwrap();
        assert_eq!(embedded, Embedded { icc: true, exif: true });
        assert_eq!(colour::read_icc(&out, 1 << 20).unwrap(), what.icc);
        assert_eq!(tags(orient::exif_block(&out).unwrap()).1, ["\"Jane Doe\"", "\"(c) 2026 Jane Doe\""]);
        let mut decoder = jpeg_decoder::Decoder::new(&out[..]);
        assert_eq!(decoder.decode().unwrap().len(), 4 * 3 * 3);
        assert_eq!(decoder.icc_profile(), what.icc);
    }

    #[test]
    fn a_large_profile_takes_several_jpeg_segments() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let what = Embed { icc: Some(big.clone()), exif: None };
        let out = jpeg_with(photo(&Embed::default()), &what);
        assert_eq!(crate::container::jpeg_segments(&out).filter(|s| s.0 == 0xE2).count(), 4);
        assert_eq!(colour::read_icc(&out, 1 << 20).unwrap(), Some(big));
        jpeg_decoder::Decoder::new(&out[..]).decode().unwrap();
    }

    #[test]
    fn png_carries_both_and_still_decodes() {
        let what = everything();
        let (out, embedded) = embed(crate::encode::PNG, PngEncoder.encode(&image()).unwrap(), &what).unwrap();
        assert_eq!(embedded, Embedded { icc: true, exif: true });
        assert_eq!(colour::read_icc(&out, 1 << 20).unwrap(), what.icc);
        // The png crate checks every CRC as it reads.
        let mut reader = png::Decoder::new(std::io::Cursor::new(&out)).read_info().unwrap();
        assert_eq!(reader.info().icc_profile.as_deref(), what.icc.as_deref());
        assert_eq!(reader.info().exif_metadata.as_deref(), what.exif.as_deref());
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(buf, image().pixels);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn webp_becomes_extended_with_both_and_still_decodes() {
        let what = everything();
        for img in [image(), Image::new(4, 3, PixelLayout::Rgb8, vec![77; 36])] {
            let (out, embedded) = embed(crate::encode::WEBP, WebpEncoder::new(80.0).unwrap().encode(&img).unwrap(), &what).unwrap();
            assert_eq!(embedded, Embedded { icc: true, exif: true });
            assert_eq!(&out[12..16], b"VP8X");
            assert_eq!(u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize, out.len() - 8, "RIFF size");
            assert_eq!(colour::read_icc(&out, 1 << 20).unwrap(), what.icc);
            let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&out)).unwrap();
            assert_eq!(decoder.dimensions(), (4, 3));
            assert_eq!(decoder.icc_profile().unwrap(), what.icc);
            assert_eq!(decoder.exif_metadata().unwrap(), what.exif);
            let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
            decoder.read_image(&mut buf).unwrap();
            assert_eq!(orient::read_orientation(&out), 1);
        }
    }

    #[test]
    fn nothing_to_keep_leaves_the_bytes_alone() {
        let jpeg = photo(&Embed::default());
        assert_eq!(embed(crate::encode::JPEG, jpeg.clone(), &Embed::default()).unwrap(), (jpeg.clone(), Embedded::default()));
        assert_eq!(embed(crate::encode::AVIF, jpeg.clone(), &everything()).unwrap(), (jpeg, Embedded::default()));
        assert!(embed(crate::encode::PNG, b"not a png".to_vec(), &everything()).is_err());
    }

    fn decoded(webp: &[u8]) -> Vec<u8> {
        let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(webp)).unwrap();
        let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_image(&mut buf).unwrap();
        buf
    }

    fn options(metadata: Metadata) -> ConvertOptions {
        ConvertOptions { max_long_side: 64, limits: Limits::default(), metadata }
    }

    #[test]
    fn the_pipeline_strips_by_default_and_keeps_what_it_is_told() {
        let source = photo(&Embed { icc: Some(p3()), exif: Some(camera_exif("Jane Doe")) });
        let webp = WebpEncoder::new(90.0).unwrap();
        let stripped = crate::convert(source.clone(), &options(Metadata::default()), &webp).unwrap();
        assert!(stripped.colour_managed);
        assert_eq!(stripped.embedded, Embedded::default());
        assert_eq!((stripped.width, stripped.height), (4, 6), "orientation 6 applied");
        assert_eq!(colour::read_icc(&stripped.bytes, 1 << 20).unwrap(), None);
        assert!(orient::exif_block(&stripped.bytes).is_none());

        let kept = crate::convert(source.clone(), &options(Metadata { exif: ExifPolicy::Copyright, colour: ColourPolicy::Keep }), &webp).unwrap();
        assert!(!kept.colour_managed);
        assert_eq!(kept.embedded, Embedded { icc: true, exif: true });
        assert_eq!((kept.width, kept.height), (4, 6));
        assert_eq!(colour::read_icc(&kept.bytes, 1 << 20).unwrap(), Some(p3()));
        assert_eq!(tags(orient::exif_block(&kept.bytes).unwrap()).0, [Tag::Orientation, Tag::Artist, Tag::Copyright]);
        assert_eq!(orient::read_orientation(&kept.bytes), 1);
        // Kept: the P3 values themselves, not converted (P3 values of these
        // colours differ from their sRGB ones).
        assert_ne!(decoded(&kept.bytes), decoded(&stripped.bytes));

        // Decoded once for several outputs: one keeps, one converts, and
        // the keeping output is the one made alone.
        let keep = Metadata { exif: ExifPolicy::Copyright, colour: ColourPolicy::Keep };
        let png = PngEncoder;
        let outputs = [
            crate::Output { max_long_side: 64, encoder: &webp, placeholder: false, widths: &[], metadata: keep },
            crate::Output { max_long_side: 64, encoder: &png, placeholder: false, widths: &[], metadata: Metadata::default() },
        ];
        let many = crate::convert_many(source.clone(), &outputs, Limits::default()).unwrap();
        let (kept_many, srgb_png) = (many.outputs[0].as_ref().unwrap(), many.outputs[1].as_ref().unwrap());
        assert_eq!((kept_many.embedded, kept_many.colour_managed), (Embedded { icc: true, exif: true }, false));
        assert_eq!(decoded(&kept_many.bytes), decoded(&kept.bytes));
        assert_eq!((srgb_png.embedded, srgb_png.colour_managed), (Embedded::default(), true));
        let alone = crate::convert(source.clone(), &options(Metadata::default()), &png).unwrap();
        assert_eq!(srgb_png.bytes, alone.bytes);

        // AVIF cannot carry the profile: converted all the same; its EXIF
        // is an Exif item the encoder writes.
        #[cfg(feature = "avif")]
        {
            let avif = crate::encode::avif::AvifEncoder::new(60.0, 9, crate::encode::avif::Chroma::Yuv420).unwrap();
            let out = crate::convert(source.clone(), &options(Metadata { exif: ExifPolicy::Copyright, colour: ColourPolicy::Keep }), &avif).unwrap();
            assert!(out.colour_managed);
            assert_eq!(out.embedded, Embedded { icc: false, exif: true });
            let has = |bytes: &[u8], s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(has(&out.bytes, "Exif") && has(&out.bytes, "(c) 2026 Jane Doe") && !has(&out.bytes, "Pinhole"));
            let stripped = crate::convert(source, &options(Metadata::default()), &avif).unwrap();
            assert_eq!(stripped.embedded, Embedded::default());
            assert!(!has(&stripped.bytes, "Jane Doe"));
        }
    }

    #[test]
    fn policies_parse_and_default_to_strip_and_srgb() {
        assert_eq!(Metadata::default(), Metadata { exif: ExifPolicy::Strip, colour: ColourPolicy::Srgb });
        for p in [ExifPolicy::Strip, ExifPolicy::Copyright] {
            assert_eq!(ExifPolicy::parse(p.name()).unwrap(), p);
        }
        for p in [ColourPolicy::Srgb, ColourPolicy::Keep] {
            assert_eq!(ColourPolicy::parse(p.name()).unwrap(), p);
        }
        assert_eq!(ExifPolicy::parse("all"), Err("metadata must be strip or copyright, got \"all\"".into()));
        assert_eq!(ColourPolicy::parse("p3"), Err("colour must be srgb or keep, got \"p3\"".into()));
    }
}
