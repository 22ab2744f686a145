//! Object-key layout in the bucket, in the order a byte travels:
//!
//! - `uploads/<id>/record` marks an upload in flight (so the sweep can list
//!   in-flight work without listing key-value); `uploads/<id>/<offset>-<nonce>`
//!   is one tus PATCH body, unique per attempt so two writers never share a key.
//! - `originals/<...>` are originals: kiln's own are `originals/<id>/<file>`;
//!   anything else dropped there by an S3 client is converted on its event.
//! - `variants/<original key without originals/>/<name>.<ext>` are the
//!   variants and `manifest.json`: one folder per original key, so two
//!   originals never share a folder (`p.jpg` and `p.png` get `p.jpg/` and `p.png/`).
//!
//! Pure string logic, shared by the functions, the offload worker and tests.

use crate::error::UploadError;
use crate::ids;
use sha2::{Digest, Sha256};

/// Prefix of originals, the only keys kiln converts.
pub const ORIGINALS_PREFIX: &str = "originals/";
/// Prefix of everything kiln writes for readers; never a conversion source.
pub const VARIANTS_PREFIX: &str = "variants/";
/// Prefix of in-flight upload objects (tus chunks and markers).
pub const UPLOADS_PREFIX: &str = "uploads/";
/// S3's maximum key length in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Room kept for a variant's file name (`thumbnail-w4294967295-q99.5.png`
/// is 32 bytes) or `manifest.json` in its folder.
pub const MAX_VARIANT_NAME_BYTES: usize = 64;
/// The longest original kiln converts: its variant folder (as long as the
/// key: `variants/` + the key less `originals/` + `/`) plus a variant's
/// name must fit S3's [`MAX_KEY_BYTES`].
pub const MAX_SOURCE_KEY_BYTES: usize = MAX_KEY_BYTES - MAX_VARIANT_NAME_BYTES;
/// Name of the manifest next to the variants.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the marker of an upload in flight.
const MARKER_NAME: &str = "record";

/// Checks that `key` is an original kiln may convert: under `originals/`,
/// not too long, no empty or `.`/`..` segments, no control characters.
pub fn validate_source_key(key: &str) -> Result<(), UploadError> {
    let bad = |why: &str| Err(UploadError::BadRequest(format!("key {key:?}: {why}")));
    if key.len() > MAX_SOURCE_KEY_BYTES {
        return bad(&format!("longer than {MAX_SOURCE_KEY_BYTES} bytes (its variants' keys must fit S3's {MAX_KEY_BYTES})"));
    }
    if key.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    let Some(rel) = key.strip_prefix(ORIGINALS_PREFIX) else {
        return bad("is not an original: originals are under originals/");
    };
    if rel.is_empty() || rel.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("has an empty, '.' or '..' path segment");
    }
    Ok(())
}

/// The folder of an original's variants: `variants/<key without originals/>/`.
/// Distinct originals get distinct folders: the file name keeps its extension.
pub fn variant_folder(source_key: &str) -> String {
    let rel = source_key.strip_prefix(ORIGINALS_PREFIX).unwrap_or(source_key);
    format!("{VARIANTS_PREFIX}{rel}/")
}

/// The key of one variant: `<variant folder><name>.<extension>`.
pub fn variant_key(source_key: &str, name: &str, extension: &str) -> String {
    format!("{}{name}.{extension}", variant_folder(source_key))
}

/// Where an original's manifest is stored, next to its variants.
pub fn manifest_key(source_key: &str) -> String {
    format!("{}{MANIFEST_NAME}", variant_folder(source_key))
}

/// A variant's name: the format alone for the canonical variant (the
/// configured size and quality), else the format and the parameters asked
/// for, so a request with parameters never overwrites a canonical variant.
pub fn variant_name(format: &str, width: Option<u32>, quality: Option<&str>) -> String {
    let mut name = format.to_string();
    if let Some(w) = width {
        name.push_str(&format!("-w{w}"));
    }
    if let Some(q) = quality {
        name.push_str(&format!("-q{q}"));
    }
    name
}

/// A responsive width's name: the format and the displayed width
/// (`webp-480w`), never a canonical or a parameterised variant's name.
pub fn responsive_name(format: &str, width: u32) -> String {
    format!("{format}-{width}w")
}

/// The key kiln assembles or stores an upload's original at.
pub fn original_key(id: &str, filename: &str) -> String {
    format!("{ORIGINALS_PREFIX}{id}/{filename}")
}

/// The upload id in a key of the shape kiln gives its own originals
/// (`originals/<id>/<file>`), if it has that shape. Whether that upload
/// really owns the key is for its record to say.
pub fn upload_of_original(key: &str) -> Option<&str> {
    let (id, file) = key.strip_prefix(ORIGINALS_PREFIX)?.split_once('/')?;
    (ids::is_valid_id(id) && !file.is_empty() && !file.contains('/')).then_some(id)
}

/// The upload id of an original that arrived by an event:
/// `sha256("<bucket>/<key>")`, first 32 hex digits. Re-deliveries and new
/// versions of one key share it.
pub fn event_id(bucket: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{bucket}/{key}").as_bytes());
    ids::hex(&digest)[..32].to_string()
}

/// Everything in flight for upload `id`: `uploads/<id>/`.
pub fn upload_prefix(id: &str) -> String {
    format!("{UPLOADS_PREFIX}{id}/")
}

/// The marker that lists upload `id` as in flight.
pub fn marker_key(id: &str) -> String {
    format!("{}{MARKER_NAME}", upload_prefix(id))
}

/// The object of one PATCH body at `offset`, unique to the attempt `nonce`.
pub fn chunk_key(id: &str, offset: u64, nonce: &str) -> String {
    format!("{}{offset:020}-{nonce}", upload_prefix(id))
}

/// The upload id of an object under `uploads/<id>/`.
pub fn upload_of_object(key: &str) -> Option<&str> {
    let (id, _) = key.strip_prefix(UPLOADS_PREFIX)?.split_once('/')?;
    ids::is_valid_id(id).then_some(id)
}

/// The attempt token in a chunk's key (see [`chunk_key`]).
pub fn chunk_owner(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?;
    name.split_once('-').map(|(_, nonce)| nonce)
}

/// Whether `key` is an upload's marker (not a chunk).
pub fn is_marker(key: &str) -> bool {
    key.rsplit('/').next() == Some(MARKER_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_keys_follow_the_layout() {
        assert_eq!(variant_key("originals/abc/photo.jpg", "webp", "webp"), "variants/abc/photo.jpg/webp.webp");
        assert_eq!(manifest_key("originals/a b/p.png"), "variants/a b/p.png/manifest.json");
    }

    #[test]
    fn a_source_key_is_only_valid_if_its_variants_keys_fit_s3() {
        let key = |len: usize| format!("{ORIGINALS_PREFIX}{}", "k".repeat(len - ORIGINALS_PREFIX.len()));
        assert!(validate_source_key(&key(MAX_SOURCE_KEY_BYTES)).is_ok());
        assert!(validate_source_key(&key(MAX_SOURCE_KEY_BYTES + 1)).is_err());
        let longest = key(MAX_SOURCE_KEY_BYTES);
        let name = variant_name("thumbnail", Some(u32::MAX), Some("99.5"));
        assert!(variant_key(&longest, &name, "png").len() <= MAX_KEY_BYTES);
        assert!(manifest_key(&longest).len() <= MAX_KEY_BYTES);
    }

    #[test]
    fn originals_differing_in_extension_get_different_folders() {
        assert_ne!(variant_folder("originals/x/p.jpg"), variant_folder("originals/x/p.png"));
        assert_ne!(variant_folder("originals/x/p"), variant_folder("originals/x/p.jpg"));
    }

    #[test]
    fn parameters_never_name_the_canonical_variant() {
        assert_eq!(variant_name("jpeg", None, None), "jpeg");
        assert_eq!(variant_name("jpeg", Some(8), Some("1")), "jpeg-w8-q1");
        assert_ne!(variant_name("webp", None, Some("80")), "webp");
        assert_eq!(variant_name("webp", None, Some("auto")), "webp-qauto");
        assert_eq!(responsive_name("webp", 480), "webp-480w");
        assert_ne!(responsive_name("jpeg", 8), variant_name("jpeg", Some(8), None));
    }

    #[test]
    fn source_keys_are_validated() {
        assert!(validate_source_key("originals/x/photo.jpg").is_ok());
        for bad in [
            "",
            "originals/",
            "photo.jpg",
            "/abs.jpg",
            "originals//b.jpg",
            "originals/../etc/passwd",
            "originals/a/./b",
            "variants/x/webp.webp",
            "originals/a\nb",
        ] {
            assert!(validate_source_key(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_source_key(&format!("originals/{}", "k".repeat(1020))).is_err());
    }

    #[test]
    fn upload_keys_round_trip() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(upload_of_original(&original_key(id, "a.jpg")), Some(id));
        assert_eq!(upload_of_original("originals/trip/a.jpg"), None);
        assert_eq!(upload_of_original(&format!("originals/{id}/sub/a.jpg")), None);
        assert_eq!(upload_of_object(&chunk_key(id, 5, "n")), Some(id));
        assert_eq!(upload_of_object(&marker_key(id)), Some(id));
        assert!(is_marker(&marker_key(id)) && !is_marker(&chunk_key(id, 0, "n")));
        assert_eq!(chunk_owner(&chunk_key(id, 7, "abc")), Some("abc"));
        assert!(chunk_key(id, 5, "a") < chunk_key(id, 10, "a"), "chunks sort by offset");
        assert_eq!(event_id("kiln", "originals/a.jpg").len(), 32);
    }
}
