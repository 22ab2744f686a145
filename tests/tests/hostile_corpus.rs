//! End to end: the hostile corpus (`kiln_e2e::hostile`, committed in
//! tests/hostile/) against the real components under `spin up`, with
//! hosted Spin's 128 MiB per instance.
//!
//! - Direct mode: every file, to each of the four converters, gets a 200
//!   with an image that decodes or a 4xx whose body is JSON
//!   `{"error", "detail"}` — never a 5xx, never an empty body — and that
//!   answer is one the corpus expects; after each file the same route
//!   still converts a good image.
//! - tus: every file, uploaded whole or in 256 KiB PATCHes, is refused
//!   with a 4xx JSON error or ends with a manifest `done`, or `failed` /
//!   `partial` with a reason for every failure, none of them a trap.
//!
//! Each test has its own stack and sends one file at a time, so the panics
//! and traps spin logs while a file is in flight are quoted next to it.
//! Both print a table of file → answer per route (`!` marks a broken
//! contract, `?` an answer the corpus does not expect).

use base64::Engine;
use kiln_e2e::hostile::{self, Answer, Case};
use kiln_e2e::images::verify;
use kiln_e2e::Stack;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// (column, route, MIME type of a success).
const ROUTES: [(&str, &str, &str); 4] = [
    ("webp", "/v1/convert/webp", "image/webp"),
    ("avif", "/v1/convert/avif", "image/avif"),
    ("jpeg", "/v1/convert/jpeg", "image/jpeg"),
    ("thumbnail", "/v1/thumbnail", "image/png"),
];

/// tus PATCH bodies: the server's smallest allowed chunk.
const CHUNK: usize = 256 * 1024;

/// Words that mean a converter trapped instead of answering.
const TRAP_WORDS: [&str; 3] = ["trapped", "empty answer", "empty body"];

fn direct_stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| Stack::start_quiet("hostile-corpus"))
}

fn tus_stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| Stack::start_quiet("hostile-corpus-tus"))
}

struct Answered {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answered {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        if text.is_empty() { "(empty body)".into() } else { text }
    }
}

/// Requests to one stack, with a time limit (a hung conversion fails the
/// test instead of stalling it), and what its spin.log said since last asked.
struct Client {
    stack: &'static Stack,
    agent: ureq::Agent,
    log_offset: usize,
}

impl Client {
    fn new(stack: &'static Stack) -> Client {
        let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120)));
        let mut client = Client { stack, agent: config.build().into(), log_offset: 0 };
        client.new_log_lines();
        client
    }

    /// Any request to the API with the bearer token; Err when no answer came.
    fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Answered, String> {
        let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.stack.api) };
        let mut request = ureq::http::Request::builder().method(method).uri(&url).header("authorization", format!("Bearer {}", self.stack.token));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(body.to_vec()).map_err(|e| e.to_string())?;
        let mut response = self.agent.run(request).map_err(|e| format!("{method} {url}: {e}"))?;
        let body = response.body_mut().with_config().limit(256 << 20).read_to_vec().map_err(|e| format!("reading the body: {e}"))?;
        Ok(Answered { status: response.status().as_u16(), headers: response.headers().clone(), body })
    }

    /// The panics, failed allocations and traps spin logged since the last
    /// call, one per line ("panicked at <place>: <message>").
    fn new_log_lines(&mut self) -> Vec<String> {
        let log = std::fs::read(self.stack.dir.join("spin.log")).unwrap_or_default();
        let text = String::from_utf8_lossy(&log[self.log_offset.min(log.len())..]).into_owned();
        self.log_offset = log.len();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(at) = line.find("panicked at") {
                out.push(format!("{} {}", &line[at..], lines.get(i + 1).unwrap_or(&"")));
            } else if let Some(at) = line.find("wasm trap:") {
                out.push(line[at..].to_string());
            } else if line.starts_with("memory allocation of") {
                out.push(line.to_string());
            }
        }
        out
    }

    /// `why`, with what spin logged meanwhile (each line once, counted).
    fn with_log(&mut self, why: String) -> String {
        let log = self.new_log_lines();
        let mut distinct: Vec<(String, usize)> = Vec::new();
        for line in log {
            match distinct.iter_mut().find(|(l, _)| *l == line) {
                Some((_, n)) => *n += 1,
                None => distinct.push((line, 1)),
            }
        }
        let quoted: Vec<String> = distinct.into_iter().map(|(l, n)| if n > 1 { format!("{n}x {l}") } else { l }).collect();
        if quoted.is_empty() { why } else { format!("{why} [spin.log: {}]", quoted.join(" | ")) }
    }
}

/// A kept contract: an image, or a refusal with its status and code.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Image,
    Refused(u16, String),
}

impl Outcome {
    fn expected_by(&self, case: &Case) -> bool {
        case.expect.iter().any(|a| match self {
            Outcome::Image => *a == Answer::Image,
            Outcome::Refused(status, code) => a.status() == *status && a.code() == Some(code.as_str()),
        })
    }

    fn short(&self) -> String {
        match self {
            Outcome::Image => "200".into(),
            Outcome::Refused(status, _) => status.to_string(),
        }
    }
}

/// Checks a 4xx body is JSON `{"error": code, "detail": text}`; the code.
fn error_body(reply: &Answered) -> Result<String, String> {
    if !reply.header("content-type").starts_with("application/json") {
        return Err(format!("content-type {:?}, body {}", reply.header("content-type"), reply.snippet()));
    }
    let json: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| format!("body is not JSON ({e}): {}", reply.snippet()))?;
    let text = |key: &str| json[key].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match (text("error"), text("detail")) {
        (Some(code), Some(_)) => Ok(code),
        _ => Err(format!("JSON without a non-empty \"error\" and \"detail\": {json}")),
    }
}

/// The contract of a converter's direct answer.
fn judge(reply: &Answered, mime: &str) -> Result<Outcome, String> {
    match reply.status {
        200 if reply.header("content-type") != mime => Err(format!("200 with content-type {:?}", reply.header("content-type"))),
        200 => verify(&reply.body, mime).map(|_| Outcome::Image).map_err(|e| format!("200 but the {mime} is broken: {e}")),
        status @ 400..=499 => error_body(reply).map(|code| Outcome::Refused(status, code)).map_err(|e| format!("{status}: {e}")),
        status => Err(format!("{status}: {}", reply.snippet())),
    }
}

/// What went wrong over a whole run, and the table of answers.
#[derive(Default)]
struct Report {
    rows: Vec<(String, Vec<String>)>,
    broken: Vec<String>,
    unexpected: Vec<String>,
}

impl Report {
    /// Records one file's answer on one route and returns its table cell.
    fn record(&mut self, case: &Case, route: &str, judged: Result<Vec<Outcome>, String>, label: String) -> String {
        match judged {
            Err(why) => {
                self.broken.push(format!("{} -> {route}: {why}", case.name));
                format!("{label}!")
            }
            Ok(outcomes) if outcomes.iter().all(|o| o.expected_by(case)) => label,
            Ok(outcomes) => {
                self.unexpected.push(format!("{} -> {route}: {outcomes:?}, expected {}", case.name, case.expected()));
                format!("{label}?")
            }
        }
    }

    fn print(&self, title: &str, columns: &[&str], started: Instant) {
        let width = self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(4);
        println!("\n{title} ({} files, {:.0} s)\n", self.rows.len(), started.elapsed().as_secs_f64());
        println!("{:width$}  {}", "file", columns.iter().map(|c| format!("{c:<22}")).collect::<String>());
        for (name, cells) in &self.rows {
            println!("{name:width$}  {}", cells.iter().map(|c| format!("{c:<22}")).collect::<String>());
        }
    }

    fn assert_clean(&self, title: &str) {
        let list = |v: &[String]| if v.is_empty() { "  none\n".to_string() } else { v.iter().map(|l| format!("  {l}\n")).collect() };
        assert!(
            self.broken.is_empty() && self.unexpected.is_empty(),
            "\n{title}: broken contracts ({}):\n{}answers the corpus does not expect ({}):\n{}",
            self.broken.len(),
            list(&self.broken),
            self.unexpected.len(),
            list(&self.unexpected)
        );
    }
}

fn good_image() -> Vec<u8> {
    hostile::all().into_iter().find(|c| c.name == "png-base-32x24-rgb.png").expect("control PNG").bytes
}

#[test]
fn every_file_to_every_converter_gets_an_image_or_a_4xx_json_error() {
    let mut client = Client::new(direct_stack());
    let (good, started) = (good_image(), Instant::now());
    let octets = [("content-type", "application/octet-stream")];
    let mut report = Report::default();
    for case in hostile::all() {
        let mut cells = Vec::new();
        for (_, route, mime) in ROUTES {
            client.new_log_lines();
            let answer = client.send("POST", route, &octets, &case.bytes);
            let label = answer.as_ref().map_or("none".into(), |a| a.status.to_string());
            let judged = answer.and_then(|a| judge(&a, mime)).map(|o| vec![o]).map_err(|why| client.with_log(why));
            cells.push(report.record(&case, route, judged, label));
            match client.send("POST", route, &octets, &good) {
                Ok(a) if a.status == 200 => {}
                Ok(a) => report.broken.push(format!("after {} -> {route}: a good image got {} {}", case.name, a.status, a.snippet())),
                Err(e) => report.broken.push(format!("after {} -> {route}: a good image got no answer: {e}", case.name)),
            }
        }
        report.rows.push((case.name.clone(), cells));
    }
    report.print("Direct mode", &ROUTES.map(|r| r.0), started);
    report.assert_clean("Direct mode");
}

/// How a tus upload ended.
enum TusEnd {
    /// A 4xx JSON refusal at creation or at a PATCH.
    Refused { step: String, status: u16, code: String },
    Manifest(serde_json::Value),
}

/// Creates an upload of `case`, PATCHes it in 256 KiB chunks and waits
/// for its manifest. Err: a broken contract.
fn tus_upload(client: &Client, case: &Case) -> Result<TusEnd, String> {
    let tus = ("tus-resumable", "1.0.0");
    let (length, meta) = (case.bytes.len().to_string(), format!("filename {}", base64::engine::general_purpose::STANDARD.encode(&case.name)));
    let created = client.send("POST", "/v1/uploads", &[tus, ("upload-length", &length), ("upload-metadata", &meta)], &[])?;
    if let Some(end) = refusal("create", &created)? {
        return Ok(end);
    }
    let url = created.header("location").to_string();
    let chunks: Vec<&[u8]> = if case.bytes.is_empty() { vec![&[]] } else { case.bytes.chunks(CHUNK).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        let offset = (i * CHUNK).to_string();
        let headers = [tus, ("content-type", "application/offset+octet-stream"), ("upload-offset", offset.as_str())];
        let patched = client.send("PATCH", &url, &headers, chunk)?;
        if let Some(end) = refusal(&format!("PATCH {}", i + 1), &patched)? {
            return Ok(end);
        }
    }
    wait_for_manifest(client, &url).map(TusEnd::Manifest)
}

/// None for a success (201, 204); a refusal for a 4xx JSON error; Err otherwise.
fn refusal(step: &str, reply: &Answered) -> Result<Option<TusEnd>, String> {
    match reply.status {
        201 | 204 => Ok(None),
        status @ 400..=499 => {
            let code = error_body(reply).map_err(|e| format!("{step}: {status}: {e}"))?;
            Ok(Some(TusEnd::Refused { step: step.into(), status, code }))
        }
        status => Err(format!("{step}: {status}: {}", reply.snippet())),
    }
}

/// Polls the upload until its manifest is final (200).
fn wait_for_manifest(client: &Client, url: &str) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    loop {
        let reply = client.send("GET", url, &[], &[])?;
        match reply.status {
            200 => return serde_json::from_slice(&reply.body).map_err(|e| format!("manifest is not JSON ({e}): {}", reply.snippet())),
            202 if started.elapsed() < Duration::from_secs(150) => std::thread::sleep(Duration::from_millis(100)),
            202 => return Err(format!("not finished after 150 s: {}", reply.snippet())),
            status => return Err(format!("GET {url}: {status}: {}", reply.snippet())),
        }
    }
}

/// A recorded failure's reason, as outcome: "422 corrupt_image: ..." from a
/// converter, "too_large: ..." from the upload itself.
fn reason_outcome(reason: &str) -> Result<Outcome, String> {
    let lower = reason.to_lowercase();
    if let Some(word) = TRAP_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(format!("a converter trapped ({word:?}): {reason}"));
    }
    let (head, _) = reason.split_once(':').unwrap_or((reason, ""));
    let mut words = head.split_whitespace();
    match (words.next().map(str::parse::<u16>), words.next()) {
        (Some(Ok(status @ 400..=499)), Some(code)) => Ok(Outcome::Refused(status, code.to_string())),
        (Some(Ok(status)), _) => Err(format!("a {status} answer: {reason}")),
        _ => {
            let answers = [Answer::TooLarge, Answer::Unsupported, Answer::Corrupt, Answer::BadRequest];
            let known = answers.into_iter().find(|a| a.code() == Some(head.trim()));
            known.map(|a| Outcome::Refused(a.status(), head.trim().into())).ok_or_else(|| format!("a reason kiln does not classify: {reason}"))
        }
    }
}

/// The contract of a terminal manifest: a table label and its outcomes.
fn judge_manifest(m: &serde_json::Value) -> (String, Result<Vec<Outcome>, String>) {
    let status = m["status"].as_str().unwrap_or("?").to_string();
    let variants = m["variants"].as_array().cloned().unwrap_or_default();
    let mut outcomes = Vec::new();
    for v in &variants {
        match (v["status"].as_str(), v["error"].as_str().filter(|e| !e.is_empty())) {
            (Some("done"), _) => outcomes.push(Ok(Outcome::Image)),
            (_, Some(error)) => outcomes.push(reason_outcome(error).map_err(|e| format!("{}: {e}", v["format"]))),
            _ => outcomes.push(Err(format!("variant {} failed without a reason", v["format"]))),
        }
    }
    if status != "done" && variants.iter().all(|v| v["status"] != "failed") {
        match m["error"].as_str().filter(|e| !e.is_empty()) {
            Some(error) => outcomes.push(reason_outcome(error)),
            None => outcomes.push(Err(format!("manifest {status} without a reason: {m}"))),
        }
    }
    let label = match status.as_str() {
        "done" if !variants.is_empty() => "done".to_string(),
        "failed" | "partial" => format!("{status} {}", outcomes.iter().map(|o| o.as_ref().map_or("!".into(), Outcome::short)).collect::<Vec<_>>().join("/")),
        other => return (other.to_string(), Err(format!("manifest status {other:?}, variants {variants:?}"))),
    };
    (label, gather(outcomes))
}

/// All outcomes, or every broken contract among them.
fn gather(outcomes: Vec<Result<Outcome, String>>) -> Result<Vec<Outcome>, String> {
    let errors: Vec<String> = outcomes.iter().filter_map(|o| o.as_ref().err().cloned()).collect();
    if errors.is_empty() { Ok(outcomes.into_iter().flatten().collect()) } else { Err(errors.join("; ")) }
}

#[test]
fn every_file_through_a_tus_upload_is_refused_or_ends_with_reasons() {
    let mut client = Client::new(tus_stack());
    let started = Instant::now();
    let mut report = Report::default();
    for case in hostile::all() {
        client.new_log_lines();
        let (label, judged) = match tus_upload(&client, &case) {
            Ok(TusEnd::Refused { step, status, code }) => (format!("{status} at {step}"), Ok(vec![Outcome::Refused(status, code)])),
            Ok(TusEnd::Manifest(m)) => judge_manifest(&m),
            Err(e) => ("none".into(), Err(e)),
        };
        let judged = judged.map_err(|why| client.with_log(why));
        let cell = report.record(&case, "tus", judged, label);
        report.rows.push((case.name.clone(), vec![cell]));
    }
    report.print("tus uploads", &["tus"], started);
    report.assert_clean("tus uploads");
}
