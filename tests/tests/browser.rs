//! End to end in a real browser: Debian's Chromium (headless, driven by
//! puppeteer-core, tests/node/browser.mjs) opens the upload page that the
//! upload-page component serves, at 127.0.0.1, with the API under another
//! host name (another origin: CORS). With a scoped upload token (the
//! master token never reaches the page), it uploads a 12 MP photo in 1 MiB
//! tus chunks over a throttled link, is reloaded mid-upload, resumes from
//! the server's offset on the same upload, and shows the four variants,
//! the thumbnail and their links. In a fresh profile, the page without a
//! token asks for one, and an upload its token refuses shows kiln's reason.
//! The screenshot goes to
//! docs/img/upload-page.png (the README shows it).

use kiln_e2e::images::verify;
use kiln_e2e::{corpus, hex, repo_root, Stack};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

const MIB: u64 = 1024 * 1024;

fn drive_chromium(page_url: &str, file: &Path, screenshot: &Path, refusing_url: &str, refused: &Path) -> Value {
    let script = repo_root().join("tests/node/browser.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(page_url)
        .arg(file)
        .arg(screenshot)
        .arg(refusing_url)
        .arg(refused)
        .output()
        .expect("node (Node.js) must be installed; scripts/setup.sh installs Chromium and puppeteer-core");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser run failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn phase<'a>(seen: &'a Value, list: &str, phase: &str) -> Vec<&'a Value> {
    seen[list].as_array().unwrap().iter().filter(|e| e["phase"] == phase).collect()
}

#[test]
fn the_upload_page_uploads_resumes_after_a_reload_and_shows_the_variants() {
    // The page is loaded from 127.0.0.1; the API is reached as
    // kiln-api.test (Chromium maps it to 127.0.0.1): only the page's
    // origin is allowed.
    let s = Stack::start_with("browser", &[("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", "{api}")]);
    let api_origin = s.api.replace("127.0.0.1", "kiln-api.test");
    // A copy: Chromium will not read a file chosen from the read-only
    // ../shared mount (net::ERR_ACCESS_DENIED on the first PATCH).
    let data = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    let file = s.dir.join("path-4000x3000-12mp.jpg");
    std::fs::write(&file, &data).unwrap();

    // What the embedding site's server does: mint a scoped token.
    let minted = s.post("/v1/upload-tokens", "application/json", br#"{"expires_in": 900, "max_bytes": 20000000, "formats": ["jpeg", "png"], "uploads": 2}"#, Some(&s.token));
    assert_eq!(minted.status, 201, "{}", String::from_utf8_lossy(&minted.body));
    let token = minted.json()["token"].as_str().unwrap().to_string();

    // The page's bare route leads to it (a 308 to /upload/, followed), and its bundle is served.
    let bare = s.request("GET", "/upload", &[], b"");
    assert_eq!((bare.status, bare.header("content-type")), (200, Some("text/html; charset=utf-8")));
    let bundle = s.request("GET", "/upload/app.js", &[], b"");
    assert_eq!((bundle.status, bundle.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(s.request("GET", "/upload/../spin.toml", &[], b"").status, 404);

    let page = format!("{}/upload/#api={api_origin}&token={token}&chunk={}", s.api, MIB);
    let screenshot = repo_root().join("docs/img/upload-page.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    // A second token, for JPEGs only, and a PNG the page must be refused.
    let jpeg_only = s.post("/v1/upload-tokens", "application/json", br#"{"formats": ["jpeg"]}"#, Some(&s.token)).json()["token"].as_str().unwrap().to_string();
    let refusing = format!("{}/upload/#api={api_origin}&token={jpeg_only}", s.api);
    let png = s.dir.join("not-a-jpeg.png");
    std::fs::copy(corpus().join("features/alpha.png"), &png).unwrap();

    let seen = drive_chromium(&page, &file, &screenshot, &refusing, &png);
    eprintln!("{seen:#}");
    let result = &seen["result"];
    // Every request the page made carried the scoped token, never the master one.
    assert_eq!(seen["bearers"], serde_json::json!([format!("Bearer {token}")]), "the page sent other credentials");
    assert_eq!(result["pageOrigin"], s.api.as_str());

    // One upload, created before the reload, through the other origin.
    let creations = seen["creations"].as_array().unwrap();
    assert_eq!(creations.len(), 1, "expected exactly one upload created: {creations:?}");
    assert_eq!(creations[0]["phase"], "before-reload");
    assert_eq!(creations[0]["status"], 201);
    let location = creations[0]["location"].as_str().unwrap();
    let upload_id = location.rsplit('/').next().unwrap();
    assert!(creations[0]["url"].as_str().unwrap().starts_with(&api_origin), "{}", creations[0]["url"]);

    // Interrupted mid-upload, then resumed on the same upload from the
    // server's offset: a HEAD after the reload, and the first PATCH
    // after it starts where the server had got to, not at 0.
    let interrupted = seen["interruptedAt"].as_u64().unwrap();
    assert!(interrupted >= MIB && interrupted < data.len() as u64, "interrupted at {interrupted}");
    let progress = seen["progressBeforeReload"].as_str().unwrap();
    assert!(progress.contains('%') && progress.contains("Uploading"), "no progress shown mid-upload: {progress:?}");
    let heads = phase(&seen, "heads", "after-reload");
    assert!(heads.iter().any(|h| h["url"].as_str().unwrap().ends_with(upload_id) && h["offset"].as_u64().unwrap() >= interrupted), "no HEAD of the upload after the reload: {heads:?}");
    let patches = phase(&seen, "patches", "after-reload");
    let first = patches.first().expect("no PATCH after the reload");
    assert!(first["url"].as_str().unwrap().ends_with(upload_id), "{first}");
    assert!(first["sent"].as_u64().unwrap() >= interrupted, "the resumed upload restarted at {}: {first}", first["sent"]);
    assert!(phase(&seen, "patches", "before-reload").len() + patches.len() >= 4, "expected many 1 MiB chunks");
    assert_eq!(patches.last().unwrap()["offset"].as_u64(), Some(data.len() as u64), "{patches:?}");

    // The page shows the finished upload: its four variants and the thumbnail.
    assert_eq!(result["status"], "done", "{result:#}");
    assert_eq!(result["uploadId"], upload_id);
    let formats: Vec<&str> = result["links"].as_array().unwrap().iter().map(|l| l["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["webp", "avif", "jpeg", "thumbnail"], "{result:#}");
    assert!(result["thumbnail"]["width"].as_u64().unwrap() == 256, "{}", result["thumbnail"]);
    assert!(seen["consoleErrors"].as_array().unwrap().is_empty(), "errors in the page: {}", seen["consoleErrors"]);

    // And the server agrees: the original is the file, every variant decodes.
    let manifest = s.wait_for_manifest(&format!("/v1/uploads/{upload_id}"));
    // The thumbnail sits on the manifest's placeholder.
    let (shown, placeholder) = (&result["thumbnail"], &manifest["placeholder"]);
    assert_eq!(shown["dominantColor"], placeholder["dominant_color"], "{shown}");
    assert_eq!(shown["aspectRatio"].as_str(), Some(format!("{} / 1", placeholder["aspect_ratio"]).as_str()), "{shown}");
    assert_eq!(shown["preview"], true, "no ThumbHash preview: {shown}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(&data)).as_str());
    for link in result["links"].as_array().unwrap() {
        let variant = manifest["variants"].as_array().unwrap().iter().find(|v| v["format"] == link["format"]).unwrap();
        assert_eq!(link["href"], variant["url"]);
        verify(&s.get_url(variant["url"].as_str().unwrap()).body, variant["mime_type"].as_str().unwrap()).unwrap();
    }
    let shot = std::fs::read(&screenshot).unwrap();
    assert!(shot.starts_with(b"\x89PNG") && shot.len() > 10_000, "screenshot of {} bytes", shot.len());

    // Without a token the page asks for one; a refused upload says why.
    let refused = &seen["refused"];
    assert_eq!(refused["tokenFormShown"], true, "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert_eq!(error, "not-a-jpeg.png: refused (415 unsupported_media_type): the upload token allows only jpeg images, this is image/png");
}
