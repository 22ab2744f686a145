//! The HTTP surface shared by all converters: JSON errors with their
//! status, bearer-token auth, and the `Server-Timing` header.

use kiln_core::KilnError;
use spin_sdk::http::{IncomingRequest, Response};
use std::time::Duration;

/// An error as the client sees it: `{"error": "<code>", "detail": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, code, detail: detail.into() }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, "bad_request", detail)
    }

    pub fn storage(detail: impl Into<String>) -> Self {
        Self::new(502, "storage_failed", detail)
    }

    pub fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "detail": self.detail });
        let mut builder = Response::builder();
        builder.status(self.status).header("content-type", "application/json");
        if self.status == 401 {
            builder.header("www-authenticate", "Bearer realm=\"kiln\"");
        }
        if self.status == 405 {
            builder.header("allow", "POST");
        }
        builder.body(body.to_string()).build()
    }
}

impl From<KilnError> for ApiError {
    fn from(e: KilnError) -> Self {
        ApiError::new(e.http_status(), e.code(), e.to_string())
    }
}

/// First value of a request header, as a string.
pub fn header(req: &IncomingRequest, name: &str) -> Option<String> {
    req.headers().get(name).into_iter().next().and_then(|v| String::from_utf8(v).ok())
}

/// Checks `Authorization: Bearer <token>` against the configured token.
pub fn authorize(req: &IncomingRequest, expected: &str) -> Result<(), ApiError> {
    if expected.is_empty() {
        return Err(ApiError::new(500, "misconfigured", "the auth_token variable is empty; set SPIN_VARIABLE_AUTH_TOKEN"));
    }
    let given = header(req, "authorization").unwrap_or_default();
    let Some(token) = given.strip_prefix("Bearer ") else {
        return Err(ApiError::new(401, "unauthorized", "missing 'Authorization: Bearer <token>' header"));
    };
    if constant_time_eq(token.trim().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(401, "unauthorized", "wrong bearer token"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Formats `Server-Timing: name;dur=ms, ...` (milliseconds, 1 decimal).
pub fn server_timing(stages: &[(&str, Duration)]) -> String {
    kiln_core::timing::format(stages.iter().copied(), 1)
}

/// Response header carrying [`linear_memory_bytes`].
pub const LINEAR_MEMORY_HEADER: &str = "x-kiln-linear-memory";

/// Bytes of linear memory this instance has grown to. Wasm memory never
/// shrinks and Spin gives every request a fresh instance, so at the end of
/// a request this is the request's peak — what `--max-instance-memory` and
/// hosted Spin's 128 MiB limit are checked against. `None` natively.
pub fn linear_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size::<0>() as u64 * 65536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}
