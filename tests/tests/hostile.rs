//! End to end: bad input, bad credentials and bad requests get the
//! documented status and JSON error, and the server keeps serving.

use kiln_e2e::{corpus, Stack};
use std::sync::OnceLock;

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| Stack::start_quiet("hostile"))
}

const ROUTES: &[&str] = &["/v1/convert/webp", "/v1/convert/avif", "/v1/convert/jpeg", "/v1/thumbnail"];

fn hostile(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join("hostile").join(name)).unwrap()
}

fn assert_error(reply: &kiln_e2e::Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some("application/json"), "{what}");
    let json = reply.json();
    assert_eq!(json["error"], code, "{what}: {json}");
    assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: no detail");
}

/// A real conversion still works (the server survived what came before).
fn assert_still_serving(s: &Stack, route: &str) {
    let photo = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    assert_eq!(s.convert(route, &photo).status, 200, "{route} stopped serving");
}

#[test]
fn hostile_files_are_refused_with_the_documented_status() {
    let s = stack();
    let cases: &[(&str, u16, &str)] = &[
        ("truncated.jpg", 422, "corrupt_image"),
        ("random.bin", 415, "unsupported_media_type"),
        ("empty.jpg", 415, "unsupported_media_type"),
        ("not-an-image.jpg", 415, "unsupported_media_type"),
        ("claims-100000x100000.png", 413, "too_large"),
        ("bomb-30000x30000.png", 413, "too_large"),
    ];
    for route in ROUTES {
        for &(file, status, code) in cases {
            let reply = s.convert(route, &hostile(file));
            assert_error(&reply, status, code, &format!("{file} -> {route}"));
            if status == 413 {
                let detail = reply.json()["detail"].as_str().unwrap().to_string();
                assert!(detail.contains("pixels"), "{file}: 413 detail lacks the numbers: {detail}");
            }
        }
        assert_still_serving(s, route);
    }
}

#[test]
fn credentials_are_required() {
    let s = stack();
    let photo = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    for route in ROUTES {
        assert_error(&s.post(route, "image/jpeg", &photo, None), 401, "unauthorized", "no token");
        assert_error(&s.post(route, "image/jpeg", &photo, Some("wrong")), 401, "unauthorized", "wrong token");
        let json_body = br#"{"key":"originals/x.jpg"}"#;
        assert_error(&s.post(route, "application/json", json_body, Some("wrong")), 401, "unauthorized", "storage mode, wrong token");
        assert_still_serving(s, route);
    }
}

#[test]
fn storage_mode_errors() {
    let s = stack();
    let route = "/v1/convert/jpeg";
    assert_error(&s.convert_key(route, "originals/does-not-exist.jpg"), 404, "not_found", "missing key");
    assert_error(&s.convert_key(route, "originals/../etc/passwd"), 400, "bad_request", "dot-dot key");
    assert_error(&s.convert_key(route, "sources/x.jpg"), 400, "bad_request", "not an original");
    assert_error(&s.convert_key(route, "variants/x/webp.webp"), 400, "bad_request", "variant as source");
    assert_error(&s.post(route, "application/json", b"{not json", Some(&s.token)), 400, "bad_request", "bad JSON");
    // A corrupt original in the bucket: 422, and no variant is written.
    s.put_object("originals/broken.jpg", &hostile("truncated.jpg"));
    assert_error(&s.convert_key(route, "originals/broken.jpg"), 422, "corrupt_image", "corrupt original");
    assert_eq!(s.get_object("variants/broken.jpg/jpeg.jpg").status, 404);
}

#[test]
fn storage_failure_is_a_502_after_retries() {
    // Point the app at a port where nothing listens: every attempt fails.
    let dead = format!("http://127.0.0.1:{}", kiln_e2e::process::free_port());
    let s = Stack::start_with("dead-storage", &[("SPIN_VARIABLE_S3_ENDPOINT", &dead), ("SPIN_VARIABLE_STORAGE_ATTEMPTS", "3")]);
    let reply = s.convert_key("/v1/convert/jpeg", "originals/any.jpg");
    assert_error(&reply, 502, "storage_failed", "dead storage");
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("after 3 attempts"), "{detail}");
}

#[test]
fn wrong_method_is_405_and_get_is_the_health_check() {
    let s = stack();
    let reply = s.request("DELETE", "/v1/convert/webp", &[], b"");
    assert_error(&reply, 405, "method_not_allowed", "POST");
    // GET answers readiness probes (deploy/) without a token or any work.
    for path in ["/v1/convert/webp", "/v1/convert/avif", "/v1/thumbnail", "/healthz"] {
        let health = s.get_url(&format!("{}{path}", s.api));
        assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ok")), "{path}");
    }
}

#[test]
fn limits_are_configurable_and_refuse_with_the_numbers() {
    let s = Stack::start_with(
        "small-limits",
        &[("SPIN_VARIABLE_MAX_INPUT_BYTES", "300000"), ("SPIN_VARIABLE_MAX_MEMORY_BYTES", "16777216")],
    );
    let big_file = std::fs::read(corpus().join("photos/colorfulcups-2560x1600.jpg")).unwrap();
    // Refused from the declared length, before the body is read: send only
    // the head (writing the whole body would race the server's close).
    let answer = s.head_only("POST", "/v1/convert/jpeg", &[("content-type", "image/jpeg")], big_file.len() as u64);
    assert!(answer.starts_with("HTTP/1.1 413"), "body over max_input_bytes: {answer}");
    assert!(answer.contains("too_large") && answer.contains("300000"), "{answer}");
    // Under the byte limit but over the memory estimate limit (16 MiB).
    let small_file = std::fs::read(corpus().join("features/gray.jpg")).unwrap();
    assert!(small_file.len() < 300_000);
    let reply = s.convert("/v1/convert/avif", &small_file);
    assert_error(&reply, 413, "too_large", "estimate over max_memory_bytes");
    assert!(reply.json()["detail"].as_str().unwrap().contains("the limit is 16 MiB"));
    // The same image fits when the thumbnail shrinks it on load.
    assert_eq!(s.convert("/v1/thumbnail", &small_file).status, 200);
}

/// A GIF of `w`×`h` whose one frame is `fw`×`fh` at (`left`, 0), with a
/// minimal (1-colour) LZW stream: the three crafted files of issue #10.
fn gif_with_frame(w: u16, h: u16, left: u16, fw: u16, fh: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    for v in [w, h] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    b.push(0x2C);
    for v in [left, 0, fw, fh] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0, 2, 2, 0x44, 0x01, 0, 0x3B]);
    b
}

/// A 1×1 PNG carrying an iCCP chunk whose zlib data inflates to `inflated` zero bytes.
fn png_with_iccp_bomb(inflated: usize) -> Vec<u8> {
    let mut ok = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut ok, 1, 1);
        enc.set_color(png::ColorType::Rgb);
        enc.write_header().unwrap().write_image_data(&[1, 2, 3]).unwrap();
    }
    let profile = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; inflated], 10);
    let mut data = b"bomb\0\0".to_vec();
    data.extend_from_slice(&profile);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let typed = [b"iCCP".as_slice(), &data].concat();
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32fast::hash(&typed).to_be_bytes());
    // After IHDR (8 + 25 bytes), before IDAT.
    [&ok[..33], &chunk, &ok[33..]].concat()
}

#[test]
fn the_crafted_files_of_issue_10_get_json_errors_not_traps() {
    let s = stack();
    let cases: &[(&str, Vec<u8>, u16, &str)] = &[
        ("1x1 screen, 5600x5600 frame", gif_with_frame(1, 1, 0, 5600, 5600), 422, "corrupt_image"),
        ("frame outside the screen", gif_with_frame(1, 1, 2, 1, 1), 422, "corrupt_image"),
        // The profile is bounded (max_icc_bytes): refused, never inflated whole.
        ("300 MB iCCP in a 1x1 PNG", png_with_iccp_bomb(300 << 20), 413, "too_large"),
    ];
    for route in ROUTES {
        for (what, bytes, status, code) in cases {
            let reply = s.convert(route, bytes);
            if *status == 200 {
                assert_eq!(reply.status, 200, "{what} -> {route}: {}", String::from_utf8_lossy(&reply.body));
            } else {
                assert_error(&reply, *status, code, &format!("{what} -> {route}"));
            }
        }
        assert_still_serving(s, route);
    }
}

#[test]
fn a_converter_that_runs_out_of_memory_says_so_in_json() {
    // With the estimate's limit lifted past the instance's 128 MiB, a full
    // decode of the 31 MP photo really runs out of memory: the caller must
    // get a JSON 500 that says so, not Spin's empty 500.
    let s = Stack::start_with("last-words", &[("SPIN_VARIABLE_MAX_MEMORY_BYTES", "4294967296")]);
    let photo = std::fs::read(corpus().join("photos/fallenleaf-4958x6198-31mp.jpg")).unwrap();
    let reply = s.convert("/v1/convert/jpeg?width=2048", &photo);
    assert_error(&reply, 500, "internal_error", "out of memory");
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("out of memory"), "{detail}");
    assert_still_serving(&s, "/v1/convert/jpeg");
}
