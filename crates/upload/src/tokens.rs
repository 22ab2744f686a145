//! Scoped upload tokens, like Cloudflare's direct creator upload: the
//! server (holding the master token) asks for a short-lived token bound to
//! an expiry, a largest size, optionally the image formats allowed, and a
//! number of uploads, and hands it to a browser. The master token never
//! reaches the page.
//!
//! A token is `kiln_ut.<claims>.<signature>`: the claims as base64url JSON,
//! signed with HMAC-SHA256 under a key derived from the master token (so
//! rotating `auth_token` revokes every scoped token). Verifying needs no
//! state; counting uses does: [`register`] creates one small counter per token in
//! the state store when it is issued, and [`spend_use`] counts an upload
//! with the same fenced compare-and-swap as upload records. Deleting the
//! counter revokes the token.

use crate::error::UploadError;
use crate::ids;
use crate::ports::{StateError, StateStore};
use crate::{Kiln, Platform};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// What every scoped token starts with.
pub const PREFIX: &str = "kiln_ut.";
/// The longest lifetime a token may be issued for: 7 days.
pub const MAX_EXPIRES_IN_S: u64 = 7 * 24 * 3600;
/// The most uploads one token may allow.
pub const MAX_USES: u32 = 1000;
/// Input formats a token may restrict uploads to.
pub const FORMATS: [&str; 4] = ["jpeg", "png", "gif", "webp"];

/// What a token allows. Signed, so a client cannot change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Random; names the token's use counter and the uploads it created.
    pub id: String,
    /// Unix seconds after which the token is refused.
    pub expires_s: u64,
    /// Largest upload, in bytes.
    pub max_bytes: u64,
    /// Allowed input formats (names of [`FORMATS`]); empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// How many uploads the token may create.
    pub uploads: u32,
}

/// The request body of `POST /v1/upload-tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime in seconds (default 1 hour, at most [`MAX_EXPIRES_IN_S`]).
    pub expires_in: Option<u64>,
    /// Largest upload (default and at most the server's own limit).
    pub max_bytes: Option<u64>,
    pub formats: Option<Vec<String>>,
    /// Uploads allowed (default 1, at most [`MAX_USES`]).
    pub uploads: Option<u32>,
}

/// Why a token was refused, or a token request was.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("malformed upload token: {0}")]
    Malformed(String),
    #[error("upload token signature does not match: it was altered, or issued under another auth_token")]
    BadSignature,
    #[error("upload token expired at {0} (unix seconds)")]
    Expired(u64),
    #[error("bad upload token request: {0}")]
    BadRequest(String),
}

impl TokenRequest {
    /// The grant this request asks for, checked against the server's
    /// largest upload, issued at `now_s`.
    pub fn grant(&self, now_s: u64, server_max_bytes: u64) -> Result<Grant, TokenError> {
        let bad = |m: String| Err(TokenError::BadRequest(m));
        let expires_in = self.expires_in.unwrap_or(3600);
        if expires_in == 0 || expires_in > MAX_EXPIRES_IN_S {
            return bad(format!("expires_in must be 1..={MAX_EXPIRES_IN_S} seconds, got {expires_in}"));
        }
        let max_bytes = self.max_bytes.unwrap_or(server_max_bytes);
        if max_bytes == 0 || max_bytes > server_max_bytes {
            return bad(format!("max_bytes must be 1..={server_max_bytes} (the server's largest upload), got {max_bytes}"));
        }
        let uploads = self.uploads.unwrap_or(1);
        if uploads == 0 || uploads > MAX_USES {
            return bad(format!("uploads must be 1..={MAX_USES}, got {uploads}"));
        }
        let mut formats = self.formats.clone().unwrap_or_default();
        formats.iter_mut().for_each(|f| *f = f.trim().to_ascii_lowercase());
        if let Some(f) = formats.iter().find(|f| !FORMATS.contains(&f.as_str())) {
            return bad(format!("format {f:?} is not one of {FORMATS:?}"));
        }
        formats.sort();
        formats.dedup();
        Ok(Grant { id: ids::new_id(), expires_s: now_s + expires_in, max_bytes, formats, uploads })
    }
}


/// What an upload remembers of the scoped token that created it: only that
/// token (or the master token) may touch it afterwards, and only the
/// formats it allows are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The grant's id.
    pub token: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
}

impl Grant {
    pub fn scope(&self) -> Scope {
        Scope { token: self.id.clone(), formats: self.formats.clone() }
    }
}

impl Scope {
    /// Refuses an image whose MIME type (`image/png`, ...) the token does not allow.
    pub fn check_mime(&self, mime_type: &str) -> Result<(), UploadError> {
        let format = mime_type.trim_start_matches("image/");
        if self.formats.is_empty() || self.formats.iter().any(|f| f == format) {
            return Ok(());
        }
        Err(UploadError::UnsupportedMediaType(format!("the upload token allows only {} images, this is {mime_type}", self.formats.join(", "))))
    }
}

impl Scope {
    /// [`Scope::check_mime`] on an image's bytes (sniffed), before anything is spent on it.
    pub fn check_image(&self, bytes: &[u8]) -> Result<(), UploadError> {
        let format = kiln_core::sniff::sniff(bytes).ok_or_else(|| UploadError::UnsupportedMediaType("not a JPEG, PNG, GIF or WebP image".into()))?;
        self.check_mime(format.mime_type())
    }
}

impl<P: Platform> Kiln<P> {
    /// `POST /v1/upload-tokens`: a token for `request`, its use counter
    /// registered, signed under `auth_token`.
    pub async fn issue_upload_token(&self, auth_token: &str, request: &TokenRequest) -> Result<(String, Grant), UploadError> {
        let grant = request.grant(self.now() / 1000, self.config.max_upload_bytes).map_err(|e| UploadError::BadRequest(e.to_string()))?;
        register(&self.state, &grant).await?;
        Ok((issue(&signing_key(auth_token), &grant), grant))
    }

    /// Spends one of `grant`'s uploads for a new upload; 403 when they are
    /// all spent or the token is unknown here (revoked).
    pub async fn spend_upload_token(&self, grant: &Grant) -> Result<u32, UploadError> {
        match spend_use(&self.state, grant).await? {
            Spent::Ok(n) => Ok(n),
            Spent::UsedUp => Err(UploadError::Forbidden(format!("this upload token allowed {} upload(s) and all are used", grant.uploads))),
            Spent::Unknown => Err(UploadError::Forbidden("this upload token is not known here (revoked, or issued by another deployment)".into())),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The signing key for scoped tokens, derived from the master token.
pub fn signing_key(auth_token: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"kiln upload tokens v1");
    mac.finalize().into_bytes().to_vec()
}

fn mac_of(key: &[u8], claims: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(PREFIX.as_bytes());
    mac.update(claims.as_bytes());
    mac
}

/// The token for `grant`, signed with `key`.
pub fn issue(key: &[u8], grant: &Grant) -> String {
    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(grant).expect("a grant serializes"));
    let signature = URL_SAFE_NO_PAD.encode(mac_of(key, &claims).finalize().into_bytes());
    format!("{PREFIX}{claims}.{signature}")
}

/// Whether `bearer` looks like a scoped token (rather than the master token).
pub fn is_scoped(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

/// The grant of `token` if its signature holds (checked in constant time)
/// and it has not expired at `now_s`.
pub fn verify(key: &[u8], token: &str, now_s: u64) -> Result<Grant, TokenError> {
    let rest = token.strip_prefix(PREFIX).ok_or_else(|| TokenError::Malformed(format!("it does not start with {PREFIX:?}")))?;
    let (claims, signature) = rest.split_once('.').ok_or_else(|| TokenError::Malformed("no signature part".into()))?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed("the signature is not base64url".into()))?;
    mac_of(key, claims).verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD.decode(claims).map_err(|_| TokenError::Malformed("the claims are not base64url".into()))?;
    let grant: Grant = serde_json::from_slice(&json).map_err(|e| TokenError::Malformed(format!("claims: {e}")))?;
    if now_s >= grant.expires_s {
        return Err(TokenError::Expired(grant.expires_s));
    }
    Ok(grant)
}

/// A token's use counter, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Uses {
    used: u32,
    /// The last writer's nonce, to tell whether an ambiguous swap applied.
    rev: String,
}

/// Whether a use could be spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// This is use number `n` (1-based) of the grant's uploads.
    Ok(u32),
    /// Every use is spent.
    UsedUp,
    /// The token has no counter: never registered here, or revoked.
    Unknown,
}

fn counter_key(grant: &Grant) -> String {
    format!("upload-tokens/{}", grant.id)
}

/// Creates `grant`'s use counter at zero, when the token is issued. Only
/// the issuer writes a counter from "absent" (a swap Spin's SQLite store
/// applies unconditionally), so racing uploads never do.
pub async fn register<S: StateStore>(store: &S, grant: &Grant) -> Result<(), StateError> {
    let raw = serde_json::to_vec(&Uses { used: 0, rev: ids::nonce() }).expect("a counter serializes");
    store.swap(&counter_key(grant), None, &raw).await.map(|_| ())
}

/// Spends one of `grant`'s uploads: a fenced compare-and-swap on the
/// counter `upload-tokens/<id>`, whose result is decided by reading the
/// counter back (Spin's Redis store reports failure after applying a swap),
/// retried when another upload spent one in between. It errs towards
/// refusing: if another upload's write lands between ours and the read
/// back, ours is taken as lost and a second use is spent, so a token may
/// end one use short under heavy racing, never one use over.
pub async fn spend_use<S: StateStore>(store: &S, grant: &Grant) -> Result<Spent, StateError> {
    let key = counter_key(grant);
    for _ in 0..16 {
        let Some(current) = store.get(&key).await? else { return Ok(Spent::Unknown) };
        let used = serde_json::from_slice::<Uses>(&current).map_err(|e| StateError(format!("{key} is unreadable: {e}")))?.used;
        if used >= grant.uploads {
            return Ok(Spent::UsedUp);
        }
        let next = Uses { used: used + 1, rev: ids::nonce() };
        let raw = serde_json::to_vec(&next).expect("a counter serializes");
        store.swap(&key, Some(&current), &raw).await?;
        // Whatever the swap said, what the store holds decides.
        let now = store.get(&key).await?;
        if now.as_deref().and_then(|r| serde_json::from_slice::<Uses>(r).ok()).is_some_and(|u| u.rev == next.rev) {
            return Ok(Spent::Ok(next.used));
        }
    }
    Err(StateError(format!("{key}: 16 concurrent uploads in a row; try again")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Chaos, MemState, StateQuirks};

    fn grant(uploads: u32) -> Grant {
        TokenRequest { expires_in: Some(600), max_bytes: Some(1000), formats: Some(vec!["PNG".into(), "jpeg".into(), "png".into()]), uploads: Some(uploads) }
            .grant(1_000_000, 10_000)
            .unwrap()
    }

    #[test]
    fn a_token_round_trips_and_any_change_is_refused() {
        let key = signing_key("master");
        let g = grant(2);
        assert_eq!(g.formats, ["jpeg", "png"]);
        assert_eq!(g.expires_s, 1_000_600);
        let token = issue(&key, &g);
        assert!(is_scoped(&token) && !is_scoped("master"));
        assert_eq!(verify(&key, &token, 1_000_599), Ok(g.clone()));
        assert_eq!(verify(&key, &token, 1_000_600), Err(TokenError::Expired(1_000_600)));
        assert_eq!(verify(&signing_key("other master"), &token, 1_000_000), Err(TokenError::BadSignature));
        // Every single-character change is refused.
        for i in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                assert!(verify(&key, &tampered, 1_000_000).is_err(), "changed at {i}: {tampered}");
            }
        }
        // A client re-signing bigger claims without the key gets nowhere.
        let bigger = Grant { max_bytes: 1 << 40, ..g.clone() };
        let forged_claims = issue(&signing_key("guess"), &bigger);
        assert_eq!(verify(&key, &forged_claims, 1_000_000), Err(TokenError::BadSignature));
        assert!(matches!(verify(&key, "kiln_ut.nodot", 0), Err(TokenError::Malformed(_))));
        assert!(matches!(verify(&key, "master", 0), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn requests_are_checked_against_the_limits() {
        let ok = TokenRequest::default().grant(0, 5000).unwrap();
        assert_eq!((ok.expires_s, ok.max_bytes, ok.uploads, ok.formats.len()), (3600, 5000, 1, 0));
        for bad in [
            TokenRequest { expires_in: Some(0), ..Default::default() },
            TokenRequest { expires_in: Some(MAX_EXPIRES_IN_S + 1), ..Default::default() },
            TokenRequest { max_bytes: Some(5001), ..Default::default() },
            TokenRequest { max_bytes: Some(0), ..Default::default() },
            TokenRequest { uploads: Some(0), ..Default::default() },
            TokenRequest { uploads: Some(MAX_USES + 1), ..Default::default() },
            TokenRequest { formats: Some(vec!["tiff".into()]), ..Default::default() },
        ] {
            assert!(matches!(bad.grant(0, 5000), Err(TokenError::BadRequest(_))), "{bad:?}");
        }
        let g = grant(1);
        assert!(g.scope().check_mime("image/jpeg").is_ok());
        assert!(g.scope().check_mime("image/png").is_ok());
        assert_eq!(g.scope().check_mime("image/gif").unwrap_err().status(), 415);
        assert!(ok.scope().check_mime("image/gif").is_ok());
    }

    #[test]
    fn uses_are_counted_once_each_and_stop_at_the_grant() {
        futures::executor::block_on(async {
            let store = MemState::new(Chaos::new(1, 0.0));
            let g = grant(3);
            assert_eq!(spend_use(&store, &g).await.unwrap(), Spent::Unknown);
            register(&store, &g).await.unwrap();
            for n in 1..=3 {
                assert_eq!(spend_use(&store, &g).await.unwrap(), Spent::Ok(n));
            }
            assert_eq!(spend_use(&store, &g).await.unwrap(), Spent::UsedUp);
            // Another token has its own counter.
            let other = grant(1);
            register(&store, &other).await.unwrap();
            assert_eq!(spend_use(&store, &other).await.unwrap(), Spent::Ok(1));
        });
    }

    proptest::proptest! {
        /// However racing uploads interleave, and whatever the store's
        /// quirks (a swap reported failed after it applied, as Spin's Redis
        /// store does; a swap from "absent" applied unconditionally, as its
        /// SQLite store does), no more uploads than the grant allows get a use.
        #[test]
        fn racing_uploads_never_spend_more_than_the_grant(seed in 0u64..1000, uploads in 1u32..5, racers in 1usize..9, lying in proptest::bool::ANY) {
            futures::executor::block_on(async {
                let store = MemState::new(Chaos::new(seed, 0.5));
                store.set_quirks(StateQuirks { absent_swap_unconditional: true, report_applied_as_failed: if lying { 0.5 } else { 0.0 } });
                let g = grant(uploads);
                register(&store, &g).await.unwrap();
                let results = futures::future::join_all((0..racers).map(|_| spend_use(&store, &g))).await;
                let spent: Vec<u32> = results.iter().filter_map(|r| match r { Ok(Spent::Ok(n)) => Some(*n), _ => None }).collect();
                proptest::prop_assert!(spent.len() as u32 <= uploads, "{} uses spent of {uploads}: {results:?}", spent.len());
                let mut unique = spent.clone();
                unique.sort();
                unique.dedup();
                proptest::prop_assert_eq!(unique.len(), spent.len(), "a use number was handed out twice: {:?}", spent);
                Ok(())
            })?;
        }
    }
}
