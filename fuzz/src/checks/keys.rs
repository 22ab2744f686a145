//! The `keys` fuzz target's checks (fuzz_targets/keys.rs runs them on each
//! input; the upload crate's tests/fuzz_regressions.rs on committed ones):
//! key validation and the key layout of `kiln_upload::keys`. The input is one
//! or two keys (lossy UTF-8, split at the first newline). Properties:
//! - nothing panics, whatever the key;
//! - a valid source key's variant folder is `variants/<key less originals/>/`
//!   (so it maps back to the key), its variants and manifest lie directly in
//!   it, fit S3's 1024-byte key limit, and are never valid sources themselves;
//! - distinct valid keys (the second input key, and keys derived from the
//!   first: a suffix, a child, a sibling extension) get distinct folders and
//!   never share a variant or manifest key;
//! - kiln's own keys round-trip: `originals/<id>/<safe name>` is a valid
//!   source whose upload id is read back, a chunk key gives back its id and
//!   nonce, a marker its id.

use kiln_upload::ids::{hex, safe_filename};
use kiln_upload::keys::*;

/// The canonical variants' (name, extension), as the converters name them.
const VARIANTS: [(&str, &str); 4] = [("webp", "webp"), ("avif", "avif"), ("jpeg", "jpg"), ("thumbnail", "png")];

/// Checks one fuzz input (panics on a finding).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    for key in [a, b] {
        never_panics(key);
        layout(key);
    }
    distinct(a, b);
    for derived in [format!("{a}x"), format!("{a}/x"), format!("{a}.png"), format!("{a}/{MANIFEST_NAME}"), format!("{a}/webp.webp")] {
        distinct(a, &derived);
    }
    round_trips(a);
}

fn never_panics(key: &str) {
    let _ = validate_source_key(key);
    let _ = (variant_folder(key), manifest_key(key), variant_key(key, "webp", "webp"));
    let _ = (upload_of_original(key), upload_of_object(key), chunk_owner(key), is_marker(key));
}

/// Every key derived from a valid source key: its variants and manifest.
fn derived(key: &str) -> Vec<String> {
    let mut out: Vec<String> = VARIANTS.iter().map(|(name, ext)| variant_key(key, name, ext)).collect();
    out.push(manifest_key(key));
    out
}

fn layout(key: &str) {
    if validate_source_key(key).is_err() {
        return;
    }
    let folder = variant_folder(key);
    let rel = folder.strip_prefix(VARIANTS_PREFIX).and_then(|f| f.strip_suffix('/'));
    assert_eq!(rel.map(|r| format!("{ORIGINALS_PREFIX}{r}")).as_deref(), Some(key), "folder {folder:?} does not map back");
    for k in derived(key) {
        let name = k.strip_prefix(&folder).unwrap_or_else(|| panic!("{k:?} is not in {folder:?}"));
        assert!(!name.is_empty() && !name.contains('/'), "{k:?} is not directly in {folder:?}");
        assert!(validate_source_key(&k).is_err(), "derived key {k:?} would be converted as an original");
        assert_eq!(upload_of_object(&k), None, "derived key {k:?} taken for an upload's object");
        assert!(k.len() <= MAX_KEY_BYTES, "valid source key of {} bytes gives {} a {}-byte key, over S3's {MAX_KEY_BYTES}", key.len(), name, k.len());
    }
}

fn distinct(a: &str, b: &str) {
    if a == b || validate_source_key(a).is_err() || validate_source_key(b).is_err() {
        return;
    }
    assert_ne!(variant_folder(a), variant_folder(b), "{a:?} and {b:?} share a folder");
    let theirs = derived(b);
    for k in derived(a) {
        assert!(!theirs.contains(&k), "{a:?} and {b:?} both write {k:?}");
    }
}

fn round_trips(a: &str) {
    let id = event_id("kiln", a);
    let file = safe_filename(a, "upload");
    assert!(!file.is_empty() && file.len() <= 100 && !file.contains('/') && !file.starts_with('.'), "safe_filename gave {file:?}");
    let original = original_key(&id, &file);
    assert!(validate_source_key(&original).is_ok(), "kiln's own original {original:?} is refused");
    assert_eq!(upload_of_original(&original), Some(id.as_str()));
    let nonce = if a.contains('/') { hex(a.as_bytes()) } else { a.to_string() };
    let chunk = chunk_key(&id, a.len() as u64, &nonce);
    assert_eq!((upload_of_object(&chunk), chunk_owner(&chunk), is_marker(&chunk)), (Some(id.as_str()), Some(nonce.as_str()), false), "{chunk:?}");
    let marker = marker_key(&id);
    assert_eq!((upload_of_object(&marker), is_marker(&marker)), (Some(id.as_str()), true));
}
