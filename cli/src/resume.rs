//! Remembers unfinished uploads (`<state-dir>/uploads.json`: file
//! fingerprint → upload URL) so that running the same command again
//! resumes instead of starting over.

use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct ResumeStore {
    path: PathBuf,
    entries: BTreeMap<String, String>,
}

/// Identifies a file's content cheaply: canonical path, size, mtime.
pub fn fingerprint(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<String> {
    let canonical = std::fs::canonicalize(path)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(format!("{}|{}|{mtime}", canonical.display(), meta.len()))
}

impl ResumeStore {
    /// Opens `dir/uploads.json` (default dir: `$HOME/.kiln`).
    pub fn open(dir: Option<PathBuf>) -> anyhow::Result<ResumeStore> {
        let dir = match dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set; pass --state-dir")?).join(".kiln"),
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("uploads.json");
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        Ok(ResumeStore { path, entries })
    }

    pub fn get(&self, fingerprint: &str) -> Option<&String> {
        self.entries.get(fingerprint)
    }

    pub fn put(&mut self, fingerprint: &str, url: &str) -> anyhow::Result<()> {
        self.entries.insert(fingerprint.to_string(), url.to_string());
        self.save()
    }

    pub fn remove(&mut self, fingerprint: &str) -> anyhow::Result<()> {
        self.entries.remove(fingerprint);
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        std::fs::write(&self.path, serde_json::to_vec_pretty(&self.entries)?).with_context(|| format!("writing {}", self.path.display()))
    }
}
