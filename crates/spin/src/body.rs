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
    futures::pin_mut!(stream);
    if let Some(n) = declared.filter(|&n| n > cap) {
        // A small body is read and discarded first, as `drain` does, so a
        // client that writes it all before reading sees the 413.
        if n <= DRAIN_LIMIT as u64 {
            discard(&mut stream, 0).await;
        }
        return Err(too_large(n));
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(64 * 1024) as usize);
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::new(400, "bad_body", format!("reading {what}: {e:?}")))?
    {
        if (buf.len() + chunk.len()) as u64 > cap {
            let seen = buf.len() + chunk.len();
            discard(&mut stream, seen).await;
            return Err(too_large(seen as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Reads and discards the rest of `stream` until [`DRAIN_LIMIT`] bytes
/// have been seen in all (`seen` already), or it ends or fails.
async fn discard<S, E>(stream: &mut std::pin::Pin<&mut S>, mut seen: usize)
where
    S: Stream<Item = Result<Vec<u8>, E>>,
{
    while seen < DRAIN_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::cell::Cell;

    /// `chunks` chunks of 1000 bytes, counting how many were read.
    fn counted(chunks: usize, read: &Cell<usize>) -> impl Stream<Item = Result<Vec<u8>, ()>> + '_ {
        futures::stream::iter(0..chunks).map(move |_| {
            read.set(read.get() + 1);
            Ok(vec![0u8; 1000])
        })
    }

    #[test]
    fn a_body_within_the_cap_is_read_whole() {
        let read = Cell::new(0);
        let body = read_capped(counted(5, &read), Some(5000), 5000, "body").now_or_never().unwrap().unwrap();
        assert_eq!(body.len(), 5000);
    }

    #[test]
    fn a_small_refused_body_is_drained_before_the_413() {
        // Declared over the cap.
        let read = Cell::new(0);
        let err = read_capped(counted(10, &read), Some(10_000), 5000, "body").now_or_never().unwrap().unwrap_err();
        assert_eq!(err.status, 413);
        assert_eq!(read.get(), 10, "the whole small body was read");
        // Undeclared, found over the cap while reading.
        let read = Cell::new(0);
        let err = read_capped(counted(10, &read), None, 5000, "body").now_or_never().unwrap().unwrap_err();
        assert_eq!(err.status, 413);
        assert_eq!(read.get(), 10);
    }

    #[test]
    fn a_large_refused_body_is_not_read() {
        let read = Cell::new(0);
        let declared = (DRAIN_LIMIT + 1) as u64;
        let err = read_capped(counted(2000, &read), Some(declared), 5000, "body").now_or_never().unwrap().unwrap_err();
        assert_eq!(err.status, 413);
        assert_eq!(read.get(), 0);
        // Found over the cap while reading: discarded only up to the drain limit.
        let read = Cell::new(0);
        read_capped(counted(2000, &read), None, 5000, "body").now_or_never().unwrap().unwrap_err();
        assert_eq!(read.get(), DRAIN_LIMIT.div_ceil(1000));
    }
}
