//! The JSON control API under `/__faults/`, for driving the proxy from
//! another process (the binary's users): add/list/clear rules, read/clear
//! the seen log, release stalled requests. Never forwarded upstream.

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::rule::Rule;
use crate::service::{Shared, with_type};

/// Answers one control request.
pub(crate) fn handle(shared: &Shared, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
    let route = parts.uri.path().strip_prefix("/__faults").unwrap_or("").trim_end_matches('/');
    let result = match (&parts.method, route) {
        (&Method::POST, "/rules") => add_rules(shared, body),
        (&Method::GET, "/rules") => to_json(&shared.rules().list()),
        (&Method::DELETE, "/rules") => Ok(json!({ "removed": shared.rules().clear() }).to_string()),
        (&Method::GET, "/seen") => to_json(&shared.seen.all()),
        (&Method::DELETE, "/seen") => Ok(json!({ "removed": shared.seen.clear() }).to_string()),
        (&Method::POST, "/release") => Ok(json!({ "released": shared.gate.release_all() }).to_string()),
        (&Method::GET, "/stalled") => Ok(json!({ "stalled": shared.gate.held() }).to_string()),
        _ => Err((StatusCode::NOT_FOUND, format!("no control endpoint {} {}", parts.method, parts.uri.path()))),
    };
    match result {
        Ok(text) => json_response(StatusCode::OK, text),
        Err((status, error)) => json_response(status, json!({ "error": error }).to_string()),
    }
}

/// Parses, checks and appends the rules in `body` (one rule or an array),
/// all or none.
fn add_rules(shared: &Shared, body: &Bytes) -> Result<String, (StatusCode, String)> {
    let bad = |err: serde_json::Error| (StatusCode::BAD_REQUEST, format!("not a rule or an array of rules: {err}"));
    let rules = match serde_json::from_slice::<Value>(body).map_err(bad)? {
        array @ Value::Array(_) => serde_json::from_value::<Vec<Rule>>(array).map_err(bad)?,
        one => vec![serde_json::from_value::<Rule>(one).map_err(bad)?],
    };
    for rule in &rules {
        rule.check().map_err(|err| (StatusCode::BAD_REQUEST, err))?;
    }
    let mut list = shared.rules();
    let added = rules.len();
    rules.into_iter().for_each(|rule| list.push(rule));
    Ok(json!({ "added": added }).to_string())
}

/// Serialises `value` keeping the struct's field order.
fn to_json(value: &impl serde::Serialize) -> Result<String, (StatusCode, String)> {
    serde_json::to_string(value).map_err(|err| (StatusCode::INTERNAL_SERVER_ERROR, format!("serialising: {err}")))
}

fn json_response(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    with_type(status, "application/json", text)
}
