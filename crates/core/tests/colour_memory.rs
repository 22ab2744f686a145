//! The heap peak of converting CMYK pixels with the default CMYK profile
//! (the profile parsed, moxcms's transform built on its 17⁴ grid, the
//! pixels converted) stays within what the estimate adds for it
//! ([`kiln_core::colour::estimate_bytes`]). A binary of its own: the
//! counting allocator is process-wide.

use kiln_core::alloc_counter::{peak_of, Counting};
use kiln_core::colour::{cmyk_to_srgb, estimate_bytes};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn the_default_cmyk_conversion_stays_within_its_allowance() {
    let (w, h) = (64usize, 16usize);
    let cmyk: Vec<u8> = (0..w * h * 4).map(|i| (i * 37 % 256) as u8).collect();
    let (rgb, peak) = peak_of(0, || cmyk_to_srgb(&cmyk, w, None).expect("the default profile converts"));
    // A 64x16 CMYK JPEG header (SOF0, four components).
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 20, 8, 0, h as u8, 0, w as u8, 4];
    for id in 1..=4 {
        jpeg.extend([id, 0x11, 0]);
    }
    let allowance = estimate_bytes(&kiln_core::probe::probe(&jpeg).unwrap(), 0);
    eprintln!("default CMYK profile: heap peak {peak} bytes (output {} bytes), allowance {allowance} bytes", rgb.len());
    assert!(peak <= allowance, "peak {peak} > allowance {allowance}");
}
