//! End to end: the metadata policy (docs/metadata.md) under `spin up`.
//! A camera-like JPEG (EXIF with Artist, Copyright, a Make, orientation 6
//! and a GPS block) and the Display P3 fixtures of
//! scripts/make-colour-fixtures.sh go through the WebP, JPEG and thumbnail
//! converters in direct mode: by default nothing of their metadata comes
//! out; `metadata=copyright` keeps Artist and Copyright with orientation 1
//! and nothing else; `colour=keep` embeds the P3 profile and leaves the
//! pixels in P3. The same through the `metadata` and `colour` variables
//! (a stored variant's reply says what it carries), and what bad values
//! answer.

use kiln_core::encode::{jpeg::JpegEncoder, Encoder, JPEG};
use kiln_core::image::{Image, PixelLayout};
use kiln_core::metadata::{embed, Embed};
use kiln_e2e::colour::{decode_png, fixtures, rmse_percent, truth};
use kiln_e2e::{corpus, Stack};

const SIDE: u32 = 800;
/// What a camera writes and kiln must never pass on.
const PRIVATE: [&str; 2] = ["PinholeCameraCo", "SECRET-DATUM-48N"];
const CREDITS: [&str; 2] = ["Jane Doe", "(c) 2026 Jane Doe"];

/// A little-endian TIFF IFD at the end of `out` (entries sorted by tag:
/// tag, type, value bytes), values over 4 bytes right after it.
fn write_ifd(out: &mut Vec<u8>, entries: &[(u16, u16, Vec<u8>)]) {
    let data_at = out.len() + 2 + 12 * entries.len() + 4;
    let mut data = Vec::new();
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let count = match kind {
            3 => value.len() / 2,
            4 => value.len() / 4,
            _ => value.len(),
        };
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend((count as u32).to_le_bytes());
        if value.len() <= 4 {
            out.extend(value.iter().copied().chain(std::iter::repeat(0)).take(4));
        } else {
            out.extend(((data_at + data.len()) as u32).to_le_bytes());
            data.extend(value);
            data.resize(data.len().next_multiple_of(2), 0);
        }
    }
    out.extend(0u32.to_le_bytes());
    out.extend(data);
}

/// A camera's EXIF: Make, Orientation 6, Artist, Copyright, and a GPS IFD
/// holding a map datum.
fn camera_exif() -> Vec<u8> {
    let ascii = |s: &str| [s.as_bytes(), b"\0"].concat();
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    let entries = [
        (0x010F, 2, ascii(PRIVATE[0])),
        (0x0112, 3, 6u16.to_le_bytes().to_vec()),
        (0x013B, 2, ascii(CREDITS[0])),
        (0x8298, 2, ascii(CREDITS[1])),
        (0x8825, 4, vec![0; 4]),
    ];
    write_ifd(&mut tiff, &entries);
    // GPSInfo (the fifth entry) points at the GPS IFD, written next.
    let gps_at = (tiff.len() as u32).to_le_bytes();
    tiff[8 + 2 + 12 * 4 + 8..][..4].copy_from_slice(&gps_at);
    write_ifd(&mut tiff, &[(0x0012, 2, ascii(PRIVATE[1]))]);
    tiff
}

fn with_exif(jpeg: Vec<u8>) -> Vec<u8> {
    embed(JPEG, jpeg, &Embed { icc: None, exif: Some(camera_exif()) }).unwrap().0
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Decodes any of the three outputs to RGB8.
fn decode(format: &str, bytes: &[u8]) -> Image {
    match format {
        "webp" => {
            let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
            let (w, h) = d.dimensions();
            let mut buf = vec![0; d.output_buffer_size().unwrap()];
            d.read_image(&mut buf).unwrap();
            let layout = if d.has_alpha() { PixelLayout::Rgba8 } else { PixelLayout::Rgb8 };
            Image::new(w, h, layout, buf).flatten_onto_white()
        }
        "jpeg" => {
            let mut d = jpeg_decoder::Decoder::new(bytes);
            let pixels = d.decode().unwrap();
            let info = d.info().unwrap();
            Image::new(info.width as u32, info.height as u32, PixelLayout::Rgb8, pixels)
        }
        _ => decode_png(bytes),
    }
}

const CONVERTERS: [(&str, &str); 3] = [("webp", "/v1/convert/webp"), ("jpeg", "/v1/convert/jpeg"), ("thumbnail", "/v1/thumbnail")];

#[test]
fn metadata_is_stripped_by_default_and_kept_when_asked() {
    let s = Stack::start_with("metadata", &[("SPIN_VARIABLE_THUMBNAIL_MAX_SIDE", &SIDE.to_string())]);
    let photo = std::fs::read(corpus().join("photos/colorfulcups-2560x1600.jpg")).unwrap();
    let truth = truth(&photo, SIDE);
    let files = fixtures(&truth, &s.dir.join("colour"));
    let fixture = |name: &str| std::fs::read(&files.iter().find(|f| f.0 == name).unwrap_or_else(|| panic!("no {name} in {files:?}")).1).unwrap();

    // The camera's photo: the true colours, untagged, with its EXIF.
    let camera = with_exif(JpegEncoder::new(90.0).unwrap().encode(&truth).unwrap());
    assert_eq!(kiln_core::orient::read_orientation(&camera), 6);
    assert!(PRIVATE.iter().chain(&CREDITS).all(|t| contains(&camera, t)));

    for (format, route) in CONVERTERS {
        let reply = s.convert(&format!("{route}?width={SIDE}"), &camera);
        assert_eq!(reply.status, 200, "{format}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.header("x-kiln-metadata"), Some("none"), "{format}");
        assert!(PRIVATE.iter().chain(&CREDITS).all(|t| !contains(&reply.body, t)), "{format}: metadata left in by default");
        // Orientation 6 applied to the pixels: portrait.
        assert_eq!((reply.header("x-kiln-width"), reply.header("x-kiln-height")), (Some("500"), Some("800")), "{format}");

        let reply = s.convert(&format!("{route}?width={SIDE}&metadata=copyright"), &camera);
        assert_eq!(reply.status, 200, "{format}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.header("x-kiln-metadata"), Some("exif"), "{format}");
        assert!(CREDITS.iter().all(|t| contains(&reply.body, t)), "{format}: credits lost");
        assert!(PRIVATE.iter().all(|t| !contains(&reply.body, t)), "{format}: GPS or Make carried");
        assert_eq!(kiln_core::orient::read_orientation(&reply.body), 1, "{format}");
        assert!(kiln_core::metadata::credits(&reply.body).is_some(), "{format}: Artist and Copyright do not parse back");
        let out = decode(format, &reply.body);
        assert_eq!((out.width, out.height), (500, 800), "{format}");
    }

    // AVIF: the credits as an Exif item (avif-serialize), no profile.
    let reply = s.convert(&format!("/v1/convert/avif?width={SIDE}&metadata=copyright&colour=keep"), &camera);
    assert_eq!((reply.status, reply.header("x-kiln-metadata")), (200, Some("exif")), "{}", String::from_utf8_lossy(&reply.body));
    assert!(CREDITS.iter().all(|t| contains(&reply.body, t)) && PRIVATE.iter().all(|t| !contains(&reply.body, t)));
    let reply = s.convert(&format!("/v1/convert/avif?width={SIDE}"), &camera);
    assert_eq!(reply.header("x-kiln-metadata"), Some("none"));
    assert!(PRIVATE.iter().chain(&CREDITS).all(|t| !contains(&reply.body, t)));

    // colour=keep on Display P3: the profile embedded, the pixels the
    // fixture's own (P3 values), not converted to sRGB.
    for fixture_name in ["p3.jpg", "p3.png"] {
        let p3 = fixture(fixture_name);
        let profile = kiln_core::colour::read_icc(&p3, 1 << 20).unwrap().expect("the fixture has a profile");
        let p3_values = kiln_e2e::colour::truth(&p3, SIDE);
        for (format, route) in CONVERTERS {
            let kept = s.convert(&format!("{route}?width={SIDE}&colour=keep"), &p3);
            assert_eq!(kept.status, 200, "{fixture_name} {format}: {}", String::from_utf8_lossy(&kept.body));
            assert_eq!(kept.header("x-kiln-metadata"), Some("icc"), "{fixture_name} {format}");
            assert_eq!(kiln_core::colour::read_icc(&kept.body, 1 << 20).unwrap().as_deref(), Some(&profile[..]), "{fixture_name} {format}");
            let converted = s.convert(&format!("{route}?width={SIDE}"), &p3);
            assert_eq!(converted.header("x-kiln-metadata"), Some("none"));
            assert_eq!(kiln_core::colour::read_icc(&converted.body, 1 << 20).unwrap(), None);

            let (kept, converted) = (decode(format, &kept.body), decode(format, &converted.body));
            let (kept_vs_p3, kept_vs_srgb) = (rmse_percent(&kept, &p3_values), rmse_percent(&kept, &truth));
            let converted_vs_srgb = rmse_percent(&converted, &truth);
            println!("{fixture_name} {format}: kept vs P3 values {kept_vs_p3:.2} %, vs sRGB {kept_vs_srgb:.2} %; converted vs sRGB {converted_vs_srgb:.2} %");
            assert!(kept_vs_p3 < kept_vs_srgb && converted_vs_srgb < kept_vs_srgb, "{fixture_name} {format}: the kept pixels were converted");
            if format == "thumbnail" {
                assert!(kept_vs_p3 < 0.3, "{fixture_name}: a lossless output keeps the P3 values ({kept_vs_p3:.2} %)");
            }
        }
    }

    // Bad values are the request's fault; the parameters are direct-mode only.
    for (query, says) in [("metadata=all", "metadata must be strip or copyright"), ("colour=p3", "colour must be srgb or keep")] {
        let reply = s.convert(&format!("/v1/convert/webp?{query}"), &camera);
        assert_eq!(reply.status, 400, "{query}");
        assert!(String::from_utf8_lossy(&reply.body).contains(says), "{query}: {}", String::from_utf8_lossy(&reply.body));
    }
    let reply = s.convert_key("/v1/convert/webp?colour=keep", "originals/some-id/photo.jpg");
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("direct-mode"), "{}", String::from_utf8_lossy(&reply.body));
    drop(s);

    // The variables set the policy, a request's parameters override it.
    let s = Stack::start_with("metadata-vars", &[("SPIN_VARIABLE_METADATA", "copyright"), ("SPIN_VARIABLE_COLOUR", "keep")]);
    let both = with_exif(fixture("p3.jpg"));
    let reply = s.convert("/v1/convert/webp", &both);
    assert_eq!((reply.status, reply.header("x-kiln-metadata")), (200, Some("icc,exif")), "{}", String::from_utf8_lossy(&reply.body));
    assert!(CREDITS.iter().all(|t| contains(&reply.body, t)) && PRIVATE.iter().all(|t| !contains(&reply.body, t)));
    let reply = s.convert("/v1/convert/jpeg?metadata=strip&colour=srgb", &both);
    assert_eq!((reply.status, reply.header("x-kiln-metadata")), (200, Some("none")));
    // A stored variant says what it carries.
    s.put_object("originals/meta/p3.jpg", &both);
    let reply = s.convert_key("/v1/convert/webp", "originals/meta/p3.jpg");
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["embedded"], serde_json::json!({"icc": true, "exif": true}));
    // Decoded once for every format (the combined converter): AVIF cannot
    // carry the profile, so it is converted and keeps the credits only.
    let reply = s.convert_key("/v1/convert/all", "originals/meta/p3.jpg");
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json();
    let entries = json["variants"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{json}");
    for entry in entries {
        let expected = serde_json::json!({"icc": entry["format"] != "avif", "exif": true});
        assert_eq!(entry["variant"]["embedded"], expected, "{entry}");
    }
    drop(s);

    // A variable with a bad value is the deployment's fault: a 500 naming it.
    let s = Stack::start_with("metadata-bad", &[("SPIN_VARIABLE_COLOUR", "p3")]);
    let reply = s.convert("/v1/convert/webp", &camera);
    assert_eq!(reply.status, 500);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(body.contains("'colour'") && body.contains("srgb or keep"), "{body}");
}
