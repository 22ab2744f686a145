//! End to end: colour management under `spin up`. A real sRGB photo (the
//! true colours) is re-expressed by libvips in Display P3, Adobe RGB,
//! ProPhoto RGB, CMYK and gray with real profiles embedded
//! (scripts/make-colour-fixtures.sh: PNG, JPEG, WebP); each fixture is
//! converted by kiln and by libvips (`vipsthumbnail --export-profile srgb`:
//! the embedded profile to sRGB, as sharp does by default), and each result is compared
//! with the true colours. The P3 pixels without their profile show what a
//! service that drops profiles shows (what kiln did before). A CMYK JPEG
//! without a profile is converted with kiln's default (FOGRA39) profile;
//! libvips is given the same profile, and the naive conversion kiln made
//! before is measured too. Gray fixtures are compared with the photo's
//! luminance. Prints the table docs/colour.md records.

use kiln_core::image::{Image, PixelLayout};
use kiln_e2e::colour::{decode_png, fixtures, rmse_percent, truth};
use kiln_e2e::{corpus, Stack};
use std::path::Path;
use std::process::Command;

const SIDE: u32 = 1600;

fn vips(path: &Path) -> Image {
    let out = path.with_extension(format!("{}.vips.png", path.extension().unwrap().to_string_lossy()));
    let status = Command::new("vipsthumbnail")
        .arg(path)
        .args(["--size", &SIDE.to_string(), "--export-profile", "srgb", "-o"])
        .arg(&out)
        .status()
        .expect("vipsthumbnail (libvips-tools) must be installed; scripts/setup.sh installs it");
    assert!(status.success(), "vipsthumbnail failed on {}", path.display());
    decode_png(&std::fs::read(out).unwrap())
}

/// libvips with kiln's default CMYK profile as the input profile (what an
/// untagged CMYK file is taken as; vipsthumbnail uses its own default).
fn vips_with_default_cmyk(path: &Path) -> Image {
    let out = path.with_extension("jpg.vips-fogra39.png");
    let profile = kiln_e2e::repo_root().join("crates/core/assets/fogra39-default.icc");
    let status = Command::new("vips")
        .arg("icc_transform")
        .arg(path)
        .arg(&out)
        .args(["srgb", "--intent", "relative", "--input-profile"])
        .arg(profile)
        .status()
        .expect("vips (libvips-tools) must be installed");
    assert!(status.success(), "vips icc_transform failed on {}", path.display());
    decode_png(&std::fs::read(out).unwrap())
}

/// A CMYK JPEG converted as kiln did before it had a default profile: ink
/// values (Adobe's inversion undone) to RGB with no profile at all.
fn naive_cmyk(bytes: &[u8]) -> Image {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let cmyk = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::CMYK32);
    let rgb = cmyk
        .chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - p[3] as u32;
            [p[0], p[1], p[2]].map(|c| (((255 - c as u32) * k + 127) / 255) as u8)
        })
        .collect();
    Image::new(info.width as u32, info.height as u32, PixelLayout::Rgb8, rgb)
}

fn decode_jpeg(bytes: &[u8]) -> Image {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    Image::new(info.width as u32, info.height as u32, PixelLayout::Rgb8, pixels)
}

#[test]
fn wide_gamut_inputs_come_out_in_true_srgb() {
    // Thumbnails (lossless PNG) as large as the fixtures: colour alone.
    let s = Stack::start_with("colour", &[("SPIN_VARIABLE_THUMBNAIL_MAX_SIDE", &SIDE.to_string())]);
    let photo = std::fs::read(corpus().join("photos/colorfulcups-2560x1600.jpg")).unwrap();
    let truth = truth(&photo, SIDE);
    let files = fixtures(&truth, &s.dir.join("colour"));
    assert!(files.len() >= 18, "{files:?}");
    let truths = s.dir.join("colour/fixtures/truth");
    let gray_truth = decode_png(&std::fs::read(truths.join("gray.png")).unwrap());
    let ink_truth = decode_png(&std::fs::read(truths.join("cmyk-untagged.png")).unwrap());

    println!("RMS error against the true colours, {}x{} (tests/tests/colour.rs):", truth.width, truth.height);
    println!("| fixture | kiln (thumbnail, lossless PNG) | libvips (vipsthumbnail) |");
    println!("|---|---|---|");
    let mut jpeg_variant = None;
    for (name, path) in &files {
        let bytes = std::fs::read(path).unwrap();
        let reply = s.convert(&format!("/v1/thumbnail?width={SIDE}"), &bytes);
        assert_eq!(reply.status, 200, "{name}: {}", String::from_utf8_lossy(&reply.body));
        let truth = if name.starts_with("gray") { &gray_truth } else { &truth };
        let converted = decode_png(&reply.body);
        let kiln = rmse_percent(&converted, truth);
        if name == "cmyk-untagged.jpg" {
            // No profile: kiln's default; libvips given the same one.
            let reference = vips_with_default_cmyk(path);
            let naive = naive_cmyk(&bytes);
            let (vips_error, naive_error) = (rmse_percent(&reference, truth), rmse_percent(&naive, truth));
            let (kiln_ink, vips_ink, naive_ink) = (rmse_percent(&converted, &ink_truth), rmse_percent(&reference, &ink_truth), rmse_percent(&naive, &ink_truth));
            println!("| {name} (no profile; libvips given kiln's default) | {kiln:.2} % | {vips_error:.2} % |");
            println!("|   the same against the colours its inks hold | {kiln_ink:.2} % | {vips_ink:.2} % |");
            println!("|   naive conversion (kiln before): photo, inks | {naive_error:.2} %, {naive_ink:.2} % | |");
            assert!(kiln <= vips_error + 0.25 && kiln_ink <= vips_ink + 0.25, "{name}: kiln {kiln:.2} / {kiln_ink:.2} %, vips {vips_error:.2} / {vips_ink:.2} %");
            assert!(kiln_ink < 1.0 && naive_ink > 5.0 * kiln_ink && naive_error > kiln + 1.0, "{name}: kiln {kiln:.2} / {kiln_ink:.2} %, naive {naive_error:.2} / {naive_ink:.2} %");
            continue;
        }
        let reference = rmse_percent(&vips(path), truth);
        println!("| {name} | {kiln:.2} % | {reference:.2} % |");
        if name.starts_with("gray") {
            // The gray pixels read as sRGB, as before: off for a linear profile.
            if name == "gray-linear.png" {
                let as_srgb = rmse_percent(&decode_png(&bytes), truth);
                println!("|   {name} read as sRGB (profile ignored) | {as_srgb:.2} % | |");
                assert!(as_srgb > 3.0 * kiln, "{name}: as sRGB {as_srgb:.2} %, kiln {kiln:.2} %");
            }
            assert!(kiln <= reference + 0.1 && kiln < 2.0, "{name}: kiln {kiln:.2} %, vips {reference:.2} %");
        } else if name.contains("untagged") {
            // Read as sRGB, P3 pixels are washed out, for both.
            assert!(kiln > 1.5 && reference > 1.5, "{name}: kiln {kiln:.2} %, vips {reference:.2} %");
        } else if name.starts_with("cmyk") {
            // sRGB to CMYK loses what is outside the press gamut; the rest
            // must come back as libvips brings it (a naive conversion: ~9.5 %).
            assert!(kiln <= reference + 0.25 && kiln < 5.0, "{name}: kiln {kiln:.2} %, vips {reference:.2} %");
        } else {
            assert!(kiln <= reference + 0.1 && kiln < 1.0, "{name}: kiln {kiln:.2} %, vips {reference:.2} %");
        }
        if name == "p3.jpg" {
            jpeg_variant = Some(bytes);
        }
    }

    // What the conversion costs in wasm: the thumbnail's resize stage
    // (orientation and colour count there) with and without the profile,
    // same pixels, median of 5.
    let resize_ms = |name: &str| {
        let bytes = std::fs::read(&files.iter().find(|f| f.0 == name).unwrap().1).unwrap();
        let mut ms: Vec<f64> = (0..5)
            .map(|_| {
                let reply = s.convert(&format!("/v1/thumbnail?width={SIDE}"), &bytes);
                let timing = reply.header("server-timing").unwrap_or_default().to_string();
                let resize = timing.split(',').find_map(|t| t.trim().strip_prefix("resize;dur=")).expect("a resize timing");
                resize.parse::<f64>().unwrap()
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[2]
    };
    let (tagged, untagged) = (resize_ms("p3.png"), resize_ms("p3-untagged.png"));
    println!("resize stage at {}x{} in wasm, median of 5: {tagged:.1} ms with the P3 profile applied, {untagged:.1} ms without", truth.width, truth.height);

    // The JPEG variant of a P3 JPEG is as close to the true colours as the
    // JPEG variant of the sRGB original (the measurement).
    let error = |bytes: &[u8]| {
        let reply = s.convert(&format!("/v1/convert/jpeg?width={SIDE}"), bytes);
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        rmse_percent(&decode_jpeg(&reply.body), &truth)
    };
    let srgb_jpeg = std::fs::read(s.dir.join("colour/srgb.png")).unwrap();
    let (from_p3, from_srgb) = (error(&jpeg_variant.unwrap()), error(&srgb_jpeg));
    println!("JPEG variant against the true colours: from the P3 JPEG {from_p3:.2} %, from the sRGB original {from_srgb:.2} %");
    assert!(from_p3 <= from_srgb + 0.5, "P3 {from_p3:.2} % vs sRGB {from_srgb:.2} %");
}
