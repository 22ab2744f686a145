//! A small tus 1.0 client over blocking HTTP: create (with the file name
//! and whole-file SHA-256 in `Upload-Metadata`), HEAD for the offset,
//! PATCH with a per-chunk `Upload-Checksum`, and GET of the manifest.

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

pub struct Client {
    api: String,
    token: String,
    agent: ureq::Agent,
}

type Reply = ureq::http::Response<ureq::Body>;

impl Client {
    pub fn new(api: &str, token: &str) -> Client {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Client { api: api.trim_end_matches('/').to_string(), token: token.to_string(), agent }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.api) }
    }

    fn error(reply: &mut Reply, what: &str) -> anyhow::Error {
        let status = reply.status().as_u16();
        let body = reply.body_mut().read_to_string().unwrap_or_default();
        anyhow!("{what}: HTTP {status}: {body}")
    }

    /// Creates an upload; returns its URL.
    pub fn create(&self, length: u64, filename: &str, sha256: &str) -> anyhow::Result<String> {
        let metadata = format!("filename {},sha256 {}", STANDARD.encode(filename), STANDARD.encode(sha256));
        let mut reply = self
            .agent
            .post(format!("{}/v1/uploads", self.api))
            .header("authorization", format!("Bearer {}", self.token))
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", metadata)
            .send_empty()
            .context("creating the upload")?;
        if reply.status() != 201 {
            return Err(Self::error(&mut reply, "creating the upload"));
        }
        let location = reply.headers().get("location").and_then(|v| v.to_str().ok()).context("no Location")?;
        Ok(self.absolute(location))
    }

    /// The server's offset of `url`; None when the upload is gone.
    pub fn offset(&self, url: &str) -> anyhow::Result<Option<u64>> {
        let reply = self
            .agent
            .head(url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("tus-resumable", "1.0.0")
            .call()?;
        if matches!(reply.status().as_u16(), 404 | 410) {
            return Ok(None);
        }
        let offset = reply.headers().get("upload-offset").and_then(|v| v.to_str().ok()?.parse().ok());
        offset.map(Some).context("HEAD answered without Upload-Offset")
    }

    /// Sends one chunk at `offset`; returns the new offset.
    pub fn patch(&self, url: &str, offset: u64, chunk: &[u8]) -> anyhow::Result<u64> {
        let checksum = format!("sha1 {}", STANDARD.encode(Sha1::digest(chunk)));
        let mut reply = self
            .agent
            .patch(url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .header("upload-checksum", checksum)
            .send(chunk)
            .with_context(|| format!("PATCH at {offset}"))?;
        if reply.status() != 204 {
            return Err(Self::error(&mut reply, &format!("PATCH at {offset}")));
        }
        let next = reply.headers().get("upload-offset").and_then(|v| v.to_str().ok()?.parse().ok());
        match next {
            Some(n) if n == offset + chunk.len() as u64 => Ok(n),
            other => bail!("PATCH at {offset}: server reports offset {other:?}"),
        }
    }

    /// The finished manifest, or None while uploading/converting.
    pub fn manifest(&self, url: &str) -> anyhow::Result<Option<serde_json::Value>> {
        let mut reply = self.agent.get(url).header("authorization", format!("Bearer {}", self.token)).call()?;
        match reply.status().as_u16() {
            200 => Ok(Some(serde_json::from_str(&reply.body_mut().read_to_string()?)?)),
            202 => Ok(None),
            _ => Err(Self::error(&mut reply, "fetching the manifest")),
        }
    }
}
