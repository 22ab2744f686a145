//! Hostile GIF files: a logical screen of 65535×65535, frames larger than
//! or outside the screen (the 35-byte reproductions), thousands of
//! frames, more pixels across frames than the limit, broken LZW and block
//! framing, 0×0 and 1×N images, and a valid animation cut at every block
//! boundary.

use super::bits::{pattern, Rng};
use super::{case, cut_cases, Answer::*, Case, Cut, Kind::*};

/// 16 colours: a grey ramp with a red and a blue tint.
fn palette() -> Vec<u8> {
    (0..16u8).flat_map(|i| [i * 17, i * 16, 255 - i * 17]).collect()
}

/// Header and logical screen descriptor; `colors` = 2^n global palette
/// entries (0 = none), followed by that palette.
fn header(w: u16, h: u16, colors: u32) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    match colors {
        0 => out.extend_from_slice(&[0, 0, 0]),
        n => {
            let bits = n.trailing_zeros() as u8;
            out.extend_from_slice(&[0x80 | (bits - 1), 0, 0]);
            out.extend((0..n * 3).map(|i| (i * 85) as u8));
        }
    }
    out
}

/// An image descriptor at (`left`, `top`) of `w`×`h` whose LZW data holds
/// a single pixel (minimum code size 2: CLEAR, 0, END = 0x44 0x01).
fn one_pixel_frame(left: u16, top: u16, w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0x2C];
    for v in [left, top, w, h] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&[0, 2, 2, 0x44, 0x01, 0]);
    out
}

/// `GIF89a`, a `sw`×`sh` screen with 2 colours, then `frames`, then the trailer.
fn hand_gif(sw: u16, sh: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header(sw, sh, 2);
    frames.iter().for_each(|f| out.extend_from_slice(f));
    out.push(0x3B);
    out
}

/// A GIF written by the `gif` crate: `frames` of indexed pixels
/// (left, top, w, h, pixels) on a `w`×`h` screen with the 16-colour palette.
fn encoded(w: u16, h: u16, frames: &[(u16, u16, u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w, h, &palette()).expect("GIF header");
        if frames.len() > 1 {
            encoder.set_repeat(gif::Repeat::Infinite).expect("GIF loop");
        }
        for (left, top, fw, fh, pixels) in frames {
            let mut frame = gif::Frame::from_indexed_pixels(*fw, *fh, pixels.clone(), None);
            (frame.left, frame.top, frame.delay) = (*left, *top, 10);
            encoder.write_frame(&frame).expect("GIF frame");
        }
    }
    out
}

/// Indexed pixels of the test pattern (16 levels).
fn indexed(w: u16, h: u16) -> Vec<u8> {
    pattern(w as u32, h as u32, 1).iter().map(|v| v >> 4).collect()
}

/// The valid file the truncations cut: a 32×24 two-frame animation.
pub fn base() -> Vec<u8> {
    encoded(32, 24, &[(0, 0, 32, 24, indexed(32, 24)), (8, 6, 16, 12, indexed(16, 12))])
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![case(Control, "gif-base-32x24-2-frames.gif", &[Image], "valid 32×24 two-frame GIF (gif crate): the file the gif-cut-* files cut", base())];
    out.extend(bombs());
    out.extend(outside());
    out.extend(shapes());
    out.extend(malformed());
    out.extend(cut_cases("gif-base-32x24-2-frames.gif", "gif", &base(), boundaries(&base())));
    out
}

fn bombs() -> Vec<Case> {
    let tiny: Vec<Vec<u8>> = (0..4096).map(|_| one_pixel_frame(0, 0, 1, 1)).collect();
    let big: Vec<_> = (0..100).map(|i| (0, 0, 1024, 1024, vec![(i % 16) as u8; 1024 * 1024])).collect();
    vec![
        case(DimensionBomb, "gif-dims-65535x65535.gif", &[TooLarge], "logical screen 65535×65535 (4.3 GP) holding one 1×1 frame: 413 from the header", hand_gif(65535, 65535, &[one_pixel_frame(0, 0, 1, 1)])),
        case(FrameBomb, "gif-frame-5600x5600-on-1x1.gif", &[TooLarge, Corrupt], "35 bytes: a 1×1 screen holding a 5600×5600 frame with one pixel of data (issue #10): 413 or 422, never a 125 MB frame buffer", hand_gif(1, 1, &[one_pixel_frame(0, 0, 5600, 5600)])),
        case(FrameBomb, "gif-4096-frames-1x1.gif", &[Image, TooLarge], "a 1×1 screen with 4096 one-pixel frames (61 KB): the first frame (image), or 413 over a frame limit", hand_gif(1, 1, &tiny)),
        case(FrameBomb, "gif-100-frames-1024x1024.gif", &[Image, TooLarge], "100 flat 1024×1024 frames: 105 MP across frames, over max_pixels (100 MP) when every frame counts (413); the first frame alone converts", encoded(1024, 1024, &big)),
    ]
}

fn outside() -> Vec<Case> {
    vec![
        case(FrameBomb, "gif-frame-left-2-on-1x1.gif", &[Corrupt, Image], "35 bytes: a 1×1 frame at left = 2 on a 1×1 screen (issue #10): 422, or the (empty) 1×1 screen", hand_gif(1, 1, &[one_pixel_frame(2, 0, 1, 1)])),
        case(FrameBomb, "gif-frame-at-65535-65535.gif", &[Corrupt, Image], "a 1×1 frame at (65535, 65535) on a 1×1 screen (left + width overflows u16): 422 or the empty screen", hand_gif(1, 1, &[one_pixel_frame(u16::MAX, u16::MAX, 1, 1)])),
        case(FrameBomb, "gif-frame-partly-outside.gif", &[Image, Corrupt], "4×4 screen, a 4×4 frame at (2, 2) so three quarters hang outside: the clipped image, or 422", encoded(4, 4, &[(2, 2, 4, 4, vec![3; 16])])),
    ]
}

fn shapes() -> Vec<Case> {
    vec![
        case(TinyAndThin, "gif-0x0.gif", &[Corrupt], "a 0×0 screen holding a 0×0 frame: 422", hand_gif(0, 0, &[one_pixel_frame(0, 0, 0, 0)])),
        case(TinyAndThin, "gif-1x1.gif", &[Image], "a single-pixel GIF (gif crate): an image", encoded(1, 1, &[(0, 0, 1, 1, vec![5])])),
        case(TinyAndThin, "gif-1x10000.gif", &[Image], "1×10000 GIF: an image", encoded(1, 10000, &[(0, 0, 1, 10000, indexed(1, 10000))])),
        case(TinyAndThin, "gif-10000x1.gif", &[Image], "10000×1 GIF: an image", encoded(10000, 1, &[(0, 0, 10000, 1, indexed(10000, 1))])),
    ]
}

fn malformed() -> Vec<Case> {
    let mut code_size_12 = hand_gif(1, 1, &[one_pixel_frame(0, 0, 1, 1)]);
    code_size_12[header(1, 1, 2).len() + 10] = 12; // after the 10-byte image descriptor
    let mut garbage = b"GIF87a\x10\x00\x10\x00\x00\x00\x00".to_vec();
    garbage.extend(Rng::new(87).bytes(4096));
    let mut no_palette = header(1, 1, 0);
    no_palette.extend(one_pixel_frame(0, 0, 1, 1));
    no_palette.push(0x3B);
    vec![
        case(Malformed, "gif-lzw-min-code-size-12.gif", &[Corrupt], "a 1×1 frame whose LZW minimum code size is 12 (the format allows 2..=11): 422", code_size_12),
        case(Malformed, "gif-no-frames.gif", &[Corrupt], "a 16×16 screen and the trailer, no frame at all: 422", hand_gif(16, 16, &[])),
        case(Malformed, "gif-no-palette.gif", &[Image, Corrupt], "a 1×1 frame with neither a global nor a local colour table: an image (default palette) or 422", no_palette),
        case(WrongMagic, "gif87a-garbage.gif", &[Corrupt], "`GIF87a`, a 16×16 screen descriptor, then 4 KB of pseudo-random bytes: 422", garbage),
    ]
}

/// Where the blocks of the base animation start and end.
fn boundaries(gif: &[u8]) -> Vec<Cut> {
    let after_palette = 13 + 48;
    let images: Vec<_> = blocks(gif).into_iter().filter(|b| b.0 == 0x2C).collect();
    let ((_, first, first_end), (_, second, second_end)) = (images[0], images[1]);
    vec![
        Cut::new("in-signature", 3, &[Unsupported], "`GIF` only: not recognisable"),
        Cut::new("after-signature", 6, &[Corrupt], "`GIF89a` and nothing else"),
        Cut::new("mid-screen-descriptor", 9, &[Corrupt], "inside the logical screen descriptor"),
        Cut::new("after-screen-descriptor", 13, &[Corrupt], "the screen descriptor, not its palette"),
        Cut::new("mid-palette", 13 + 24, &[Corrupt], "half the global colour table"),
        Cut::new("after-palette", after_palette, &[Corrupt], "header and palette, no block"),
        Cut::new("mid-first-descriptor", first + 5, &[Corrupt], "inside the first image descriptor"),
        Cut::new("after-first-descriptor", first + 10, &[Corrupt], "the first image descriptor, no LZW data"),
        Cut::new("mid-first-frame-data", (first + 11 + first_end) / 2, &[Corrupt], "half of the first frame's LZW data"),
        Cut::new("before-second-frame", first_end, &[Image, Corrupt], "the whole first frame, nothing after it"),
        Cut::new("mid-second-frame-data", (second + 11 + second_end) / 2, &[Image, Corrupt], "the first frame whole, the second cut in its LZW data"),
        Cut::new("before-trailer", gif.len() - 1, &[Image, Corrupt], "every frame, no 0x3B trailer"),
    ]
}

/// The blocks of a well-formed GIF after its header and global palette:
/// (introducer, start, end) for extensions (0x21), images (0x2C) and the
/// trailer (0x3B).
fn blocks(gif: &[u8]) -> Vec<(u8, usize, usize)> {
    let palette = |flags: u8| if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    let mut pos = 13 + palette(gif[10]);
    let mut out = Vec::new();
    while pos < gif.len() {
        let end = match gif[pos] {
            0x21 => sub_blocks_end(gif, pos + 2),
            0x2C => sub_blocks_end(gif, pos + 10 + palette(gif[pos + 9]) + 1),
            _ => pos + 1,
        };
        out.push((gif[pos], pos, end));
        pos = end;
    }
    out
}

/// The end of the data sub-blocks starting at `pos` (after the 0 terminator).
fn sub_blocks_end(gif: &[u8], mut pos: usize) -> usize {
    while gif[pos] != 0 {
        pos += 1 + gif[pos] as usize;
    }
    pos + 1
}
