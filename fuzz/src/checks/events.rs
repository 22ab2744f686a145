//! The `events` fuzz target's checks (fuzz_targets/events.rs runs them on
//! each input; the upload crate's tests/fuzz_regressions.rs on committed
//! ones): the bucket-notification parser (`kiln_upload::events::parse`:
//! S3/MinIO `Records`, Tigris `events`, R2 `action`). Two properties per
//! input:
//! - the input as a body: never panics (serde_json's recursion limit keeps
//!   deep nesting off the stack), and a body it accepts parses the same twice;
//! - the input as an object key: put into a well-formed notification of
//!   each provider (form-encoded for S3, as S3 sends it; raw for Tigris and
//!   R2), the parsed event carries exactly that key, bucket and size.

use kiln_upload::events::parse;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

/// Checks one fuzz input (panics on a finding).
pub fn check(data: &[u8]) {
    if let Ok(events) = parse(data) {
        assert_eq!(parse(data).ok(), Some(events), "parse is not deterministic");
    }
    if let Ok(key) = std::str::from_utf8(data) {
        round_trip(key);
    }
}

/// The key survives each provider's envelope.
fn round_trip(key: &str) {
    // S3 form-encodes keys: %XX for everything but alphanumerics, + for space.
    let form = utf8_percent_encode(key, NON_ALPHANUMERIC).to_string().replace("%20", "+");
    let bodies = [
        json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "kiln"}, "object": {"key": form, "size": 7, "eTag": "\"e\""}}}]}),
        json!({"events": [{"eventSource": "tigris", "eventName": "OBJECT_CREATED_PUT",
            "bucket": "kiln", "object": {"key": key, "size": 7, "eTag": "e"}}]}),
        json!({"account": "a", "action": "PutObject", "bucket": "kiln", "object": {"key": key, "size": 7, "eTag": "e"}}),
    ];
    for body in bodies {
        let events = parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(events.len(), 1, "{body}");
        let e = &events[0];
        assert_eq!((e.key.as_str(), e.bucket.as_str(), e.size, e.etag.as_deref(), e.created), (key, "kiln", Some(7), Some("e"), true), "{body}");
    }
}
