//! The `tus_headers` fuzz target's checks (fuzz_targets/tus_headers.rs runs
//! them on each input; the upload crate's tests/fuzz_regressions.rs on
//! committed ones): the tus header parsers (`Upload-Metadata`,
//! `Upload-Checksum`, `Upload-Concat`) on arbitrary header values. Never
//! panics, and what they accept is well formed: metadata keys are visible
//! ASCII without commas and the map survives being written back and parsed
//! again; concatenated upload ids are non-empty single path segments.

use base64::Engine;
use kiln_upload::tus::header::{parse_checksum, parse_concat, parse_metadata, Concat};
use std::collections::BTreeMap;

/// Checks one fuzz input (panics on a finding).
pub fn check(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    if let Ok(map) = parse_metadata(&header) {
        check_metadata(&map);
    }
    let _ = parse_checksum(&header);
    if let Ok(Concat::Final(ids)) = parse_concat(&header) {
        assert!(!ids.is_empty());
        for id in &ids {
            assert!(!id.is_empty() && !id.contains('/') && !id.contains(char::is_whitespace), "upload id {id:?}");
        }
    }
}

fn check_metadata(map: &BTreeMap<String, String>) {
    for key in map.keys() {
        assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic() && b != b','), "metadata key {key:?}");
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let written: Vec<String> = map
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {}", engine.encode(v)) })
        .collect();
    let again = parse_metadata(&written.join(","));
    assert_eq!(again.as_ref().ok(), Some(map), "metadata does not round-trip through {written:?}");
}
