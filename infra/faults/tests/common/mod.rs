//! Test helpers: a tiny recording HTTP/1.1 upstream on a std thread, and a
//! ureq agent that reports statuses instead of failing on them.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The request target as sent, e.g. `/b/a%20b?x=1`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A recording upstream: answers every request with 200 and
/// `upstream saw METHOD TARGET`, one request per connection.
pub struct Upstream {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test upstream");
        let url = format!("http://{}", listener.local_addr().expect("upstream addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_one(stream, &log));
            }
        });
        Upstream { url, received }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, log: &Mutex<Vec<Received>>) {
    let Some(request) = read_request(&stream) else { return };
    let body = format!("upstream saw {} {}", request.method, request.target);
    let head_only = request.method == "HEAD";
    log.lock().unwrap().push(request);
    let mut out = &stream;
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Upstream: yes\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        let _ = out.write_all(body.as_bytes());
    }
}

/// Reads one request with a Content-Length body (or none).
fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, target) = (words.next()?.to_owned(), words.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Received { method, target, headers, body: Vec::new() };
    let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    request.body.resize(length, 0);
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

/// A client that returns 4xx/5xx as responses and does not pool connections.
pub fn agent() -> ureq::Agent {
    agent_with_timeout(Duration::from_secs(20))
}

pub fn agent_with_timeout(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A `http://127.0.0.1:PORT` where nothing listens.
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", listener.local_addr().expect("addr"))
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}
