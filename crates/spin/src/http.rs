//! The HTTP surface every kiln component shares: JSON errors with their
//! status (`{"error": "<code>", "detail": "..."}`), bearer-token auth,
//! request headers, and writing a response through Spin's outparam.

use kiln_core::KilnError;
use kiln_upload::manifest::ErrorBody;
use kiln_upload::UploadError;
use spin_sdk::http::{IncomingRequest, OutgoingResponse, Response, ResponseOutparam};
use std::time::Duration;

/// An error as the client sees it.
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

    pub fn misconfigured(detail: impl Into<String>) -> Self {
        Self::new(500, "misconfigured", detail)
    }

    pub fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_string(), detail: self.detail };
        let mut builder = Response::builder();
        builder.status(self.status).header("content-type", "application/json");
        if self.status == 401 {
            builder.header("www-authenticate", "Bearer realm=\"kiln\"");
        }
        builder.body(serde_json::to_vec(&body).expect("an error body serializes")).build()
    }
}

impl From<KilnError> for ApiError {
    fn from(e: KilnError) -> Self {
        ApiError::new(e.http_status(), e.code(), e.to_string())
    }
}

impl From<kiln_upload::ports::StoreError> for ApiError {
    fn from(e: kiln_upload::ports::StoreError) -> Self {
        UploadError::from(e).into()
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        ApiError::new(e.status(), e.code(), e.to_string())
    }
}

/// First value of a request header, as a string.
pub fn header(req: &IncomingRequest, name: &str) -> Option<String> {
    req.headers().get(name).into_iter().next().and_then(|v| String::from_utf8(v).ok())
}

/// `Content-Length`, if sent and a number.
pub fn content_length(req: &IncomingRequest) -> Option<u64> {
    header(req, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Checks `Authorization: Bearer <token>` against the configured token.
/// `variable` names the token's Spin variable, for the misconfiguration error.
pub fn authorize(req: &IncomingRequest, expected: &str, variable: &str) -> Result<(), ApiError> {
    if expected.is_empty() {
        return Err(ApiError::misconfigured(format!("the {variable} variable is empty; set SPIN_VARIABLE_{}", variable.to_uppercase())));
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

/// Who is calling an upload route: the holder of the master token, or a
/// browser with a scoped upload token (`kiln_upload::tokens`).
#[derive(Debug, Clone)]
pub enum Caller {
    Master,
    Scoped(kiln_upload::tokens::Grant),
}

impl Caller {
    /// Refuses a scoped caller on an upload its token did not create (404,
    /// as for an upload that does not exist: a token learns nothing of
    /// others' uploads).
    pub fn check_owns(&self, id: &str, grant: Option<&kiln_upload::tokens::Scope>) -> Result<(), ApiError> {
        match self {
            Caller::Scoped(g) if grant.is_none_or(|s| s.token != g.id) => Err(ApiError::new(404, "not_found", format!("no upload {id:?} for this upload token"))),
            _ => Ok(()),
        }
    }
}

/// [`authorize`] for the upload routes, which also take scoped upload
/// tokens: verified (signature, expiry) against `auth_token`; 401 with the
/// reason otherwise.
pub fn authorize_upload(req: &IncomingRequest, auth_token: &str) -> Result<Caller, ApiError> {
    use kiln_upload::tokens;
    let given = header(req, "authorization").unwrap_or_default();
    match given.strip_prefix("Bearer ").map(str::trim) {
        Some(token) if tokens::is_scoped(token) && !auth_token.is_empty() => {
            let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            tokens::verify(&tokens::signing_key(auth_token), token, now_s)
                .map(Caller::Scoped)
                .map_err(|e| ApiError::new(401, "unauthorized", e.to_string()))
        }
        _ => authorize(req, auth_token, "auth_token").map(|()| Caller::Master),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON response.
pub fn json(status: u16, body: &impl serde::Serialize) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("a response body serializes"))
        .build()
}

/// Writes `response` through the outparam (for handlers that keep working
/// after answering).
pub async fn respond(out: ResponseOutparam, mut response: Response) {
    EVERY_RESPONSE.with_borrow(|headers| {
        for (name, value) in headers {
            response.set_header(*name, value.clone());
        }
    });
    let body = response.body().to_vec();
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = out.set_with_body(outgoing, body).await {
                eprintln!("kiln: writing the response failed: {e:?}");
            }
        }
        Err(e) => eprintln!("kiln: building the response failed: {e}"),
    }
}

thread_local! {
    /// Headers every response of the request being handled carries (CORS).
    /// A Spin instance handles one request, on one thread.
    static EVERY_RESPONSE: std::cell::RefCell<Vec<(&'static str, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Adds `headers` to every response [`respond`] writes from now on in this
/// instance.
pub fn add_to_every_response(headers: Vec<(&'static str, String)>) {
    EVERY_RESPONSE.with_borrow_mut(|all| all.extend(headers));
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
