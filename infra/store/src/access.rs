//! Access policy: signed requests may do anything; anonymous requests may only
//! GET or HEAD objects whose keys sit under one of the public prefixes.
//!
//! Signature checking itself is done by `s3s` (`SimpleAuth`); a request with a
//! bad signature is rejected before this policy runs. This policy only decides
//! what requests *without* any signature may do.

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;

/// Lets anonymous clients read objects under the configured key prefixes.
#[derive(Debug, Clone)]
pub struct PublicRead {
    prefixes: Vec<String>,
}

impl PublicRead {
    /// A policy that makes keys under `prefixes` world-readable.
    pub fn new(prefixes: Vec<String>) -> Self {
        Self { prefixes }
    }

    /// Whether an unsigned request for operation `op` on `path` is allowed.
    pub fn allows_anonymous(&self, op: &str, path: &S3Path) -> bool {
        matches!(op, "GetObject" | "HeadObject")
            && path.as_object().is_some_and(|(_, key)| self.is_public_key(key))
    }

    /// Whether `key` is under a public prefix (and cannot escape it via `..`).
    pub fn is_public_key(&self, key: &str) -> bool {
        is_plain_key(key) && self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }
}

/// A key with no `.`/`..` segments or backslashes, so the file it maps to
/// really lies under its prefix.
fn is_plain_key(key: &str) -> bool {
    !key.contains('\\') && key.split('/').all(|seg| seg != "." && seg != "..")
}

#[async_trait::async_trait]
impl S3Access for PublicRead {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() || self.allows_anonymous(cx.s3_op().name(), cx.s3_path()) {
            return Ok(());
        }
        Err(s3s::s3_error!(AccessDenied, "Signature is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PublicRead {
        PublicRead::new(vec!["variants/".into()])
    }

    #[test]
    fn public_prefix_is_readable() {
        let path = S3Path::object("kiln", "variants/x/webp.webp");
        assert!(policy().allows_anonymous("GetObject", &path));
        assert!(policy().allows_anonymous("HeadObject", &path));
    }

    #[test]
    fn writes_lists_and_other_keys_need_a_signature() {
        let public = S3Path::object("kiln", "variants/x/webp.webp");
        assert!(!policy().allows_anonymous("PutObject", &public));
        assert!(!policy().allows_anonymous("DeleteObject", &public));
        assert!(!policy().allows_anonymous("GetObjectAcl", &public));
        let private = S3Path::object("kiln", "originals/a.jpg");
        assert!(!policy().allows_anonymous("GetObject", &private));
        assert!(!policy().allows_anonymous("ListObjectsV2", &S3Path::bucket("kiln")));
        assert!(!policy().allows_anonymous("ListBuckets", &S3Path::root()));
    }

    #[test]
    fn dot_segments_cannot_escape_the_prefix() {
        assert!(!policy().is_public_key("variants/../originals/a.jpg"));
        assert!(!policy().is_public_key("variants/./x"));
        assert!(!policy().is_public_key("variants\\..\\originals"));
        assert!(policy().is_public_key("variants/a..b/c.webp"));
    }
}
