//! Webhook delivery of S3 event notifications, through the on-disk spool.
//!
//! The S3 request appends the event to the [`Spool`] (durably, before the
//! response goes out); one background task POSTs the spooled events in
//! sequencer order, one at a time, and removes each only after a 2xx answer.
//! Failures are logged and retried with exponential backoff, forever: a slow
//! or dead webhook delays later events but never an S3 request, and never
//! loses an event.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpStream;

use crate::event::{EventSource, ObjectCreated, record_json};
use crate::spool::{Entry, Spool};

/// Wait before the first retry of an event; doubled before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Limit for one attempt (connect + request + response head).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle delivery task waits before looking at the spool anyway.
const IDLE_RESCAN: Duration = Duration::from_secs(10);

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

/// Handle used by the store to spool events; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    spool: Arc<Spool>,
    prefixes: Arc<[String]>,
    source: Arc<EventSource>,
}

impl Notifier {
    /// Starts the delivery task for `spool`, which first delivers what a
    /// previous run left in it. Must be called inside a tokio runtime.
    pub fn spawn(cfg: NotifyConfig, spool: Spool) -> Self {
        let spool = Arc::new(spool);
        tokio::spawn(deliver_forever(Arc::clone(&spool), cfg.target));
        Self { spool, prefixes: cfg.prefixes.into(), source: Arc::new(cfg.source) }
    }

    /// Whether events for `key` should be sent at all.
    pub fn wants(&self, key: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    /// Durably spools the notification for `ev`; delivery happens later.
    pub async fn send(&self, ev: &ObjectCreated) -> anyhow::Result<()> {
        let at = OffsetDateTime::now_utc();
        self.spool
            .append(|sequencer| record_json(ev, &self.source, at, sequencer).to_string().into_bytes())
            .await?;
        Ok(())
    }
}

/// The background task: delivers spooled events oldest first, forever.
async fn deliver_forever(spool: Arc<Spool>, target: Target) {
    loop {
        let pending = match spool.pending().await {
            Ok(pending) => pending,
            Err(err) => {
                eprintln!("kiln-store: NOTIFY SPOOL UNREADABLE: {err:#}; retrying in {IDLE_RESCAN:?}");
                tokio::time::sleep(IDLE_RESCAN).await;
                continue;
            }
        };
        if pending.is_empty() {
            spool.wait_for_append(IDLE_RESCAN).await;
        }
        // Later appends get higher sequencers, so this batch stays in order.
        for entry in pending {
            deliver_entry(&spool, &target, entry).await;
        }
    }
}

/// Delivers one spooled event until the webhook accepts it, then removes it.
async fn deliver_entry(spool: &Spool, target: &Target, entry: Entry) {
    let Some((body, label)) = load(spool, entry).await else { return };
    post_until_accepted(target, &label, body).await;
    let mut backoff = Backoff::new();
    while let Err(err) = spool.remove(entry).await {
        // Left in place, the event would be sent again: keep trying.
        eprintln!("kiln-store: NOTIFY SPOOL: cannot remove delivered {entry}: {err:#}; retrying in {:?}", backoff.next);
        backoff.wait().await;
    }
}

/// The body of a spooled event and a label for the logs; `None` if the file
/// is gone or is not JSON (then it is renamed aside, loudly).
async fn load(spool: &Spool, entry: Entry) -> Option<(Bytes, String)> {
    let mut backoff = Backoff::new();
    let body = loop {
        match spool.read(entry).await {
            Ok(body) => break body?,
            Err(err) => {
                eprintln!("kiln-store: NOTIFY SPOOL: {err:#}; retrying in {:?}", backoff.next);
                backoff.wait().await;
            }
        }
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(record) => Some((Bytes::from(body), label(&record, entry))),
        Err(err) => {
            let moved = spool.quarantine(entry).await;
            let moved = match moved {
                Ok(path) => format!("moved to {}", path.display()),
                Err(e) => format!("could not move it aside: {e:#}"),
            };
            let dir = spool.dir().display();
            eprintln!("kiln-store: NOTIFY SPOOL: {entry} in {dir} is not JSON ({err}), NOT SENT; {moved}");
            None
        }
    }
}

/// `ObjectCreated:Put kiln/originals/a.jpg (event-….json)`, for the logs.
fn label(record: &Value, entry: Entry) -> String {
    let r = &record["Records"][0];
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let (bucket, key) = (text(&r["s3"]["bucket"]["name"]), text(&r["s3"]["object"]["key"]));
    format!("{} {bucket}/{key} ({entry})", text(&r["eventName"]))
}

/// POSTs `body` until the webhook answers 2xx, logging every failure.
async fn post_until_accepted(target: &Target, label: &str, body: Bytes) {
    let mut backoff = Backoff::new();
    for attempt in 1u64.. {
        let error = match post(target, body.clone()).await {
            Ok(status) if status.is_success() => {
                eprintln!("kiln-store: notify {label} -> {status} (attempt {attempt})");
                return;
            }
            Ok(status) => format!("webhook answered {status}"),
            Err(err) => format!("{err:#}"),
        };
        eprintln!(
            "kiln-store: NOTIFY FAILED {label}, attempt {attempt}: {error}; kept in the spool, retrying in {:?}",
            backoff.next
        );
        backoff.wait().await;
    }
}

/// Exponential backoff from [`FIRST_BACKOFF`], capped at [`MAX_BACKOFF`].
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: FIRST_BACKOFF }
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.advance();
    }

    fn advance(&mut self) {
        self.next = (self.next * 2).min(MAX_BACKOFF);
    }
}

/// One POST of `body` to the webhook, with a time limit.
async fn post(target: &Target, body: Bytes) -> anyhow::Result<StatusCode> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, post_unbounded(target, body))
        .await
        .with_context(|| format!("no answer within {ATTEMPT_TIMEOUT:?}"))?
}

/// The most of a webhook's answer body that is read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

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
    let status = response.status();
    // Read the (small) answer to its end before closing: a webhook that is
    // still writing its body would otherwise see its write fail.
    let answer = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES);
    if let Err(err) = answer.collect().await {
        eprintln!("kiln-store: notify: reading the webhook's answer: {err}");
    }
    Ok(status)
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
    fn backoff_doubles_up_to_the_cap() {
        let mut b = Backoff::new();
        let mut waits = Vec::new();
        for _ in 0..10 {
            waits.push(b.next);
            b.advance();
        }
        assert_eq!(waits[..3], [FIRST_BACKOFF, FIRST_BACKOFF * 2, FIRST_BACKOFF * 4]);
        assert_eq!(waits[9], MAX_BACKOFF);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn labels_name_the_event() {
        let record = serde_json::json!({"Records":[{"eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"kiln"},"object":{"key":"originals/a.jpg"}}}]});
        assert_eq!(label(&record, Entry::parse("event-00000000000000AB.json").unwrap()),
            "ObjectCreated:Put kiln/originals/a.jpg (event-00000000000000AB.json)");
    }

    #[test]
    fn refuses_https_and_garbage() {
        assert!(Target::parse("https://example.com/", None).is_err());
        assert!(Target::parse("not a url", None).is_err());
    }
}
