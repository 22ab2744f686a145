//! tus 1.0 header grammar (pure parsing, no I/O): `Upload-Metadata`,
//! `Upload-Checksum`, `Upload-Concat`, and what kiln advertises. The
//! protocol itself is the state machine in [`crate::tus`].

use crate::error::UploadError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;

pub const TUS_VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str = "creation,creation-with-upload,checksum,termination,expiration,concatenation";
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// Content type of PATCH bodies.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// `Upload-Metadata: key base64value,key2` → map (values decoded, lossy UTF-8).
pub fn parse_metadata(header: &str) -> Result<BTreeMap<String, String>, UploadError> {
    let mut out = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, ' ');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(UploadError::BadRequest(format!("Upload-Metadata key {key:?} is not valid")));
        }
        let value = match parts.next().map(str::trim) {
            Some(v) if !v.is_empty() => {
                let bytes = STANDARD
                    .decode(v)
                    .map_err(|_| UploadError::BadRequest(format!("Upload-Metadata value of {key:?} is not base64")))?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => String::new(),
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
}

/// `Upload-Checksum: <algorithm> <base64 digest>`. An algorithm kiln does
/// not support is a 400 (tus: "Bad Request").
pub fn parse_checksum(header: &str) -> Result<(ChecksumAlgorithm, Vec<u8>), UploadError> {
    let (algo, digest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| UploadError::BadRequest("Upload-Checksum must be '<algorithm> <base64>'".into()))?;
    let algo = match algo {
        "sha1" => ChecksumAlgorithm::Sha1,
        "sha256" => ChecksumAlgorithm::Sha256,
        other => return Err(UploadError::BadRequest(format!("checksum algorithm {other:?} is not supported (sha1, sha256)"))),
    };
    let digest = STANDARD
        .decode(digest.trim())
        .map_err(|_| UploadError::BadRequest("Upload-Checksum digest is not base64".into()))?;
    Ok((algo, digest))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    Partial,
    /// The ids of the partial uploads, in order.
    Final(Vec<String>),
}

/// `Upload-Concat: partial` or `final;<url> <url> ...` (URLs or paths whose
/// last segment is the upload id).
pub fn parse_concat(header: &str) -> Result<Concat, UploadError> {
    let header = header.trim();
    if header == "partial" {
        return Ok(Concat::Partial);
    }
    let list = header
        .strip_prefix("final;")
        .ok_or_else(|| UploadError::BadRequest("Upload-Concat must be 'partial' or 'final;<urls>'".into()))?;
    let ids: Vec<String> = list
        .split_whitespace()
        .map(|url| url.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    if ids.is_empty() || ids.iter().any(String::is_empty) {
        return Err(UploadError::BadRequest("Upload-Concat final lists no uploads".into()));
    }
    Ok(Concat::Final(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_decoded() {
        let m = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential, filetype aW1hZ2UvanBlZw==").unwrap();
        assert_eq!(m["filename"], "world_domination_plan.pdf");
        assert_eq!(m["is_confidential"], "");
        assert_eq!(m["filetype"], "image/jpeg");
        assert!(parse_metadata("filename !!!").is_err());
    }

    #[test]
    fn checksums_parse_and_unknown_algorithms_are_refused() {
        let (algo, digest) = parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
        assert_eq!((algo, digest.len()), (ChecksumAlgorithm::Sha1, 20));
        assert!(parse_checksum("md5 abc=").is_err());
        assert!(parse_checksum("sha256").is_err());
    }

    #[test]
    fn concat_headers() {
        assert_eq!(parse_concat("partial").unwrap(), Concat::Partial);
        assert_eq!(
            parse_concat("final;/v1/uploads/a http://h/v1/uploads/b").unwrap(),
            Concat::Final(vec!["a".into(), "b".into()])
        );
        assert!(parse_concat("final;").is_err());
        assert!(parse_concat("whole").is_err());
    }
}
