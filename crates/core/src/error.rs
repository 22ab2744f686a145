//! Typed errors of the core. Each variant maps to one HTTP status in the
//! components (see [`KilnError::http_status`]), so callers never guess.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum KilnError {
    /// The bytes are not an image format kiln reads (sniffed from content).
    #[error("unsupported media type: {0}")]
    Unsupported(String),
    /// The input is larger than a configured limit (bytes, pixels, memory).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The bytes claim a supported format but cannot be decoded.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// A parameter is out of range (quality, width, ...).
    #[error("bad parameter: {0}")]
    BadParameter(String),
    /// An encoder failed on pixels we produced: a bug or an encoder limit.
    #[error("encode failed: {0}")]
    Encode(String),
}

impl KilnError {
    /// The HTTP status a service should answer with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            KilnError::BadParameter(_) => 400,
            KilnError::TooLarge(_) => 413,
            KilnError::Unsupported(_) => 415,
            KilnError::Corrupt(_) => 422,
            KilnError::Encode(_) => 500,
        }
    }

    /// A short machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            KilnError::BadParameter(_) => "bad_parameter",
            KilnError::TooLarge(_) => "too_large",
            KilnError::Unsupported(_) => "unsupported_media_type",
            KilnError::Corrupt(_) => "corrupt_image",
            KilnError::Encode(_) => "encode_failed",
        }
    }
}
