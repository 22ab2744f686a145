//! kiln-cli: upload files to kiln over tus and fetch their manifests.
//! [`tus`] speaks the protocol, [`resume`] remembers unfinished uploads,
//! [`output`] renders manifests.

pub mod output;
pub mod resume;
pub mod tus;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Options {
    pub chunk_size: u64,
    pub wait: bool,
    pub pause_after: Option<u64>,
}

pub enum Finished {
    Paused { url: String, offset: u64 },
    Uploaded { url: String },
    Converted { manifest: serde_json::Value },
}

/// The token from the flag/env, else the dev token `make up` wrote.
pub fn token(given: Option<String>) -> anyhow::Result<String> {
    if let Some(t) = given.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    std::fs::read_to_string(".kiln/dev-token")
        .map(|t| t.trim().to_string())
        .context("no token: pass --token, set KILN_TOKEN, or run from the kiln checkout after `make up`")
}

/// Hex SHA-256 of a file, streamed.
fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Uploads one file: resumes a remembered upload of it if the server still
/// has it, else creates one; sends the rest in chunks; waits for the manifest.
pub fn upload_file(client: &tus::Client, store: &mut resume::ResumeStore, path: &Path, o: &Options) -> anyhow::Result<Finished> {
    if o.chunk_size == 0 || o.chunk_size > 10 * 1024 * 1024 {
        bail!("--chunk-size must be between 1 byte and 10 MiB");
    }
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    let length = meta.len();
    let fingerprint = resume::fingerprint(path, &meta)?;
    let (url, mut offset) = match store.get(&fingerprint).map(|url| (url.clone(), client.offset(url))) {
        Some((url, Ok(Some(offset)))) => {
            eprintln!("{}: resuming from byte {offset} of {length}", path.display());
            (url, offset)
        }
        _ => {
            let sha256 = sha256_of(path)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
            let url = client.create(length, name, &sha256)?;
            store.put(&fingerprint, &url)?;
            (url, 0)
        }
    };
    let bar = ProgressBar::new(length).with_message(path.display().to_string());
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")?.progress_chars("=> "));
    bar.set_position(offset);
    let mut file = std::fs::File::open(path)?;
    while offset < length {
        if o.pause_after.is_some_and(|p| offset >= p) {
            bar.abandon();
            return Ok(Finished::Paused { url, offset });
        }
        let mut chunk = vec![0u8; o.chunk_size.min(length - offset) as usize];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut chunk)?;
        offset = client.patch(&url, offset, &chunk)?;
        bar.set_position(offset);
    }
    bar.finish();
    store.remove(&fingerprint)?;
    if !o.wait {
        return Ok(Finished::Uploaded { url });
    }
    let spinner = ProgressBar::new_spinner().with_message("converting");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let manifest = loop {
        if let Some(m) = client.manifest(&url)? {
            break m;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("no manifest for {url} after 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    spinner.finish_and_clear();
    Ok(Finished::Converted { manifest })
}
