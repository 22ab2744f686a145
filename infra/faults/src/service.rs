//! Per-request handling: read the request, route `/__faults/` to the control
//! API, pick the first matching rule, log the request as seen, then forward,
//! answer, delay, stall, drop or lose the response.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode, header};

use crate::rule::{Action, Rules, Target};
use crate::seen::{Seen, SeenLog};
use crate::stall::{Gate, Ticket};
use crate::upstream::{MAX_BODY, Upstream};

/// Paths under this prefix are the control API and never forwarded.
pub(crate) const CONTROL_PREFIX: &str = "/__faults/";

/// State shared by every connection and the [`crate::Proxy`] handle.
pub(crate) struct Shared {
    pub rules: Mutex<Rules>,
    pub seen: SeenLog,
    pub gate: Gate,
    pub upstream: Upstream,
}

impl Shared {
    pub(crate) fn new(upstream: Upstream) -> Self {
        Shared { rules: Mutex::default(), seen: SeenLog::new(), gate: Gate::new(), upstream }
    }

    /// The rule list (a panic elsewhere cannot poison it for good).
    pub(crate) fn rules(&self) -> MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Returned instead of a response to make hyper close the client connection
/// without writing anything.
#[derive(Debug)]
pub(crate) struct Abort(&'static str);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection closed on purpose: {}", self.0)
    }
}

impl std::error::Error for Abort {}

pub(crate) type Reply = Result<Response<Full<Bytes>>, Abort>;

/// Handles one request from a client.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if parts.uri.path().starts_with(CONTROL_PREFIX) {
        return Ok(crate::control::handle(&shared, &parts, &body));
    }
    let (action, ticket) = choose(&shared, &parts);
    match action {
        None => Ok(forward(&shared, parts, body).await),
        Some(Action::Status { code, body }) => Ok(injected_status(code, body)),
        Some(Action::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(forward(&shared, parts, body).await)
        }
        Some(Action::Stall { max_ms }) => {
            if let Some(ticket) = ticket {
                ticket.wait(max_ms.map(Duration::from_millis)).await;
            }
            Ok(forward(&shared, parts, body).await)
        }
        Some(Action::Drop) => Err(Abort("drop")),
        Some(Action::LoseResponse) => {
            if let Err(err) = shared.upstream.send(upstream_request(parts, body)).await {
                eprintln!("kiln-faults: lose_response: {err:#}");
            }
            Err(Abort("lose_response"))
        }
    }
}

/// Buffers the request body; a client that breaks off gets its connection
/// closed, an oversized body a 413.
async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, format!("kiln-faults buffers at most {MAX_BODY} bytes"))))
        }
        Err(_) => Err(Err(Abort("client broke off the request body"))),
    }
}

/// Picks the action, takes a stall ticket if needed, and logs the request.
/// The ticket is taken before logging so a release that follows the log
/// entry always reaches this request.
fn choose(shared: &Shared, parts: &Parts) -> (Option<Action>, Option<Ticket>) {
    let target = Target::of(parts);
    let action = shared.rules().take_match(&target);
    let ticket = matches!(action, Some(Action::Stall { .. })).then(|| shared.gate.ticket());
    shared.seen.push(Seen {
        seq: 0,
        method: target.method.to_owned(),
        path: target.path,
        raw_path: target.raw_path.to_owned(),
        query: target.query.to_owned(),
        action: action.as_ref().map_or_else(|| "forward".to_owned(), Action::label),
        at_ms: 0,
    });
    (action, ticket)
}

/// Forwards to the upstream; an upstream failure becomes a 502.
async fn forward(shared: &Shared, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
    match shared.upstream.send(upstream_request(parts, body)).await {
        Ok(response) => response,
        Err(err) => {
            eprintln!("kiln-faults: {err:#}");
            s3_error(StatusCode::BAD_GATEWAY, "BadGateway", &format!("kiln-faults: {err:#}"))
        }
    }
}

/// The request to send upstream: same method, path+query, headers (Host
/// included) and body; the URI in origin form.
fn upstream_request(mut parts: Parts, body: Bytes) -> Request<Full<Bytes>> {
    if let Some(origin) = parts.uri.path_and_query().cloned() {
        parts.uri = origin.into();
    }
    parts.extensions = Default::default();
    Request::from_parts(parts, Full::new(body))
}

/// The answer for an injected `Status` action.
fn injected_status(code: u16, body: Option<String>) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(code).ok().filter(|s| (200..=599).contains(&s.as_u16()));
    let Some(status) = status else {
        let message = format!("kiln-faults: rule asked for invalid status {code}");
        return s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &message);
    };
    match body {
        Some(body) => xml(status, body),
        None => s3_error(status, s3_error_code(status), "injected by kiln-faults"),
    }
}

/// The S3 error code that goes with an injected status.
fn s3_error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        503 => "SlowDown",
        429 => "TooManyRequests",
        403 => "AccessDenied",
        404 => "NoSuchKey",
        _ => "InternalError",
    }
}

/// An S3-style XML error response.
pub(crate) fn s3_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let message = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    xml(status, format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"))
}

fn xml(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, "application/xml", body)
}

fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// A response with a body and its content type.
pub(crate) fn with_type(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}
