//! Blocking S3 client of the worker: presigned PUTs (SigV4 by `rusty-s3`)
//! sent with `ureq`, so any S3-compatible store works. Connection errors,
//! timeouts, 5xx and 429 are retried with exponential backoff (100 ms, then
//! four times longer each time, as kiln's components do); other answers
//! fail at once. Plain `http://` endpoints only (no TLS stack is linked).

use crate::settings::S3Settings;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::time::Duration;

/// How long a presigned URL stays valid.
const SIGNATURE_TTL: Duration = Duration::from_secs(300);
/// First retry delay; each further one waits four times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Cap on one request, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object-store settings: {0}")]
    Config(String),
    /// Every attempt failed with a retryable error.
    #[error("PUT {key}: object store unavailable after {attempts} attempt(s): {last}")]
    Unavailable { key: String, attempts: u32, last: String },
    /// The store answered with a status retrying cannot fix.
    #[error("PUT {key}: object store refused with {status}: {body}")]
    Refused { key: String, status: u16, body: String },
}

/// One bucket, with the credentials to write to it.
pub struct ObjectStore {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    public_base_url: String,
    attempts: u32,
}

/// One attempt's failure.
enum Failure {
    Retry(String),
    Fatal(StorageError),
}

impl ObjectStore {
    /// Checks the settings; `attempts` (at least 1) bounds each request.
    pub fn new(s3: &S3Settings, attempts: u32) -> Result<ObjectStore, StorageError> {
        let endpoint: url::Url =
            s3.endpoint.parse().map_err(|e| StorageError::Config(format!("endpoint {:?}: {e}", s3.endpoint)))?;
        if endpoint.scheme() != "http" {
            return Err(StorageError::Config(format!("endpoint {:?}: only http:// is supported", s3.endpoint)));
        }
        let bucket = Bucket::new(endpoint, UrlStyle::Path, s3.bucket.clone(), s3.region.clone())
            .map_err(|e| StorageError::Config(format!("bucket {:?}: {e}", s3.bucket)))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(ObjectStore {
            bucket,
            credentials: Credentials::new(s3.access_key.clone(), s3.secret_key.clone()),
            agent,
            public_base_url: s3.public_base_url.trim_end_matches('/').to_string(),
            attempts: attempts.max(1),
        })
    }

    /// The public URL of `key`, each path segment percent-encoded.
    pub fn public_url(&self, key: &str) -> String {
        const SEGMENT: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        let path: Vec<String> =
            key.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}/{}", self.public_base_url, path.join("/"))
    }

    /// PUTs `bytes` at `key` with `content_type`, retrying transient failures.
    pub fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), StorageError> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.put_once(key, bytes, content_type) {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(why)) => last = why,
            }
            if attempt < self.attempts {
                std::thread::sleep(backoff);
                backoff *= 4;
            }
        }
        Err(StorageError::Unavailable { key: key.to_string(), attempts: self.attempts, last })
    }

    fn put_once(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), Failure> {
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGNATURE_TTL);
        let mut response = self
            .agent
            .put(url.as_str())
            .header("content-type", content_type)
            .send(bytes)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = response.body_mut().with_config().limit(4096).read_to_vec().unwrap_or_default();
        let body = String::from_utf8_lossy(&body).trim().to_string();
        if status >= 500 || status == 429 {
            Err(Failure::Retry(format!("status {status}: {body}")))
        } else {
            Err(Failure::Fatal(StorageError::Refused { key: key.to_string(), status, body }))
        }
    }
}
