//! The edges of the upload logic: the four small traits it does all its I/O
//! through. On Spin they are S3 over outbound HTTP, wasi:keyvalue, service
//! chaining and the host clock (crate `kiln-spin`); in tests they are the
//! in-memory implementations of [`crate::memory`], which can also fail,
//! lose responses and yield between calls on purpose.
//!
//! Every method is `async` and nothing needs `Send`: a Spin instance is
//! single-threaded, and so are the tests' executors.

use crate::manifest::Variant;
use std::collections::BTreeMap;
use thiserror::Error;

/// What the object store said, once its own retries are spent.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StoreError {
    #[error("no object {key:?} in the bucket")]
    NotFound { key: String },
    /// CompleteMultipartUpload/UploadPart for an upload the store no longer
    /// has (completed, aborted, or never made).
    #[error("no multipart upload {upload_id} of {key:?}")]
    NoSuchUpload { key: String, upload_id: String },
    #[error("object {key:?} is over the {cap}-byte limit")]
    TooLarge { key: String, cap: u64 },
    /// Refused (4xx), or unavailable after every retry (5xx, 429, timeout,
    /// broken connection). The text says which, with the store's own code.
    #[error("{0}")]
    Failed(String),
}

/// One object of a listing or a HEAD.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Unquoted.
    pub etag: Option<String>,
    /// Last-Modified, in ms since the Unix epoch, when the store says.
    pub modified_ms: Option<u64>,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    pub objects: Vec<ObjectInfo>,
    /// Whether more keys follow the last one listed.
    pub truncated: bool,
}

/// A multipart upload the store has begun and not finished.
#[derive(Debug, Clone, PartialEq)]
pub struct MultipartInfo {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: Option<u64>,
}

/// An S3-compatible bucket.
pub trait ObjectStore {
    /// Writes `body` at `key`; returns the store's ETag.
    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<Option<String>, StoreError>;
    /// Reads `key`, refusing objects over `cap` bytes.
    async fn get(&self, key: &str, cap: u64) -> Result<Vec<u8>, StoreError>;
    /// Size and ETag of `key`; `None` if there is no such object.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError>;
    /// Deletes `key`; a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Up to `max` keys under `prefix` that sort after `start_after`.
    async fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Listing, StoreError>;
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, StoreError>;
    /// Part `number` (from 1) from bytes; returns its ETag.
    async fn upload_part(&self, key: &str, upload_id: &str, number: u16, body: &[u8]) -> Result<String, StoreError>;
    /// Part `number` as a server-side copy of the object `source`.
    async fn upload_part_copy(&self, key: &str, upload_id: &str, number: u16, source: &str) -> Result<String, StoreError>;
    /// Returns the ETag of the assembled object.
    async fn complete_multipart(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<Option<String>, StoreError>;
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;
    /// Unfinished multipart uploads of keys under `prefix` (first 1,000).
    async fn list_multipart(&self, prefix: &str) -> Result<Vec<MultipartInfo>, StoreError>;
}

/// The key-value store failed (not: a swap was lost).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("key-value store: {0}")]
pub struct StateError(pub String);

/// What a compare-and-swap reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Swapped,
    /// The swap reported failure. On some backends (Spin's Redis store) this
    /// is reported even when the swap applied, so callers must read back.
    NotSwapped,
}

/// A key-value store with compare-and-swap (Spin key-value, Redis, SQLite).
pub trait StateStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Replaces the value of `key` with `new` if it is still `expected`
    /// (`None`: absent). Backends differ in how atomic the absent case is
    /// (Spin's SQLite store writes unconditionally), so callers fence every
    /// write with a unique token and read back (see [`crate::state`]).
    async fn swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<Swap, StateError>;
    async fn delete(&self, key: &str) -> Result<(), StateError>;
}

/// What one converter call produced for one format.
// A Variant is the common case and lives only until it is put in the
// manifest: boxing it would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Converted {
    /// Made and stored (`status: done`), or refused with a reason
    /// (`status: failed`, e.g. 413 over the memory limit): final either way.
    Variant(Variant),
    /// A passing failure: the converter could not be reached, did not
    /// answer, or its storage failed (502/503/504). Tried again on the next
    /// attempt.
    Retry { format: String, why: String },
    /// Upload-level stages a combined converter measured once for all
    /// formats (fetch, decode, ...), for the manifest's timings.
    Timings(BTreeMap<String, f64>),
}

/// The converter components, called with an original's key.
pub trait Converters {
    /// The formats every upload gets, in manifest order.
    fn formats(&self) -> Vec<String>;
    /// Converts the original at `key` into `formats`, yielding each result
    /// as it arrives.
    fn convert<'a>(&'a self, key: &'a str, formats: &'a [String]) -> impl futures::Stream<Item = Converted> + 'a;
}

/// Wall-clock time, and waiting.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Resolves once `duration` has passed, without blocking others.
    async fn sleep(&self, duration: std::time::Duration);
}
