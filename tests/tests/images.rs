//! End to end: the HTTP trigger per upload. `POST /v1/images` stores the
//! original, fans out to the four converters by service chaining, and
//! answers the manifest, which is also stored next to the variants and
//! served by `GET /v1/uploads/<id>`. One converter failing keeps the others.

use kiln_e2e::images::{check_placeholder, verify};
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
