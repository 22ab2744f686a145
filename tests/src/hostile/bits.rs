//! Byte-level building blocks shared by the format generators: a DEFLATE
//! writer (stored blocks, and a hand-built dynamic-Huffman block that
//! expands a few hundred KB into hundreds of MB of zeros), zlib framing,
//! CRC-32, TIFF/EXIF blobs (sane, huge and absurd), a deterministic pseudo-
//! random generator and test-pattern pixels.
//!
//! Everything here is written by hand so that the corpus does not depend
//! on a compressor's version: the same source always gives the same bytes.

/// Bits written least-significant first, as DEFLATE packs them.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    used: u32,
}

impl BitWriter {
    fn new() -> Self {
        BitWriter { out: Vec::new(), acc: 0, used: 0 }
    }

    /// `count` bits of `value`, low bit first (header fields, extra bits).
    fn bits(&mut self, value: u32, count: u32) {
        self.acc |= (value as u64) << self.used;
        self.used += count;
        while self.used >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.used -= 8;
        }
    }

    /// A Huffman code of `len` bits: DEFLATE sends its high bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bits((code >> i) & 1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Adler-32 of `data`, zlib's trailer.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += byte as u32;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A zlib stream of stored (uncompressed) DEFLATE blocks holding `data`.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(65535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// The exact number of bytes [`zlib_zeros`] inflates to for `at_least`.
pub fn zeros_inflated_len(at_least: u64) -> u64 {
    1 + at_least.saturating_sub(1).div_ceil(258) * 258
}

/// A zlib stream that inflates to [`zeros_inflated_len`]`(at_least)` zero
/// bytes, at DEFLATE's best ratio (~1030:1): one dynamic-Huffman block whose
/// code gives "copy 258 bytes from distance 1" two bits. 300 MB of zeros
/// take ~290 KB.
pub fn zlib_zeros(at_least: u64) -> Vec<u8> {
    let total = zeros_inflated_len(at_least);
    let copies = (total - 1) / 258;
    let mut w = BitWriter::new();
    zeros_block_header(&mut w);
    w.code(0b10, 2); // literal 0
    for _ in 0..copies {
        w.code(0, 1); // length 258 (symbol 285, no extra bits)
        w.code(0, 1); // distance 1 (distance symbol 0)
    }
    w.code(0b11, 2); // end of block (symbol 256)
    let mut out = vec![0x78, 0xDA];
    out.extend(w.finish());
    // Adler-32 of n zeros: a stays 1, b adds 1 per byte.
    let adler = (((total % 65521) as u32) << 16) | 1;
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// The header of the final dynamic block used by [`zlib_zeros`]: literal
/// 0 and end-of-block get 2-bit codes, length symbol 285 a 1-bit code;
/// distance symbols 0 and 1 get 1 bit each (complete codes throughout, which
/// strict inflaters require).
fn zeros_block_header(w: &mut BitWriter) {
    w.bits(1, 1); // BFINAL
    w.bits(2, 2); // BTYPE = dynamic Huffman
    w.bits(286 - 257, 5); // HLIT: literal/length symbols 0..=285
    w.bits(2 - 1, 5); // HDIST: distance symbols 0..=1
    w.bits(18 - 4, 4); // HCLEN: 18 code-length code lengths follow
    // Code-length alphabet: 18 (a run of zeros) → "0", 1 → "10", 2 → "11".
    const ORDER: [usize; 18] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
    for symbol in ORDER {
        let len = match symbol {
            18 => 1,
            1 | 2 => 2,
            _ => 0,
        };
        w.bits(len, 3);
    }
    let zero_run = |w: &mut BitWriter, n: u32| {
        w.code(0, 1);
        w.bits(n - 11, 7);
    };
    w.code(0b11, 2); // symbol 0: length 2
    zero_run(w, 138); // symbols 1..=138
    zero_run(w, 117); // symbols 139..=255
    w.code(0b11, 2); // symbol 256: length 2
    zero_run(w, 28); // symbols 257..=284
    w.code(0b10, 2); // symbol 285: length 1
    w.code(0b10, 2); // distance 0: length 1
    w.code(0b10, 2); // distance 1: length 1
}

/// CRC-32 (PNG chunks).
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

/// xorshift64*: deterministic garbage, the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }
}

/// `w` x `h` pixels of `channels` bytes: diagonal colour ramps (so a
/// wrong orientation or channel order would show), alpha a ramp too.
pub fn pattern(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w as usize * h as usize * channels);
    for y in 0..h {
        for x in 0..w {
            let px = [(x * 255 / w.max(2)) as u8, (y * 255 / h.max(2)) as u8, ((x + y) * 7) as u8, (128 + x * 127 / w.max(1)) as u8];
            match channels {
                1 => out.push(px[0] / 2 + px[1] / 2),
                2 => out.extend_from_slice(&[px[0] / 2 + px[1] / 2, px[3]]),
                n => out.extend_from_slice(&px[..n]),
            }
        }
    }
    out
}

/// One little-endian TIFF IFD entry: tag, type, count, value/offset.
fn ifd_entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&value.to_le_bytes());
}

const SHORT: u16 = 3;
const LONG: u16 = 4;
const ORIENTATION: u16 = 0x0112;
const EXIF_IFD: u16 = 0x8769;

/// A TIFF blob (EXIF payload) whose IFD0 holds Orientation = `orientation`,
/// followed by `padding` zero bytes (a "huge EXIF" is a big blob that is
/// sane where it matters).
pub fn tiff_orientation(orientation: u16, padding: usize) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    ifd_entry(&mut out, ORIENTATION, SHORT, 1, orientation as u32);
    out.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    out.resize(out.len() + padding, 0);
    out
}

/// A TIFF blob whose IFDs loop: IFD0's next-IFD offset points at IFD0
/// itself, and its Exif-IFD pointer points back at IFD0 too.
pub fn tiff_loop() -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    ifd_entry(&mut out, ORIENTATION, SHORT, 1, 6);
    ifd_entry(&mut out, EXIF_IFD, LONG, 1, 8);
    out.extend_from_slice(&8u32.to_le_bytes()); // next IFD: itself
    out
}

/// A TIFF blob of absurd counts and offsets: IFD0 declares 65535 entries
/// (the blob holds 3), one entry claims 0x3FFFFFFF LONGs at an offset far
/// past the end, the Exif-IFD pointer and next-IFD offset point past the
/// end too.
pub fn tiff_absurd() -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&u16::MAX.to_le_bytes());
    ifd_entry(&mut out, ORIENTATION, SHORT, 0x3FFF_FFFF, 0xFFFF_FFF0);
    ifd_entry(&mut out, EXIF_IFD, LONG, 1, 0x7FFF_FFFF);
    ifd_entry(&mut out, 0x010F, 2, u32::MAX, 0xFFFF_FF00); // Make: ASCII
    out.extend_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
    out
}
