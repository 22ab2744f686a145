//! A SHA-256 whose state can be saved between requests: a resumable upload
//! hashes each chunk as it arrives (in order), stores the midstate in the
//! upload's record, and has the whole-file digest when the last chunk is in
//! — without reading the file back. The compression function is sha2's;
//! only the (FIPS 180-4 §5.1.1) padding is done here.

use serde::{Deserialize, Serialize};
use sha2::digest::generic_array::GenericArray;

const INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256State {
    h: [u32; 8],
    /// Bytes hashed so far.
    len: u64,
    /// Bytes of an unfinished 64-byte block.
    tail: Vec<u8>,
}

impl Default for Sha256State {
    fn default() -> Self {
        Sha256State { h: INITIAL, len: 0, tail: Vec::new() }
    }
}

impl Sha256State {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.tail.is_empty() {
            let take = (64 - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < 64 {
                return;
            }
            let block = std::mem::take(&mut self.tail);
            self.compress(&block);
        }
        let whole = data.len() / 64 * 64;
        self.compress(&data[..whole]);
        self.tail.extend_from_slice(&data[whole..]);
    }

    fn compress(&mut self, blocks: &[u8]) {
        let blocks: Vec<_> = blocks.chunks_exact(64).map(|b| *GenericArray::from_slice(b)).collect();
        sha2::compress256(&mut self.h, &blocks);
    }

    /// The digest of everything passed to [`Sha256State::update`].
    pub fn finalize(&self) -> [u8; 32] {
        let mut state = self.clone();
        let bit_len = self.len.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        let used = (self.tail.len() + 1) % 64;
        pad.resize(1 + if used <= 56 { 56 - used } else { 120 - used }, 0);
        pad.extend_from_slice(&bit_len.to_be_bytes());
        let len = state.len;
        state.update(&pad);
        debug_assert!(state.tail.is_empty());
        state.len = len;
        let mut out = [0u8; 32];
        for (i, word) in state.h.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_sha256_for_any_split() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 5000] {
            let expected = Sha256::digest(&data[..len]);
            for split in [0, 1, 63, 64, 100, len / 2, len] {
                let split = split.min(len);
                let mut s = Sha256State::default();
                s.update(&data[..split]);
                // Survives a round trip through JSON, as in the upload record.
                let mut s: Sha256State = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
                s.update(&data[split..len]);
                assert_eq!(s.finalize()[..], expected[..], "len {len} split {split}");
            }
        }
    }
}
