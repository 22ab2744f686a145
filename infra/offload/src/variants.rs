//! The worker's conversion: the four variants made in parallel threads
//! (`std::thread::scope`), each decoding its own copy of the original, as
//! uplodr does, with [`kiln_core::convert`]; each thread PUTs its variant at
//! the key [`kiln_upload::keys::variant_key`] gives. A failing variant does not
//! stop the others: every thread's outcome is returned.

use crate::settings::VariantJob;
use crate::storage::{ObjectStore, StorageError};
use crate::timing::Timings;
use kiln_upload::keys::variant_key;
use kiln_core::{convert, ConvertOptions, KilnError, Limits};
use std::time::Instant;

/// A variant written to the bucket.
#[derive(Debug, Clone)]
pub struct Produced {
    pub name: &'static str,
    pub key: String,
    pub url: String,
    pub mime_type: &'static str,
    pub bytes: usize,
}

/// Why one variant failed.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error(transparent)]
    Convert(#[from] KilnError),
    #[error(transparent)]
    Store(#[from] StorageError),
    #[error("the conversion thread panicked")]
    Panicked,
}

/// One variant's outcome and its stage timings (`<name>-decode`, ...).
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<Produced, VariantError>,
    pub timings: Timings,
}

/// Makes every variant of `original` (stored at `source_key`) in its own
/// thread and returns the outcomes in the order of `jobs`.
pub fn make_all(original: &[u8], source_key: &str, jobs: &[VariantJob], limits: Limits, store: &ObjectStore) -> Vec<Outcome> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| scope.spawn(move || make_one(original.to_vec(), source_key, job, limits, store)))
            .collect();
        handles
            .into_iter()
            .zip(jobs)
            .map(|(handle, job)| {
                handle.join().unwrap_or_else(|_| Outcome {
                    name: job.encoder.format().name,
                    result: Err(VariantError::Panicked),
                    timings: Timings::default(),
                })
            })
            .collect()
    })
}

fn make_one(original: Vec<u8>, source_key: &str, job: &VariantJob, limits: Limits, store: &ObjectStore) -> Outcome {
    let format = job.encoder.format();
    let mut timings = Timings::default();
    let options = ConvertOptions { max_long_side: job.max_side, limits, metadata: Default::default() };
    let result = convert(original, &options, job.encoder.as_ref()).map_err(VariantError::from).and_then(|converted| {
        let t = converted.timings;
        timings.push(format!("{}-probe", format.name), t.probe);
        timings.push(format!("{}-decode", format.name), t.decode);
        timings.push(format!("{}-resize", format.name), t.resize);
        timings.push(format!("{}-encode", format.name), t.encode);
        let key = variant_key(source_key, format.name, format.extension);
        let started = Instant::now();
        store.put(&key, &converted.bytes, format.mime_type)?;
        timings.push(format!("{}-store", format.name), started.elapsed());
        Ok(Produced {
            name: format.name,
            url: store.public_url(&key),
            key,
            mime_type: format.mime_type,
            bytes: converted.bytes.len(),
        })
    });
    Outcome { name: format.name, result, timings }
}
