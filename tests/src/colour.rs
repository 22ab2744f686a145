//! The colour tests' inputs and measure (tests/tests/colour.rs): the true
//! colours (a real sRGB photo, decoded and resized), the wide-gamut and
//! CMYK fixtures scripts/make-colour-fixtures.sh makes from them with
//! libvips and real ICC profiles, and the error between two images.

use kiln_core::image::{Image, PixelLayout};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The true colours: `photo` (an sRGB JPEG) decoded and resized to
/// `long_side`, RGB8.
pub fn truth(photo: &[u8], long_side: u32) -> Image {
    let info = kiln_core::probe::probe(photo).unwrap();
    let image = kiln_core::decode::decode(photo, &info, 1, u64::MAX).unwrap().flatten_onto_white();
    let (w, h) = kiln_core::resize::fit_within(image.width, image.height, long_side);
    kiln_core::resize::resize(image, w, h).unwrap()
}

/// The colour fixtures made from `srgb` by scripts/make-colour-fixtures.sh
/// (libvips and real ICC profiles) in `dir`: (file name, path), sorted.
/// The true colours of those that are not `srgb` itself (gray, and the
/// untagged CMYK file's inks) are in `dir/fixtures/truth`.
pub fn fixtures(srgb: &Image, dir: &Path) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    let source = dir.join("srgb.png");
    std::fs::write(&source, png(&srgb.pixels, srgb.width, srgb.height)).unwrap();
    let out = dir.join("fixtures");
    let status = Command::new(crate::repo_root().join("scripts/make-colour-fixtures.sh")).arg(&source).arg(&out).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "scripts/make-colour-fixtures.sh failed");
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    files.sort();
    files
}

/// An untagged RGB8 PNG.
fn png(pixels: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
    bytes
}

/// Root-mean-square difference of two RGB8 images of one size, in percent
/// of the full scale (the figure libvips' `vips compare`-style tools give).
pub fn rmse_percent(a: &Image, b: &Image) -> f64 {
    assert_eq!((a.width, a.height, a.layout, b.layout), (b.width, b.height, PixelLayout::Rgb8, PixelLayout::Rgb8));
    let sum: f64 = a.pixels.iter().zip(&b.pixels).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    (sum / a.pixels.len() as f64).sqrt() / 255.0 * 100.0
}

/// An RGB8 image from PNG bytes (kiln's thumbnails, vips' outputs; gray
/// widened to RGB).
pub fn decode_png(bytes: &[u8]) -> Image {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    buf.truncate(frame.buffer_size());
    let image = match frame.color_type {
        png::ColorType::Rgb => Image::new(frame.width, frame.height, PixelLayout::Rgb8, buf),
        png::ColorType::Rgba => Image::new(frame.width, frame.height, PixelLayout::Rgba8, buf).flatten_onto_white(),
        png::ColorType::Grayscale => Image::new(frame.width, frame.height, PixelLayout::Rgb8, buf.iter().flat_map(|&g| [g, g, g]).collect()),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    image
}
