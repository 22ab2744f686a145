//! The reference tools from Debian at matched settings, one process each,
//! single-threaded like a Spin instance (`VIPS_CONCURRENCY=1`, `avifenc -j 1`):
//! - path `vips`: `vips thumbnail` straight to each format (decode with
//!   shrink-on-load, resize, encode in one command; libvips' AVIF goes
//!   through libheif + libaom, like kiln's);
//! - path `tools`: `vips thumbnail` to an uncompressed PPM (stage
//!   `decode_resize`), then `cwebp`, `avifenc -c aom` and `cjpeg` encode
//!   it (stage `encode`, including reading the PPM/PNG), and
//!   `vipsthumbnail` makes the thumbnail.

use super::proc::{run, Finished};
use super::settings::{self, defaults};
use anyhow::Result;
use std::path::Path;
use std::process::Command;

fn vips(args: &[&str]) -> Command {
    let mut cmd = Command::new("vips");
    cmd.args(args).env("VIPS_CONCURRENCY", "1");
    cmd
}

fn thumbnail(input: &Path, output: &str, side: u32) -> Command {
    let side = side.to_string();
    vips(&["thumbnail", &input.to_string_lossy(), output, &side, "--height", &side, "--size", "down"])
}

/// `vips thumbnail` into `variant`'s format in `dir`: (process, output bytes).
pub fn vips_variant(input: &Path, variant: &str, dir: &Path) -> Result<(Finished, u64)> {
    let file = dir.join(format!("vips-{variant}"));
    let file = file.to_string_lossy();
    let s = defaults();
    let target = match variant {
        "webp" => format!("{file}.webp[Q={},strip]", s.webp_quality),
        "avif" => format!("{file}.avif[Q={},effort=0,strip]", s.avif_quality),
        "jpeg" => format!("{file}.jpg[Q={},interlace,optimize_coding,strip]", s.jpeg_quality),
        _ => format!("{file}.png[strip]"),
    };
    let done = run(thumbnail(input, &target, settings::side(variant)))?;
    let path = target.split('[').next().expect("path").to_string();
    Ok((done, std::fs::metadata(path)?.len()))
}

/// The decode + resize step the encoders start from: a 2048 px PPM in `dir`.
pub fn decode_resize(input: &Path, dir: &Path) -> Result<Finished> {
    run(thumbnail(input, &dir.join("base.ppm").to_string_lossy(), defaults().variant_max_side))
}

/// PNG copy of the base for avifenc, which does not read PPM (not timed).
pub fn base_png(input: &Path, dir: &Path) -> Result<()> {
    run(thumbnail(input, &format!("{}[compression=1]", dir.join("base.png").to_string_lossy()), defaults().variant_max_side)).map(|_| ())
}

/// Encodes the base with the format's own reference encoder.
pub fn encode(variant: &str, dir: &Path) -> Result<(Finished, u64)> {
    let ppm = dir.join("base.ppm");
    let out = dir.join(format!("tool-{variant}"));
    let s = defaults();
    let mut cmd;
    match variant {
        "webp" => {
            cmd = Command::new("cwebp");
            cmd.args(["-quiet", "-q", &s.webp_quality.to_string()]).arg(&ppm).arg("-o").arg(&out);
        }
        "avif" => {
            let q = settings::avif_quantizer_63().to_string();
            cmd = Command::new("avifenc");
            cmd.args(["-c", "aom", "-s", &s.avif_speed.to_string(), "--min", &q, "--max", &q, "-y", "420", "-j", "1"])
                .arg(dir.join("base.png"))
                .arg(&out);
        }
        "jpeg" => {
            cmd = Command::new("cjpeg");
            cmd.args(["-quality", &s.jpeg_quality.to_string(), "-progressive", "-sample", "2x2", "-optimize", "-outfile"]).arg(&out).arg(&ppm);
        }
        other => anyhow::bail!("no reference encoder for {other}"),
    }
    let done = run(cmd)?;
    Ok((done, std::fs::metadata(&out)?.len()))
}

/// `vipsthumbnail` to a 256 px PNG.
pub fn vipsthumbnail(input: &Path, dir: &Path) -> Result<(Finished, u64)> {
    let out = dir.join("vipsthumbnail.png");
    let mut cmd = Command::new("vipsthumbnail");
    cmd.arg(input).args(["-s", &defaults().thumbnail_max_side.to_string(), "-o"]).arg(&out).env("VIPS_CONCURRENCY", "1");
    let done = run(cmd)?;
    Ok((done, std::fs::metadata(&out)?.len()))
}

/// Versions of the tools, for the report's machine section.
pub fn versions() -> Vec<(String, String)> {
    use super::proc::version;
    vec![
        ("vips".into(), version("vips", &["--version"])),
        ("cwebp".into(), version("cwebp", &["-version"])),
        ("avifenc".into(), version("avifenc", &["--version"])),
        ("cjpeg".into(), version("cjpeg", &["-version"])),
    ]
}
