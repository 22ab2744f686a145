//! kiln's progressive JPEG decoder (crate::decode::progressive) holds the
//! coefficients it keeps, not the source's: its measured peak against what
//! `working_bytes` declares (which the memory estimate counts). One test
//! alone in its binary, so the counting allocator sees only it.

mod common;

use kiln_core::alloc_counter::{peak_of, Counting};
use kiln_core::decode::progressive::{decode_scaled, working_bytes};
use kiln_core::encode::{jpeg::JpegEncoder, Encoder};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The corpus photo at full size, decoded as kiln decodes it.
fn photo() -> kiln_core::Image {
    let bytes = common::read("photos/path-4000x3000-12mp.jpg");
    kiln_core::decode::decode(&bytes, &kiln_core::probe::probe(&bytes).unwrap(), 1, u64::MAX).unwrap()
}

#[test]
fn memory_is_the_kept_coefficients_not_the_source() {
    // A 6000x4000 progressive JPEG (kiln's encoder), decoded at 1/4.
    let photo = photo();
    let large = kiln_core::resize::resized(&photo, 6000, 4000).unwrap();
    let bytes = JpegEncoder::new(80.0).unwrap().encode(&large).unwrap();
    drop((photo, large));
    let blocks = [(750, 500), (375, 250), (375, 250)]; // 4:2:0
    let declared = working_bytes(&blocks, 4);
    assert!(kiln_core::alloc_counter::installed());
    let (image, peak) = peak_of(0, || decode_scaled(&bytes, 4, declared).unwrap());
    let output = image.pixels.len() as u64;
    let all_coefficients = blocks.iter().map(|(w, h)| w * h * 128).sum::<usize>() as u64;
    eprintln!("peak {peak} B: declared {declared} + output {output}; all coefficients would be {all_coefficients}");
    assert_eq!((image.width, image.height), (1500, 1000));
    assert!(peak <= declared + output + (1 << 20), "peak {peak} over {declared} + {output}");
    assert!(peak * 3 < all_coefficients, "peak {peak} not well under {all_coefficients}");
}
