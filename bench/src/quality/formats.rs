//! The three formats `--quality` compares: for each, kiln's encoder and the
//! reference tools as functions from (base, quality, output path), the
//! decoder that reads an output back, the quality settings swept and kiln's
//! default.

use super::score::{read_png_rgb, read_ppm, run, Pixels};
use super::Base;
use kiln_core::encode::avif::{AvifEncoder, Chroma};
use kiln_core::encode::jpeg::JpegEncoder;
use kiln_core::encode::webp::WebpEncoder;
use kiln_core::encode::Encoder;
use std::path::Path;

/// Encodes the base at a quality setting into a file.
pub type EncodeFn = fn(&Base, u32, &Path);

pub struct Format {
    pub name: &'static str,
    pub ext: &'static str,
    /// Quality settings swept, on the format's 0-100 scale.
    pub qualities: &'static [u32],
    /// kiln's default for this format (spin.toml).
    pub default_quality: u32,
    /// The encoders; kiln's first.
    pub encoders: &'static [(&'static str, EncodeFn)],
    pub decode: fn(&Path) -> Pixels,
    /// What the encoders and the decoder are, for the table's caption.
    pub note: &'static str,
}

pub const FORMATS: [Format; 3] = [
    Format {
        name: "WebP",
        ext: "webp",
        qualities: &[50, 60, 70, 75, 80, 85, 90, 95],
        default_quality: 80,
        encoders: &[("kiln", kiln_webp), ("cwebp", cwebp)],
        decode: dwebp,
        note: "kiln: libwebp via the `webp` crate, method 4. cwebp 1.2.4 (Debian `webp`): `-q Q -m 4`. Decoded with dwebp (to PNG, its default).",
    },
    Format {
        name: "JPEG",
        ext: "jpg",
        qualities: &[50, 60, 70, 75, 82, 85, 90, 95],
        default_quality: 75,
        encoders: &[("kiln", kiln_jpeg), ("cjpeg", cjpeg)],
        decode: djpeg,
        note: "kiln: the jpeg-encoder crate, progressive 4:2:0. cjpeg: libjpeg-turbo 2.1.5 (Debian `libjpeg-turbo-progs`), `-quality Q -progressive` (4:2:0 by default) from a PPM; mozjpeg is not packaged in Debian. Decoded with `djpeg`.",
    },
    Format {
        name: "AVIF",
        ext: "avif",
        qualities: &[45, 55, 60, 67, 70, 75, 85, 92],
        default_quality: 67,
        encoders: &[("kiln", kiln_avif), ("avifenc aom", avifenc_aom), ("avifenc rav1e", avifenc_rav1e)],
        decode: avifdec,
        note: "kiln: libaom 3.11 natively, all-intra, speed 9, 4:2:0 (the component runs the same code in wasm). avifenc 0.11 (Debian): `-c aom -s 9` (libaom 3.6) and `-c rav1e -s 10` (rav1e 0.5), `-y 420 -j 1`, at libavif's quantizer for each quality. Decoded with avifdec (dav1d).",
    },
];

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn kiln_webp(base: &Base, quality: u32, out: &Path) {
    let encoder = WebpEncoder { quality: quality as f32, method: 4 };
    std::fs::write(out, encoder.encode(&base.image).expect("kiln WebP")).expect("write");
}

fn cwebp(base: &Base, quality: u32, out: &Path) {
    run("cwebp", &["-quiet", "-q", &quality.to_string(), "-m", "4", path(&base.png), "-o", path(out)]);
}

fn dwebp(webp: &Path) -> Pixels {
    let png = webp.with_extension("decoded.png");
    run("dwebp", &[path(webp), "-o", path(&png)]);
    let pixels = read_png_rgb(&png);
    std::fs::remove_file(&png).ok();
    pixels
}

fn kiln_jpeg(base: &Base, quality: u32, out: &Path) {
    let encoder = JpegEncoder::new(quality as f32).expect("quality");
    std::fs::write(out, encoder.encode(&base.image).expect("kiln JPEG")).expect("write");
}

fn cjpeg(base: &Base, quality: u32, out: &Path) {
    run("cjpeg", &["-quality", &quality.to_string(), "-progressive", "-outfile", path(out), path(&base.ppm)]);
}

fn djpeg(jpeg: &Path) -> Pixels {
    let ppm = jpeg.with_extension("decoded.ppm");
    run("djpeg", &["-outfile", path(&ppm), path(jpeg)]);
    let pixels = read_ppm(&ppm);
    std::fs::remove_file(&ppm).ok();
    pixels
}

pub fn kiln_avif_at(base: &Base, quality: u32, speed: u8, out: &Path) {
    let encoder = AvifEncoder::new(quality as f32, speed, Chroma::Yuv420).expect("settings");
    std::fs::write(out, encoder.encode(&base.image).expect("kiln AVIF")).expect("write");
}

fn kiln_avif(base: &Base, quality: u32, out: &Path) {
    kiln_avif_at(base, quality, 9, out);
}

fn avifenc(base: &Base, quality: u32, out: &Path, codec: &str, speed: &str) {
    // libavif's quality -> quantizer mapping, the one kiln uses.
    let quantizer = AvifEncoder::new(quality as f32, 9, Chroma::Yuv420).expect("settings").quantizer().to_string();
    run("avifenc", &["-c", codec, "-s", speed, "--min", &quantizer, "--max", &quantizer, "-y", "420", "-j", "1", path(&base.png), path(out)]);
}

fn avifenc_aom(base: &Base, quality: u32, out: &Path) {
    avifenc(base, quality, out, "aom", "9");
}

fn avifenc_rav1e(base: &Base, quality: u32, out: &Path) {
    avifenc(base, quality, out, "rav1e", "10");
}

pub fn avifdec(avif: &Path) -> Pixels {
    let png = avif.with_extension("decoded.png");
    run("avifdec", &[path(avif), path(&png)]);
    let pixels = read_png_rgb(&png);
    std::fs::remove_file(&png).ok();
    pixels
}
