//! kiln-ingest: what the manifest function does with an original.
//!
//! [`oneshot`] takes a whole image in one request (`POST /v1/images`),
//! stores it at `originals/<id>/<filename>`, then [`fanout`] asks the four
//! converter components in parallel — by Spin service chaining, passing the
//! object key, never the bytes — and [`record`] writes `manifest.json` next
//! to the variants and keeps it in Spin key-value for `GET /v1/uploads/<id>`.

pub mod assemble;
pub mod events;
pub mod fanout;
pub mod ids;
pub mod oneshot;
pub mod record;
pub mod tus;
pub mod uploads;
