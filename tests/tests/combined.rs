//! End to end: the decode-once design. With `conversion_mode = "combined"`
//! the manifest makes one chained request to `convert-all`, which fetches
//! and decodes the original once and encodes every format; the manifest
//! and the variants look as in split mode, with the shared stages recorded
//! once. Also the split mode's per-variant stages and memory peaks.

use kiln_e2e::images::verify;
use kiln_e2e::{corpus, Stack};

/// The per-format components' limit (`spin up --max-instance-memory`).
const INSTANCE_MEMORY: u64 = 128 << 20;

#[test]
fn combined_mode_decodes_once_and_keeps_every_variant() {
    let s = Stack::start_with("combined", &[("SPIN_VARIABLE_CONVERSION_MODE", "combined")]);
    let photo = std::fs::read(corpus().join("features/exif-orientation-6.jpg")).unwrap();
    let reply = s.post("/v1/images?filename=rotated.jpg", "image/jpeg", &photo, Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    let variants = manifest["variants"].as_array().unwrap();
    let formats: Vec<&str> = variants.iter().map(|v| v["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["webp", "avif", "jpeg", "thumbnail"]);
    for v in variants {
        let served = s.get_url(v["url"].as_str().unwrap());
        assert_eq!(served.status, 200, "{v}");
        let (w, h) = verify(&served.body, v["mime_type"].as_str().unwrap()).unwrap();
        // Stored 1000x1600 with orientation 6: displayed landscape.
        assert!(w > h, "{} not rotated: {w}x{h}", v["format"]);
        for stage in ["encode", "store"] {
            assert!(v["stages"][stage].as_f64().is_some(), "{v} lacks stage {stage}");
        }
        let memory = v["linear_memory"].as_u64().expect("linear memory reported");
        assert!(memory > 1 << 20 && memory <= INSTANCE_MEMORY, "{memory}");
    }
    // The thumbnail's placeholders, of the image as displayed (1600x1000).
    kiln_e2e::images::check_placeholder(&s, &manifest, 1.6);
    // Responsive widths, from the same decode: 480 and 1024 of the 1600 px wide variants.
    kiln_e2e::images::check_widths(&s, &manifest, &[480, 1024]);
    // Shared stages are recorded once, on the upload.
    for stage in ["fetch", "decode", "resize", "chaining", "converter_total", "fan_out"] {
        assert!(manifest["timings"][stage].as_f64().is_some(), "timings lack {stage}: {:#}", manifest["timings"]);
    }
}

/// In combined mode too, an animated GIF's WebP variant is animated (made
/// from the input after the stills) and the other variants show frame 1.
#[test]
fn combined_mode_keeps_a_gifs_animation_in_webp() {
    let s = Stack::start_with("combined-gif", &[("SPIN_VARIABLE_CONVERSION_MODE", "combined")]);
    let gif = std::fs::read(corpus().join("features/animated.gif")).unwrap();
    let frames = kiln_core::probe::probe(&gif).unwrap().frames;
    let reply = s.post("/v1/images?filename=anim.gif", "image/gif", &gif, Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    let webp = &manifest["variants"][0];
    assert_eq!(webp["format"], "webp");
    let bytes = s.get_url(webp["url"].as_str().unwrap()).body;
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
    assert!(decoder.is_animated() && decoder.num_frames() > 1 && decoder.num_frames() as u64 <= frames, "{} of {frames} frames", decoder.num_frames());
    for v in manifest["variants"].as_array().unwrap().iter().skip(1) {
        let served = s.get_url(v["url"].as_str().unwrap()).body;
        verify(&served, v["mime_type"].as_str().unwrap()).unwrap();
    }
}

#[test]
fn combined_converter_checks_its_requests() {
    let s = Stack::start_quiet("combined-errors");
    let post = |content_type: &str, body: &[u8], token: Option<&str>| s.post("/v1/convert/all", content_type, body, token);
    assert_eq!(post("application/json", br#"{"key":"originals/a/b.jpg"}"#, None).status, 401);
    let reply = post("image/jpeg", b"\xff\xd8\xff", Some(&s.token));
    assert_eq!((reply.status, reply.json()["error"].as_str()), (415, Some("unsupported_media_type")));
    let reply = post("application/json", br#"{"key":"originals/none/missing.jpg"}"#, Some(&s.token));
    assert_eq!(reply.status, 404, "{}", String::from_utf8_lossy(&reply.body));

    // A stored original converts into every format in one call.
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    s.put_object("originals/c0/path.jpg", &photo);
    let reply = post("application/json", br#"{"key":"originals/c0/path.jpg"}"#, Some(&s.token));
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let timing = reply.header("server-timing").unwrap().to_string();
    for stage in ["fetch;", "decode;", "webp-encode;", "avif-store;", "thumbnail-encode;", "total;"] {
        assert!(timing.contains(stage), "{timing} lacks {stage}");
    }
    let body = reply.json();
    let sizes: Vec<u64> = body["variants"].as_array().unwrap().iter().map(|v| v["variant"]["width"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [2048, 2048, 2048, 256]);
}

#[test]
fn split_mode_reports_each_converters_stages() {
    let s = Stack::start("split-stages");
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let manifest = s.post("/v1/images", "image/jpeg", &photo, Some(&s.token)).json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    for v in manifest["variants"].as_array().unwrap() {
        let stages = &v["stages"];
        for stage in ["fetch", "decode", "resize", "encode", "store", "total", "chaining"] {
            assert!(stages[stage].as_f64().is_some(), "{v} lacks stage {stage}");
        }
        let inside = stages["total"].as_f64().unwrap() + stages["chaining"].as_f64().unwrap();
        assert!((inside - v["ms"].as_f64().unwrap()).abs() < 0.5, "{v}");
        assert!(v["linear_memory"].as_u64().is_some_and(|m| m <= INSTANCE_MEMORY), "{v}");
    }
}

/// `avif_converter_origin` (deploy/: AVIF in a SpinApp of its own): the
/// manifest calls the AVIF converter there over HTTP instead of Spin's
/// chaining. Pointed at this instance's own public route it works; pointed
/// at nothing, the AVIF variant is the one that does not arrive.
#[test]
fn the_avif_converter_can_live_elsewhere() {
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let s = Stack::start_with("avif-origin", &[("SPIN_VARIABLE_AVIF_CONVERTER_ORIGIN", "{api}")]);
    let manifest = s.post("/v1/images", "image/jpeg", &photo, Some(&s.token)).json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    let nowhere = Stack::start_with("avif-nowhere", &[("SPIN_VARIABLE_AVIF_CONVERTER_ORIGIN", "http://127.0.0.1:9"), ("SPIN_VARIABLE_CONVERTER_TIMEOUT_SECONDS", "5")]);
    let manifest = nowhere.post("/v1/images", "image/jpeg", &photo, Some(&nowhere.token)).json();
    let variants = manifest["variants"].as_array().unwrap();
    let status = |f: &str| variants.iter().find(|v| v["format"] == f).map(|v| v["status"].as_str().unwrap_or_default().to_string());
    assert_eq!(status("webp").as_deref(), Some("done"), "{manifest:#}");
    assert_ne!(status("avif").as_deref(), Some("done"), "{manifest:#}");
}
