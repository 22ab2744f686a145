//! kiln-upload: everything kiln does with an upload, without Spin.
//!
//! A byte's way, by module:
//! - [`tus`] receives a resumable upload chunk by chunk (tus 1.0) into
//!   objects under `uploads/<id>/`; [`Kiln::post_image`] takes a whole image
//!   in one request; [`Kiln::accept_events`] takes object-storage
//!   notifications ([`events`] parses every provider's shape).
//! - Each upload is one [`record`] in the state store, read and written with
//!   compare-and-swap by [`state`]; its public part is the [`manifest`].
//! - [`pipeline`] drives an upload to a terminal state under a lease:
//!   [`assemble`] builds the original from the chunks, then the converters
//!   make every variant, then the manifest is written next to them. All
//!   three triggers end in the same [`Kiln::drive`].
//! - [`sweep`] finds work whose lease expired, uploads that expired, and
//!   originals nobody converted, and puts them right.
//! - [`keys`] is where everything lives in the bucket.
//!
//! All I/O goes through the traits in [`ports`]; [`memory`] implements them
//! in memory for tests.

#![allow(async_fn_in_trait)] // single-threaded: a Spin instance, the tests' executors

pub mod assemble;
pub mod bucket_events;
pub mod config;
pub mod digest;
pub mod error;
pub mod events;
pub mod ids;
pub mod keys;
pub mod manifest;
pub mod memory;
pub mod oneshot;
pub mod pipeline;
pub mod ports;
pub mod record;
pub mod state;
pub mod sweep;
pub mod tokens;
pub mod tus;

pub use config::UploadConfig;
pub use error::UploadError;
pub use manifest::{Manifest, Status};
pub use ports::{Clock, Converters, ObjectStore, StateStore};

/// The four edges an upload service runs on.
pub trait Platform {
    type Objects: ObjectStore;
    type State: StateStore;
    type Converters: Converters;
    type Clock: Clock;
}

/// The upload service: its edges and its settings. Every operation is a
/// method (in the module that implements it).
pub struct Kiln<P: Platform> {
    pub objects: P::Objects,
    pub state: P::State,
    pub converters: P::Converters,
    pub clock: P::Clock,
    pub config: UploadConfig,
}

impl<P: Platform> Kiln<P> {
    pub fn new(objects: P::Objects, state: P::State, converters: P::Converters, clock: P::Clock, config: UploadConfig) -> Self {
        Kiln { objects, state, converters, clock, config }
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }
}
