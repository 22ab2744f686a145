//! `kiln-store`: a local, single-process S3-compatible object store for kiln.
//!
//! It serves the S3 API from a folder on disk (via `s3s` + `s3s-fs`), checks
//! SigV4 signatures (header and presigned query auth), lets anyone read keys
//! under configured public prefixes, and POSTs AWS-style S3 event
//! notifications to a webhook after objects are created, through an on-disk
//! spool so that no event is lost. It also lists in-progress multipart
//! uploads, which `s3s-fs` cannot.

pub mod access;
pub mod cli;
pub mod durable;
pub mod event;
pub mod notify;
pub mod server;
pub mod spool;
pub mod store;
pub mod uploads;

pub use cli::Args;
pub use server::run;
