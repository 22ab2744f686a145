//! End-to-end tests of the `kiln-store` binary: the real process on a free
//! port, presigned requests made with `rusty-s3`, and a real local webhook
//! that records the S3 event notifications it receives.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rusty_s3::actions::{CompleteMultipartUpload, CompleteMultipartUploadResponse, CreateMultipartUpload, UploadPart};
use rusty_s3::{Bucket, Credentials, Method, S3Action, UrlStyle};
use serde_json::Value;

const ACCESS_KEY: &str = "kiln";
const SECRET_KEY: &str = "test-secret";
const TOKEN: &str = "hook-token-123";
const HOUR: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(15);

/// A running `kiln-store` child process; killed, and its root and state
/// folders removed, on drop.
struct Store {
    child: Child,
    root: PathBuf,
    bucket: Bucket,
}

impl Store {
    /// Kills the process with SIGKILL (no graceful shutdown) and hands back
    /// its root, which is kept for a restart.
    fn kill(mut self) -> PathBuf {
        self.child.kill().expect("SIGKILL kiln-store");
        let _ = self.child.wait();
        std::mem::take(&mut self.root)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.root.as_os_str().is_empty() {
            for dir in [self.root.clone(), sibling(&self.root, ".notify"), sibling(&self.root, ".multipart")] {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// `<root><suffix>`: the default place of the store's state folders.
fn sibling(root: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = root.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A fresh, empty folder under cargo's per-target temp dir.
fn temp_root() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kiln-store-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts the store on `--port 0` with a fresh root.
fn start_store(extra: &[&str]) -> Store {
    start_store_at(temp_root(), extra)
}

/// Starts the store on `--port 0` over `root` and waits for its listening line.
fn start_store_at(root: PathBuf, extra: &[&str]) -> Store {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln-store"));
    cmd.arg("--root").arg(&root);
    cmd.args(["--port", "0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]);
    cmd.args(extra);
    cmd.env_remove("KILN_STORE_ROOT").env_remove("KILN_S3_PORT");
    for var in ["KILN_S3_ACCESS_KEY", "KILN_S3_SECRET_KEY", "KILN_NOTIFY_URL", "KILN_NOTIFY_TOKEN"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("KILN_STORE_SPOOL_DIR").env_remove("KILN_STORE_MULTIPART_DIR");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn kiln-store");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        lines.for_each(drop);
    });
    let placeholder = Bucket::new("http://127.0.0.1:1".parse().unwrap(), UrlStyle::Path, "kiln", "us-east-1").unwrap();
    let mut store = Store { child, root, bucket: placeholder };
    let line = rx.recv_timeout(WAIT).expect("kiln-store printed no listening line");
    let endpoint = line
        .strip_prefix("kiln-store listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    store.bucket = Bucket::new(endpoint.parse().unwrap(), UrlStyle::Path, "kiln", "us-east-1").unwrap();
    store
}

/// One request the webhook received.
#[derive(Debug)]
struct Hit {
    head: String,
    body: Value,
}

impl Hit {
    fn record(&self) -> &Value {
        &self.body["Records"][0]
    }
    fn event_name(&self) -> &str {
        self.record()["eventName"].as_str().unwrap_or_default()
    }
    fn key(&self) -> &str {
        self.record()["s3"]["object"]["key"].as_str().unwrap_or_default()
    }
    fn size(&self) -> u64 {
        self.record()["s3"]["object"]["size"].as_u64().unwrap_or(u64::MAX)
    }
    fn e_tag(&self) -> &str {
        self.record()["s3"]["object"]["eTag"].as_str().unwrap_or_default()
    }
    fn sequencer(&self) -> &str {
        self.record()["s3"]["object"]["sequencer"].as_str().unwrap_or_default()
    }
    fn has_header(&self, line: &str) -> bool {
        self.head.lines().any(|l| l.eq_ignore_ascii_case(line))
    }
}

/// How the webhook treats the requests it gets; shared with its thread.
#[derive(Default)]
struct Control {
    /// Close each connection without reading or answering (a down webhook).
    refuse: AtomicBool,
    /// Answer this many more requests with 500 before accepting any.
    fail_next: AtomicUsize,
    /// Requests that were refused or answered 500.
    failures: AtomicUsize,
}

/// A local HTTP listener that answers 204 and hands each such request to the test.
struct Webhook {
    url: String,
    rx: Receiver<Hit>,
    seen: RefCell<Vec<Hit>>,
    control: Arc<Control>,
}

impl Webhook {
    fn start() -> Self {
        Self::with(Control::default())
    }

    /// A webhook that is down (closes every connection) until [`Webhook::open`].
    fn refusing() -> Self {
        Self::with(Control { refuse: AtomicBool::new(true), ..Control::default() })
    }

    /// A webhook that answers the first `n` requests with 500.
    fn failing_first(n: usize) -> Self {
        Self::with(Control { fail_next: AtomicUsize::new(n), ..Control::default() })
    }

    fn with(control: Control) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/s3", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        let control = Arc::new(control);
        let shared = Arc::clone(&control);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(hit) = serve_one(stream, &shared) {
                    let _ = tx.send(hit);
                }
            }
        });
        Self { url, rx, seen: RefCell::new(Vec::new()), control }
    }

    /// Starts accepting requests (after [`Webhook::refusing`]).
    fn open(&self) {
        self.control.refuse.store(false, Ordering::SeqCst);
    }

    fn failures(&self) -> usize {
        self.control.failures.load(Ordering::SeqCst)
    }

    /// Waits for a request matching `pred`; returns its index in arrival order.
    fn wait_for(&self, pred: impl Fn(&Hit) -> bool) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen.borrow().iter().position(&pred) {
                return i;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(hit) => self.seen.borrow_mut().push(hit),
                Err(_) => panic!("no matching notification; got {:#?}", self.seen.borrow()),
            }
        }
    }

    /// Collects what arrives within `quiet`, then returns the number of accepted requests.
    fn settle(&self, quiet: Duration) -> usize {
        while let Ok(hit) = self.rx.recv_timeout(quiet) {
            self.seen.borrow_mut().push(hit);
        }
        self.seen.borrow().len()
    }
}

/// Handles one connection as `control` says; returns the request if it was accepted (204).
fn serve_one(mut stream: TcpStream, control: &Control) -> Option<Hit> {
    if control.refuse.load(Ordering::SeqCst) {
        control.failures.fetch_add(1, Ordering::SeqCst);
        return None; // dropped: the connection closes unanswered
    }
    let hit = read_hit(&stream)?;
    let fail = control.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if fail {
        control.failures.fetch_add(1, Ordering::SeqCst);
        let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        return None;
    }
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    Some(hit)
}

/// Reads one HTTP/1.1 request (head + Content-Length body).
fn read_hit(stream: &TcpStream) -> Option<Hit> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(line.trim_end());
        head.push('\n');
    }
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().ok()))
        .flatten()
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Hit { head, body: serde_json::from_slice(&body).unwrap_or(Value::Null) })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn creds() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY)
}

/// PUTs `body` to a presigned URL; returns status and the unquoted ETag.
fn put(url: &str, body: &[u8]) -> (u16, String) {
    let resp = agent().put(url).send(body).expect("PUT");
    let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("");
    (resp.status().as_u16(), etag.trim_matches('"').to_owned())
}

/// GETs a URL; returns status and body.
fn get(url: &str) -> (u16, Vec<u8>) {
    let mut resp = agent().get(url).call().expect("GET");
    let body = resp.body_mut().with_config().limit(64 << 20).read_to_vec().expect("GET body");
    (resp.status().as_u16(), body)
}

fn put_object(store: &Store, key: &str, body: &[u8]) -> String {
    let url = store.bucket.put_object(Some(&creds()), key).sign(HOUR);
    let (status, etag) = put(url.as_str(), body);
    assert_eq!(status, 200, "PUT {key}");
    etag
}

#[test]
fn signed_and_anonymous_access_and_put_notifications() {
    let hook = Webhook::start();
    let store = start_store(&["--notify-url", &hook.url, "--notify-token", TOKEN, "--notify-prefix", "originals/"]);
    let variant = b"RIFF....WEBPVP8 fake variant".to_vec();
    let original = b"\xFF\xD8\xFF fake jpeg bytes".to_vec();

    put_object(&store, "variants/x/webp.webp", &variant);
    let etag = put_object(&store, "originals/a b.jpg", &original);

    let signed = |key: &str| store.bucket.get_object(Some(&creds()), key).sign(HOUR);
    assert_eq!(get(signed("variants/x/webp.webp").as_str()), (200, variant.clone()));
    assert_eq!(get(signed("originals/a b.jpg").as_str()), (200, original.clone()));

    // Anonymous: public prefix readable (GET and HEAD), everything else 403.
    let anon = |key: &str| store.bucket.object_url(key);
    assert_eq!(get(anon("variants/x/webp.webp").as_str()), (200, variant.clone()));
    let head = agent().head(anon("variants/x/webp.webp").as_str()).call().unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let (status, body) = get(anon("originals/a b.jpg").as_str());
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
    assert_eq!(put(anon("variants/y.webp").as_str(), b"x").0, 403, "anonymous PUT");
    assert_eq!(get(store.bucket.base_url().as_str()).0, 403, "anonymous list");

    // Wrong secret: signature mismatch, 403 with an S3 XML error.
    let bad = Credentials::new(ACCESS_KEY, "wrong-secret");
    let url = store.bucket.put_object(Some(&bad), "originals/evil.jpg").sign(HOUR);
    assert_eq!(put(url.as_str(), b"evil").0, 403);
    let (status, body) = get(store.bucket.get_object(Some(&bad), "originals/a b.jpg").sign(HOUR).as_str());
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("<Error>"));

    let i = hook.wait_for(|h| h.event_name() == "ObjectCreated:Put" && h.key() == "originals/a+b.jpg");
    let seen = hook.seen.borrow();
    let hit = &seen[i];
    let rec = hit.record();
    assert_eq!(rec["eventSource"], "aws:s3");
    assert_eq!(rec["awsRegion"], "us-east-1");
    assert_eq!(rec["s3"]["bucket"]["name"], "kiln");
    assert_eq!(rec["s3"]["bucket"]["arn"], "arn:aws:s3:::kiln");
    assert_eq!(rec["s3"]["object"]["size"], original.len());
    assert_eq!(rec["s3"]["object"]["eTag"], etag.as_str());
    assert!(hit.has_header(&format!("authorization: Bearer {TOKEN}")), "{}", hit.head);
    assert!(hit.has_header("content-type: application/json"), "{}", hit.head);
    // The variant was PUT first but is outside --notify-prefix: never queued.
    assert!(seen.iter().all(|h| !h.key().starts_with("variants/")), "{seen:#?}");
}

#[test]
fn multipart_upload_reads_back_whole_and_notifies() {
    let hook = Webhook::start();
    let store = start_store(&["--notify-url", &hook.url, "--notify-token", TOKEN]);
    let key = "originals/big photo.bin";
    let part1: Vec<u8> = (0..5 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let part2 = b"the tail of the object".repeat(100);
    let creds = creds();

    let create = CreateMultipartUpload::new(&store.bucket, Some(&creds), key);
    let mut resp = agent().post(create.sign(HOUR).as_str()).send_empty().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let created = CreateMultipartUpload::parse_response(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let upload_id = created.upload_id();

    let mut etags = Vec::new();
    for (n, part) in [(1, &part1), (2, &part2)] {
        let url = UploadPart::new(&store.bucket, Some(&creds), key, n, upload_id).sign(HOUR);
        let (status, etag) = put(url.as_str(), part);
        assert_eq!(status, 200, "part {n}");
        etags.push(etag);
    }

    let complete =
        CompleteMultipartUpload::new(&store.bucket, Some(&creds), key, upload_id, etags.iter().map(String::as_str));
    let url = complete.sign(HOUR);
    let complete_body = complete.body();
    let mut resp = agent().post(url.as_str()).send(complete_body.as_bytes()).unwrap();
    let body = resp.body_mut().read_to_string().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{body}");
    let done = CompleteMultipartUploadResponse::parse(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let etag = done.etag().trim_matches('"').to_owned();
    assert!(etag.ends_with("-2"), "{etag}");

    // A retry of the completion (its first answer lost), or a part for a
    // finished upload: 404 NoSuchUpload, as S3 answers.
    let mut again = agent().post(url.as_str()).send(complete_body.as_bytes()).unwrap();
    let again_body = again.body_mut().read_to_string().unwrap();
    assert_eq!(again.status().as_u16(), 404, "{again_body}");
    assert!(again_body.contains("NoSuchUpload"), "{again_body}");
    let late_part = UploadPart::new(&store.bucket, Some(&creds), key, 3, upload_id).sign(HOUR);
    assert_eq!(put(late_part.as_str(), b"late").0, 404);

    let whole = [part1.as_slice(), part2.as_slice()].concat();
    let (status, got) = get(store.bucket.get_object(Some(&creds), key).sign(HOUR).as_str());
    assert_eq!(status, 200);
    assert!(got == whole, "read back {} bytes, expected {}", got.len(), whole.len());

    let i = hook.wait_for(|h| h.event_name() == "ObjectCreated:CompleteMultipartUpload");
    let seen = hook.seen.borrow();
    let object = &seen[i].record()["s3"]["object"];
    assert_eq!(object["key"], "originals/big+photo.bin");
    assert_eq!(object["size"], whole.len());
    assert_eq!(object["eTag"], etag.as_str());
    assert!(seen[i].has_header(&format!("authorization: Bearer {TOKEN}")));
}

#[test]
fn dead_notify_url_does_not_break_puts() {
    let dead_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead_url = format!("http://127.0.0.1:{dead_port}/hooks/s3");
    let store = start_store(&["--notify-url", &dead_url, "--notify-token", TOKEN]);
    for n in 0..5 {
        let key = format!("originals/{n}.jpg");
        let started = Instant::now();
        put_object(&store, &key, key.as_bytes());
        assert!(started.elapsed() < Duration::from_secs(2), "PUT waited for the webhook");
    }
    let url = store.bucket.get_object(Some(&creds()), "originals/4.jpg").sign(HOUR);
    assert_eq!(get(url.as_str()), (200, b"originals/4.jpg".to_vec()));
}

/// The events waiting in the store's default spool folder, `<root>.notify`.
fn spooled(root: &std::path::Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(sibling(root, ".notify")) else { return Vec::new() };
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("event-") && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Polls `cond` until it holds or [`WAIT`] passes.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A presigned GET for an operation rusty-s3 has no action for: `path` on
/// the endpoint with the query `params` (signed by rusty-s3's own signer).
fn presign_get(store: &Store, path: &str, params: &[(&str, &str)]) -> String {
    let mut url = store.bucket.base_url().clone();
    url.set_path(path);
    let mut query = params.to_vec();
    query.sort_unstable();
    let no_headers = std::iter::empty::<(&str, &str)>();
    let signed = rusty_s3::signing::sign(
        &jiff::Timestamp::now(),
        Method::Get,
        url,
        ACCESS_KEY,
        SECRET_KEY,
        None,
        "us-east-1",
        HOUR.as_secs(),
        query.iter().copied(),
        no_headers,
    );
    signed.to_string()
}

/// The text of every `<tag>…</tag>` in `xml`, in order.
fn tags<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// ListBuckets: the bucket names the store shows.
fn bucket_names(store: &Store) -> Vec<String> {
    let (status, body) = get(&presign_get(store, "/", &[]));
    let xml = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{xml}");
    tags(&xml, "Name").into_iter().map(str::to_owned).collect()
}

#[test]
fn events_spooled_while_the_webhook_is_down_survive_a_kill() {
    let hook = Webhook::refusing();
    let args = ["--notify-url", hook.url.as_str(), "--notify-token", TOKEN, "--notify-prefix", "originals/"];
    let store = start_store(&args);
    let mut expected = Vec::new();
    for n in 0..4 {
        let key = format!("originals/restart-{n}.jpg");
        let body = format!("object number {n} ").repeat(n + 1);
        let etag = put_object(&store, &key, body.as_bytes());
        expected.push((key, body.len() as u64, etag));
    }
    put_object(&store, "variants/not-notified.webp", b"v");
    // Each event was on disk before its PUT was answered.
    assert_eq!(spooled(&store.root).len(), expected.len(), "{:?}", spooled(&store.root));
    assert_eq!(bucket_names(&store), ["kiln"], "the spool must not show up as a bucket");
    wait_until("the store tried the dead webhook", || hook.failures() > 0);

    let root = store.kill();
    assert_eq!(spooled(&root).len(), expected.len(), "the kill lost spooled events");
    let store = start_store_at(root, &args);
    hook.open();

    let last = &expected.last().unwrap().0;
    hook.wait_for(|h| h.key() == last);
    wait_until("the spool is empty", || spooled(&store.root).is_empty());
    assert_eq!(hook.settle(Duration::from_millis(500)), expected.len(), "{:#?}", hook.seen.borrow());
    let seen = hook.seen.borrow();
    for (hit, (key, size, etag)) in seen.iter().zip(&expected) {
        assert_eq!((hit.event_name(), hit.key()), ("ObjectCreated:Put", key.as_str()));
        assert_eq!((hit.size(), hit.e_tag()), (*size, etag.as_str()), "{key}");
        assert!(hit.has_header(&format!("authorization: Bearer {TOKEN}")), "{}", hit.head);
    }
    assert!(seen.windows(2).all(|w| w[0].sequencer() < w[1].sequencer()), "out of order: {seen:#?}");
}

#[test]
fn webhook_failing_five_times_still_gets_the_event() {
    let hook = Webhook::failing_first(5);
    let store = start_store(&["--notify-url", &hook.url]);
    let etag = put_object(&store, "originals/stubborn.jpg", b"stubborn");
    let i = hook.wait_for(|h| h.key() == "originals/stubborn.jpg");
    assert_eq!(hook.failures(), 5);
    assert_eq!(hook.seen.borrow()[i].e_tag(), etag);
    wait_until("the spool is empty", || spooled(&store.root).is_empty());
    assert_eq!(hook.settle(Duration::from_millis(300)), 1, "delivered more than once");
}

/// One ListMultipartUploads answer: status and body.
fn list_uploads(store: &Store, params: &[(&str, &str)]) -> String {
    let mut query = vec![("uploads", "")];
    query.extend_from_slice(params);
    let (status, body) = get(&presign_get(store, "/kiln/", &query));
    let xml = String::from_utf8(body).expect("UTF-8 XML");
    assert_eq!(status, 200, "{xml}");
    xml
}

/// `(key, upload id)` of each upload listed in `xml`.
fn listed(xml: &str) -> Vec<(String, String)> {
    let keys = tags(xml, "Key");
    let ids = tags(xml, "UploadId");
    assert_eq!(keys.len(), ids.len(), "{xml}");
    keys.into_iter().zip(ids).map(|(k, i)| (k.to_owned(), i.to_owned())).collect()
}

/// CreateMultipartUpload; returns the upload id.
fn create_upload(store: &Store, key: &str) -> String {
    let url = CreateMultipartUpload::new(&store.bucket, Some(&creds()), key).sign(HOUR);
    let mut resp = agent().post(url.as_str()).send_empty().unwrap();
    let body = resp.body_mut().read_to_string().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{body}");
    CreateMultipartUpload::parse_response(&body).unwrap().upload_id().to_owned()
}

#[test]
fn list_multipart_uploads_filters_pages_and_survives_restarts() {
    let store = start_store(&[]);
    let (a_key, b_key) = ("originals/a.bin", "tmp/b.bin");
    let b_id = create_upload(&store, b_key);
    let a_id = create_upload(&store, a_key);
    let both = vec![(a_key.to_owned(), a_id.clone()), (b_key.to_owned(), b_id.clone())];

    let xml = list_uploads(&store, &[]);
    assert_eq!(listed(&xml), both, "{xml}");
    assert_eq!(tags(&xml, "IsTruncated"), ["false"]);
    let initiated = tags(&xml, "Initiated");
    assert!(initiated.len() == 2 && initiated.iter().all(|t| t.ends_with('Z')), "{xml}");
    assert_eq!(listed(&list_uploads(&store, &[("prefix", "tmp/")])), both[1..]);
    assert_eq!(bucket_names(&store), ["kiln"], "the registry must not show up as a bucket");

    // Page by page, with max-uploads=1.
    let first = list_uploads(&store, &[("max-uploads", "1")]);
    assert_eq!(listed(&first), both[..1]);
    assert_eq!(tags(&first, "IsTruncated"), ["true"]);
    assert_eq!(tags(&first, "NextKeyMarker"), [a_key]);
    assert_eq!(tags(&first, "NextUploadIdMarker"), [a_id.as_str()]);
    let second = list_uploads(&store, &[("max-uploads", "1"), ("key-marker", a_key), ("upload-id-marker", &a_id)]);
    assert_eq!(listed(&second), both[1..]);
    assert_eq!(tags(&second, "IsTruncated"), ["false"]);

    // The registry is on disk: a killed and restarted store still lists both.
    let store = start_store_at(store.kill(), &[]);
    assert_eq!(listed(&list_uploads(&store, &[])), both);

    let creds = creds();
    let part = UploadPart::new(&store.bucket, Some(&creds), a_key, 1, &a_id).sign(HOUR);
    let (status, etag) = put(part.as_str(), b"one small part");
    assert_eq!(status, 200);
    let etags = std::iter::once(etag.as_str());
    let complete = CompleteMultipartUpload::new(&store.bucket, Some(&creds), a_key, &a_id, etags);
    let resp = agent().post(complete.sign(HOUR).as_str()).send(complete.body()).unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let abort = store.bucket.abort_multipart_upload(Some(&creds), b_key, &b_id).sign(HOUR);
    assert_eq!(agent().delete(abort.as_str()).call().unwrap().status().as_u16(), 204);

    let xml = list_uploads(&store, &[]);
    assert_eq!(listed(&xml), [], "{xml}");
    assert_eq!(tags(&xml, "IsTruncated"), ["false"]);
}
