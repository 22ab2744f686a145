//! Reads a body stream into one buffer without ever exceeding a cap: a
//! declared `Content-Length` over the cap is refused before reading, and
//! the buffer is allocated once when the length is known. Also drains small
//! bodies of requests refused early, so clients that write their whole body
//! before reading the answer see the error instead of a broken pipe.

use crate::http::ApiError;
use futures::{Stream, StreamExt, TryStreamExt};
use spin_sdk::http::IncomingRequest;

/// How much of a refused request's body is read and discarded.
pub const DRAIN_LIMIT: usize = 1024 * 1024;

/// Reads and discards `req`'s body if it declares at most [`DRAIN_LIMIT`]
/// bytes (a larger body is left unread: the connection is closed instead).
pub async fn drain(req: IncomingRequest) {
    let declared = crate::http::header(&req, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return;
    }
    let stream = req.into_body_stream();
    futures::pin_mut!(stream);
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen >= DRAIN_LIMIT {
            break;
        }
    }
}

/// Collects `stream` into a Vec of at most `cap` bytes. `declared` is the
/// Content-Length, if any. `what` names the body in error messages.
pub async fn read_capped<S, E>(stream: S, declared: Option<u64>, cap: u64, what: &str) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<Vec<u8>, E>>,
    E: std::fmt::Debug,
{
    let too_large = |n: u64| {
        ApiError::new(413, "too_large", format!("{what} is {n} bytes or more, the limit is {cap} bytes"))
    };
    if let Some(n) = declared.filter(|&n| n > cap) {
        return Err(too_large(n));
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(64 * 1024) as usize);
    futures::pin_mut!(stream);
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::new(400, "bad_body", format!("reading {what}: {e:?}")))?
    {
        if (buf.len() + chunk.len()) as u64 > cap {
            return Err(too_large((buf.len() + chunk.len()) as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
