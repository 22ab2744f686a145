//! End to end: CORS on the upload API, as a browser on another origin uses
//! it. Preflights are answered without a token; an allowed origin's answers
//! (errors too) carry `Access-Control-Allow-Origin` and expose every tus
//! header; other origins get nothing a browser would accept; with the
//! default (`cors_allowed_origins` empty) CORS is off.

use kiln_e2e::{corpus, Reply, Stack};

const APP: &str = "http://app.example.test:8080";

fn allowed(reply: &Reply) -> Option<&str> {
    reply.header("access-control-allow-origin")
}

fn exposes(reply: &Reply, names: &[&str]) {
    let exposed = reply.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    for name in names {
        assert!(exposed.contains(&name.to_ascii_lowercase()), "{name} not exposed: {exposed:?}");
    }
}

#[test]
fn a_browser_on_an_allowed_origin_can_upload_with_tus() {
    let s = Stack::start_with("cors", &[("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", &format!("https://other.test, {APP}"))]);

    // Preflight for the PATCH a tus client sends: no token, 204.
    let preflight = s.request(
        "OPTIONS",
        "/v1/uploads/some-id",
        &[("origin", APP), ("access-control-request-method", "PATCH"), ("access-control-request-headers", "authorization,content-type,tus-resumable,upload-offset")],
        b"",
    );
    assert_eq!(preflight.status, 204, "{}", String::from_utf8_lossy(&preflight.body));
    assert_eq!(allowed(&preflight), Some(APP));
    let methods = preflight.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("PATCH") && methods.contains("POST") && methods.contains("HEAD"), "{methods}");
    let headers = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    for h in ["authorization", "content-type", "tus-resumable", "upload-offset", "upload-length", "upload-metadata"] {
        assert!(headers.contains(h), "{h} not allowed: {headers}");
    }
    assert!(preflight.header("access-control-max-age").is_some());

    // The upload itself, every request from the page's origin.
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let length = photo.len().to_string();
    let created = s.tus("POST", "/v1/uploads", &[("origin", APP), ("upload-length", &length)], b"");
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(allowed(&created), Some(APP));
    exposes(&created, &["Location", "Upload-Offset", "Upload-Length", "Upload-Expires", "Tus-Resumable"]);
    assert_eq!(created.header("vary"), Some("Origin"));
    let location = created.header("location").unwrap().to_string();
    let path = location.trim_start_matches(&s.api);

    let patched = s.tus("PATCH", path, &[("origin", APP), ("upload-offset", "0"), ("content-type", "application/offset+octet-stream")], &photo);
    assert_eq!(patched.status, 204, "{}", String::from_utf8_lossy(&patched.body));
    assert_eq!(allowed(&patched), Some(APP));
    exposes(&patched, &["Upload-Offset"]);
    let head = s.tus("HEAD", path, &[("origin", APP)], b"");
    assert_eq!((head.status, allowed(&head)), (200, Some(APP)));
    assert_eq!(head.header("upload-offset"), Some(length.as_str()));

    // An error is readable by the page too (a wrong token: 401 with CORS).
    let refused = s.request("GET", path, &[("origin", APP), ("authorization", "Bearer wrong")], b"");
    assert_eq!((refused.status, allowed(&refused)), (401, Some(APP)));

    // The manifest, polled from the page.
    let manifest = s.wait_for_manifest(&location);
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    let got = s.request("GET", path, &[("origin", APP), ("authorization", &format!("Bearer {}", s.token))], b"");
    assert_eq!((got.status, allowed(&got)), (200, Some(APP)));

    // Another origin: its preflight is refused with a reason, and answers
    // to it carry no Allow-Origin (the browser blocks them).
    let evil = "https://evil.test";
    let refused = s.request("OPTIONS", "/v1/uploads", &[("origin", evil), ("access-control-request-method", "POST")], b"");
    assert_eq!(refused.status, 403);
    assert_eq!(allowed(&refused), None);
    assert_eq!(refused.json()["error"], "cors_origin_not_allowed");
    let answered = s.tus("HEAD", path, &[("origin", evil)], b"");
    assert_eq!((answered.status, allowed(&answered)), (200, None));

    // tus' own OPTIONS (capability discovery, no preflight headers) is unchanged.
    let discovery = s.request("OPTIONS", "/v1/uploads", &[("origin", APP)], b"");
    assert_eq!(discovery.status, 204, "{}", String::from_utf8_lossy(&discovery.body));
    assert!(discovery.header("tus-version").is_some() && discovery.header("tus-extension").is_some());
    assert_eq!(allowed(&discovery), Some(APP));
}

#[test]
fn cors_is_off_by_default() {
    let s = Stack::start_quiet("cors-off");
    let preflight = s.request("OPTIONS", "/v1/uploads", &[("origin", APP), ("access-control-request-method", "POST")], b"");
    assert_eq!(preflight.status, 403);
    assert!(preflight.json()["detail"].as_str().unwrap().contains("cors_allowed_origins"));
    let created = s.tus("POST", "/v1/uploads", &[("origin", APP), ("upload-length", "10")], b"");
    assert_eq!(created.status, 201);
    assert_eq!(allowed(&created), None);
    assert_eq!(created.header("vary"), None);
}

#[test]
fn a_malformed_origin_list_is_a_clear_misconfiguration() {
    let s = Stack::start_with("cors-bad", &[("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", "https://app.example.test/")]);
    let reply = s.tus("POST", "/v1/uploads", &[("upload-length", "10")], b"");
    assert_eq!(reply.status, 500);
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("cors_allowed_origins") && detail.contains("trailing slash"), "{detail}");
}
