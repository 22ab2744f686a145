//! End to end: the HTTP trigger per upload. `POST /v1/images` stores the
//! original, fans out to the four converters by service chaining, and
//! answers the manifest, which is also stored next to the variants and
//! served by `GET /v1/uploads/<id>`. One converter failing keeps the others.

use kiln_e2e::images::{check_placeholder, check_widths, verify};
use kiln_e2e::{corpus, hex, Stack};
use sha2::{Digest, Sha256};

#[test]
fn one_shot_upload_yields_four_variants_and_a_manifest() {
    let s = Stack::start("images");
    let photo = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    let reply = s.post("/v1/images?filename=forest%20path.jpg", "image/jpeg", &photo, Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    let id = manifest["id"].as_str().unwrap().to_string();
    assert_eq!(reply.header("location"), Some(format!("/v1/uploads/{id}").as_str()));
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    let original = &manifest["original"];
    assert_eq!(original["key"], format!("originals/{id}/forest_path.jpg").as_str());
    assert_eq!(original["sha256"], hex(&Sha256::digest(&photo)).as_str());
    assert_eq!(original["size"].as_u64(), Some(photo.len() as u64));
    assert_eq!((original["width"].as_u64(), original["height"].as_u64()), (Some(4000), Some(3000)));
    assert_eq!(s.get_object(original["key"].as_str().unwrap()).body, photo, "stored original differs");

    let variants = manifest["variants"].as_array().unwrap();
    let formats: Vec<&str> = variants.iter().map(|v| v["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["webp", "avif", "jpeg", "thumbnail"]);
    for v in variants {
        assert_eq!(v["status"], "done", "{v}");
        let served = s.get_url(v["url"].as_str().unwrap());
        assert_eq!(served.status, 200);
        let size = verify(&served.body, v["mime_type"].as_str().unwrap()).unwrap();
        assert_eq!((Some(size.0 as u64), Some(size.1 as u64)), (v["width"].as_u64(), v["height"].as_u64()));
        assert!(v["ms"].as_f64().unwrap() > 0.0);
    }
    for stage in ["store_original", "fan_out", "total"] {
        assert!(manifest["timings"][stage].as_f64().is_some(), "timings lack {stage}");
    }
    check_placeholder(&s, &manifest, 4.0 / 3.0);
    // The default responsive widths, 480 and 1024, of the 2048x1536 variants.
    check_widths(&s, &manifest, &[480, 1024]);

    // The manifest is served by id and stored (publicly) next to the variants.
    let again = s.get_with_token(&format!("/v1/uploads/{id}"));
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), manifest);
    let stored = s.get_url(&format!("{}/kiln/variants/{id}/forest_path.jpg/manifest.json", s.s3));
    assert_eq!(stored.json(), manifest);

    // Storage mode with parameters writes a variant of its own, never over
    // the canonical one the manifest describes.
    let jpeg = variants.iter().find(|v| v["format"] == "jpeg").unwrap();
    let canonical = s.get_url(jpeg["url"].as_str().unwrap()).body;
    let small = s.convert_key("/v1/convert/jpeg?width=8&quality=1", original["key"].as_str().unwrap());
    assert_eq!(small.status, 200, "{}", String::from_utf8_lossy(&small.body));
    assert_ne!(small.json()["key"], jpeg["url"].as_str().unwrap().rsplit_once("/kiln/").unwrap().1);
    assert!(small.json()["key"].as_str().unwrap().ends_with("/jpeg-w8-q1.jpg"), "{}", small.json());
    assert_eq!(s.get_url(jpeg["url"].as_str().unwrap()).body, canonical, "the canonical JPEG was overwritten");

    // The store also notified kiln of the new original; that event must
    // not convert it a second time (the manifest would change).
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(s.get_with_token(&format!("/v1/uploads/{id}")).json(), manifest);
    assert!(manifest["original"]["etag"].as_str().is_some_and(|e| !e.is_empty()));
}

/// `responsive_widths` is configurable: widths at or above a variant's own
/// width are not made (never upscaled, never a copy), and a variant
/// narrower than every width still gets a `srcset` of itself.
#[test]
fn responsive_widths_follow_the_configuration_and_never_upscale() {
    let s = Stack::start_with("widths", &[("SPIN_VARIABLE_RESPONSIVE_WIDTHS", "640, 200,1280,2048")]);
    let gray = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    let reply = s.post("/v1/images?filename=gray.jpg", "image/jpeg", &gray, Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    // 1280x800: 1280 is the variant itself, 2048 would be an upscale.
    check_widths(&s, &manifest, &[200, 640]);
    let webp = &manifest["variants"][0];
    assert_eq!((webp["format"].as_str(), webp["widths"][0]["height"].as_u64()), (Some("webp"), Some(125)));

    // 150x100: narrower than every width.
    let reply = s.post("/v1/images?filename=small.png", "image/png", &small_png(150, 100), Some(&s.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    check_widths(&s, &manifest, &[]);
    assert!(manifest["variants"][0]["srcset"].as_str().unwrap().ends_with("/webp.webp 150w"), "{manifest:#}");
}

/// What responsive widths cost, side by side in one run: each converter on
/// the 12 MP photo with its widths (the canonical call) and without (the
/// same quality asked for explicitly, a one-off that makes no widths).
/// Widths add encode time, not memory: they are made after the variant,
/// from its pixels. `--nocapture` prints the figures docs/widths.md quotes.
#[test]
fn responsive_widths_cost_time_not_memory() {
    let s = Stack::start_quiet("widths-cost");
    let photo = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    s.put_object("originals/wc/path.jpg", &photo);
    for (format, quality) in [("webp", 80), ("avif", 67), ("jpeg", 75)] {
        let call = |query: &str| {
            let started = std::time::Instant::now();
            let reply = s.convert_key(&format!("/v1/convert/{format}{query}"), "originals/wc/path.jpg");
            assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
            (reply.json(), started.elapsed().as_secs_f64() * 1000.0, reply.header("server-timing").unwrap().to_string())
        };
        let one_off = format!("?quality={quality}");
        call(&one_off); // warms the component up, so the two timed calls compare
        let (with, with_ms, timing) = call("");
        let (without, without_ms, _) = call(&one_off);
        assert_eq!(with["widths"].as_array().map(Vec::len), Some(2), "{with}");
        assert!(without.get("widths").is_none() && without.get("srcset").is_none(), "{without}");
        assert_eq!((with["width"].clone(), with["size"].clone()), (without["width"].clone(), without["size"].clone()), "the same variant");
        let memory = |reply: &serde_json::Value| reply["linear_memory"].as_u64().unwrap();
        // Wasm memory grows in 64 KiB pages, and the allocator may keep a
        // freed block; the widths' own peak is under half the variant's.
        assert!(memory(&with) <= memory(&without) + (4 << 20), "{format}: {} vs {} bytes", memory(&with), memory(&without));
        let widths_bytes: u64 = with["widths"].as_array().unwrap().iter().map(|w| w["size"].as_u64().unwrap()).sum();
        println!(
            "{format}: with widths 480+1024 {with_ms:.0} ms, linear memory {:.1} MiB, widths {widths_bytes} B; without {without_ms:.0} ms, {:.1} MiB, variant {} B ({timing})",
            memory(&with) as f64 / 1048576.0,
            memory(&without) as f64 / 1048576.0,
            with["size"]
        );
    }
}

/// A `w`×`h` RGB gradient as PNG.
fn small_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    let pixels: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 128]).collect();
    encoder.write_header().unwrap().write_image_data(&pixels).unwrap();
    out
}

#[test]
fn one_shot_errors() {
    let s = Stack::start("images-errors");
    let random = std::fs::read(corpus().join("hostile/random.bin")).unwrap();
    let reply = s.post("/v1/images", "image/jpeg", &random, Some(&s.token));
    assert_eq!(reply.status, 415);
    let photo = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    assert_eq!(s.post("/v1/images", "image/jpeg", &photo, None).status, 401);
    // Over 10 MiB: refused from the declared length, before the body is read.
    let answer = s.head_only("POST", "/v1/images", &[("Content-Type", "image/jpeg")], 10 * 1024 * 1024 + 1);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("/v1/uploads"), "{answer}");
    assert_eq!(s.get_with_token("/v1/uploads/0123456789abcdef0123456789abcdef").status, 404);
    assert_eq!(s.get_with_token("/v1/uploads/../../x").status, 404);
}

#[test]
fn a_failing_converter_does_not_lose_the_other_variants() {
    // An invalid AVIF speed makes the AVIF converter refuse every job.
    let s = Stack::start_with("images-partial", &[("SPIN_VARIABLE_AVIF_SPEED", "10")]);
    let photo = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    let reply = s.post("/v1/images", "image/jpeg", &photo, Some(&s.token));
    assert_eq!(reply.status, 201);
    let manifest = reply.json();
    assert_eq!(manifest["status"], "partial");
    for v in manifest["variants"].as_array().unwrap() {
        if v["format"] == "avif" {
            assert_eq!(v["status"], "failed");
            assert!(v["error"].as_str().unwrap().contains("speed"), "{v}");
        } else {
            assert_eq!(v["status"], "done", "{v}");
            assert_eq!(s.get_url(v["url"].as_str().unwrap()).status, 200);
        }
    }
}
