//! Turning a finished resumable upload's chunks into its original, with an
//! S3 multipart upload the caller has begun:
//!
//! - **server-side** (`assemble_server_side`): when every chunk but the last
//!   is a valid part (at least `min_part_bytes`), each chunk object becomes a
//!   part by UploadPartCopy: no byte passes through the function again. The
//!   SHA-256 is the midstate carried from PATCH to PATCH, and the header was
//!   probed from the first chunk.
//! - **streamed** (`assemble_streamed`): smaller chunks, and concatenated
//!   uploads: the chunks are read in order into parts of at least
//!   `min_part_bytes` (memory: one part plus one chunk), hashed on the way,
//!   and the header is probed from the first part, so a non-image stops early.
//!
//! Either way the whole-file SHA-256 is checked against the client's
//! declared `sha256` before the upload is completed, and the lengths
//! against the record: every chunk read (streamed), or the assembled
//! object (server-side). A CompleteMultipartUpload whose answer was
//! lost is recognised: its retry finds no such upload, and a HEAD finds the
//! original whole.

use crate::error::UploadError;
use crate::ids::hex;
use crate::manifest::Original;
use crate::ports::{ObjectStore, StoreError};
use crate::record::{Header, Kind, TusState};
use kiln_core::probe::probe;
use sha2::{Digest, Sha256};

/// S3's limit on the number of parts.
const MAX_PARTS: usize = 10_000;

/// Assembles `tus`'s chunks into `key` through multipart upload
/// `upload_id`; says how (`server_side` or `streamed`).
pub async fn assemble<O: ObjectStore>(
    objects: &O,
    tus: &TusState,
    key: &str,
    upload_id: &str,
    min_part_bytes: u64,
) -> Result<(Original, &'static str), UploadError> {
    let stored: u64 = tus.chunks.iter().map(|c| c.len).sum();
    if stored != tus.length {
        return Err(UploadError::CorruptImage(format!("the chunks hold {stored} bytes, the upload {}", tus.length)));
    }
    match copyable(tus, min_part_bytes) {
        Some(header) => copy_parts(objects, tus, key, upload_id, header).await.map(|o| (o, "server_side")),
        None => stream_parts(objects, tus, key, upload_id, min_part_bytes).await.map(|o| (o, "streamed")),
    }
}

/// The header, if the upload can be assembled by server-side copies.
fn copyable(tus: &TusState, min_part_bytes: u64) -> Option<&Header> {
    let parts_ok = tus.chunks.iter().rev().skip(1).all(|c| c.len >= min_part_bytes) && tus.chunks.len() <= MAX_PARTS;
    let digest_ok = tus.kind == Kind::Whole && tus.sha256.len() == tus.length;
    if parts_ok && digest_ok { tus.header.as_ref() } else { None }
}

fn check_declared(tus: &TusState, sha256: &str) -> Result<(), UploadError> {
    match &tus.declared_sha256 {
        Some(declared) if !declared.eq_ignore_ascii_case(sha256) => {
            Err(UploadError::ChecksumMismatch(format!("declared sha256 {declared}, received {sha256}")))
        }
        _ => Ok(()),
    }
}

async fn copy_parts<O: ObjectStore>(objects: &O, tus: &TusState, key: &str, upload_id: &str, header: &Header) -> Result<Original, UploadError> {
    let sha256 = hex(&tus.sha256.finalize());
    check_declared(tus, &sha256)?;
    let mut etags = Vec::with_capacity(tus.chunks.len());
    for (i, chunk) in tus.chunks.iter().enumerate() {
        etags.push(objects.upload_part_copy(key, upload_id, i as u16 + 1, &chunk.key).await?);
    }
    complete(objects, key, upload_id, &etags, tus.length).await?;
    // The parts were copied by the store: check what it assembled.
    let assembled = objects.head(key).await?.ok_or_else(|| StoreError::NotFound { key: key.to_string() })?;
    if assembled.size != tus.length {
        return Err(UploadError::CorruptImage(format!("the assembled original has {} bytes, the upload {}", assembled.size, tus.length)));
    }
    Ok(Original {
        key: key.to_string(),
        size: tus.length,
        sha256,
        width: header.width,
        height: header.height,
        mime_type: header.mime_type.clone(),
        etag: assembled.etag,
    })
}

async fn stream_parts<O: ObjectStore>(objects: &O, tus: &TusState, key: &str, upload_id: &str, min_part_bytes: u64) -> Result<Original, UploadError> {
    let mut hasher = Sha256::new();
    let mut part = Vec::new();
    let mut etags = Vec::new();
    let mut header = None;
    for (i, chunk) in tus.chunks.iter().enumerate() {
        let bytes = objects.get(&chunk.key, chunk.len).await?;
        if bytes.len() as u64 != chunk.len {
            return Err(StoreError::Failed(format!("chunk {} has {} bytes, expected {}", chunk.key, bytes.len(), chunk.len)).into());
        }
        hasher.update(&bytes);
        part.extend_from_slice(&bytes);
        drop(bytes);
        let last = i + 1 == tus.chunks.len();
        if part.len() as u64 >= min_part_bytes || last {
            if etags.is_empty() {
                // The first part holds the header: stop here if this is not an image.
                header = Some(probe(&part)?);
            }
            if etags.len() == MAX_PARTS {
                return Err(UploadError::TooLarge(format!("more than {MAX_PARTS} parts")));
            }
            etags.push(objects.upload_part(key, upload_id, etags.len() as u16 + 1, &part).await?);
            part.clear();
        }
    }
    let info = header.ok_or_else(|| UploadError::CorruptImage("no image header found".into()))?;
    let sha256 = hex(&hasher.finalize());
    check_declared(tus, &sha256)?;
    let etag = complete(objects, key, upload_id, &etags, tus.length).await?;
    Ok(Original {
        key: key.to_string(),
        size: tus.length,
        sha256,
        width: info.width,
        height: info.height,
        mime_type: info.format.mime_type().to_string(),
        etag,
    })
}

/// Completes the multipart upload. If the store says there is no such
/// upload, the likely cause is that an earlier try completed it and its
/// answer was lost: then the original is there, whole.
async fn complete<O: ObjectStore>(objects: &O, key: &str, upload_id: &str, etags: &[String], length: u64) -> Result<Option<String>, UploadError> {
    match objects.complete_multipart(key, upload_id, etags).await {
        Ok(etag) => Ok(etag),
        Err(StoreError::NoSuchUpload { .. }) => match objects.head(key).await? {
            Some(info) if info.size == length => {
                eprintln!("kiln: {key}: the store had completed multipart {upload_id}; its answer was lost");
                Ok(info.etag)
            }
            _ => Err(StoreError::Failed(format!("CompleteMultipartUpload {key}: the store lost multipart upload {upload_id}")).into()),
        },
        Err(e) => Err(e.into()),
    }
}
