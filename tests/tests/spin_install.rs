//! `make up` on a machine without Spin: scripts/spin-path.sh falls back to
//! scripts/install-spin.sh, which downloads the official release and
//! installs it only if its SHA-256 matches the release's checksums file,
//! and otherwise says exactly how to get Spin. Served here by a local HTTP
//! server laid out like GitHub's release downloads (the real ones are
//! not reachable from the test machines).

use kiln_e2e::repo_root;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

const VERSION: &str = "v4.0.2";

/// A release folder with a fake `spin` in its tarball and a checksums file
/// (`good`: its real SHA-256, else a wrong one).
fn release(dir: &Path, good: bool) {
    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "amd64" };
    let os = if cfg!(target_os = "macos") { "macos" } else { "linux" };
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("spin"), "#!/bin/sh\necho 'spin 4.0.2 (fake, from the test release)'\n").unwrap();
    let tarball = format!("spin-{VERSION}-{os}-{arch}.tar.gz");
    let out = dir.join(VERSION);
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("tar").arg("czf").arg(out.join(&tarball)).arg("-C").arg(&files).arg("spin").status().unwrap();
    assert!(status.success());
    let digest = Sha256::digest(std::fs::read(out.join(&tarball)).unwrap());
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if !good {
        hex = hex.chars().rev().collect();
    }
    std::fs::write(out.join(format!("checksums-{VERSION}.txt")), format!("0000  other-file.tar.gz\n{hex}  {tarball}\n")).unwrap();
}

/// A minimal static file server for `dir` (GET only), on a thread.
fn serve(dir: &Path) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let answer = match std::fs::read(dir.join(&path)) {
                Ok(body) if !path.contains("..") => [format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes(), body].concat(),
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&answer);
        }
    });
    url
}

/// scripts/spin-path.sh with no spin on PATH and no ../shared.
fn spin_path(url_base: &str, install_dir: &Path) -> Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/spin-path.sh"))
        .env("PATH", "/usr/bin:/bin")
        .env("KILN_SHARED_DIR", "/nonexistent-shared")
        .env("KILN_SPIN_DIR", install_dir)
        .env("KILN_SPIN_URL_BASE", url_base)
        .output()
        .unwrap()
}

#[test]
fn spin_is_installed_only_when_its_checksum_matches_and_otherwise_explained() {
    let dir = std::env::temp_dir().join(format!("kiln-spin-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for good in [false, true] {
        let release_dir = dir.join(if good { "good" } else { "bad" });
        release(&release_dir, good);
        let url = serve(&release_dir);
        let install_dir = release_dir.join("installed");
        let out = spin_path(&url, &install_dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if good {
            assert!(out.status.success(), "{stderr}");
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert_eq!(Path::new(&path), install_dir.join("spin"));
            let version = Command::new(&path).arg("--version").output().unwrap();
            assert!(String::from_utf8_lossy(&version.stdout).contains("fake, from the test release"));
            // Next time it is found without downloading.
            assert!(spin_path("http://127.0.0.1:1", &install_dir).status.success());
        } else {
            assert!(!out.status.success(), "a tarball with the wrong checksum was accepted");
            assert!(stderr.contains("SHA-256") && stderr.contains("not installed"), "{stderr}");
            assert!(!install_dir.join("spin").exists());
        }
    }

    // Offline: the exact ways to get Spin.
    let out = spin_path("http://127.0.0.1:1", &dir.join("offline"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for must in ["could not download", "spin-v4.0.2-linux-amd64.tar.gz", "sha256sum -c", "spinframework.dev", "../shared/bin/spin"] {
        assert!(stderr.contains(must) || !cfg!(all(target_os = "linux", target_arch = "x86_64")), "{must} missing from:\n{stderr}");
    }
}
