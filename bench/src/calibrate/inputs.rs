//! The calibration inputs: every corpus photo and feature image, plus
//! synthetic sizes made in-process from the 31 MP corpus photo (resampled
//! with the core's resizer, encoded as baseline and progressive JPEG, RGB
//! and RGBA PNG and lossy WebP). Generation is deterministic; the files are
//! cached under `target/calibration-inputs/`.

use anyhow::{Context, Result};
use kiln_core::encode::{webp::WebpEncoder, Encoder};
use kiln_core::image::{Image, PixelLayout};
use kiln_core::{decode::decode, probe::probe, resize::resize};
use std::path::{Path, PathBuf};

/// The photo every synthetic size is resampled from.
pub const SYNTH_SOURCE: &str = "photos/fallenleaf-4958x6198-31mp.jpg";
/// Megapixels of the synthetic inputs (full run).
pub const SIZES_MP: &[f64] = &[0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 31.0, 40.0];
pub const QUICK_SIZES_MP: &[f64] = &[1.0, 4.0, 12.0, 31.0];
/// WebP inputs are slower to make and rarer: fewer sizes.
const WEBP_SIZES_MP: &[f64] = &[0.5, 2.0, 4.0, 8.0, 16.0, 31.0];
/// Progressive JPEGs also at 60 and 99.9 MP (full runs; 100 rounds over the limit): kiln's own decoder
/// shrinks them on load up to `max_pixels`, and its class needs points
/// there, not only up to 40 MP.
const PROGRESSIVE_EXTRA_MP: &[f64] = &[60.0, 99.9];

/// One calibration input on disk.
#[derive(Debug, Clone)]
pub struct Input {
    /// Corpus-relative path or synthetic name (no commas: it is a CSV field).
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    JpegBaseline,
    JpegProgressive,
    PngRgb,
    PngRgba,
    Webp,
}

impl Kind {
    fn label(self) -> &'static str {
        ["jpeg-baseline", "jpeg-progressive", "png-rgb", "png-rgba", "webp"][self as usize]
    }
    fn extension(self) -> &'static str {
        ["jpg", "jpg", "png", "png", "webp"][self as usize]
    }
}

/// Every corpus photo and feature image.
pub fn corpus_inputs(corpus: &Path) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for dir in ["photos", "features"] {
        let mut names: Vec<_> = std::fs::read_dir(corpus.join(dir))
            .with_context(|| format!("reading {}", corpus.join(dir).display()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            inputs.push(Input { name: format!("{dir}/{name}"), path: corpus.join(dir).join(&name) });
        }
    }
    Ok(inputs)
}

/// Synthetic inputs at `sizes` (megapixels), made (or reused) in `cache`.
pub fn synthetic_inputs(corpus: &Path, cache: &Path, sizes: &[f64]) -> Result<Vec<Input>> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let mut wanted = Vec::new();
    for kind in [Kind::JpegBaseline, Kind::JpegProgressive, Kind::PngRgb, Kind::PngRgba, Kind::Webp] {
        let extra = if kind == Kind::JpegProgressive && sizes == SIZES_MP { PROGRESSIVE_EXTRA_MP } else { &[] };
        for &mp in sizes.iter().chain(extra) {
            if kind != Kind::Webp || WEBP_SIZES_MP.contains(&mp) {
                let name = format!("synthetic/{}-{mp}mp.{}", kind.label(), kind.extension());
                wanted.push((kind, mp, Input { path: cache.join(name.replace('/', "-")), name }));
            }
        }
    }
    let missing: Vec<_> = wanted.iter().filter(|(_, _, i)| !i.path.exists()).collect();
    if !missing.is_empty() {
        let source = decode_source(&corpus.join(SYNTH_SOURCE))?;
        for (kind, mp, input) in missing {
            eprintln!("generating {}", input.name);
            let bytes = make(&source, *kind, *mp)?;
            std::fs::write(&input.path, bytes).with_context(|| format!("writing {}", input.path.display()))?;
        }
    }
    Ok(wanted.into_iter().map(|(_, _, i)| i).collect())
}

fn decode_source(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let info = probe(&bytes)?;
    Ok(decode(&bytes, &info, 1, u64::MAX)?)
}

/// `source` resampled to about `mp` megapixels (same aspect) and encoded.
fn make(source: &Image, kind: Kind, mp: f64) -> Result<Vec<u8>> {
    let scale = (mp * 1e6 / (source.width as f64 * source.height as f64)).sqrt();
    let (w, h) = ((source.width as f64 * scale).round() as u32, (source.height as f64 * scale).round() as u32);
    let rgb = resize(source.clone(), w, h)?;
    match kind {
        Kind::JpegBaseline | Kind::JpegProgressive => jpeg(&rgb, kind == Kind::JpegProgressive),
        Kind::PngRgb => png(&rgb),
        Kind::PngRgba => png(&with_alpha(&rgb)),
        Kind::Webp => Ok(WebpEncoder::new(85.0)?.encode(&rgb)?),
    }
}

/// JPEG q90, 4:2:0 like a camera's.
fn jpeg(img: &Image, progressive: bool) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_progressive(progressive);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.encode(&img.pixels, img.width.try_into()?, img.height.try_into()?, jpeg_encoder::ColorType::Rgb)?;
    Ok(out)
}

fn png(img: &Image) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, img.width, img.height);
    encoder.set_color(if img.layout == PixelLayout::Rgba8 { png::ColorType::Rgba } else { png::ColorType::Rgb });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&img.pixels)?;
    writer.finish()?;
    Ok(out)
}

/// Adds a diagonal alpha gradient (never all opaque, so the alpha survives).
fn with_alpha(img: &Image) -> Image {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut pixels = Vec::with_capacity(w * h * 4);
    for (i, p) in img.pixels.chunks_exact(3).enumerate() {
        let (x, y) = (i % w, i / w);
        pixels.extend_from_slice(&[p[0], p[1], p[2], (64 + (x + y) * 191 / (w + h)) as u8]);
    }
    Image::new(img.width, img.height, PixelLayout::Rgba8, pixels)
}
