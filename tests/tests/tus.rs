//! End to end: tus 1.0 resumable uploads on the manifest function, with a
//! protocol-level client (tus-js-client is exercised in tus_js.rs): chunked
//! upload with checksums, assembly, fan-out, manifest; every protocol error;
//! concurrent and duplicated PATCHes; concatenation; termination; expiry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiln_e2e::images::verify;
use kiln_e2e::{corpus, hex, Reply, Stack};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;

const MIB: usize = 1024 * 1024;
const OCTETS: (&str, &str) = ("content-type", "application/offset+octet-stream");

/// The smallest PATCH body but the last, small here so the protocol tests
/// can use short bodies.
const MIN_CHUNK: usize = 64;

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| Stack::start_with("tus", &[("SPIN_VARIABLE_TUS_MIN_CHUNK_BYTES", "64")]))
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn create(s: &Stack, length: usize, extra: &[(&str, &str)]) -> String {
    let len = length.to_string();
    let meta = format!("filename {}", b64("photo.jpg"));
    let mut headers = vec![("upload-length", len.as_str())];
    if !extra.iter().any(|(k, _)| *k == "upload-metadata") {
        headers.push(("upload-metadata", meta.as_str()));
    }
    headers.extend_from_slice(extra);
    let reply = s.tus("POST", "/v1/uploads", &headers, &[]);
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("tus-resumable"), Some("1.0.0"));
    assert!(reply.header("upload-expires").is_some());
    reply.header("location").unwrap().to_string()
}

fn patch(s: &Stack, url: &str, offset: usize, chunk: &[u8], extra: &[(&str, &str)]) -> Reply {
    let off = offset.to_string();
    let mut headers = vec![OCTETS, ("upload-offset", off.as_str())];
    headers.extend_from_slice(extra);
    s.tus("PATCH", url, &headers, chunk)
}

fn sha1_header(chunk: &[u8]) -> String {
    format!("sha1 {}", STANDARD.encode(Sha1::digest(chunk)))
}

fn upload_in_chunks(s: &Stack, url: &str, data: &[u8], chunk: usize) {
    for (i, piece) in data.chunks(chunk).enumerate() {
        let checksum = sha1_header(piece);
        let reply = patch(s, url, i * chunk, piece, &[("upload-checksum", &checksum)]);
        assert_eq!(reply.status, 204, "chunk {i}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.header("upload-offset"), Some((i * chunk + piece.len()).to_string().as_str()));
    }
}

fn check_manifest(s: &Stack, manifest: &serde_json::Value, data: &[u8]) {
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(data)).as_str());
    assert_eq!(manifest["original"]["size"].as_u64(), Some(data.len() as u64));
    let key = manifest["original"]["key"].as_str().unwrap();
    assert_eq!(s.get_object(key).body, data, "assembled original differs");
    let variants = manifest["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);
    for v in variants {
        assert_eq!(v["status"], "done", "{v}");
        verify(&s.get_url(v["url"].as_str().unwrap()).body, v["mime_type"].as_str().unwrap()).unwrap();
    }
}

/// A ~30 MB JPEG: the 31 MP corpus photo upscaled to 45 MP at quality 98, 4:2:2.
fn thirty_megabytes() -> Vec<u8> {
    let src = std::fs::read(corpus().join("photos/fallenleaf-4958x6198-31mp.jpg")).unwrap();
    let info = kiln_core::probe::probe(&src).unwrap();
    let image = kiln_core::decode::decode(&src, &info, 1, u64::MAX).unwrap();
    let big = kiln_core::resize::resize(image, 6000, 7500).unwrap();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 98);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_1);
    encoder.encode(&big.pixels, 6000, 7500, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

#[test]
fn a_30_mb_photo_in_1_mib_chunks_yields_four_variants() {
    let s = stack();
    let data = thirty_megabytes();
    assert!((25 * MIB..40 * MIB).contains(&data.len()), "test photo is {} bytes", data.len());
    let url = create(s, data.len(), &[]);
    upload_in_chunks(s, &url, &data, MIB);
    let head = s.tus("HEAD", &url, &[], &[]);
    assert_eq!(head.header("upload-offset"), Some(data.len().to_string().as_str()));
    let manifest = s.wait_for_manifest(&url);
    check_manifest(s, &manifest, &data);
    assert!(manifest["original"]["key"].as_str().unwrap().ends_with("/photo.jpg"));
    // 1 MiB chunks are below S3's 5 MiB part minimum: streamed into parts.
    assert!(manifest["timings"]["assemble_streamed"].is_number(), "{}", manifest["timings"]);
}

#[test]
fn five_mib_chunks_are_assembled_server_side_and_the_digest_is_checked() {
    let s = stack();
    let data = std::fs::read(corpus().join("photos/fallenleaf-4958x6198-31mp.jpg")).unwrap();
    let digest = hex(&Sha256::digest(&data));
    let meta = format!("filename {},sha256 {}", b64("leaf.jpg"), b64(&digest));
    let url = create(s, data.len(), &[("upload-metadata", &meta)]);
    upload_in_chunks(s, &url, &data, 5 * MIB);
    let manifest = s.wait_for_manifest(&url);
    check_manifest(s, &manifest, &data);
    // Every chunk but the last is a valid part: copied by the store itself,
    // hashed incrementally across the PATCHes.
    assert!(manifest["timings"]["assemble_server_side"].is_number(), "{}", manifest["timings"]);

    // A declared digest that does not match: the upload fails, visibly.
    let wrong = format!("filename {},sha256 {}", b64("leaf.jpg"), b64(&"0".repeat(64)));
    let url = create(s, data.len(), &[("upload-metadata", &wrong)]);
    upload_in_chunks(s, &url, &data, 5 * MIB);
    let manifest = s.wait_for_manifest(&url);
    assert_eq!(manifest["status"], "failed");
    assert!(manifest["error"].as_str().unwrap().contains("sha256"), "{manifest}");
}

#[test]
fn options_advertises_the_protocol() {
    let s = stack();
    let reply = s.tus("OPTIONS", "/v1/uploads", &[], &[]);
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("tus-version"), Some("1.0.0"));
    let ext = reply.header("tus-extension").unwrap();
    for e in ["creation", "creation-with-upload", "checksum", "termination", "expiration", "concatenation"] {
        assert!(ext.split(',').any(|x| x == e), "{ext} lacks {e}");
    }
    // Capped at max_input_bytes: nothing is accepted that could not be converted.
    assert_eq!(reply.header("tus-max-size"), Some("41943040"));
    assert!(reply.header("tus-checksum-algorithm").unwrap().contains("sha1"));
}

#[test]
fn protocol_errors_are_exactly_as_tus_specifies() {
    let s = stack();
    let url = create(s, 1000, &[]);
    // The first chunk must look like an image: the start of a real JPEG.
    let jpeg = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    let chunk = jpeg[..100].to_vec();
    // Wrong offset 409, wrong content type 415, missing Tus-Resumable 412.
    assert_eq!(patch(s, &url, 5, &chunk, &[]).status, 409);
    let off = [("upload-offset", "0"), ("content-type", "application/octet-stream")];
    assert_eq!(s.tus("PATCH", &url, &off, &chunk).status, 415);
    let no_version = s.post(&url, "application/offset+octet-stream", &chunk, Some(&s.token));
    assert_eq!(no_version.status, 412);
    let bare = s.post("/v1/uploads", "text/plain", b"", Some(&s.token));
    assert_eq!(bare.status, 412);
    assert_eq!(bare.header("tus-version"), Some("1.0.0"));
    // Checksum mismatch 460 (chunk discarded), unknown algorithm 400.
    let wrong = sha1_header(b"something else");
    assert_eq!(patch(s, &url, 0, &chunk, &[("upload-checksum", &wrong)]).status, 460);
    assert_eq!(s.tus("HEAD", &url, &[], &[]).header("upload-offset"), Some("0"));
    assert_eq!(patch(s, &url, 0, &chunk, &[("upload-checksum", "md5 AAAA")]).status, 400);
    // Past Upload-Length, over Tus-Max-Size, over the 10 MiB request limit: 413.
    assert_eq!(patch(s, &url, 0, &vec![1u8; 1001], &[]).status, 413);
    // Under the minimum chunk size, and not the last chunk: 400.
    let tiny = patch(s, &url, 0, &chunk[..MIN_CHUNK - 1], &[]);
    assert_eq!(tiny.status, 400, "{}", String::from_utf8_lossy(&tiny.body));
    let huge = s.tus("POST", "/v1/uploads", &[("upload-length", "999999999999")], &[]);
    assert_eq!(huge.status, 413);
    let over_input_limit = s.tus("POST", "/v1/uploads", &[("upload-length", "41943041")], &[]);
    assert_eq!(over_input_limit.status, 413, "Upload-Length over max_input_bytes is refused before any byte");
    let big = create(s, 20 * MIB, &[]);
    let head = [("Tus-Resumable", "1.0.0"), ("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream")];
    let answer = s.head_only("PATCH", &big, &head, 10 * MIB as u64 + 1);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Unknown upload 404; no token 401.
    assert_eq!(s.tus("HEAD", "/v1/uploads/0123456789abcdef0123456789abcdef", &[], &[]).status, 404);
    assert_eq!(s.post("/v1/uploads", "text/plain", b"", None).status, 401);
    // A good chunk still lands after all that.
    assert_eq!(patch(s, &url, 0, &chunk, &[("upload-checksum", &sha1_header(&chunk))]).status, 204);
    // Duplicated PATCH (a retry of a chunk that arrived): 409, nothing changes.
    assert_eq!(patch(s, &url, 0, &chunk, &[]).status, 409);
    assert_eq!(s.tus("HEAD", &url, &[], &[]).header("upload-offset"), Some("100"));
    // Termination: 204, then 404.
    assert_eq!(s.tus("DELETE", &url, &[], &[]).status, 204);
    assert_eq!(s.tus("HEAD", &url, &[], &[]).status, 404);
    assert_eq!(patch(s, &url, 100, &chunk, &[]).status, 404);
}

#[test]
fn concurrent_patches_one_wins_nothing_is_lost() {
    let s = stack();
    let data = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let url = create(s, data.len(), &[]);
    let half = data.len() / 2;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let a = scope.spawn(|| patch(s, &url, 0, &data[..half], &[]).status);
        let b = scope.spawn(|| patch(s, &url, 0, &data[..half], &[]).status);
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let wins = statuses.iter().filter(|&&st| st == 204).count();
    assert!(wins == 1 && statuses.iter().all(|&st| matches!(st, 204 | 409 | 423)), "{statuses:?}");
    let offset: usize = s.tus("HEAD", &url, &[], &[]).header("upload-offset").unwrap().parse().unwrap();
    assert_eq!(offset, half);
    assert_eq!(patch(s, &url, half, &data[half..], &[]).status, 204);
    check_manifest(s, &s.wait_for_manifest(&url), &data);
}

#[test]
fn creation_with_upload_and_concatenation() {
    let s = stack();
    let data = std::fs::read(corpus().join("photos/eveningglow-2560x1600.jpg")).unwrap();
    // creation-with-upload: the whole file in the POST.
    let len = data.len().to_string();
    let reply = s.tus("POST", "/v1/uploads", &[("upload-length", &len), OCTETS], &data);
    assert_eq!(reply.status, 201);
    assert_eq!(reply.header("upload-offset"), Some(len.as_str()));
    check_manifest(s, &s.wait_for_manifest(reply.header("location").unwrap()), &data);

    // Concatenation: three partial uploads sent in parallel, then the final.
    let parts: Vec<&[u8]> = data.chunks(data.len() / 3 + 1).collect();
    let urls: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                scope.spawn(move || {
                    let url = create(s, part.len(), &[("upload-concat", "partial")]);
                    upload_in_chunks(s, &url, part, 128 * 1024);
                    url
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let concat = format!("final;{}", urls.join(" "));
    let meta = format!("filename {}", b64("glow.jpg"));
    let reply = s.tus("POST", "/v1/uploads", &[("upload-concat", &concat), ("upload-metadata", &meta)], &[]);
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let final_url = reply.header("location").unwrap().to_string();
    let manifest = s.wait_for_manifest(&final_url);
    check_manifest(s, &manifest, &data);
    assert!(manifest["original"]["key"].as_str().unwrap().ends_with("/glow.jpg"));
    // PATCH to a final upload is forbidden; an unfinished partial can't be concatenated.
    assert_eq!(patch(s, &final_url, 0, b"x", &[]).status, 403);
    let unfinished = create(s, 10, &[("upload-concat", "partial")]);
    let concat = format!("final;{unfinished}");
    assert_eq!(s.tus("POST", "/v1/uploads", &[("upload-concat", &concat)], &[]).status, 400);
}

#[test]
fn expired_uploads_are_gone() {
    let s = Stack::start_with("tus-expiry", &[("SPIN_VARIABLE_UPLOAD_EXPIRY_SECONDS", "1")]);
    let url = create(&s, 1000, &[]);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(s.tus("HEAD", &url, &[], &[]).status, 410);
    assert_eq!(patch(&s, &url, 0, b"abc", &[]).status, 410);
}

#[test]
fn a_retried_last_patch_leaves_a_finished_upload_alone() {
    let s = stack();
    let data = std::fs::read(corpus().join("photos/colorfulcups-2560x1600.jpg")).unwrap();
    let url = create(s, data.len(), &[]);
    upload_in_chunks(s, &url, &data, 256 * 1024);
    let manifest = s.wait_for_manifest(&url);
    check_manifest(s, &manifest, &data);
    // A client retrying its last request: offset = length, no body.
    let retry = patch(s, &url, data.len(), &[], &[]);
    assert_eq!(retry.status, 204, "{}", String::from_utf8_lossy(&retry.body));
    assert_eq!(retry.header("upload-offset"), Some(data.len().to_string().as_str()));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.wait_for_manifest(&url), manifest, "the retry changed the manifest");
    let key = manifest["original"]["key"].as_str().unwrap();
    let stored = s.get_url(&format!("{}/kiln/{}", s.s3, kiln_upload::keys::manifest_key(key).replace(' ', "%20")));
    assert_eq!(stored.json(), manifest, "the retry changed manifest.json");
}

#[test]
fn the_first_chunk_is_checked_for_pixels_and_format() {
    let s = stack();
    // 30000×30000 (900 MP) declared in the header: refused on the first PATCH.
    let bomb = std::fs::read(corpus().join("hostile/bomb-30000x30000.png")).unwrap();
    let url = create(s, bomb.len(), &[]);
    let reply = patch(s, &url, 0, &bomb[..256 * 1024], &[]);
    assert_eq!(reply.status, 413, "{}", String::from_utf8_lossy(&reply.body));
    assert!(String::from_utf8_lossy(&reply.body).contains("pixel"));
    assert_eq!(s.tus("HEAD", &url, &[], &[]).header("upload-offset"), Some("0"));
    let random = std::fs::read(corpus().join("hostile/random.bin")).unwrap();
    let url = create(s, random.len(), &[]);
    assert_eq!(patch(s, &url, 0, &random[..4096], &[]).status, 415);
}
