//! S3-compatible object storage over Spin outbound HTTP. Requests are
//! presigned (SigV4, query-string auth) by `rusty-s3`, so any S3 server
//! works: the local kiln-store, MinIO, Garage, AWS S3, Tigris, R2.
//!
//! Transport errors, 5xx and 429 are retried with exponential backoff;
//! other 4xx fail at once; both end as a 502 with the storage's answer.

use crate::api::ApiError;
use crate::body::read_capped;
use crate::config::S3Config;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use spin_sdk::http::{IncomingResponse, Method, Request, Response};
use std::time::Duration;

/// How long a presigned URL stays valid.
const SIGNATURE_TTL: Duration = Duration::from_secs(300);
/// First retry delay; each further retry waits four times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

pub struct Storage {
    bucket: Bucket,
    credentials: Credentials,
    public_base_url: String,
    attempts: u32,
}

/// One attempt's outcome when it did not succeed.
enum Failure {
    Retry(String),
    Fatal(ApiError),
}

impl Storage {
    pub fn new(cfg: &S3Config) -> Result<Storage, ApiError> {
        let misconfigured = |why: String| ApiError::new(500, "misconfigured", why);
        let endpoint = url::Url::parse(&cfg.endpoint).map_err(|e| misconfigured(format!("s3_endpoint {:?}: {e}", cfg.endpoint)))?;
        let bucket = Bucket::new(endpoint, UrlStyle::Path, cfg.bucket.clone(), cfg.region.clone())
            .map_err(|e| misconfigured(format!("s3 bucket {:?}: {e}", cfg.bucket)))?;
        Ok(Storage {
            bucket,
            credentials: Credentials::new(cfg.access_key.clone(), cfg.secret_key.clone()),
            public_base_url: cfg.public_base_url.clone(),
            attempts: cfg.attempts,
        })
    }

    /// The public URL of `key` (each path segment percent-encoded).
    pub fn public_url(&self, key: &str) -> String {
        const SEGMENT: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        let path: Vec<String> = key.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}/{}", self.public_base_url, path.join("/"))
    }

    /// GETs `key`, refusing objects larger than `cap` bytes (413).
    pub async fn get(&self, key: &str, cap: u64) -> Result<Vec<u8>, ApiError> {
        let what = format!("GET {key}");
        self.with_retries(&what, || async {
            let url = self.bucket.get_object(Some(&self.credentials), key).sign(SIGNATURE_TTL);
            let request = Request::builder().method(Method::Get).uri(url.as_str()).build();
            let response: IncomingResponse =
                spin_sdk::http::send(request).await.map_err(|e| Failure::Retry(format!("{e}")))?;
            let status = response.status();
            if status == 404 {
                return Err(Failure::Fatal(ApiError::new(404, "not_found", format!("no object {key:?} in the bucket"))));
            }
            if status != 200 {
                let body = read_capped(response.take_body_stream(), None, 4096, "storage error").await.unwrap_or_default();
                return Err(classify(status, &String::from_utf8_lossy(&body)));
            }
            let declared = response
                .headers()
                .get("content-length")
                .first()
                .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
            let body = read_capped(response.take_body_stream(), declared, cap, &format!("object {key:?}"))
                .await
                .map_err(|e| if e.status == 413 { Failure::Fatal(e) } else { Failure::Retry(e.detail) })?;
            Ok(body)
        })
        .await
    }

    /// PUTs `bytes` at `key` with `content_type`; returns the store's ETag.
    pub async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<Option<String>, ApiError> {
        let sign = || self.bucket.put_object(Some(&self.credentials), key).sign(SIGNATURE_TTL);
        let response = self.send(&format!("PUT {key}"), Method::Put, sign, bytes, &[("content-type", content_type)], &[]).await?;
        Ok(etag(&response))
    }

    /// DELETEs `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        let sign = || self.bucket.delete_object(Some(&self.credentials), key).sign(SIGNATURE_TTL);
        self.send(&format!("DELETE {key}"), Method::Delete, sign, &[], &[], &[404]).await.map(|_| ())
    }

    /// Starts a multipart upload of `key`; returns its upload id.
    pub async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, ApiError> {
        let sign = || self.bucket.create_multipart_upload(Some(&self.credentials), key).sign(SIGNATURE_TTL);
        let response = self.send(&format!("CreateMultipartUpload {key}"), Method::Post, sign, &[], &[("content-type", content_type)], &[]).await?;
        let body = String::from_utf8_lossy(response.body());
        let parsed = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| ApiError::storage(format!("CreateMultipartUpload {key}: unreadable answer: {e}")))?;
        Ok(parsed.upload_id().to_string())
    }

    /// Uploads part `number` (from 1) of a multipart upload; returns its ETag.
    pub async fn upload_part(&self, key: &str, upload_id: &str, number: u16, bytes: &[u8]) -> Result<String, ApiError> {
        let sign = || self.bucket.upload_part(Some(&self.credentials), key, number, upload_id).sign(SIGNATURE_TTL);
        let response = self.send(&format!("UploadPart {key} #{number}"), Method::Put, sign, bytes, &[], &[]).await?;
        etag(&response).ok_or_else(|| ApiError::storage(format!("UploadPart {key} #{number}: no ETag in the answer")))
    }

    /// Makes part `number` of a multipart upload a server-side copy of the
    /// object `source` (UploadPartCopy): no bytes pass through here.
    pub async fn upload_part_copy(&self, key: &str, upload_id: &str, number: u16, source: &str) -> Result<String, ApiError> {
        let copy_source = format!("/{}/{}", self.bucket.name(), percent_encoding::utf8_percent_encode(source, COPY_SOURCE));
        let sign = || {
            let mut action = self.bucket.upload_part(Some(&self.credentials), key, number, upload_id);
            action.headers_mut().insert("x-amz-copy-source", copy_source.clone());
            action.sign(SIGNATURE_TTL)
        };
        let what = format!("UploadPartCopy {key} #{number} <- {source}");
        let copy_header = [("x-amz-copy-source", copy_source.as_str())];
        let response = self.send(&what, Method::Put, sign, &[], &copy_header, &[]).await?;
        let text = String::from_utf8_lossy(response.body());
        xml_tag(&text, "ETag").map(|e| e.trim_matches('"').replace("&quot;", "").to_string()).ok_or_else(|| ApiError::storage(format!("{what}: no ETag in {text}")))
    }

    /// Completes a multipart upload from its parts' ETags; returns the ETag.
    pub async fn complete_multipart(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<Option<String>, ApiError> {
        let action = || {
            self.bucket.complete_multipart_upload(Some(&self.credentials), key, upload_id, etags.iter().map(String::as_str))
        };
        let body = action().body();
        let sign = || action().sign(SIGNATURE_TTL);
        let what = format!("CompleteMultipartUpload {key}");
        let response = self.send(&what, Method::Post, sign, body.as_bytes(), &[("content-type", "application/xml")], &[]).await?;
        let text = String::from_utf8_lossy(response.body());
        if text.contains("<Error>") {
            return Err(ApiError::storage(format!("{what}: {}", s3_error_message(&text))));
        }
        Ok(rusty_s3::actions::CompleteMultipartUploadResponse::parse(&text).ok().map(|r| r.etag().trim_matches('"').to_string()))
    }

    /// Abandons a multipart upload (best effort).
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) {
        let sign = || self.bucket.abort_multipart_upload(Some(&self.credentials), key, upload_id).sign(SIGNATURE_TTL);
        if let Err(e) = self.send(&format!("AbortMultipartUpload {key}"), Method::Delete, sign, &[], &[], &[]).await {
            eprintln!("storage: {}", e.detail);
        }
    }

    /// Sends one signed request with retries. Any 2xx is success, and so
    /// are the statuses in `also_ok` (e.g. 404 for a DELETE).
    async fn send(
        &self,
        what: &str,
        method: Method,
        sign: impl Fn() -> url::Url,
        body: &[u8],
        headers: &[(&str, &str)],
        also_ok: &[u16],
    ) -> Result<Response, ApiError> {
        self.with_retries(what, || async {
            let mut builder = Request::builder();
            builder.method(method.clone()).uri(sign().as_str());
            for (k, v) in headers {
                builder.header(*k, *v);
            }
            // S3 servers refuse bodiless POSTs without a length (411).
            builder.header("content-length", body.len().to_string());
            let request = builder.body(body.to_vec()).build();
            let response: Response = spin_sdk::http::send(request).await.map_err(|e| Failure::Retry(format!("{e}")))?;
            match *response.status() {
                200..=299 => Ok(response),
                status if also_ok.contains(&status) => Ok(response),
                status => Err(classify(status, &String::from_utf8_lossy(response.body()))),
            }
        })
        .await
    }

    async fn with_retries<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut delay = FIRST_BACKOFF;
        let mut last = String::new();
        for n in 1..=self.attempts {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    eprintln!("storage: {what} attempt {n}/{} failed: {why}", self.attempts);
                    last = why;
                }
            }
            if n < self.attempts {
                std::thread::sleep(delay);
                delay *= 4;
            }
        }
        Err(ApiError::storage(format!("{what} failed after {} attempts: {last}", self.attempts)))
    }
}

fn etag(response: &Response) -> Option<String> {
    response.header("etag").and_then(|v| v.as_str()).map(|v| v.trim_matches('"').to_string())
}

/// Decides whether a non-success storage status is worth retrying.
fn classify(status: u16, body: &str) -> Failure {
    let message = s3_error_message(body);
    if status >= 500 || status == 429 {
        Failure::Retry(format!("storage answered {status}: {message}"))
    } else {
        Failure::Fatal(ApiError::storage(format!("storage refused the request with {status}: {message}")))
    }
}

/// Characters escaped in `x-amz-copy-source` keys (`/` is kept).
const COPY_SOURCE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// The text of the first `<name>` element of an S3 XML answer.
fn xml_tag(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</")? + start;
    Some(body[start..end].to_string())
}

/// The `<Code>` and `<Message>` of an S3 XML error, or the body itself.
fn s3_error_message(body: &str) -> String {
    let tag = |name: &str| xml_tag(body, name);
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}
