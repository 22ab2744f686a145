//! Turning a finished resumable upload into an original and its variants:
//! the chunk objects are streamed, in order, into an S3 multipart upload of
//! `originals/<id>/<filename>` (parts of at least 5 MiB, S3's minimum, so
//! memory stays at one part plus one chunk), hashed on the way (SHA-256,
//! checked against the client's declared `sha256` metadata), then deleted;
//! the original is fanned out to the converters and the manifest recorded.
//! Every failure ends in a manifest with `"status": "failed"` and the error.

use crate::uploads::{Header, Kind, Upload};
use crate::{fanout, oneshot::hex, oneshot::ms, record};
use kiln_converter::api::ApiError;
use kiln_converter::config::Config;
use kiln_converter::storage::Storage;
use kiln_core::keys::ORIGINALS_PREFIX;
use kiln_core::manifest::{Manifest, Original};
use kiln_core::probe::probe;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Instant;

/// S3's minimum size of every part but the last.
const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// The object key the original of `upload` is assembled at.
pub fn original_key(upload: &Upload) -> String {
    format!("{ORIGINALS_PREFIX}{}/{}", upload.id, upload.filename)
}

/// Assembles, verifies and converts `upload`; records the outcome.
pub async fn finish(config: &Config, upload: &Upload) {
    let started = Instant::now();
    let key = original_key(upload);
    let mut manifest = Manifest {
        id: upload.id.clone(),
        status: "converting".into(),
        original: Original {
            key: key.clone(),
            size: upload.length,
            sha256: String::new(),
            width: 0,
            height: 0,
            mime_type: String::new(),
            etag: None,
        },
        variants: Vec::new(),
        timings: BTreeMap::new(),
        error: None,
    };
    let storage = match Storage::new(&config.s3) {
        Ok(s) => s,
        Err(e) => return eprintln!("kiln uploads: {}: {}", upload.id, e.detail),
    };
    if let Err(e) = record::save_progress(&manifest) {
        eprintln!("kiln uploads: {}: {}", upload.id, e.detail);
    }
    let t = Instant::now();
    let assembled = assemble(&storage, upload, &key).await;
    match assembled {
        Ok((original, how)) => {
            manifest.original = original;
            manifest.timings.insert(format!("assemble_{how}"), ms(t));
        }
        Err(e) => {
            manifest.status = "failed".into();
            manifest.error = Some(format!("{}: {}", e.code, e.detail));
            if let Err(e) = record::save(&storage, &key, &manifest).await {
                eprintln!("kiln uploads: {}: recording the failure: {}", upload.id, e.detail);
            }
            return;
        }
    }
    let _ = record::save_progress(&manifest);
    fanout::convert_into(&mut manifest, &key, &config.auth_token).await;
    manifest.timings.insert("total".into(), ms(started));
    manifest.status = Manifest::summarize(&manifest.variants).to_string();
    if let Err(e) = record::save(&storage, &key, &manifest).await {
        eprintln!("kiln uploads: {}: recording the manifest: {}", upload.id, e.detail);
    }
}

/// Assembles the original; says how (`server_side` or `streamed`).
async fn assemble(storage: &Storage, upload: &Upload, key: &str) -> Result<(Original, &'static str), ApiError> {
    if upload.length == 0 {
        return Err(ApiError::new(422, "corrupt_image", "the upload is empty"));
    }
    let upload_id = storage.create_multipart(key, "application/octet-stream").await?;
    let result = match copyable(upload) {
        Some(header) => copy_parts(storage, upload, key, &upload_id, header).await.map(|o| (o, "server_side")),
        None => stream_parts(storage, upload, key, &upload_id).await.map(|o| (o, "streamed")),
    };
    match result {
        Ok((mut original, how)) => {
            for chunk in &upload.chunks {
                if let Err(e) = storage.delete(&chunk.key).await {
                    eprintln!("kiln uploads: leaving chunk {} behind: {}", chunk.key, e.detail);
                }
            }
            original.key = key.to_string();
            Ok((original, how))
        }
        Err(e) => {
            storage.abort_multipart(key, &upload_id).await;
            Err(e)
        }
    }
}

/// The header, if `upload` can be assembled by server-side copies: every
/// chunk but the last is a valid part, the whole-file digest was carried
/// across the PATCHes, and the first chunk held the image header.
fn copyable(upload: &Upload) -> Option<&Header> {
    let parts_ok = upload.chunks.iter().rev().skip(1).all(|c| c.len >= MIN_PART_BYTES as u64) && upload.chunks.len() <= 10_000;
    let digest_ok = upload.kind == Kind::Whole && upload.sha256.len() == upload.length;
    if parts_ok && digest_ok { upload.header.as_ref() } else { None }
}

fn check_declared(upload: &Upload, sha256: &str) -> Result<(), ApiError> {
    match &upload.declared_sha256 {
        Some(declared) if !declared.eq_ignore_ascii_case(sha256) => {
            Err(ApiError::new(460, "checksum_mismatch", format!("declared sha256 {declared}, received {sha256}")))
        }
        _ => Ok(()),
    }
}

async fn copy_parts(storage: &Storage, upload: &Upload, key: &str, upload_id: &str, header: &Header) -> Result<Original, ApiError> {
    let sha256 = hex(&upload.sha256.finalize());
    check_declared(upload, &sha256)?;
    let mut etags = Vec::with_capacity(upload.chunks.len());
    for (i, chunk) in upload.chunks.iter().enumerate() {
        etags.push(storage.upload_part_copy(key, upload_id, i as u16 + 1, &chunk.key).await?);
    }
    let etag = storage.complete_multipart(key, upload_id, &etags).await?;
    Ok(Original {
        key: key.to_string(),
        size: upload.length,
        sha256,
        width: header.width,
        height: header.height,
        mime_type: header.mime_type.clone(),
        etag,
    })
}

async fn stream_parts(storage: &Storage, upload: &Upload, key: &str, upload_id: &str) -> Result<Original, ApiError> {
    let mut hasher = Sha256::new();
    let mut part = Vec::with_capacity(MIN_PART_BYTES * 2);
    let mut etags = Vec::new();
    let mut header: Option<kiln_core::probe::ImageInfo> = None;
    for (i, chunk) in upload.chunks.iter().enumerate() {
        let bytes = storage.get(&chunk.key, chunk.len).await?;
        if bytes.len() as u64 != chunk.len {
            return Err(ApiError::storage(format!("chunk {} has {} bytes, expected {}", chunk.key, bytes.len(), chunk.len)));
        }
        hasher.update(&bytes);
        part.extend_from_slice(&bytes);
        drop(bytes);
        let last = i + 1 == upload.chunks.len();
        if part.len() >= MIN_PART_BYTES || last {
            if etags.is_empty() {
                // The first part holds the header: probe it before it goes,
                // and stop here if this is not an image.
                header = Some(probe(&part)?);
            }
            let number = etags.len() as u16 + 1;
            etags.push(storage.upload_part(key, upload_id, number, &part).await?);
            part.clear();
        }
    }
    let info = header.ok_or_else(|| ApiError::new(422, "corrupt_image", "no image header found"))?;
    let sha256 = hex(&hasher.finalize());
    check_declared(upload, &sha256)?;
    let etag = storage.complete_multipart(key, upload_id, &etags).await?;
    Ok(Original {
        key: key.to_string(),
        size: upload.length,
        sha256,
        width: info.width,
        height: info.height,
        mime_type: info.format.mime_type().to_string(),
        etag,
    })
}
