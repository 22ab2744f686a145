//! End to end under load: 50 uploads started at once on one `spin up` with
//! Spin's default host threads — every other one a one-shot `POST
//! /v1/images`, the rest tus in 256 KiB chunks — of the corpus' 2560x1600
//! photos scaled to 1600x1000 (so the test stays near a minute on two
//! cores). Every upload must end `done` with four variants, none may trap
//! (manifests, spin.log, the components' stderr), and a few uploads' variant
//! URLs must serve what the manifest claims. `make load` (kiln-load) is the
//! measuring counterpart; this test stays self-contained.

use base64::Engine;
use kiln_e2e::images::verify;
use kiln_e2e::{corpus, Stack};
use serde_json::Value;
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const UPLOADS: usize = 50;
/// tus' smallest chunk but the last (`tus_min_chunk_bytes`).
const CHUNK: usize = 256 * 1024;
const SIZE: (u32, u32) = (1600, 1000);
const FORMATS: [&str; 4] = ["webp", "avif", "jpeg", "thumbnail"];

/// A corpus photo scaled to [`SIZE`], as a quality-92 JPEG.
fn scaled(path: &Path) -> Vec<u8> {
    let src = std::fs::read(path).unwrap();
    let info = kiln_core::probe::probe(&src).unwrap();
    let image = kiln_core::decode::decode(&src, &info, 1, u64::MAX).unwrap();
    let small = kiln_core::resize::resize(image, SIZE.0, SIZE.1).unwrap();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 92).encode(&small.pixels, SIZE.0 as u16, SIZE.1 as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn photos() -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(corpus().join("photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("2560x1600.jpg"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no 2560x1600 photos in the corpus");
    let photos: Vec<Vec<u8>> = paths.iter().map(|p| scaled(p)).collect();
    for p in &photos {
        assert!(p.len() > CHUNK, "a scaled photo of {} bytes would be a single tus chunk", p.len());
    }
    photos
}

fn body(reply: &kiln_e2e::Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn one_shot(s: &Stack, i: usize, photo: &[u8]) -> Value {
    let reply = s.post(&format!("/v1/images?filename=load-{i}.jpg"), "image/jpeg", photo, Some(&s.token));
    match reply.status {
        201 => reply.json(),
        // An attempt stopped on a passing failure: a later drive finishes it.
        202 => s.wait_for_manifest(&format!("/v1/uploads/{}", reply.json()["id"].as_str().unwrap())),
        other => panic!("POST /v1/images: {other}: {}", body(&reply)),
    }
}

/// The server's offset after a refused or lost PATCH.
fn resync(s: &Stack, url: &str) -> usize {
    let head = s.tus("HEAD", url, &[], &[]);
    assert_eq!(head.status, 200, "HEAD {url}");
    head.header("upload-offset").unwrap().parse().unwrap()
}

fn tus(s: &Stack, i: usize, photo: &[u8]) -> Value {
    let length = photo.len().to_string();
    let meta = format!("filename {}", base64::engine::general_purpose::STANDARD.encode(format!("load-{i}.jpg")));
    let created = s.tus("POST", "/v1/uploads", &[("upload-length", &length), ("upload-metadata", &meta)], &[]);
    assert_eq!(created.status, 201, "tus create: {}", body(&created));
    let url = created.header("location").unwrap().to_string();
    let (mut offset, mut retries) = (0, 0);
    while offset < photo.len() {
        let at = offset.to_string();
        let headers = [("content-type", "application/offset+octet-stream"), ("upload-offset", at.as_str())];
        let reply = s.tus("PATCH", &url, &headers, &photo[offset..(offset + CHUNK).min(photo.len())]);
        match reply.status {
            204 => offset = reply.header("upload-offset").unwrap().parse().unwrap(),
            409 | 423 if retries < 10 => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(250));
                offset = resync(s, &url);
            }
            other => panic!("PATCH {url} at {offset}: {other}: {}", body(&reply)),
        }
    }
    s.wait_for_manifest(&url)
}

/// Why `manifest` is not a finished upload with four variants, if it is not.
fn problem(manifest: &Value) -> Option<String> {
    let variants = manifest["variants"].as_array().map(Vec::as_slice).unwrap_or_default();
    let formats: Vec<&str> = variants.iter().filter_map(|v| v["format"].as_str()).collect();
    let all_done = variants.iter().all(|v| v["status"] == "done" && v["url"].is_string());
    (manifest["status"] != "done" || formats != FORMATS || !all_done).then(|| manifest.to_string())
}

/// The variants are served and are what the manifest says.
fn spot_check(s: &Stack, manifest: &Value) {
    for v in manifest["variants"].as_array().unwrap() {
        let served = s.get_url(v["url"].as_str().unwrap());
        assert_eq!(served.status, 200, "{v}");
        let (w, h) = verify(&served.body, v["mime_type"].as_str().unwrap()).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!((Some(w as u64), Some(h as u64)), (v["width"].as_u64(), v["height"].as_u64()), "{v}");
    }
}

/// Log lines of the stack (spin.log, the components' stderr) that mention a trap.
fn trap_lines(s: &Stack) -> Vec<String> {
    let mut logs = vec![s.dir.join("spin.log")];
    logs.extend(std::fs::read_dir(s.dir.join("spin-state/logs")).into_iter().flatten().filter_map(|e| Some(e.ok()?.path())));
    logs.iter()
        .flat_map(|p| std::fs::read_to_string(p).unwrap_or_default().lines().map(|l| format!("{}: {l}", p.display())).collect::<Vec<_>>())
        .filter(|l| l.to_ascii_lowercase().contains("trap"))
        .collect()
}

/// Starts every upload at the same moment; (index, manifest or panic message).
fn upload_all(s: &Stack, photos: &[Vec<u8>]) -> Vec<(usize, Result<Value, String>)> {
    let barrier = Barrier::new(UPLOADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..UPLOADS)
            .map(|i| {
                let (barrier, photo) = (&barrier, &photos[i % photos.len()]);
                scope.spawn(move || {
                    barrier.wait();
                    if i % 2 == 0 { one_shot(s, i, photo) } else { tus(s, i, photo) }
                })
            })
            .collect();
        let panic_text = |p: Box<dyn std::any::Any + Send>| p.downcast_ref::<String>().cloned().unwrap_or_else(|| format!("{:?}", p.downcast_ref::<&str>()));
        handles.into_iter().enumerate().map(|(i, h)| (i, h.join().map_err(panic_text))).collect()
    })
}

#[test]
fn fifty_concurrent_uploads_all_end_done_without_a_trap() {
    let photos = photos();
    let s = Stack::start("load");
    let started = Instant::now();
    let results = upload_all(&s, &photos);
    let elapsed = started.elapsed();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(i, r)| match r {
            Ok(m) => problem(m).map(|p| format!("#{i}: {p}")),
            Err(panic) => Some(format!("#{i}: {panic}")),
        })
        .collect();
    assert!(failures.is_empty(), "{} of {UPLOADS} uploads did not end done (logs in {}):\n{}", failures.len(), s.dir.display(), failures.join("\n"));
    let manifests: Vec<&Value> = results.iter().map(|(_, r)| r.as_ref().unwrap()).collect();
    let mut ids: Vec<&str> = manifests.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), UPLOADS, "uploads share an id");
    // Two one-shot and two tus uploads, first and last started.
    for i in [0, 1, UPLOADS - 2, UPLOADS - 1] {
        spot_check(&s, manifests[i]);
    }
    let traps = trap_lines(&s);
    assert!(traps.is_empty(), "traps under load:\n{}", traps.join("\n"));
    eprintln!("{UPLOADS} uploads done in {:.1} s", elapsed.as_secs_f64());
}
