//! The `kiln` binary against a real stack: upload with a progress bar and a
//! table, `--json`, and an interrupted upload resumed by running again.

use kiln_e2e::{corpus, Stack};
use sha2::{Digest, Sha256};
use std::process::Command;

fn kiln(s: &Stack, state: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["--api", &s.api, "--token", &s.token, "upload", "--state-dir"])
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn upload_resume_and_manifest() {
    let s = Stack::start("cli");
    let state = s.dir.join("cli-state");
    let photo = corpus().join("photos/path-4000x3000-12mp.jpg");
    let data = std::fs::read(&photo).unwrap();
    let sha = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let path = photo.to_str().unwrap();

    // Interrupted after 2 MiB (exit 3), then resumed by the same command.
    let paused = kiln(&s, &state, &["--chunk-size", "1048576", "--pause-after", "2097152", path]);
    assert_eq!(paused.status.code(), Some(3), "{}", String::from_utf8_lossy(&paused.stderr));
    let resumed = kiln(&s, &state, &["--chunk-size", "1048576", "--json", path]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains("resuming from byte 2097152"), "{stderr}");
    let manifest: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(manifest["status"], "done");
    assert_eq!(manifest["original"]["sha256"], sha.as_str());
    assert_eq!(manifest["variants"].as_array().unwrap().len(), 4);

    // A fresh upload prints the table.
    let table = kiln(&s, &state, &[corpus().join("features/gray.jpg").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    for word in ["status done", "webp", "avif", "jpeg", "thumbnail", "http://"] {
        assert!(out.contains(word), "table lacks {word}:\n{out}");
    }
    // Wrong token: a clear error, non-zero exit.
    let denied = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["--api", &s.api, "--token", "wrong", "upload", "--state-dir"])
        .arg(&state)
        .arg(path)
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("401"));
}
