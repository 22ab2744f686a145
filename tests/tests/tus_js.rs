//! End to end with an unmodified tus client: tus-js-client 4 (npm), driven
//! by Node (tests/node/upload.mjs), uploads in 256 KiB chunks — many PATCHes
//! — and once more with an interruption after 1 MiB, resumed from the
//! server's offset by a new `tus.Upload` (HEAD). Both yield four variants
//! and a manifest whose SHA-256 is the file's.

use kiln_e2e::images::verify;
use kiln_e2e::{corpus, hex, repo_root, Stack};
use sha2::{Digest, Sha256};
use std::process::Command;

fn node_upload(s: &Stack, file: &std::path::Path, interrupt_after: Option<usize>) -> serde_json::Value {
    let script = repo_root().join("tests/node/upload.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(&s.api).arg(&s.token).arg(file);
    if let Some(n) = interrupt_after {
        cmd.arg(n.to_string());
    }
    let out = cmd.output().expect("node (Node.js) must be installed; scripts/setup.sh installs tus-js-client");
    assert!(out.status.success(), "tus-js-client failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn check(s: &Stack, manifest: &serde_json::Value, data: &[u8]) {
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(data)).as_str());
    assert!(manifest["original"]["key"].as_str().unwrap().ends_with("/from-tus-js-client.jpg"));
    for v in manifest["variants"].as_array().unwrap() {
        assert_eq!(v["status"], "done");
        verify(&s.get_url(v["url"].as_str().unwrap()).body, v["mime_type"].as_str().unwrap()).unwrap();
    }
}

#[test]
fn tus_js_client_uploads_and_resumes() {
    let s = Stack::start("tus-js");
    let file = corpus().join("photos/path-4000x3000-12mp.jpg");
    let data = std::fs::read(&file).unwrap();

    let whole = node_upload(&s, &file, None);
    assert!(whole["chunks"].as_u64().unwrap() >= 20, "expected many PATCHes: {whole}");
    check(&s, &s.wait_for_manifest(whole["url"].as_str().unwrap()), &data);

    let resumed = node_upload(&s, &file, Some(1024 * 1024));
    let from = resumed["resumedFrom"].as_u64().expect("the upload was not interrupted");
    assert!(from >= 1024 * 1024 && from < data.len() as u64, "resumed from {from}");
    check(&s, &s.wait_for_manifest(resumed["url"].as_str().unwrap()), &data);
}
