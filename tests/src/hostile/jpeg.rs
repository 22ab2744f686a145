//! Hostile JPEG files: frame headers claiming 65500×65500 or 4000×4000
//! over a few hundred bytes of scan data, thousands of APP1 segments and a
//! megabyte of them, EXIF IFDs that loop or point past the end, CMYK and
//! YCCK with and without Adobe's APP14, odd precisions and processes, 0×0
//! and 1×N frames, and a baseline and a progressive file cut at every
//! marker segment.

use super::bits::{pattern, tiff_absurd, tiff_loop, tiff_orientation};
use super::{case, cut_cases, Answer::*, Case, Cut, Kind::*};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A JPEG from jpeg-encoder: quality 80, 4:2:0, of the test pattern with
/// `color`'s channel count.
fn encoded(w: u16, h: u16, color: ColorType, progressive: bool) -> Vec<u8> {
    let channels = match color {
        ColorType::Luma => 1,
        ColorType::Rgb => 3,
        _ => 4,
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder.set_progressive(progressive);
    encoder.encode(&pattern(w as u32, h as u32, channels), w, h, color).expect("JPEG");
    out
}

/// A marker segment before the scan: marker, start (at 0xFF), end.
#[derive(Clone, Copy)]
struct Segment {
    marker: u8,
    start: usize,
    end: usize,
}

/// The marker segments of a well-formed JPEG up to and including the
/// first SOS (whose `end` is where its entropy-coded data starts).
fn segments(jpeg: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 2;
    loop {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        out.push(Segment { marker, start: at, end: at + 2 + len });
        if marker == 0xDA {
            return out;
        }
        at += 2 + len;
    }
}

fn first(jpeg: &[u8], pred: impl Fn(u8) -> bool) -> Segment {
    *segments(jpeg).iter().find(|s| pred(s.marker)).expect("segment in the base JPEG")
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xC3)
}

/// `jpeg` with its frame header's size changed to `w`×`h`.
fn sof_claiming(mut jpeg: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let sof = first(&jpeg, is_sof).start;
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

/// `jpeg` with byte `offset` of its frame header (0 = the 0xFF) set to `value`.
fn sof_byte(mut jpeg: Vec<u8>, offset: usize, value: u8) -> Vec<u8> {
    let sof = first(&jpeg, is_sof).start;
    jpeg[sof + offset] = value;
    jpeg
}

/// `jpeg` without its segments of `marker`.
fn without(jpeg: &[u8], marker: u8) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    for s in segments(jpeg).iter().rev().filter(|s| s.marker == marker) {
        out.drain(s.start..s.end);
    }
    out
}

/// An APP1 segment of `data` (at most 65533 bytes).
fn app1(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xE1];
    out.extend_from_slice(&(data.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// An APP1 EXIF segment holding `tiff`.
fn exif(tiff: &[u8]) -> Vec<u8> {
    app1(&[b"Exif\0\0".as_slice(), tiff].concat())
}

/// `jpeg` with `inserted` segments right after its SOI.
fn after_soi(jpeg: &[u8], inserted: &[Vec<u8>]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    inserted.iter().for_each(|s| out.extend_from_slice(s));
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub fn base() -> Vec<u8> {
    encoded(32, 24, ColorType::Rgb, false)
}

pub fn base_progressive() -> Vec<u8> {
    encoded(32, 24, ColorType::Rgb, true)
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![
        case(Control, "jpeg-base-32x24.jpg", &[Image], "valid 32×24 baseline JPEG (jpeg-encoder, 4:2:0): the file the jpeg-cut-* files cut", base()),
        case(Control, "jpeg-base-progressive-32x24.jpg", &[Image], "valid 32×24 progressive JPEG: the file the jpeg-progressive-cut-* files cut", base_progressive()),
    ];
    out.extend(bombs());
    out.extend(metadata());
    out.extend(colors());
    out.extend(shapes());
    out.extend(malformed());
    out.extend(cut_cases("jpeg-base-32x24.jpg", "jpeg", &base(), boundaries(&base())));
    out.extend(cut_cases("jpeg-base-progressive-32x24.jpg", "jpeg-progressive", &base_progressive(), progressive_boundaries(&base_progressive())));
    out
}

fn bombs() -> Vec<Case> {
    vec![
        case(DimensionBomb, "jpeg-sof-65500x65500.jpg", &[TooLarge], "the baseline base with SOF0 claiming 65500×65500 (4.3 GP) over 32×24 worth of scan data: 413 from the header", sof_claiming(base(), 65500, 65500)),
        case(DimensionBomb, "jpeg-sof-4000x4000-little-data.jpg", &[Corrupt, Image], "SOF0 claims 4000×4000 (16 MP, inside every limit) over 32×24 worth of scan data, EOI present: 422 (the scan ends early), or a mostly grey image", sof_claiming(base(), 4000, 4000)),
    ]
}

fn metadata() -> Vec<Case> {
    let photo = encoded(24, 16, ColorType::Rgb, false);
    let small = exif(&tiff_orientation(6, 0));
    let full = exif(&tiff_orientation(6, 65533 - 6 - 26));
    vec![
        case(MetadataBomb, "jpeg-app1-2000-segments.jpg", &[Image], "24×16 JPEG preceded by 2000 APP1 EXIF segments (Orientation 6 each): an image", after_soi(&photo, &vec![small; 2000])),
        case(MetadataBomb, "jpeg-app1-16x64kb.jpg", &[Image], "24×16 JPEG preceded by 16 full-size (64 KB) APP1 EXIF segments, 1 MB of metadata: an image (16×24 if the orientation is read)", after_soi(&photo, &vec![full; 16])),
        case(MetadataBomb, "jpeg-exif-ifd-loop.jpg", &[Image], "24×16 JPEG whose EXIF IFD0 links to itself as next IFD and as Exif IFD: an image, the loop not followed", after_soi(&photo, &[exif(&tiff_loop())])),
        case(MetadataBomb, "jpeg-exif-absurd-ifd.jpg", &[Image], "24×16 JPEG whose EXIF declares 65535 entries, counts of 2^30 and offsets past the end: an image", after_soi(&photo, &[exif(&tiff_absurd())])),
    ]
}

fn colors() -> Vec<Case> {
    let cmyk = encoded(32, 24, ColorType::Cmyk, false);
    vec![
        case(DepthAndColor, "jpeg-cmyk-adobe.jpg", &[Image], "32×24 four-component CMYK JPEG with Adobe APP14 (transform 0): an image (CMYK → RGB)", cmyk.clone()),
        case(DepthAndColor, "jpeg-ycck-adobe.jpg", &[Image], "32×24 YCCK JPEG with Adobe APP14 (transform 2): an image", encoded(32, 24, ColorType::CmykAsYcck, false)),
        case(DepthAndColor, "jpeg-cmyk-no-adobe.jpg", &[Image, Corrupt], "the CMYK file without its APP14 segment (four components, no colour transform named): an image, or 422", without(&cmyk, 0xEE)),
        case(DepthAndColor, "jpeg-gray.jpg", &[Image], "32×24 one-component grayscale JPEG: an image", encoded(32, 24, ColorType::Luma, false)),
        case(DepthAndColor, "jpeg-precision-12.jpg", &[Corrupt, Unsupported], "the baseline base with its SOF0 sample precision patched to 12 bits (8-bit tables and data): 422 or 415", sof_byte(base(), 4, 12)),
        case(DepthAndColor, "jpeg-sof3-lossless.jpg", &[Unsupported, Corrupt], "the baseline base with its SOF0 marker changed to SOF3 (lossless process): 415 or 422", sof_byte(base(), 1, 0xC3)),
    ]
}

fn shapes() -> Vec<Case> {
    vec![
        case(TinyAndThin, "jpeg-sof-0x0.jpg", &[Corrupt], "the baseline base with SOF0 claiming 0×0: 422", sof_claiming(base(), 0, 0)),
        case(TinyAndThin, "jpeg-1x1.jpg", &[Image], "a single-pixel JPEG (one MCU, almost all padding): an image", encoded(1, 1, ColorType::Rgb, false)),
        case(TinyAndThin, "jpeg-1x10000.jpg", &[Image], "1×10000 JPEG: an image", encoded(1, 10000, ColorType::Rgb, false)),
        case(TinyAndThin, "jpeg-10000x1.jpg", &[Image], "10000×1 JPEG: an image", encoded(10000, 1, ColorType::Rgb, false)),
    ]
}

fn malformed() -> Vec<Case> {
    vec![
        case(Malformed, "jpeg-sos-before-sof.jpg", &[Corrupt], "the baseline base without its SOF0 segment (a scan with no frame): 422", without(&base(), 0xC0)),
        case(Malformed, "jpeg-no-huffman-tables.jpg", &[Corrupt, Image], "the baseline base without its DHT segments: 422 (or an image, from the standard tables)", without(&base(), 0xC4)),
        case(Malformed, "jpeg-sampling-0x0.jpg", &[Corrupt], "the baseline base with the luma sampling factors patched to 0×0: 422", sof_byte(base(), 11, 0x00)),
        case(Malformed, "jpeg-zero-components.jpg", &[Corrupt], "the baseline base with SOF0's component count patched to 0: 422", sof_byte(base(), 9, 0)),
        case(Malformed, "jpeg-soi-only.jpg", &[Corrupt], "FF D8 FF: a JPEG signature and nothing else: 422", vec![0xFF, 0xD8, 0xFF]),
    ]
}

/// The segment's short name ("app0", "dqt", "sof0", ...), numbered when
/// the base repeats it.
fn names(segments: &[Segment]) -> Vec<String> {
    let base = |m: u8| match m {
        0xE0..=0xEF => format!("app{}", m - 0xE0),
        0xDB => "dqt".into(),
        0xC4 => "dht".into(),
        0xC0..=0xC3 => format!("sof{}", m - 0xC0),
        0xDD => "dri".into(),
        0xDA => "sos".into(),
        other => format!("marker-{other:02x}"),
    };
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = segments[..i].iter().filter(|p| p.marker == s.marker).count();
            if n == 0 { base(s.marker) } else { format!("{}-{}", base(s.marker), n + 1) }
        })
        .collect()
}

/// Cuts inside and after every marker segment, in the scan, and at EOI.
fn boundaries(jpeg: &[u8]) -> Vec<Cut> {
    let segs = segments(jpeg);
    let mut cuts = vec![
        Cut::new("in-soi", 1, &[Unsupported], "one byte, 0xFF: not recognisable"),
        Cut::new("after-soi", 2, &[Unsupported], "the SOI marker and nothing else (the JPEG signature is FF D8 FF: not recognisable)"),
    ];
    for (s, name) in segs.iter().zip(names(&segs)) {
        cuts.push(Cut::new(format!("mid-{name}"), (s.start + s.end) / 2, &[Corrupt], format!("inside the {} segment", name.to_uppercase())));
        cuts.push(Cut::new(format!("after-{name}"), s.end, &[Corrupt], format!("after the {} segment", name.to_uppercase())));
    }
    let scan = segs.last().expect("SOS").end;
    cuts.push(Cut::new("mid-scan", (scan + jpeg.len()) / 2, &[Corrupt], "half of the entropy-coded data"));
    cuts.push(Cut::new("before-eoi", jpeg.len() - 2, &[Corrupt], "all scan data, no EOI marker (kiln requires it)"));
    cuts.push(Cut::new("mid-eoi", jpeg.len() - 1, &[Corrupt], "all scan data, half the EOI marker"));
    cuts
}

/// Cuts between and inside the scans of the progressive base.
fn progressive_boundaries(jpeg: &[u8]) -> Vec<Cut> {
    let sos: Vec<usize> = (0..jpeg.len() - 1).filter(|&i| jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA).collect();
    assert!(sos.len() >= 3, "a progressive base has several scans");
    let last = *sos.last().unwrap();
    vec![
        Cut::new("after-first-scan", sos[1], &[Corrupt], "the DC scan whole, no refinement scans"),
        Cut::new("mid-scans", sos[sos.len() / 2], &[Corrupt], "half of the scans"),
        Cut::new("mid-last-scan", (last + jpeg.len()) / 2, &[Corrupt], "inside the last scan"),
        Cut::new("before-eoi", jpeg.len() - 2, &[Corrupt], "every scan, no EOI marker"),
    ]
}
