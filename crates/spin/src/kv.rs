//! Spin key-value (wasi:keyvalue) as the upload logic's [`StateStore`]:
//! the `default` store, which `spin up` keeps in SQLite and a runtime
//! config can put on Redis. Compare-and-swap is wasi:keyvalue/atomics; what
//! it reports is not trusted (see `kiln_upload::state`), so a failed swap
//! is only a hint.

use kiln_upload::ports::{StateError, StateStore, Swap};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

pub struct KvState {
    bucket: store::Bucket,
}

fn failed(what: &str, e: impl std::fmt::Debug) -> StateError {
    StateError(format!("{what}: {e:?}"))
}

impl KvState {
    pub fn open() -> Result<KvState, StateError> {
        Ok(KvState { bucket: store::open("default").map_err(|e| failed("opening the key-value store", e))? })
    }
}

impl StateStore for KvState {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.bucket.get(key).map_err(|e| failed(&format!("reading {key}"), e))
    }

    async fn swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<Swap, StateError> {
        let cas = atomics::Cas::new(&self.bucket, key).map_err(|e| failed(&format!("opening a swap of {key}"), e))?;
        let current = cas.current().map_err(|e| failed(&format!("reading {key}"), e))?;
        if current.as_deref() != expected {
            return Ok(Swap::NotSwapped);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(Swap::Swapped),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::NotSwapped),
            Err(atomics::CasError::StoreError(e)) => Err(failed(&format!("swapping {key}"), e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.bucket.delete(key).map_err(|e| failed(&format!("deleting {key}"), e))
    }
}
