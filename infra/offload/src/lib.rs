//! kiln-offload: the machine-offload baseline of the glue-cost study
//! (issue #5). It is what kiln is compared against: one native process per
//! conversion, shaped like the "uplodr" service.
//!
//! * [`worker`] — the gRPC worker (`kiln-offload-worker`): `Ping`, and
//!   `Upload`, which stores the original and makes the four variants in
//!   parallel threads with the same [`kiln_core::convert`] and settings as
//!   kiln's components, then exits by itself after its lifetime.
//! * [`driver`] — the dispatcher's side (`kiln-offload-driver`): start a
//!   worker, wait for `Ping`, send one image, tear the worker down whatever
//!   happens, and time each step.
//!
//! Around them: [`proto`] (generated from `proto/image.proto`),
//! [`settings`] (object store and variant settings), [`storage`] (blocking
//! S3 PUTs with retries), [`variants`] (the parallel conversion) and
//! [`timing`] (`server-timing` and peak RSS in response metadata).

pub mod driver;
pub mod settings;
pub mod storage;
pub mod timing;
pub mod variants;
pub mod worker;

/// Generated gRPC messages, client and server of `kiln.offload.v1`.
pub mod proto {
    tonic::include_proto!("kiln.offload.v1");
}

pub use driver::{drive, DriveError, DriveOptions, DriveReport};
pub use settings::{S3Settings, VariantSettings};

/// Metadata key of the stage timings, in the Server-Timing syntax.
pub const SERVER_TIMING: &str = "server-timing";
/// Metadata key of the worker's peak resident set size, in bytes.
pub const PEAK_RSS: &str = "kiln-peak-rss";
/// The line the worker prints on stdout once it listens, before its URL.
pub const LISTENING_PREFIX: &str = "kiln-offload listening on ";
/// Environment variable of the bearer token `Upload` requires.
pub const TOKEN_ENV: &str = "KILN_OFFLOAD_TOKEN";
/// Environment variable of the S3 secret key (kept off the command line).
pub const S3_SECRET_ENV: &str = "KILN_OFFLOAD_S3_SECRET_KEY";
/// Default largest gRPC message: 64 MiB (tonic's own 4 MiB is too small for photos).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
