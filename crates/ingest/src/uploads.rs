//! Resumable-upload state in Spin key-value (`tus/<id>`), one JSON document
//! per upload: length, offset, metadata, expiry, and the list of chunk
//! objects already in storage. Writes that race (two PATCHes on one upload)
//! go through wasi:keyvalue compare-and-swap, so exactly one wins.

use kiln_converter::api::ApiError;
use serde::{Deserialize, Serialize};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};
use std::time::{SystemTime, UNIX_EPOCH};

/// One PATCH body, stored as its own object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub offset: u64,
    pub len: u64,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Whole,
    Partial,
    /// Concatenation of these partial uploads, in order.
    Final { parts: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub length: u64,
    pub offset: u64,
    /// The raw `Upload-Metadata` header, echoed by HEAD.
    pub metadata: String,
    pub filename: String,
    /// Hex SHA-256 the client declared in metadata (`sha256`), if any.
    pub declared_sha256: Option<String>,
    pub kind: Kind,
    pub expires_at: u64,
    pub chunks: Vec<Chunk>,
    /// A PATCH in progress holds the upload until this time (unix s).
    pub locked_until: u64,
    /// SHA-256 of the bytes received so far, carried from PATCH to PATCH.
    #[serde(default)]
    pub sha256: kiln_core::digest::Sha256State,
    /// The image header, probed from the chunk at offset 0 if it held it.
    #[serde(default)]
    pub header: Option<Header>,
}

/// What the first chunk's header said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Upload {
    pub fn is_complete(&self) -> bool {
        self.offset == self.length
    }

    pub fn is_expired(&self) -> bool {
        now() >= self.expires_at && !self.is_complete()
    }
}

fn kv_error(what: &str, e: impl std::fmt::Debug) -> ApiError {
    ApiError::new(500, "kv_failed", format!("{what}: {e:?}"))
}

fn key(id: &str) -> String {
    format!("tus/{id}")
}

fn bucket() -> Result<store::Bucket, ApiError> {
    store::open("default").map_err(|e| kv_error("opening key-value store", e))
}

fn decode(bytes: &[u8]) -> Result<Upload, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| kv_error("stored upload state", e))
}

pub fn load(id: &str) -> Result<Option<Upload>, ApiError> {
    bucket()?.get(&key(id)).map_err(|e| kv_error("reading upload", e))?.map(|b| decode(&b)).transpose()
}

pub fn save(upload: &Upload) -> Result<(), ApiError> {
    let json = serde_json::to_vec(upload).expect("state serializes");
    bucket()?.set(&key(&upload.id), &json).map_err(|e| kv_error("saving upload", e))
}

pub fn remove(id: &str) -> Result<(), ApiError> {
    bucket()?.delete(&key(id)).map_err(|e| kv_error("deleting upload", e))
}

/// Reads upload `id` and, if `check` accepts it, atomically replaces it
/// with what `check` returns. `Ok(None)` when there is no such upload; a
/// concurrent writer in between is a 409.
pub fn update<F>(id: &str, check: F) -> Result<Option<(Upload, Upload)>, ApiError>
where
    F: FnOnce(&Upload) -> Result<Upload, ApiError>,
{
    let bucket = bucket()?;
    let cas = atomics::Cas::new(&bucket, &key(id)).map_err(|e| kv_error("opening CAS", e))?;
    let Some(bytes) = cas.current().map_err(|e| kv_error("reading upload", e))? else {
        return Ok(None);
    };
    let before = decode(&bytes)?;
    let after = check(&before)?;
    let json = serde_json::to_vec(&after).expect("state serializes");
    match atomics::swap(cas, &json) {
        Ok(()) => Ok(Some((before, after))),
        Err(atomics::CasError::CasFailed(_)) => {
            Err(ApiError::new(409, "conflict", format!("upload {id} was changed by a concurrent request; HEAD it and retry")))
        }
        Err(atomics::CasError::StoreError(e)) => Err(kv_error("saving upload", e)),
    }
}
