//! The limits and timings of the upload logic, in one struct. On Spin each
//! comes from a variable (crate `kiln-spin`); tests shrink them.

/// Every setting the upload logic reads.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadConfig {
    /// kiln's bucket: events for other buckets are ignored.
    pub bucket: String,
    /// Largest upload accepted (`Tus-Max-Size`): the smaller of
    /// `tus_max_size` and `max_input_bytes`, so nothing is accepted that the
    /// converters would refuse after the whole transfer.
    pub max_upload_bytes: u64,
    /// Largest request body: a PATCH chunk or a one-shot image (hosted
    /// Spin's 10 MiB).
    pub max_request_bytes: u64,
    /// Smallest PATCH body but the last one: bounds the record's chunk list.
    pub min_chunk_bytes: u64,
    /// S3's minimum part size (every part but the last).
    pub min_part_bytes: u64,
    /// Largest source image in pixels (checked on the first chunk).
    pub max_pixels: u64,
    /// An unfinished tus upload expires this long after its creation.
    pub expiry_ms: u64,
    /// How long a PATCH holds its upload before another request may take it.
    pub lock_ms: u64,
    /// How long an assembly or conversion holds its upload (renewed after
    /// every step) before a request, event or sweep may re-drive it.
    pub lease_ms: u64,
    /// After this many attempts an upload ends `failed` with the reason.
    pub max_attempts: u32,
    /// Wait before an attempt that failed on a storage outage is re-driven.
    pub retry_ms: u64,
    /// Keys the sweep lists per phase per call.
    pub sweep_page: u32,
    /// Objects without a record are left alone this long (their upload may
    /// be being created right now).
    pub orphan_grace_ms: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            bucket: "kiln".into(),
            max_upload_bytes: kiln_core::limits::DEFAULT_MAX_INPUT_BYTES,
            max_request_bytes: 10 * 1024 * 1024,
            min_chunk_bytes: 256 * 1024,
            min_part_bytes: 5 * 1024 * 1024,
            max_pixels: kiln_core::limits::DEFAULT_MAX_PIXELS,
            expiry_ms: 24 * 3600 * 1000,
            lock_ms: 60_000,
            lease_ms: 120_000,
            max_attempts: 3,
            retry_ms: 10_000,
            sweep_page: 200,
            orphan_grace_ms: 600_000,
        }
    }
}
