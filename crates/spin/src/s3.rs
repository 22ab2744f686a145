//! S3-compatible object storage over Spin outbound HTTP, as the upload
//! logic's [`ObjectStore`]. Requests are presigned (SigV4, query-string
//! auth) by `rusty-s3`, so any S3 server works: the local kiln-store, MinIO,
//! Garage, AWS S3, Tigris, R2.
//!
//! Every attempt has a time limit (`storage_timeout_seconds`). Transport
//! errors, timeouts, 5xx and 429 are retried `storage_attempts` times with
//! exponential backoff and jitter, waiting asynchronously; other 4xx fail at
//! once. `NoSuchKey` and `NoSuchUpload` come back typed, so callers can tell
//! a missing object, and a multipart upload completed by an attempt whose
//! answer was lost, from an outage.

use crate::body::read_capped;
use crate::clock;
use crate::config::S3Config;
use crate::http::ApiError;
use kiln_upload::ports::{Listing, MultipartInfo, ObjectInfo, ObjectStore, StoreError};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use spin_sdk::http::{IncomingResponse, Method, Request};
use std::time::Duration;

/// How long a presigned URL stays valid.
const SIGNATURE_TTL: Duration = Duration::from_secs(300);
/// Backoff before the second attempt; each further one waits four times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Largest answer read for anything but a GET of an object.
const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

pub struct S3Store {
    bucket: Bucket,
    credentials: Credentials,
    public_base_url: String,
    attempts: u32,
    timeout: Duration,
}

/// An answer the store gave.
struct Answer {
    status: u16,
    etag: Option<String>,
    length: Option<u64>,
    modified: Option<String>,
    body: Vec<u8>,
}

/// One attempt's outcome when it did not succeed.
enum Failure {
    Retry(String),
    Fatal(StoreError),
}

/// One request: what to call it, how to sign it, what to send.
struct Call<'a> {
    what: String,
    method: Method,
    sign: Box<dyn Fn() -> url::Url + 'a>,
    body: &'a [u8],
    headers: Vec<(&'static str, String)>,
    /// Statuses besides 2xx that are answers, not failures (404 for DELETE).
    also_ok: &'a [u16],
    /// Largest body read from the answer.
    cap: u64,
}

impl S3Store {
    pub fn new(cfg: &S3Config) -> Result<S3Store, ApiError> {
        let endpoint = url::Url::parse(&cfg.endpoint).map_err(|e| ApiError::misconfigured(format!("s3_endpoint {:?}: {e}", cfg.endpoint)))?;
        let bucket = Bucket::new(endpoint, UrlStyle::Path, cfg.bucket.clone(), cfg.region.clone())
            .map_err(|e| ApiError::misconfigured(format!("s3 bucket {:?}: {e}", cfg.bucket)))?;
        Ok(S3Store {
            bucket,
            credentials: Credentials::new(cfg.access_key.clone(), cfg.secret_key.clone()),
            public_base_url: cfg.public_base_url.clone(),
            attempts: cfg.attempts,
            timeout: cfg.timeout,
        })
    }

    /// The public URL of `key` (each path segment percent-encoded).
    pub fn public_url(&self, key: &str) -> String {
        let path: Vec<String> = key.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}/{}", self.public_base_url, path.join("/"))
    }

    fn call<'a>(&self, what: String, method: Method, sign: impl Fn() -> url::Url + 'a) -> Call<'a> {
        Call { what, method, sign: Box::new(sign), body: &[], headers: Vec::new(), also_ok: &[], cap: MAX_ANSWER_BYTES }
    }

    /// Sends `call` with retries; the answer on success.
    async fn send(&self, call: Call<'_>) -> Result<Answer, StoreError> {
        let mut last = String::new();
        for n in 1..=self.attempts {
            let attempt = clock::timeout(self.timeout, self.attempt(&call)).await;
            match attempt {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(Failure::Fatal(e))) => return Err(e),
                Ok(Err(Failure::Retry(why))) => last = why,
                Err(()) => last = format!("no answer within {:?}", self.timeout),
            }
            eprintln!("storage: {} attempt {n}/{} failed: {last}", call.what, self.attempts);
            if n < self.attempts {
                clock::sleep(backoff(n, random_unit())).await;
            }
        }
        Err(StoreError::Failed(format!("{} failed after {} attempts: {last}", call.what, self.attempts)))
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, Failure> {
        let mut builder = Request::builder();
        builder.method(call.method.clone()).uri((call.sign)().as_str());
        for (k, v) in &call.headers {
            builder.header(*k, v.as_str());
        }
        // S3 servers refuse bodiless POSTs without a length (411).
        builder.header("content-length", call.body.len().to_string());
        let request = builder.body(call.body.to_vec()).build();
        let response: IncomingResponse = spin_sdk::http::send(request).await.map_err(|e| Failure::Retry(format!("{e}")))?;
        let status = response.status();
        let head = |name: &str| response.headers().get(name).first().and_then(|v| String::from_utf8(v.clone()).ok());
        let (etag, modified) = (head("etag").map(|e| e.trim_matches('"').to_string()), head("last-modified"));
        let length = head("content-length").and_then(|v| v.parse().ok());
        let ok = (200..300).contains(&status) || call.also_ok.contains(&status);
        let cap = if ok { call.cap } else { MAX_ANSWER_BYTES };
        let body = match read_capped(response.take_body_stream(), length.filter(|_| call.method != Method::Head), cap, &call.what).await {
            Ok(body) => body,
            Err(e) if e.status == 413 => return Err(Failure::Fatal(StoreError::TooLarge { key: call.what.clone(), cap })),
            Err(e) => return Err(Failure::Retry(e.detail)),
        };
        if !ok {
            return Err(classify(status, &String::from_utf8_lossy(&body)));
        }
        Ok(Answer { status, etag, length, modified, body })
    }
}

/// The wait before attempt `n + 1`: `FIRST_BACKOFF × 4ⁿ⁻¹`, of which the
/// second half is random (`unit` in 0..1), so instances that failed together
/// do not retry together.
pub fn backoff(n: u32, unit: f64) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(4u32.saturating_pow(n.saturating_sub(1)));
    full / 2 + full.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Decides what a non-success status means.
fn classify(status: u16, body: &str) -> Failure {
    let code = xml_tag(body, "Code").unwrap_or_default();
    let message = s3_error_message(body);
    match (status, code.as_str()) {
        (_, "NoSuchKey") | (404, _) if code != "NoSuchUpload" => {
            Failure::Fatal(StoreError::NotFound { key: xml_tag(body, "Key").unwrap_or_default() })
        }
        (_, "NoSuchUpload") => Failure::Fatal(StoreError::NoSuchUpload { key: String::new(), upload_id: message }),
        (s, _) if s >= 500 || s == 429 => Failure::Retry(format!("storage answered {status}: {message}")),
        _ => Failure::Fatal(StoreError::Failed(format!("storage refused the request with {status}: {message}"))),
    }
}

fn with_key(e: StoreError, key: &str) -> StoreError {
    match e {
        StoreError::NotFound { .. } => StoreError::NotFound { key: key.to_string() },
        StoreError::TooLarge { cap, .. } => StoreError::TooLarge { key: key.to_string(), cap },
        other => other,
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<Option<String>, StoreError> {
        let mut call = self.call(format!("PUT {key}"), Method::Put, || self.bucket.put_object(Some(&self.credentials), key).sign(SIGNATURE_TTL));
        call.body = body;
        call.headers.push(("content-type", content_type.to_string()));
        Ok(self.send(call).await?.etag)
    }

    async fn get(&self, key: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        let mut call = self.call(format!("GET {key}"), Method::Get, || self.bucket.get_object(Some(&self.credentials), key).sign(SIGNATURE_TTL));
        call.cap = cap;
        self.send(call).await.map(|a| a.body).map_err(|e| with_key(e, key))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let mut call = self.call(format!("HEAD {key}"), Method::Head, || self.bucket.head_object(Some(&self.credentials), key).sign(SIGNATURE_TTL));
        call.also_ok = &[404];
        let answer = self.send(call).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        let modified_ms = answer.modified.as_deref().and_then(http_date_ms);
        Ok(Some(ObjectInfo { key: key.to_string(), size: answer.length.unwrap_or(0), etag: answer.etag, modified_ms }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut call = self.call(format!("DELETE {key}"), Method::Delete, || self.bucket.delete_object(Some(&self.credentials), key).sign(SIGNATURE_TTL));
        call.also_ok = &[404];
        self.send(call).await.map(|_| ())
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Listing, StoreError> {
        let sign = || {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix);
            if let Some(after) = start_after {
                action.with_start_after(after);
            }
            action.with_max_keys(max as usize);
            action.sign(SIGNATURE_TTL)
        };
        let answer = self.send(self.call(format!("LIST {prefix}"), Method::Get, sign)).await?;
        let text = String::from_utf8_lossy(&answer.body);
        let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
            .map_err(|e| StoreError::Failed(format!("LIST {prefix}: unreadable answer: {e}")))?;
        let objects = parsed
            .contents
            .into_iter()
            .map(|c| ObjectInfo {
                size: c.size.unwrap_or(0),
                etag: c.etag.map(|e| e.trim_matches('"').replace("&quot;", "")),
                modified_ms: c.last_modified.as_deref().and_then(iso_ms),
                key: c.key,
            })
            .collect();
        Ok(Listing { objects, truncated: parsed.next_continuation_token.is_some() })
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, StoreError> {
        let sign = || self.bucket.create_multipart_upload(Some(&self.credentials), key).sign(SIGNATURE_TTL);
        let mut call = self.call(format!("CreateMultipartUpload {key}"), Method::Post, sign);
        call.headers.push(("content-type", content_type.to_string()));
        let answer = self.send(call).await?;
        let body = String::from_utf8_lossy(&answer.body);
        let parsed = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| StoreError::Failed(format!("CreateMultipartUpload {key}: unreadable answer: {e}")))?;
        Ok(parsed.upload_id().to_string())
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: u16, body: &[u8]) -> Result<String, StoreError> {
        let what = format!("UploadPart {key} #{number}");
        let sign = || self.bucket.upload_part(Some(&self.credentials), key, number, upload_id).sign(SIGNATURE_TTL);
        let mut call = self.call(what.clone(), Method::Put, sign);
        call.body = body;
        let answer = self.send(call).await.map_err(|e| no_such_upload(e, key, upload_id))?;
        answer.etag.ok_or_else(|| StoreError::Failed(format!("{what}: no ETag in the answer")))
    }

    async fn upload_part_copy(&self, key: &str, upload_id: &str, number: u16, source: &str) -> Result<String, StoreError> {
        let copy_source = format!("/{}/{}", self.bucket.name(), percent_encoding::utf8_percent_encode(source, COPY_SOURCE));
        let what = format!("UploadPartCopy {key} #{number} <- {source}");
        let sign = || {
            let mut action = self.bucket.upload_part(Some(&self.credentials), key, number, upload_id);
            // Signed, as AWS requires for presigned copies.
            action.headers_mut().insert("x-amz-copy-source", copy_source.clone());
            action.sign(SIGNATURE_TTL)
        };
        let mut call = self.call(what.clone(), Method::Put, sign);
        call.headers.push(("x-amz-copy-source", copy_source.clone()));
        let answer = self.send(call).await.map_err(|e| with_key(no_such_upload(e, key, upload_id), source))?;
        let text = String::from_utf8_lossy(&answer.body);
        xml_tag(&text, "ETag")
            .map(|e| e.trim_matches('"').replace("&quot;", ""))
            .ok_or_else(|| StoreError::Failed(format!("{what}: no ETag in {text}")))
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<Option<String>, StoreError> {
        let action = || self.bucket.complete_multipart_upload(Some(&self.credentials), key, upload_id, etags.iter().map(String::as_str));
        let body = action().body();
        let what = format!("CompleteMultipartUpload {key}");
        let mut call = self.call(what.clone(), Method::Post, move || action().sign(SIGNATURE_TTL));
        call.body = body.as_bytes();
        call.headers.push(("content-type", "application/xml".to_string()));
        let answer = self.send(call).await.map_err(|e| no_such_upload(e, key, upload_id))?;
        let text = String::from_utf8_lossy(&answer.body);
        // S3 may answer 200 with an error in the body.
        if text.contains("<Error>") {
            return Err(match xml_tag(&text, "Code").as_deref() {
                Some("NoSuchUpload") => StoreError::NoSuchUpload { key: key.into(), upload_id: upload_id.into() },
                _ => StoreError::Failed(format!("{what}: {}", s3_error_message(&text))),
            });
        }
        Ok(rusty_s3::actions::CompleteMultipartUploadResponse::parse(&text).ok().map(|r| r.etag().trim_matches('"').to_string()))
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let sign = || self.bucket.abort_multipart_upload(Some(&self.credentials), key, upload_id).sign(SIGNATURE_TTL);
        let mut call = self.call(format!("AbortMultipartUpload {key}"), Method::Delete, sign);
        call.also_ok = &[404];
        self.send(call).await.map(|_| ())
    }

    async fn list_multipart(&self, prefix: &str) -> Result<Vec<MultipartInfo>, StoreError> {
        // rusty-s3 has no ListMultipartUploads action: sign the request with its signer.
        let sign = || {
            let query = [("prefix", prefix), ("uploads", "")]; // sorted, as the signer requires
            rusty_s3::signing::sign(
                &jiff::Timestamp::now(),
                rusty_s3::Method::Get,
                self.bucket.base_url().clone(),
                self.credentials.key(),
                self.credentials.secret(),
                self.credentials.token(),
                self.bucket.region(),
                SIGNATURE_TTL.as_secs(),
                query.into_iter(),
                std::iter::empty(),
            )
        };
        let answer = self.send(self.call(format!("ListMultipartUploads {prefix}"), Method::Get, sign)).await?;
        Ok(parse_multipart_listing(&String::from_utf8_lossy(&answer.body)))
    }
}

fn no_such_upload(e: StoreError, key: &str, upload_id: &str) -> StoreError {
    match e {
        StoreError::NoSuchUpload { .. } => StoreError::NoSuchUpload { key: key.into(), upload_id: upload_id.into() },
        other => other,
    }
}

/// The `<Upload>` entries of a ListMultipartUploadsResult.
pub fn parse_multipart_listing(xml: &str) -> Vec<MultipartInfo> {
    xml.split("<Upload>")
        .skip(1)
        .filter_map(|entry| {
            let entry = entry.split("</Upload>").next()?;
            Some(MultipartInfo {
                key: xml_unescape(&xml_tag(entry, "Key")?),
                upload_id: xml_tag(entry, "UploadId")?,
                initiated_ms: xml_tag(entry, "Initiated").as_deref().and_then(iso_ms),
            })
        })
        .collect()
}

/// Milliseconds since the epoch of an ISO 8601 time (`2026-12-01T10:00:00.000Z`).
fn iso_ms(text: &str) -> Option<u64> {
    let t: jiff::Timestamp = text.trim().parse().ok()?;
    u64::try_from(t.as_millisecond()).ok()
}

/// Milliseconds since the epoch of an HTTP date (`Tue, 01 Dec 2026 10:00:00 GMT`).
fn http_date_ms(text: &str) -> Option<u64> {
    let t = jiff::fmt::rfc2822::parse(text.trim()).ok()?.timestamp();
    u64::try_from(t.as_millisecond()).ok()
}

/// Characters escaped in each path segment of a public URL.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Characters escaped in `x-amz-copy-source` keys (`/` is kept).
const COPY_SOURCE: &percent_encoding::AsciiSet = &SEGMENT.remove(b'/');

/// The text of the first `<name>` element of an S3 XML answer.
fn xml_tag(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</")? + start;
    Some(body[start..end].to_string())
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The `<Code>` and `<Message>` of an S3 XML error, or the body itself.
fn s3_error_message(body: &str) -> String {
    match (xml_tag(body, "Code"), xml_tag(body, "Message")) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_fourfold_with_jitter_in_the_upper_half() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(3, 0.0), Duration::from_millis(800));
        assert!(backoff(2, 0.5) > backoff(2, 0.0) && backoff(2, 0.5) < backoff(2, 1.0));
    }

    #[test]
    fn multipart_listings_are_read() {
        let xml = "<ListMultipartUploadsResult><Upload><Key>originals/a&amp;b.jpg</Key><UploadId>u1</UploadId>\
                   <Initiated>2026-12-01T10:00:00.000Z</Initiated></Upload><Upload><Key>k</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>";
        let uploads = parse_multipart_listing(xml);
        assert_eq!(uploads.len(), 2);
        assert_eq!((uploads[0].key.as_str(), uploads[0].upload_id.as_str()), ("originals/a&b.jpg", "u1"));
        assert_eq!(uploads[0].initiated_ms, Some(1_796_119_200_000));
        assert_eq!(uploads[1].initiated_ms, None);
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(classify(404, "<Error><Code>NoSuchKey</Code></Error>"), Failure::Fatal(StoreError::NotFound { .. })));
        assert!(matches!(classify(404, "<Error><Code>NoSuchUpload</Code></Error>"), Failure::Fatal(StoreError::NoSuchUpload { .. })));
        assert!(matches!(classify(503, "<Error><Code>SlowDown</Code></Error>"), Failure::Retry(_)));
        assert!(matches!(classify(429, ""), Failure::Retry(_)));
        assert!(matches!(classify(403, "<Error><Code>AccessDenied</Code></Error>"), Failure::Fatal(StoreError::Failed(m)) if m.contains("AccessDenied")));
    }
}
