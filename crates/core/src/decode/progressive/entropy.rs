//! The entropy-coded layer of a scan: a bit reader over its bytes (0xFF 0x00
//! unstuffed, restart markers found) and the Huffman tables of a DHT
//! segment (ITU T.81 Annex C and F.2.2.3).

use super::corrupt;
use crate::error::KilnError;

/// Codes up to this many bits are decoded with one table lookup.
const LOOKUP_BITS: u32 = 9;

/// One Huffman table: a lookup for short codes, and the canonical code
/// ranges per length for the rest.
pub(super) struct Huffman {
    /// By the next [`LOOKUP_BITS`] bits: `length << 8 | symbol`, or 0 when
    /// the code is longer.
    lookup: Vec<u16>,
    /// Largest code of each length (index 1..=16), -1 for none.
    max_code: [i32; 17],
    /// Index into `values` minus the first code, per length.
    value_offset: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    /// Builds a table from a DHT's 16 code counts and its symbols.
    pub(super) fn new(counts: &[u8; 16], values: &[u8]) -> Result<Huffman, KilnError> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total != values.len() || total > 256 {
            return Err(corrupt("a Huffman table's counts disagree with its symbols"));
        }
        let mut lookup = vec![0u16; 1 << LOOKUP_BITS];
        let (mut max_code, mut value_offset) = ([-1i32; 17], [0i32; 17]);
        let (mut code, mut index) = (0u32, 0usize);
        for length in 1..=16u32 {
            let count = counts[length as usize - 1] as usize;
            value_offset[length as usize] = index as i32 - code as i32;
            for &symbol in &values[index..index + count] {
                if code >= 1 << length {
                    return Err(corrupt("a Huffman table holds more codes than its lengths allow"));
                }
                if length <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - length;
                    let first = (code << shift) as usize;
                    lookup[first..first + (1 << shift)].fill((length as u16) << 8 | symbol as u16);
                }
                code += 1;
            }
            if count > 0 {
                max_code[length as usize] = code as i32 - 1;
            }
            index += count;
            code <<= 1;
        }
        Ok(Huffman { lookup, max_code, value_offset, values: values.to_vec() })
    }

    /// Reads one symbol.
    pub(super) fn decode(&self, bits: &mut BitReader) -> Result<u8, KilnError> {
        bits.fill();
        let entry = self.lookup[bits.peek(LOOKUP_BITS) as usize];
        if entry != 0 {
            bits.consume((entry >> 8) as u32);
            return Ok(entry as u8);
        }
        for length in LOOKUP_BITS + 1..=16 {
            let code = bits.peek(length) as i32;
            if code <= self.max_code[length as usize] {
                bits.consume(length);
                let at = (code + self.value_offset[length as usize]) as usize;
                return self.values.get(at).copied().ok_or_else(|| corrupt("a Huffman code outside its table"));
            }
        }
        Err(corrupt("a Huffman code no table defines"))
    }
}

/// Reads bits MSB first from one scan's entropy-coded bytes. Past the end,
/// or at a marker, it reads zeros (as libjpeg does); a restart resumes
/// after the next RSTn marker.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Unread bits, left-aligned.
    acc: u64,
    count: u32,
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader { data, pos: 0, acc: 0, count: 0, at_marker: false }
    }

    /// Tops the accumulator up to at least 57 bits.
    pub(super) fn fill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) if !self.at_marker => match self.data.get(self.pos + 1) {
                    Some(0x00) => {
                        self.pos += 2;
                        0xFF
                    }
                    _ => {
                        self.at_marker = true;
                        0
                    }
                },
                Some(&byte) if !self.at_marker => {
                    self.pos += 1;
                    byte
                }
                _ => 0,
            };
            self.acc |= (byte as u64) << (56 - self.count);
            self.count += 8;
        }
    }

    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// The next `n` (0..=16) bits as an unsigned number.
    pub(super) fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.fill();
        let value = self.peek(n);
        self.consume(n);
        value
    }

    pub(super) fn bit(&mut self) -> bool {
        self.bits(1) == 1
    }

    /// The next `n` bits as a signed magnitude category value (T.81 F.2.2.1 EXTEND).
    pub(super) fn signed(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let value = self.bits(n) as i32;
        if value < 1 << (n - 1) { value - (1 << n) + 1 } else { value }
    }

    /// Drops the bits left of this interval and steps over the RSTn marker
    /// that must come next.
    pub(super) fn restart(&mut self) -> Result<(), KilnError> {
        (self.acc, self.count, self.at_marker) = (0, 0, false);
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] != 0xFF || self.data[self.pos + 1] == 0xFF {
                self.pos += 1;
                continue;
            }
            let marker = self.data[self.pos + 1];
            self.pos += 2;
            if (0xD0..=0xD7).contains(&marker) {
                return Ok(());
            }
            if marker != 0x00 {
                break;
            }
        }
        Err(corrupt("a restart marker is missing"))
    }
}

/// Where a scan's entropy-coded data that starts at `start` ends: at the
/// first marker that is neither a stuffed 0xFF nor a restart marker.
pub(super) fn entropy_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    while pos + 1 < bytes.len() {
        if bytes[pos] == 0xFF {
            let next = bytes[pos + 1];
            if next != 0x00 && next != 0xFF && !(0xD0..=0xD7).contains(&next) {
                return pos;
            }
            if next != 0xFF {
                pos += 1;
            }
        }
        pos += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_canonical_codes_short_and_long() {
        // Lengths: two 2-bit codes (00, 01), one 3-bit (100), one 12-bit.
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 1;
        counts[11] = 1;
        let table = Huffman::new(&counts, &[7, 9, 3, 42]).unwrap();
        // 01 100 00 101000000000 then padding: 0110 0001 0100 0000 0000
        let data = [0b0110_0001, 0b0100_0000, 0b0000_0000];
        let mut bits = BitReader::new(&data);
        assert_eq!(table.decode(&mut bits).unwrap(), 9);
        assert_eq!(table.decode(&mut bits).unwrap(), 3);
        assert_eq!(table.decode(&mut bits).unwrap(), 7);
        assert_eq!(table.decode(&mut bits).unwrap(), 42);
    }

    #[test]
    fn refuses_a_table_with_too_many_codes() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(Huffman::new(&counts, &[1, 2, 3]).is_err());
        assert!(Huffman::new(&counts, &[1, 2]).is_err());
    }

    #[test]
    fn unstuffs_and_restarts_after_rst_markers() {
        let data = [0xFF, 0x00, 0b1010_0000, 0xFF, 0xD0, 0b1100_0000];
        let mut bits = BitReader::new(&data);
        assert_eq!(bits.bits(8), 0xFF);
        assert_eq!(bits.bits(3), 0b101);
        // At the marker it reads zeros until restarted.
        assert_eq!(bits.bits(16), 0);
        bits.restart().unwrap();
        assert_eq!(bits.bits(2), 0b11);
        assert!(bits.restart().is_err());
        assert_eq!(bits.signed(0), 0);
    }

    #[test]
    fn extends_magnitude_categories() {
        let data = [0b0011_1000];
        let mut bits = BitReader::new(&data);
        assert_eq!(bits.signed(3), -6); // 001
        assert_eq!(bits.signed(3), 6); // 110
    }

    #[test]
    fn entropy_data_ends_at_the_first_real_marker() {
        let bytes = [1, 0xFF, 0x00, 2, 0xFF, 0xD3, 3, 0xFF, 0xFF, 0xDA, 0];
        assert_eq!(entropy_end(&bytes, 0), 8);
        assert_eq!(entropy_end(&[1, 2], 0), 2);
    }
}
