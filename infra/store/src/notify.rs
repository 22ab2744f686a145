//! Webhook delivery of S3 event notifications.
//!
//! Events are queued (bounded) and POSTed by one background task, so a slow
//! or dead webhook never delays or fails an S3 request. Failed deliveries are
//! retried with exponential backoff, then logged and dropped.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::event::{EventSource, ObjectCreated, Sequencer, record_json};

/// Events waiting for delivery; more than this are dropped (and logged).
const QUEUE_CAPACITY: usize = 1024;
/// Delivery attempts per event.
const MAX_ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Limit for one attempt (connect + request + response head).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to deliver notifications.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub target: Target,
    /// Only keys under these prefixes are notified; empty means all keys.
    pub prefixes: Vec<String>,
    pub source: EventSource,
}

/// A parsed `http://` webhook URL plus its bearer token.
#[derive(Debug, Clone)]
pub struct Target {
    connect_host: String,
    port: u16,
    host_header: String,
    path: String,
    token: Option<String>,
}

impl Target {
    /// Parses an `http://host[:port]/path` URL; `https` is refused (no TLS).
    pub fn parse(url: &str, token: Option<String>) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("invalid notify URL {url:?}"))?;
        ensure!(uri.scheme_str() == Some("http"), "notify URL must start with http:// (no TLS): {url:?}");
        let authority = uri.authority().with_context(|| format!("notify URL has no host: {url:?}"))?;
        let host = authority.host();
        Ok(Self {
            connect_host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port: authority.port_u16().unwrap_or(80),
            host_header: authority.port().map_or_else(|| host.to_owned(), |p| format!("{host}:{p}")),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            token,
        })
    }
}

/// One queued delivery: the JSON body plus a label for the logs.
struct Job {
    label: String,
    body: Bytes,
}

/// Handle used by the store to enqueue events; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Job>,
    prefixes: Arc<[String]>,
    source: Arc<EventSource>,
    sequencer: Arc<Sequencer>,
}

impl Notifier {
    /// Starts the delivery task; must be called inside a tokio runtime.
    pub fn spawn(cfg: NotifyConfig) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(deliver_all(rx, cfg.target));
        Self {
            tx,
            prefixes: cfg.prefixes.into(),
            source: Arc::new(cfg.source),
            sequencer: Arc::new(Sequencer::new()),
        }
    }

    /// Whether events for `key` should be sent at all.
    pub fn wants(&self, key: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    /// Queues a notification without waiting; drops it (loudly) if the queue is full.
    pub fn send(&self, ev: &ObjectCreated) {
        let record = record_json(ev, &self.source, OffsetDateTime::now_utc(), &self.sequencer.next_hex());
        let job = Job {
            label: format!("{} {}/{}", ev.name.as_str(), ev.bucket, ev.key),
            body: Bytes::from(record.to_string()),
        };
        if let Err(err) = self.tx.try_send(job) {
            eprintln!("kiln-store: notify DROPPED (queue full or closed): {err}");
        }
    }
}

/// The background task: delivers queued jobs one after another.
async fn deliver_all(mut rx: mpsc::Receiver<Job>, target: Target) {
    while let Some(job) = rx.recv().await {
        deliver(&target, &job).await;
    }
}

/// Delivers one job, retrying with exponential backoff; logs the outcome.
async fn deliver(target: &Target, job: &Job) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        let error = match post(target, job.body.clone()).await {
            Ok(status) if status.is_success() => {
                eprintln!("kiln-store: notify {} -> {status} (attempt {attempt})", job.label);
                return;
            }
            Ok(status) => format!("webhook answered {status}"),
            Err(err) => format!("{err:#}"),
        };
        if attempt == MAX_ATTEMPTS {
            eprintln!("kiln-store: NOTIFY FAILED, event dropped after {attempt} attempts: {}: {error}", job.label);
            return;
        }
        eprintln!("kiln-store: notify {} attempt {attempt} failed ({error}); retrying in {backoff:?}", job.label);
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

/// One POST of `body` to the webhook, with a time limit.
async fn post(target: &Target, body: Bytes) -> anyhow::Result<StatusCode> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, post_unbounded(target, body))
        .await
        .with_context(|| format!("no answer within {ATTEMPT_TIMEOUT:?}"))?
}

async fn post_unbounded(target: &Target, body: Bytes) -> anyhow::Result<StatusCode> {
    let stream = TcpStream::connect((target.connect_host.as_str(), target.port))
        .await
        .with_context(|| format!("connecting to {}", target.host_header))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = Request::post(target.path.as_str())
        .header(HOST, target.host_header.as_str())
        .header(CONTENT_TYPE, "application/json");
    if let Some(token) = &target.token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Full::new(body)).context("building notification request")?;
    let response = sender.send_request(request).await.context("sending notification")?;
    Ok(response.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let t = Target::parse("http://127.0.0.1:3000/hooks/s3?x=1", Some("t".into())).unwrap();
        assert_eq!((t.connect_host.as_str(), t.port), ("127.0.0.1", 3000));
        assert_eq!(t.host_header, "127.0.0.1:3000");
        assert_eq!(t.path, "/hooks/s3?x=1");
        let t = Target::parse("http://[::1]", None).unwrap();
        assert_eq!((t.connect_host.as_str(), t.port, t.path.as_str()), ("::1", 80, "/"));
    }

    #[test]
    fn refuses_https_and_garbage() {
        assert!(Target::parse("https://example.com/", None).is_err());
        assert!(Target::parse("not a url", None).is_err());
    }
}
