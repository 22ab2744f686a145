//! kiln's own progressive JPEG decoder, for shrink-on-load only.
//!
//! A progressive JPEG sends every coefficient of every block over several
//! scans, so a decoder must keep them all until the last one: zune-jpeg,
//! jpeg-decoder and libjpeg hold 64 × i16 per block, 3 bytes per pixel at
//! 4:2:0 (300 MB for 100 MP). Decoding to 1/2, 1/4 or 1/8 of the size only
//! reads each block's 4 × 4, 2 × 2 or 1 × 1 lowest frequencies, so this
//! decoder keeps just those, plus a non-zero mask per block that refining
//! scans need ([`scan`]): 16 bytes a block at 1/4 scale, 37 MB for 100 MP.
//! Then a scaled IDCT per component and bilinear chroma upsampling make
//! RGB ([`output`]).
//!
//! It reads Huffman-coded progressive frames (SOF2) of 8-bit gray, YCbCr
//! or Adobe RGB; anything else (CMYK, arithmetic coding, 12-bit) is left
//! to jpeg-decoder.

mod entropy;
mod output;
mod scan;

use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use entropy::{entropy_end, Huffman};
use output::{idct_plane, to_rgb, ColourModel};
use scan::{decode_scan, Coefficients, Scan, ScanComponent, ZIGZAG};

/// Scans a file may hold. Each scan walks every block of its components,
/// so thousands of tiny scans would make a small file decode for minutes;
/// libjpeg's own progressive script uses 10, and libjpeg-turbo's djpeg
/// offers `-maxscans` for the same reason.
pub const MAX_SCANS: usize = 100;

pub(crate) fn corrupt(e: impl std::fmt::Display) -> KilnError {
    KilnError::Corrupt(format!("JPEG: {e}"))
}

/// Whether this decoder reads a frame of `components` components at DCT
/// scale 1/`scale`.
pub fn handles(components: usize, scale: u32) -> bool {
    matches!(components, 1 | 3) && matches!(scale, 2 | 4 | 8)
}

/// Bytes the decoder holds besides its RGB output, for a frame whose
/// components have `blocks` (padded to whole MCUs) each: the kept
/// coefficients and masks, then the scaled sample planes.
pub fn working_bytes(blocks: &[(usize, usize)], scale: u32) -> u64 {
    let n = 8 / scale as usize;
    let planes: u64 = blocks.iter().map(|&(w, h)| (w * n * h * n) as u64).sum();
    Coefficients::bytes(n, blocks) + planes
}

/// Blocks stored per component (w, h) for a `width × height` frame whose
/// components have `sampling` (h, v) factors: the MCU grid's, which covers
/// each component's own. The decoder allocates this and the estimate
/// ([`working_bytes`]) counts it.
pub fn stored_blocks(width: usize, height: usize, sampling: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let hmax = sampling.iter().map(|s| s.0).max().unwrap_or(1);
    let vmax = sampling.iter().map(|s| s.1).max().unwrap_or(1);
    let mcus = (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax));
    sampling.iter().map(|&(h, v)| (mcus.0 * h, mcus.1 * v)).collect()
}

/// One frame component.
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant_table: usize,
    /// The quantisation table (natural order) in force at its first scan.
    quant: Option<[u16; 64]>,
}

struct Frame {
    width: usize,
    height: usize,
    components: Vec<Component>,
    max: (usize, usize),
    mcus: (usize, usize),
}

impl Frame {
    fn parse(seg: &[u8]) -> Result<Frame, KilnError> {
        if seg.len() < 6 {
            return Err(corrupt("a short frame header"));
        }
        if seg[0] != 8 {
            return Err(KilnError::Unsupported(format!("{}-bit progressive JPEG", seg[0])));
        }
        let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
        let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
        let count = seg[5] as usize;
        if width == 0 || height == 0 || count == 0 || seg.len() < 6 + 3 * count {
            return Err(corrupt("a frame header without size or components"));
        }
        let components: Vec<Component> = seg[6..6 + 3 * count]
            .chunks_exact(3)
            .map(|c| Component { id: c[0], h: (c[1] >> 4) as usize, v: (c[1] & 15) as usize, quant_table: c[2] as usize, quant: None })
            .collect();
        if components.iter().any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v) || c.quant_table > 3) {
            return Err(corrupt("a component's sampling factors or table are out of range"));
        }
        let max = (components.iter().map(|c| c.h).max().unwrap_or(1), components.iter().map(|c| c.v).max().unwrap_or(1));
        let mcus = (width.div_ceil(8 * max.0), height.div_ceil(8 * max.1));
        Ok(Frame { width, height, components, max, mcus })
    }

    /// Blocks of component `c` when a scan holds it alone (no MCU padding).
    fn own_blocks(&self, c: &Component) -> (usize, usize) {
        ((self.width * c.h).div_ceil(self.max.0).div_ceil(8), (self.height * c.v).div_ceil(self.max.1).div_ceil(8))
    }

    fn stored_blocks(&self) -> Vec<(usize, usize)> {
        let sampling: Vec<_> = self.components.iter().map(|c| (c.h, c.v)).collect();
        stored_blocks(self.width, self.height, &sampling)
    }

    fn colour_model(&self, adobe_transform: Option<u8>) -> ColourModel {
        match self.components.len() {
            1 => ColourModel::Gray,
            _ if adobe_transform == Some(0) => ColourModel::Rgb,
            _ if adobe_transform.is_none() && self.components.iter().map(|c| c.id).eq(*b"RGB") => ColourModel::Rgb,
            _ => ColourModel::YCbCr,
        }
    }
}

/// Tables and settings that segments define as the file goes.
#[derive(Default)]
struct Tables {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    adobe_transform: Option<u8>,
}

impl Tables {
    fn define_quant(&mut self, mut seg: &[u8]) -> Result<(), KilnError> {
        while let Some(&pq_tq) = seg.first() {
            let (wide, id) = (pq_tq >> 4 != 0, (pq_tq & 15) as usize);
            let len = if wide { 128 } else { 64 };
            let values = seg.get(1..1 + len).filter(|_| id < 4).ok_or_else(|| corrupt("a bad quantisation table"))?;
            let mut table = [0u16; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[natural] = if wide { u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) } else { values[k] as u16 };
            }
            self.quant[id] = Some(table);
            seg = &seg[1 + len..];
        }
        Ok(())
    }

    fn define_huffman(&mut self, mut seg: &[u8]) -> Result<(), KilnError> {
        while seg.len() >= 17 {
            let (class, id) = (seg[0] >> 4, (seg[0] & 15) as usize);
            let counts: [u8; 16] = seg[1..17].try_into().expect("16 bytes");
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let values = seg.get(17..17 + total).ok_or_else(|| corrupt("a short Huffman table"))?;
            let table = Some(Huffman::new(&counts, values)?);
            match (class, id) {
                (0, 0..=3) => self.dc[id] = table,
                (1, 0..=3) => self.ac[id] = table,
                _ => return Err(corrupt("a Huffman table of unknown class or id")),
            }
            seg = &seg[17 + total..];
        }
        if seg.is_empty() { Ok(()) } else { Err(corrupt("trailing bytes in a Huffman table segment")) }
    }
}

/// Decodes a progressive JPEG to 1/`scale` of its size (rounded up), as
/// RGB8, allocating at most `max_alloc` bytes besides the output. Scale 1
/// works too (it keeps every coefficient): the tests compare it with
/// full-size decoders.
pub fn decode_scaled(bytes: &[u8], scale: u32, max_alloc: u64) -> Result<Image, KilnError> {
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(corrupt("no start-of-image marker"));
    }
    if !matches!(scale, 1 | 2 | 4 | 8) {
        return Err(KilnError::BadParameter(format!("DCT scale 1/{scale}")));
    }
    let n = 8 / scale as usize;
    let (mut tables, mut frame, mut store) = (Tables::default(), None::<Frame>, None::<Coefficients>);
    let (mut pos, mut scans) = (2, 0);
    loop {
        while bytes.get(pos).is_some_and(|&b| b != 0xFF) {
            pos += 1; // junk between segments, which libjpeg skips too
        }
        while bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        let marker = *bytes.get(pos + 1).ok_or_else(|| corrupt("the data ends before its end-of-image marker"))?;
        pos += 2;
        match marker {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(corrupt("a second start-of-image marker")),
            _ => {}
        }
        let len = bytes.get(pos..pos + 2).map(|l| u16::from_be_bytes([l[0], l[1]]) as usize).filter(|&l| l >= 2);
        let seg = len.and_then(|l| bytes.get(pos + 2..pos + l)).ok_or_else(|| corrupt("a truncated segment"))?;
        pos += seg.len() + 2;
        match marker {
            0xDB => tables.define_quant(seg)?,
            0xC4 => tables.define_huffman(seg)?,
            0xDD => tables.restart_interval = seg.get(..2).map_or(0, |r| u16::from_be_bytes([r[0], r[1]]) as usize),
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => tables.adobe_transform = Some(seg[11]),
            0xC2 if frame.is_none() => {
                let parsed = Frame::parse(seg)?;
                if !matches!(parsed.components.len(), 1 | 3) {
                    return Err(KilnError::Unsupported(format!("a {}-component progressive JPEG at 1/{scale}", parsed.components.len())));
                }
                let blocks = parsed.stored_blocks();
                let needed = working_bytes(&blocks, scale);
                if needed > max_alloc {
                    return Err(KilnError::TooLarge(format!("its coefficients need {needed} bytes, the decoder may use {max_alloc}")));
                }
                store = Some(Coefficients::new(n, &blocks));
                frame = Some(parsed);
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Err(KilnError::Unsupported("not a Huffman-coded progressive JPEG frame".into()));
            }
            0xDA => {
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(KilnError::TooLarge(format!("more than {MAX_SCANS} progressive scans")));
                }
                let (frame, store) = frame.as_mut().zip(store.as_mut()).ok_or_else(|| corrupt("a scan before the frame header"))?;
                let end = entropy_end(bytes, pos);
                read_scan(frame, store, &tables, seg, &bytes[pos..end])?;
                pos = end;
            }
            _ => {}
        }
    }
    let (frame, store) = frame.zip(store).ok_or_else(|| corrupt("no frame or scan"))?;
    finish(&frame, store, scale, tables.adobe_transform)
}

/// Parses a scan header (SOS) and decodes its data.
fn read_scan(frame: &mut Frame, store: &mut Coefficients, tables: &Tables, seg: &[u8], data: &[u8]) -> Result<(), KilnError> {
    let count = *seg.first().ok_or_else(|| corrupt("an empty scan header"))? as usize;
    let tail = seg.get(1 + 2 * count..4 + 2 * count).ok_or_else(|| corrupt("a short scan header"))?;
    let (ss, se, ah, al) = (tail[0] as usize, tail[1] as usize, (tail[2] >> 4) as u32, (tail[2] & 15) as u32);
    let dc_scan = ss == 0;
    if count == 0 || count > 4 || (dc_scan && se != 0) || (!dc_scan && (se < ss || se > 63 || count != 1)) || ah > 13 || al > 13 {
        return Err(corrupt("a progressive scan header out of range"));
    }
    let mut components = Vec::with_capacity(count);
    for pair in seg[1..1 + 2 * count].chunks_exact(2) {
        let index = frame.components.iter().position(|c| c.id == pair[0]).ok_or_else(|| corrupt("a scan names a component the frame lacks"))?;
        let own_blocks = frame.own_blocks(&frame.components[index]);
        let c = &mut frame.components[index];
        if c.quant.is_none() {
            c.quant = Some(tables.quant[c.quant_table].ok_or_else(|| corrupt("a component's quantisation table is not defined"))?);
        }
        let (dc, ac) = ((pair[1] >> 4) as usize, (pair[1] & 15) as usize);
        let (dc, ac) = (tables.dc.get(dc).and_then(Option::as_ref), tables.ac.get(ac).and_then(Option::as_ref));
        components.push(ScanComponent { index, h: c.h, v: c.v, own_blocks, dc, ac });
    }
    let blocks_per_mcu: usize = components.iter().map(|c| c.h * c.v).sum();
    if count > 1 && blocks_per_mcu > 10 {
        return Err(corrupt("an MCU of more than 10 blocks"));
    }
    decode_scan(store, &Scan { components, ss, se, ah, al }, data, frame.mcus, tables.restart_interval)
}

/// The IDCT of every component, then RGB.
fn finish(frame: &Frame, store: Coefficients, scale: u32, adobe_transform: Option<u8>) -> Result<Image, KilnError> {
    let s = scale as usize;
    let mut planes = Vec::with_capacity(frame.components.len());
    for (c, component) in frame.components.iter().enumerate() {
        let quant = component.quant.ok_or_else(|| corrupt("a component no scan carried"))?;
        let valid = ((frame.width * component.h).div_ceil(frame.max.0).div_ceil(s), (frame.height * component.v).div_ceil(frame.max.1).div_ceil(s));
        planes.push(idct_plane(&store, c, &quant, valid));
    }
    drop(store);
    let size = (frame.width.div_ceil(s), frame.height.div_ceil(s));
    let factors: Vec<_> = frame.components.iter().map(|c| (c.h, c.v)).collect();
    let rgb = to_rgb(&planes, &factors, frame.max, frame.colour_model(adobe_transform), size);
    Ok(Image::new(size.0 as u32, size.1 as u32, PixelLayout::Rgb8, rgb))
}
