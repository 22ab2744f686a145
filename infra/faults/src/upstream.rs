//! The upstream side: parses `http://host:port` and sends one buffered
//! request over a fresh HTTP/1.1 connection, returning the buffered response.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long connecting to the upstream may take before the client gets a 502.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest upstream response body the proxy buffers.
pub(crate) const MAX_BODY: usize = 256 << 20;

/// Where requests are forwarded to.
#[derive(Clone, Debug)]
pub(crate) struct Upstream {
    /// `host:port`, as given (a name is resolved on each connect).
    authority: String,
}

impl Upstream {
    /// Accepts `http://host:port` (a trailing `/` is fine; TLS is not supported).
    pub(crate) fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse().with_context(|| format!("upstream {url:?} is not a URL"))?;
        ensure!(uri.scheme_str() == Some("http"), "upstream {url:?} must start with http:// (no TLS)");
        ensure!(matches!(uri.path(), "" | "/"), "upstream {url:?} must not have a path");
        let authority = uri.authority().ok_or_else(|| anyhow!("upstream {url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        if authority.as_str().contains('@') {
            bail!("upstream {url:?} must not carry credentials");
        }
        Ok(Upstream { authority: format!("{}:{port}", authority.host()) })
    }

    /// Sends `req` as-is (headers, Host included, untouched) on a new
    /// connection and reads the whole response.
    pub(crate) async fn send(&self, req: Request<Full<Bytes>>) -> anyhow::Result<Response<Full<Bytes>>> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| anyhow!("connecting to upstream {} timed out after {CONNECT_TIMEOUT:?}", self.authority))?
            .with_context(|| format!("cannot connect to upstream {}", self.authority))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("HTTP handshake with upstream {}", self.authority))?;
        let conn = tokio::spawn(conn);
        let response = sender.send_request(req).await.with_context(|| format!("upstream {} failed", self.authority));
        let result = match response {
            Ok(response) => read_response(response).await,
            Err(err) => Err(err),
        };
        conn.abort();
        result
    }
}

/// Buffers the body of an upstream response.
async fn read_response(response: Response<hyper::body::Incoming>) -> anyhow::Result<Response<Full<Bytes>>> {
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|err| anyhow!("reading the upstream response body: {err}"))?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_http_urls_only() {
        assert_eq!(Upstream::parse("http://127.0.0.1:9000").unwrap().authority, "127.0.0.1:9000");
        assert_eq!(Upstream::parse("http://localhost:9000/").unwrap().authority, "localhost:9000");
        assert_eq!(Upstream::parse("http://store").unwrap().authority, "store:80");
        assert!(Upstream::parse("https://127.0.0.1:9000").is_err());
        assert!(Upstream::parse("127.0.0.1:9000").is_err());
        assert!(Upstream::parse("http://127.0.0.1:9000/bucket").is_err());
    }
}
