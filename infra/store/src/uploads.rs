//! Registry of in-progress multipart uploads, for ListMultipartUploads.
//!
//! `s3s-fs` keeps its multipart state in the store root without the bucket
//! and key, so the store records each upload it creates in a folder outside
//! the buckets: one file `upload-<id>.json` holding `{bucket, key, upload_id,
//! initiated}`, written with [`durable::write_atomically`] after a successful
//! CreateMultipartUpload and removed after Complete/Abort. Uploads created
//! before the registry existed are not listed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, ensure};
use s3s::dto::Timestamp;
use serde::{Deserialize, Serialize};

use crate::durable::{self, blocking};

const PREFIX: &str = "upload-";
const SUFFIX: &str = ".json";
/// Most uploads one ListMultipartUploads answer holds (the S3 default and limit).
pub const MAX_UPLOADS: usize = 1000;

/// One in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// When CreateMultipartUpload succeeded (UTC, RFC 3339).
    pub initiated: Timestamp,
}

/// The registry folder; cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: Arc<Path>,
}

impl Registry {
    /// Uses the (already prepared) folder `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir: dir.into() }
    }

    /// Durably records a new upload.
    pub async fn record(&self, upload: &Upload) -> anyhow::Result<()> {
        let name = file_name(&upload.upload_id)?;
        let body = serde_json::to_vec_pretty(upload).context("encoding the upload record")?;
        let dir = Arc::clone(&self.dir);
        blocking(move || durable::write_atomically(&dir, &name, &body))
            .await
            .with_context(|| format!("recording multipart upload {}", upload.upload_id))
    }

    /// Durably forgets an upload; forgetting an unknown one is not an error.
    pub async fn forget(&self, upload_id: &str) -> anyhow::Result<()> {
        let name = file_name(upload_id)?;
        let dir = Arc::clone(&self.dir);
        blocking(move || durable::remove_durably(&dir, &name))
            .await
            .with_context(|| format!("forgetting multipart upload {upload_id}"))
    }

    /// The recorded upload `upload_id`, if any.
    pub async fn get(&self, upload_id: &str) -> anyhow::Result<Option<Upload>> {
        let path = self.dir.join(file_name(upload_id)?);
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(parse(&path, &bytes)?)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        })
        .await
    }

    /// The uploads in `bucket`, sorted by key, then upload id.
    pub async fn list(&self, bucket: &str) -> anyhow::Result<Vec<Upload>> {
        let dir = Arc::clone(&self.dir);
        let bucket = bucket.to_owned();
        blocking(move || list_in(&dir, &bucket)).await
    }
}

/// Reads every record in `dir` that belongs to `bucket`, sorted.
fn list_in(dir: &Path, bucket: &str) -> anyhow::Result<Vec<Upload>> {
    let mut uploads = Vec::new();
    for name in durable::file_names(dir)? {
        if !(name.starts_with(PREFIX) && name.ends_with(SUFFIX)) {
            continue;
        }
        let path = dir.join(&name);
        let read = std::fs::read(&path).with_context(|| format!("reading {}", path.display()));
        match read.and_then(|bytes| parse(&path, &bytes)) {
            Ok(upload) if upload.bucket == bucket => uploads.push(upload),
            Ok(_) => {}
            Err(err) if is_not_found(&err) => {} // completed meanwhile
            Err(err) => eprintln!("kiln-store: multipart registry: skipping {name}: {err:#}"),
        }
    }
    uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    Ok(uploads)
}

fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Upload> {
    serde_json::from_slice(bytes).with_context(|| format!("{} is not an upload record", path.display()))
}

fn is_not_found(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// The record's file name; the id comes from clients, so only plain ids
/// (letters, digits, `-`, as s3s-fs's UUIDs are) may name a file.
fn file_name(upload_id: &str) -> anyhow::Result<String> {
    let plain = !upload_id.is_empty()
        && upload_id.len() <= 128
        && upload_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ensure!(plain, "invalid upload id {upload_id:?}");
    Ok(format!("{PREFIX}{upload_id}{SUFFIX}"))
}

/// What a ListMultipartUploads request asks for.
#[derive(Debug, Clone, Default)]
pub struct PageQuery<'a> {
    pub prefix: &'a str,
    /// List only keys after this one (or this key's uploads after `upload_id_marker`).
    pub key_marker: Option<&'a str>,
    /// Only meaningful with `key_marker`.
    pub upload_id_marker: Option<&'a str>,
    pub max_uploads: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub uploads: Vec<Upload>,
    /// More uploads follow; continue after the last one listed.
    pub truncated: bool,
}

/// Selects the page `query` asks for from uploads sorted by key, then id.
pub fn select_page(sorted: Vec<Upload>, query: &PageQuery<'_>) -> Page {
    let after_marker = |u: &Upload| match (query.key_marker, query.upload_id_marker) {
        (None, _) => true,
        (Some(key), Some(id)) if !id.is_empty() => u.key.as_str() > key || (u.key == key && u.upload_id.as_str() > id),
        (Some(key), _) => u.key.as_str() > key,
    };
    let mut matching = sorted
        .into_iter()
        .filter(|u| u.key.starts_with(query.prefix) && after_marker(u));
    let uploads: Vec<Upload> = matching.by_ref().take(query.max_uploads).collect();
    Page { uploads, truncated: matching.next().is_some() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(key: &str, id: &str) -> Upload {
        Upload { bucket: "kiln".into(), key: key.into(), upload_id: id.into(), initiated: Timestamp::default() }
    }

    fn all() -> Vec<Upload> {
        vec![upload("a/1", "x"), upload("a/1", "y"), upload("a/2", "x"), upload("b/1", "x")]
    }

    fn ids(page: &Page) -> Vec<(String, String)> {
        page.uploads.iter().map(|u| (u.key.clone(), u.upload_id.clone())).collect()
    }

    fn pair(key: &str, id: &str) -> (String, String) {
        (key.to_owned(), id.to_owned())
    }

    #[test]
    fn prefix_and_max_uploads() {
        let q = PageQuery { prefix: "a/", max_uploads: 2, ..PageQuery::default() };
        let page = select_page(all(), &q);
        assert_eq!(ids(&page), [pair("a/1", "x"), pair("a/1", "y")]);
        assert!(page.truncated);
        let q = PageQuery { prefix: "b/", max_uploads: 1000, ..PageQuery::default() };
        let page = select_page(all(), &q);
        assert_eq!((ids(&page), page.truncated), (vec![pair("b/1", "x")], false));
    }

    #[test]
    fn markers_continue_after_the_last_upload() {
        let q = PageQuery { key_marker: Some("a/1"), upload_id_marker: Some("x"), max_uploads: 2, prefix: "" };
        let page = select_page(all(), &q);
        assert_eq!(ids(&page), [pair("a/1", "y"), pair("a/2", "x")]);
        assert!(page.truncated);
        // A key marker alone skips every upload of that key.
        let q = PageQuery { key_marker: Some("a/1"), max_uploads: 10, ..PageQuery::default() };
        assert_eq!(ids(&select_page(all(), &q)), [pair("a/2", "x"), pair("b/1", "x")]);
        let q = PageQuery { key_marker: Some("b/1"), upload_id_marker: Some("x"), max_uploads: 10, prefix: "" };
        assert_eq!(select_page(all(), &q), Page { uploads: vec![], truncated: false });
    }

    #[test]
    fn only_plain_upload_ids_name_files() {
        assert_eq!(file_name("0f1e-ab").unwrap(), "upload-0f1e-ab.json");
        assert!(file_name("../x").is_err());
        assert!(file_name("").is_err());
        assert!(file_name("a/b").is_err());
    }

    #[tokio::test]
    async fn records_survive_and_list_per_bucket() {
        let dir = std::env::temp_dir().join(format!("kiln-store-uploads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let registry = Registry::new(dir.clone());
        registry.record(&upload("k2", "b")).await.unwrap();
        registry.record(&upload("k1", "a")).await.unwrap();
        registry.record(&Upload { bucket: "other".into(), ..upload("k0", "c") }).await.unwrap();
        let listed = Registry::new(dir.clone()).list("kiln").await.unwrap();
        assert_eq!(listed, [upload("k1", "a"), upload("k2", "b")]);
        assert_eq!(registry.get("b").await.unwrap(), Some(upload("k2", "b")));
        registry.forget("b").await.unwrap();
        registry.forget("b").await.unwrap();
        assert_eq!(registry.get("b").await.unwrap(), None);
        assert_eq!(registry.list("kiln").await.unwrap(), [upload("k1", "a")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
