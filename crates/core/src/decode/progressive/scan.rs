//! The coefficients a progressive scan builds up, kept compactly, and the
//! four scan procedures that fill them (T.81 G.1.2: DC first and refining,
//! AC first and refining, with end-of-band runs and restart intervals).
//!
//! Decoding to 1/s of the size reads only the `n × n` lowest frequencies of
//! each 8×8 block (n = 8/s), so only those are stored. A refining AC scan
//! still has to know which of the other coefficients are non-zero (it reads
//! a correction bit for each), so every block also keeps a 64-bit mask of
//! its non-zero coefficients: 8 + 2·n² bytes a block instead of 128.

use super::entropy::{BitReader, Huffman};
use super::corrupt;
use crate::error::KilnError;

/// Zigzag index → natural (row-major) index in an 8×8 block.
pub(super) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42,
    49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Marks a zigzag position whose coefficient is not stored.
const NOT_KEPT: u8 = u8::MAX;

/// One component's blocks, `blocks_w × blocks_h` (padded to whole MCUs).
pub(super) struct Plane {
    pub blocks_w: usize,
    pub blocks_h: usize,
    /// Per block: bit k set when the coefficient at zigzag index k is non-zero.
    mask: Vec<u64>,
    /// Per block, the n × n kept coefficients, row-major, not dequantised.
    coefs: Vec<i16>,
}

/// Every component's kept coefficients.
pub(super) struct Coefficients {
    /// Side of the kept square of frequencies (8 / scale).
    pub n: usize,
    /// Zigzag index → index in a block's kept coefficients, or [`NOT_KEPT`].
    slot: [u8; 64],
    pub planes: Vec<Plane>,
}

impl Coefficients {
    /// Bytes the store takes for components of `blocks` (w, h) each.
    pub(super) fn bytes(n: usize, blocks: &[(usize, usize)]) -> u64 {
        blocks.iter().map(|&(w, h)| (w * h) as u64 * (8 + 2 * (n * n) as u64)).sum()
    }

    pub(super) fn new(n: usize, blocks: &[(usize, usize)]) -> Coefficients {
        let mut slot = [NOT_KEPT; 64];
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            let (row, col) = (natural / 8, natural % 8);
            if row < n && col < n {
                slot[k] = (row * n + col) as u8;
            }
        }
        let planes = blocks
            .iter()
            .map(|&(w, h)| Plane { blocks_w: w, blocks_h: h, mask: vec![0; w * h], coefs: vec![0; w * h * n * n] })
            .collect();
        Coefficients { n, slot, planes }
    }

    /// The kept coefficients of block (`bx`, `by`) of component `c`.
    pub(super) fn kept(&self, c: usize, bx: usize, by: usize) -> &[i16] {
        let plane = &self.planes[c];
        let at = (by * plane.blocks_w + bx) * self.n * self.n;
        &plane.coefs[at..at + self.n * self.n]
    }

    fn block(&mut self, c: usize, bx: usize, by: usize) -> Result<Block<'_>, KilnError> {
        let kept = self.n * self.n;
        let plane = &mut self.planes[c];
        if bx >= plane.blocks_w || by >= plane.blocks_h {
            return Err(corrupt("a scan addresses a block outside its component"));
        }
        let index = by * plane.blocks_w + bx;
        Ok(Block { mask: &mut plane.mask[index], coefs: &mut plane.coefs[index * kept..(index + 1) * kept], slot: &self.slot })
    }
}

/// One block's view into the store.
struct Block<'a> {
    mask: &'a mut u64,
    coefs: &'a mut [i16],
    slot: &'a [u8; 64],
}

impl Block<'_> {
    fn non_zero(&self, k: usize) -> bool {
        *self.mask >> k & 1 == 1
    }

    fn set(&mut self, k: usize, value: i32) {
        *self.mask |= 1 << k;
        if let Some(c) = self.coefs.get_mut(self.slot[k] as usize) {
            *c = value as i16;
        }
    }

    /// Applies a refining scan's correction bit to a non-zero coefficient.
    fn refine(&mut self, k: usize, bit: i32) {
        if let Some(c) = self.coefs.get_mut(self.slot[k] as usize) {
            let v = *c as i32;
            if v & bit == 0 {
                *c = (if v >= 0 { v + bit } else { v - bit }) as i16;
            }
        }
    }
}

/// What one scan header (SOS) asks for.
pub(super) struct Scan<'t> {
    /// The scan's components: index into the frame's, and their tables.
    pub components: Vec<ScanComponent<'t>>,
    /// Spectral selection (zigzag indices) and successive approximation.
    pub ss: usize,
    pub se: usize,
    pub ah: u32,
    pub al: u32,
}

pub(super) struct ScanComponent<'t> {
    pub index: usize,
    /// Sampling factors, and its blocks when the scan holds it alone.
    pub h: usize,
    pub v: usize,
    pub own_blocks: (usize, usize),
    pub dc: Option<&'t Huffman>,
    pub ac: Option<&'t Huffman>,
}

/// State carried from MCU to MCU within a restart interval.
struct Progress {
    dc_pred: [i32; 4],
    eob_run: u32,
}

/// Decodes one scan's entropy-coded `data` into `store`. `mcus` is the
/// frame's MCU grid, used when the scan interleaves components.
pub(super) fn decode_scan(store: &mut Coefficients, scan: &Scan, data: &[u8], mcus: (usize, usize), restart_interval: usize) -> Result<(), KilnError> {
    let mut bits = BitReader::new(data);
    let mut progress = Progress { dc_pred: [0; 4], eob_run: 0 };
    let interleaved = scan.components.len() > 1;
    let (units_w, units_h) = if interleaved { mcus } else { scan.components[0].own_blocks };
    for unit in 0..units_w * units_h {
        if restart_interval > 0 && unit > 0 && unit % restart_interval == 0 {
            bits.restart()?;
            progress = Progress { dc_pred: [0; 4], eob_run: 0 };
        }
        let (ux, uy) = (unit % units_w, unit / units_w);
        for (i, component) in scan.components.iter().enumerate() {
            let (h, v) = if interleaved { (component.h, component.v) } else { (1, 1) };
            for y in 0..v {
                for x in 0..h {
                    let block = store.block(component.index, ux * h + x, uy * v + y)?;
                    decode_block(block, scan, component, i, &mut bits, &mut progress)?;
                }
            }
        }
    }
    Ok(())
}

fn decode_block(mut block: Block, scan: &Scan, component: &ScanComponent, i: usize, bits: &mut BitReader, progress: &mut Progress) -> Result<(), KilnError> {
    let missing = || corrupt("a scan uses a Huffman table that was not defined");
    match (scan.ss, scan.ah) {
        (0, 0) => {
            let size = component.dc.ok_or_else(missing)?.decode(bits)? as u32;
            if size > 16 {
                return Err(corrupt("a DC difference wider than 16 bits"));
            }
            let pred = &mut progress.dc_pred[i];
            *pred = pred.wrapping_add(bits.signed(size));
            block.set(0, pred.wrapping_shl(scan.al));
        }
        (0, _) => {
            if bits.bit() {
                let dc = block.coefs[0] as i32 | 1 << scan.al;
                block.set(0, dc);
            }
        }
        (_, 0) => ac_first(&mut block, scan, component.ac.ok_or_else(missing)?, bits, &mut progress.eob_run)?,
        _ => ac_refine(&mut block, scan, component.ac.ok_or_else(missing)?, bits, &mut progress.eob_run)?,
    }
    Ok(())
}

/// An end-of-band run: 2^r - 1 more blocks after this one, plus r bits.
fn eob_run(r: u32, bits: &mut BitReader) -> u32 {
    (1 << r) - 1 + bits.bits(r)
}

fn ac_first(block: &mut Block, scan: &Scan, table: &Huffman, bits: &mut BitReader, run: &mut u32) -> Result<(), KilnError> {
    if *run > 0 {
        *run -= 1;
        return Ok(());
    }
    let mut k = scan.ss;
    while k <= scan.se {
        let rs = table.decode(bits)?;
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s != 0 {
            k += r;
            if k > scan.se {
                return Err(corrupt("an AC run past the end of its band"));
            }
            block.set(k, bits.signed(s).wrapping_shl(scan.al));
        } else if r == 15 {
            k += 15;
        } else {
            *run = eob_run(r as u32, bits);
            break;
        }
        k += 1;
    }
    Ok(())
}

fn ac_refine(block: &mut Block, scan: &Scan, table: &Huffman, bits: &mut BitReader, run: &mut u32) -> Result<(), KilnError> {
    let bit = 1i32 << scan.al;
    let mut k = scan.ss;
    if *run == 0 {
        while k <= scan.se {
            let rs = table.decode(bits)?;
            let (mut r, s) = ((rs >> 4) as u32, rs & 15);
            let new_value = match s {
                0 if r != 15 => {
                    *run = eob_run(r, bits) + 1;
                    break;
                }
                0 => 0,
                1 => if bits.bit() { bit } else { -bit },
                _ => return Err(corrupt("a refining scan codes a coefficient wider than 1 bit")),
            };
            // Correct the non-zero coefficients passed on the way to the
            // (r+1)-th zero one, which is where the new value goes.
            while k <= scan.se {
                if block.non_zero(k) {
                    if bits.bit() {
                        block.refine(k, bit);
                    }
                } else if r == 0 {
                    break;
                } else {
                    r -= 1;
                }
                k += 1;
            }
            if new_value != 0 {
                if k > scan.se {
                    return Err(corrupt("a refined coefficient past the end of its band"));
                }
                block.set(k, new_value);
            }
            k += 1;
        }
    }
    if *run > 0 {
        while k <= scan.se {
            if block.non_zero(k) && bits.bit() {
                block.refine(k, bit);
            }
            k += 1;
        }
        *run -= 1;
    }
    Ok(())
}
