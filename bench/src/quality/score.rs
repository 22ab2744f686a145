//! Running the reference tools, reading their PNG and PPM outputs, and the
//! SSIMULACRA2 score of a decoded output against the base (the
//! `ssimulacra2` crate).

use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};
use std::path::Path;
use std::process::{Command, Stdio};

/// 8-bit RGB pixels with their width and height.
pub type Pixels = (Vec<u8>, u32, u32);

/// The tools `--quality` runs and the Debian package that has each.
const TOOLS: [(&str, &str); 7] = [
    ("vipsthumbnail", "libvips-tools"),
    ("avifenc", "libavif-bin"),
    ("avifdec", "libavif-bin"),
    ("cwebp", "webp"),
    ("dwebp", "webp"),
    ("cjpeg", "libjpeg-turbo-progs"),
    ("djpeg", "libjpeg-turbo-progs"),
];

/// Exits with the Debian package to install for each tool not on PATH.
pub fn check_tools() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = |tool: &str| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file());
    let missing: Vec<_> = TOOLS.iter().filter(|(tool, _)| !found(tool)).collect();
    for (tool, package) in &missing {
        eprintln!("kiln-bench --quality needs `{tool}`: install the Debian package {package} (scripts/setup.sh --study)");
    }
    if !missing.is_empty() {
        std::process::exit(1);
    }
}

/// Runs `program` quietly; panics with its arguments if it fails.
pub fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let status = status.unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup.sh --study installs it)"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

pub fn read_png_rgb(path: &Path) -> Pixels {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("PNG")));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    buf.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}: not 8-bit", path.display());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => panic!("{}: unexpected PNG colour type {other:?}", path.display()),
    };
    (rgb, info.width, info.height)
}

/// A binary PPM (P6, maxval 255), what djpeg writes and cjpeg reads.
pub fn read_ppm(path: &Path) -> Pixels {
    let bytes = std::fs::read(path).expect("PPM");
    let (mut fields, mut at) = (Vec::new(), 0);
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
    }
    assert_eq!((fields[0].as_str(), fields[3].as_str()), ("P6", "255"), "{}: not an 8-bit P6 PPM", path.display());
    let (w, h): (u32, u32) = (fields[1].parse().expect("width"), fields[2].parse().expect("height"));
    let pixels = bytes[at + 1..].to_vec();
    assert_eq!(pixels.len(), w as usize * h as usize * 3, "{}: truncated", path.display());
    (pixels, w, h)
}

pub fn write_ppm(path: &Path, rgb: &[u8], width: u32, height: u32) {
    let mut bytes = format!("P6\n{width} {height}\n255\n").into_bytes();
    bytes.extend_from_slice(rgb);
    std::fs::write(path, bytes).expect("write PPM");
}

fn frame(rgb: &[u8], width: u32, height: u32) -> Rgb {
    let data = rgb.chunks_exact(3).map(|p| [p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0]).collect();
    Rgb::new(data, width as usize, height as usize, TransferCharacteristic::SRGB, ColorPrimaries::BT709).expect("frame")
}

/// SSIMULACRA2 of `decoded` against the base pixels.
pub fn ssimulacra2(base: &Pixels, decoded: &Pixels, what: &Path) -> f64 {
    assert_eq!((decoded.1, decoded.2), (base.1, base.2), "{} decodes to another size", what.display());
    compute_frame_ssimulacra2(frame(&base.0, base.1, base.2), frame(&decoded.0, decoded.1, decoded.2)).expect("SSIMULACRA2")
}
