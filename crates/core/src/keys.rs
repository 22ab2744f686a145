//! Object-key layout in the bucket: where originals live and where each
//! variant of an original is written. Pure string logic, shared by the
//! functions and the tools.

use crate::error::KilnError;

/// Prefix of uploaded originals.
pub const ORIGINALS_PREFIX: &str = "originals/";
/// Prefix of everything kiln writes; never a conversion source.
pub const VARIANTS_PREFIX: &str = "variants/";
/// S3's maximum key length in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks that `key` is a usable source key: not empty, not too long, no
/// empty or `.`/`..` segments, no control characters, not a variant.
pub fn validate_source_key(key: &str) -> Result<(), KilnError> {
    let bad = |why: &str| Err(KilnError::BadParameter(format!("key {key:?}: {why}")));
    if key.is_empty() {
        return bad("must not be empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("has an empty, '.' or '..' path segment");
    }
    if key.starts_with(VARIANTS_PREFIX) {
        return bad("is a variant; convert an original instead");
    }
    Ok(())
}

/// The folder of an original's variants: `variants/<key-stem>/`, where the
/// stem is the key without the `originals/` prefix and without the file
/// extension of its last segment.
pub fn variant_folder(source_key: &str) -> String {
    let rel = source_key.strip_prefix(ORIGINALS_PREFIX).unwrap_or(source_key);
    let (dir, file) = rel.rsplit_once('/').map_or(("", rel), |(d, f)| (d, f));
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    };
    if dir.is_empty() { format!("{VARIANTS_PREFIX}{stem}/") } else { format!("{VARIANTS_PREFIX}{dir}/{stem}/") }
}

/// The key of one variant: `variants/<key-stem>/<name>.<extension>`.
pub fn variant_key(source_key: &str, name: &str, extension: &str) -> String {
    format!("{}{name}.{extension}", variant_folder(source_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_keys_follow_the_layout() {
        assert_eq!(variant_key("originals/abc/photo.jpg", "webp", "webp"), "variants/abc/photo/webp.webp");
        assert_eq!(variant_key("photo.v2.jpeg", "thumbnail", "png"), "variants/photo.v2/thumbnail.png");
        assert_eq!(variant_key("originals/noext", "jpeg", "jpg"), "variants/noext/jpeg.jpg");
        assert_eq!(variant_key("a b/.hidden", "avif", "avif"), "variants/a b/.hidden/avif.avif");
    }

    #[test]
    fn source_keys_are_validated() {
        assert!(validate_source_key("originals/x/photo.jpg").is_ok());
        for bad in ["", "/abs.jpg", "a//b.jpg", "../etc/passwd", "a/./b", "variants/x/webp.webp", "a\nb"] {
            assert!(validate_source_key(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_source_key(&"k".repeat(1025)).is_err());
    }
}
