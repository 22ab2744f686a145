//! Typed errors of the upload logic. Each variant is one answer a client
//! can get, with its HTTP status and a short code ([`UploadError::status`],
//! [`UploadError::code`]), so the Spin layer never guesses. Errors of the
//! edges ([`StoreError`], [`StateError`]) and of the image core
//! ([`KilnError`]) convert into it.

use crate::ports::{StateError, StoreError};
use kiln_core::KilnError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UploadError {
    /// A malformed request: header, parameter, chunk size.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// tus: the upload expired before it was complete.
    #[error("{0}")]
    Gone(String),
    /// The request does not fit the upload's state (wrong offset, complete).
    #[error("{0}")]
    Conflict(String),
    /// Another request holds the upload (a PATCH in flight).
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// tus checksum extension: the body does not match `Upload-Checksum`,
    /// or the whole file does not match the declared SHA-256.
    #[error("{0}")]
    ChecksumMismatch(String),
    #[error("{0}")]
    CorruptImage(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Misconfigured(String),
}

impl UploadError {
    /// The HTTP status a client gets for this error.
    pub fn status(&self) -> u16 {
        match self {
            UploadError::BadRequest(_) => 400,
            UploadError::Forbidden(_) => 403,
            UploadError::NotFound(_) => 404,
            UploadError::Conflict(_) => 409,
            UploadError::Gone(_) => 410,
            UploadError::TooLarge(_) => 413,
            UploadError::UnsupportedMediaType(_) => 415,
            UploadError::CorruptImage(_) => 422,
            UploadError::Locked(_) => 423,
            UploadError::ChecksumMismatch(_) => 460,
            UploadError::Storage(StoreError::NotFound { .. }) => 404,
            UploadError::Storage(StoreError::TooLarge { .. }) => 413,
            UploadError::Storage(_) => 502,
            UploadError::State(_) | UploadError::Misconfigured(_) => 500,
        }
    }

    /// A short machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::BadRequest(_) => "bad_request",
            UploadError::Forbidden(_) => "forbidden",
            UploadError::NotFound(_) => "not_found",
            UploadError::Conflict(_) => "conflict",
            UploadError::Gone(_) => "gone",
            UploadError::TooLarge(_) => "too_large",
            UploadError::UnsupportedMediaType(_) => "unsupported_media_type",
            UploadError::CorruptImage(_) => "corrupt_image",
            UploadError::Locked(_) => "locked",
            UploadError::ChecksumMismatch(_) => "checksum_mismatch",
            UploadError::Storage(StoreError::NotFound { .. }) => "not_found",
            UploadError::Storage(StoreError::TooLarge { .. }) => "too_large",
            UploadError::Storage(_) => "storage_failed",
            UploadError::State(_) => "state_failed",
            UploadError::Misconfigured(_) => "misconfigured",
        }
    }

    /// `"<code>: <detail>"`, as a manifest records a failure.
    pub fn reason(&self) -> String {
        format!("{}: {self}", self.code())
    }
}

impl From<KilnError> for UploadError {
    fn from(e: KilnError) -> Self {
        match e {
            KilnError::BadParameter(m) => UploadError::BadRequest(m),
            KilnError::TooLarge(m) => UploadError::TooLarge(m),
            KilnError::Unsupported(m) => UploadError::UnsupportedMediaType(m),
            KilnError::Corrupt(m) => UploadError::CorruptImage(m),
            KilnError::Encode(m) => UploadError::CorruptImage(m),
        }
    }
}
