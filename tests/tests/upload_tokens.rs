//! End to end: scoped upload tokens, as a server hands one to a browser.
//! `POST /v1/upload-tokens` (master token only) issues a short-lived signed
//! token bound to an expiry, a largest size, the formats allowed and a
//! number of uploads; tus and one-shot uploads accept it, and refuse it
//! with a clear error when it is expired, altered, used up, over its size,
//! the wrong format, or used on someone else's upload.

use kiln_e2e::{corpus, Reply, Stack};

fn issue(s: &Stack, body: &str) -> Reply {
    s.post("/v1/upload-tokens", "application/json", body.as_bytes(), Some(&s.token))
}

fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["token"].as_str().unwrap().to_string()
}

/// A tus request with `token` in place of the master token.
fn tus(s: &Stack, token: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let bearer = format!("Bearer {token}");
    let mut all = vec![("authorization", bearer.as_str()), ("tus-resumable", "1.0.0")];
    all.extend_from_slice(headers);
    s.request(method, path, &all, body)
}

fn create(s: &Stack, token: &str, length: usize) -> Reply {
    tus(s, token, "POST", "/v1/uploads", &[("upload-length", &length.to_string())], b"")
}

fn patch(s: &Stack, token: &str, path: &str, offset: usize, body: &[u8]) -> Reply {
    let offset = offset.to_string();
    tus(s, token, "PATCH", path, &[("upload-offset", &offset), ("content-type", "application/offset+octet-stream")], body)
}

fn detail(reply: &Reply) -> String {
    reply.json()["detail"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_scoped_token_uploads_what_it_allows_and_nothing_else() {
    let s = Stack::start("upload-tokens");
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();

    // Issuing needs the master token; the request is checked.
    assert_eq!(s.post("/v1/upload-tokens", "application/json", b"{}", None).status, 401);
    let bad = issue(&s, r#"{"uploads": 0}"#);
    assert_eq!(bad.status, 400, "{}", String::from_utf8_lossy(&bad.body));
    assert!(detail(&bad).contains("uploads"), "{}", detail(&bad));
    assert_eq!(issue(&s, r#"{"colour": "red"}"#).status, 400);
    let reply = issue(&s, r#"{"expires_in": 600, "max_bytes": 2000000, "formats": ["jpeg"], "uploads": 1}"#);
    let token = token_of(&reply);
    let grant = reply.json();
    assert_eq!((grant["max_bytes"].as_u64(), grant["uploads"].as_u64()), (Some(2_000_000), Some(1)));
    assert!(token.starts_with("kiln_ut."));
    // A scoped token cannot issue tokens.
    assert_eq!(s.post("/v1/upload-tokens", "application/json", b"{}", Some(&token)).status, 401);

    // A tus upload in two chunks, HEAD and the manifest, all with the token.
    let created = create(&s, &token, photo.len());
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let path = created.header("location").unwrap().to_string();
    let half = photo.len() / 2;
    assert_eq!(patch(&s, &token, &path, 0, &photo[..half]).status, 204);
    assert_eq!(tus(&s, &token, "HEAD", &path, &[], b"").header("upload-offset"), Some(half.to_string().as_str()));
    assert_eq!(patch(&s, &token, &path, half, &photo[half..]).status, 204);
    let manifest = loop {
        let got = tus(&s, &token, "GET", &path, &[], b"");
        if got.status == 200 {
            break got.json();
        }
        assert_eq!(got.status, 202, "{}", String::from_utf8_lossy(&got.body));
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(manifest["status"], "done", "{manifest:#}");

    // Its one upload is spent.
    let again = create(&s, &token, photo.len());
    assert_eq!(again.status, 403, "{}", String::from_utf8_lossy(&again.body));
    assert!(detail(&again).contains("1 upload"), "{}", detail(&again));

    // Another's upload is invisible to it; the master token sees both.
    let theirs = s.tus("POST", "/v1/uploads", &[("upload-length", "100")], b"");
    let theirs = theirs.header("location").unwrap().to_string();
    assert_eq!(tus(&s, &token, "HEAD", &theirs, &[], b"").status, 404);
    assert_eq!(tus(&s, &token, "GET", &theirs, &[], b"").status, 404);
    assert_eq!(tus(&s, &token, "DELETE", &theirs, &[], b"").status, 404);
    assert_eq!(s.tus("HEAD", &path, &[], b"").status, 200);
    // And it opens no other route.
    assert_eq!(s.post("/v1/sweep", "application/json", b"", Some(&token)).status, 401);
}

#[test]
fn size_format_expiry_and_tampering_are_refused_with_reasons() {
    let s = Stack::start_quiet("upload-tokens-refusals");
    let photo = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();

    // Over its size: refused before a use is spent.
    let small = token_of(&issue(&s, r#"{"max_bytes": 1000, "uploads": 1}"#));
    let over = create(&s, &small, 2000);
    assert_eq!(over.status, 413);
    assert!(detail(&over).contains("max_bytes"), "{}", detail(&over));
    assert_eq!(create(&s, &small, 1000).status, 201, "the refused create spent nothing");

    // The wrong format: the JPEG's first chunk gets a 415.
    let png_only = token_of(&issue(&s, r#"{"formats": ["png"]}"#));
    let created = create(&s, &png_only, photo.len());
    let path = created.header("location").unwrap().to_string();
    let refused = patch(&s, &png_only, &path, 0, &photo[..300_000]);
    assert_eq!(refused.status, 415, "{}", String::from_utf8_lossy(&refused.body));
    assert!(detail(&refused).contains("png"), "{}", detail(&refused));

    // One-shot: the format and the size, before a use is spent.
    let jpeg_only = token_of(&issue(&s, r#"{"formats": ["jpeg"], "max_bytes": 500000, "uploads": 1}"#));
    // Refused from the declared length, before the body is read: send only
    // the head (writing the whole body would race the server's close).
    let too_big = s.head_only_as(&jpeg_only, "POST", "/v1/images", &[("content-type", "image/jpeg")], photo.len() as u64);
    assert!(too_big.starts_with("HTTP/1.1 413") && too_big.contains("500000"), "{too_big}");
    let one_shot = token_of(&issue(&s, r#"{"formats": ["jpeg"], "uploads": 1}"#));
    let png = std::fs::read(corpus().join("features/alpha.png")).unwrap();
    assert_eq!(s.post("/v1/images", "image/png", &png, Some(&one_shot)).status, 415);
    let done = s.post("/v1/images?filename=p.jpg", "image/jpeg", &photo, Some(&one_shot));
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(s.post("/v1/images", "image/jpeg", &photo, Some(&one_shot)).status, 403);

    // Altered: any changed character breaks the signature.
    let token = token_of(&issue(&s, r#"{"uploads": 5}"#));
    let mut altered = token.clone().into_bytes();
    let at = token.len() / 3;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let reply = create(&s, &altered, 100);
    assert_eq!(reply.status, 401);
    assert!(detail(&reply).contains("signature") || detail(&reply).contains("malformed"), "{}", detail(&reply));

    // Expired.
    let brief = token_of(&issue(&s, r#"{"expires_in": 1}"#));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let reply = create(&s, &brief, 100);
    assert_eq!(reply.status, 401);
    assert!(detail(&reply).contains("expired"), "{}", detail(&reply));
}
