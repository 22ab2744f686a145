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
    let route = parts.uri.path().trim_start_matches("/__faults").trim_end_matches('/');
    let result = match (&parts.method, route) {
        (&Method::POST, "/rules") => add_rules(shared, body),
        (&Method::GET, "/rules") => Ok(json!(shared.rules().list())),
        (&Method::DELETE, "/rules") => Ok(json!({ "removed": shared.rules().clear() })),
        (&Method::GET, "/seen") => Ok(json!(shared.seen.all())),
        (&Method::DELETE, "/seen") => Ok(json!({ "removed": shared.seen.clear() })),
        (&Method::POST, "/release") => Ok(json!({ "released": shared.gate.release_all() })),
        (&Method::GET, "/stalled") => Ok(json!({ "stalled": shared.gate.held() })),
        _ => Err((StatusCode::NOT_FOUND, format!("no control endpoint {} {}", parts.method, parts.uri.path()))),
    };
    match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err((status, error)) => json_response(status, &json!({ "error": error })),
    }
}

/// Parses, checks and appends the rules in `body` (one rule or an array),
/// all or none.
fn add_rules(shared: &Shared, body: &Bytes) -> Result<Value, (StatusCode, String)> {
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
    Ok(json!({ "added": added }))
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    with_type(status, "application/json", value.to_string())
}
