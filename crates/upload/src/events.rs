//! Object-storage event notifications, normalised. Adapters for the AWS S3
//! shape (`Records[]`, also what MinIO and kiln-store send; MinIO adds a
//! top-level `EventName`), Tigris (`events[]`) and Cloudflare R2 queue
//! messages (`action`), each turned into [`ObjectEvent`]s with the key
//! decoded.

use crate::error::UploadError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// `aws:s3`, `minio:s3`, `tigris`, `r2`, ...
    pub source: String,
    pub bucket: String,
    /// The object key, URL-decoded where the provider encodes it.
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    /// True for object-created events (put, post, copy, multipart).
    pub created: bool,
}

/// Parses a notification body into its events. Unknown shapes are a 400.
pub fn parse(body: &[u8]) -> Result<Vec<ObjectEvent>, UploadError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| UploadError::BadRequest(format!("event body is not JSON: {e}")))?;
    if let Some(records) = json.get("Records").and_then(Value::as_array) {
        return records.iter().map(s3_record).collect();
    }
    if let Some(events) = json.get("events").and_then(Value::as_array) {
        return events.iter().map(tigris_event).collect();
    }
    if json.get("action").is_some() {
        return r2_message(&json).map(|e| vec![e]);
    }
    Err(UploadError::BadRequest("unknown event format: expected S3 'Records', Tigris 'events' or R2 'action'".into()))
}

fn missing(what: &str) -> UploadError {
    UploadError::BadRequest(format!("event lacks {what}"))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn etag(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(|s| s.trim_matches('"').to_string())
}

fn s3_record(r: &Value) -> Result<ObjectEvent, UploadError> {
    let name = str_at(r, &["eventName"]).ok_or_else(|| missing("eventName"))?;
    let name = name.strip_prefix("s3:").unwrap_or(name);
    let object = r.get("s3").and_then(|s| s.get("object")).ok_or_else(|| missing("s3.object"))?;
    let raw_key = str_at(object, &["key"]).ok_or_else(|| missing("s3.object.key"))?;
    Ok(ObjectEvent {
        source: str_at(r, &["eventSource"]).unwrap_or("aws:s3").to_string(),
        bucket: str_at(r, &["s3", "bucket", "name"]).ok_or_else(|| missing("s3.bucket.name"))?.to_string(),
        key: decode_form_key(raw_key)?,
        size: object.get("size").and_then(Value::as_u64),
        etag: etag(object.get("eTag")),
        created: name.starts_with("ObjectCreated:"),
    })
}

fn tigris_event(e: &Value) -> Result<ObjectEvent, UploadError> {
    let name = str_at(e, &["eventName"]).ok_or_else(|| missing("eventName"))?;
    let object = e.get("object").ok_or_else(|| missing("object"))?;
    Ok(ObjectEvent {
        source: str_at(e, &["eventSource"]).unwrap_or("tigris").to_string(),
        bucket: str_at(e, &["bucket"]).ok_or_else(|| missing("bucket"))?.to_string(),
        key: str_at(object, &["key"]).ok_or_else(|| missing("object.key"))?.to_string(),
        size: object.get("size").and_then(Value::as_u64),
        etag: etag(object.get("eTag")),
        created: name.starts_with("OBJECT_CREATED"),
    })
}

fn r2_message(m: &Value) -> Result<ObjectEvent, UploadError> {
    let action = str_at(m, &["action"]).ok_or_else(|| missing("action"))?;
    let object = m.get("object").ok_or_else(|| missing("object"))?;
    Ok(ObjectEvent {
        source: "r2".into(),
        bucket: str_at(m, &["bucket"]).ok_or_else(|| missing("bucket"))?.to_string(),
        key: str_at(object, &["key"]).ok_or_else(|| missing("object.key"))?.to_string(),
        size: object.get("size").and_then(Value::as_u64),
        etag: etag(object.get("eTag")),
        created: matches!(action, "PutObject" | "CopyObject" | "CompleteMultipartUpload"),
    })
}

/// S3 keys in notifications are form-encoded: `+` is a space, then `%XX`.
fn decode_form_key(raw: &str) -> Result<String, UploadError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| UploadError::BadRequest(format!("event key {raw:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_s3_records_decode_plus_and_percent() {
        let body = br#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"kiln"},"object":{"key":"originals/red+flower%C3%A9.jpg","size":1024,"eTag":"abc"}}},
            {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"kiln"},"object":{"key":"x"}}}]}"#;
        let events = parse(body).unwrap();
        assert_eq!(events[0].key, "originals/red floweré.jpg");
        assert_eq!((events[0].size, events[0].etag.as_deref(), events[0].created), (Some(1024), Some("abc"), true));
        assert!(!events[1].created);
    }

    #[test]
    fn minio_envelope_with_s3_prefix() {
        let body = br#"{"EventName":"s3:ObjectCreated:Put","Key":"kiln/uploads/hello.dat","Records":[{"eventSource":"minio:s3",
            "eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"kiln"},"object":{"key":"uploads%2Fhello.dat","size":5,"eTag":"\"e\""}}}]}"#;
        let e = &parse(body).unwrap()[0];
        assert_eq!((e.source.as_str(), e.key.as_str(), e.created, e.etag.as_deref()), ("minio:s3", "uploads/hello.dat", true, Some("e")));
    }

    #[test]
    fn tigris_and_r2_shapes() {
        let tigris = br#"{"events":[{"eventVersion":"1","eventSource":"tigris","eventName":"OBJECT_CREATED_PUT",
            "bucket":"my-bucket","object":{"key":"path/to/my file.txt","size":1024,"eTag":"d41d8"}}]}"#;
        let e = &parse(tigris).unwrap()[0];
        assert_eq!((e.bucket.as_str(), e.key.as_str(), e.created), ("my-bucket", "path/to/my file.txt", true));
        let r2 = br#"{"account":"a","action":"PutObject","bucket":"b","object":{"key":"k","size":1,"eTag":"t"}}"#;
        assert!(parse(r2).unwrap()[0].created);
    }

    #[test]
    fn unknown_shapes_are_bad_requests() {
        assert!(matches!(parse(b"{}"), Err(UploadError::BadRequest(_))));
        assert!(matches!(parse(b"nope"), Err(UploadError::BadRequest(_))));
        assert!(parse(br#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#).is_err());
    }
}
