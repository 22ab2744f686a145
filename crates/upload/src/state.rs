//! Reading and writing upload records through a [`StateStore`], safely on
//! every backend. Every write is a compare-and-swap from the exact bytes
//! last read, and carries a fresh `rev` token; when a swap reports failure
//! the record is read back and the write counts as applied if it holds our
//! token. That makes a swap's reported result irrelevant, which matters
//! because Spin's Redis store reports failure after applying a swap, and its
//! SQLite store applies a swap from "absent" unconditionally
//! (`../shared/reference/redis-kv-probe.md`). A writer that lost a race
//! simply sees the other's record on its next read.

use crate::ids;
use crate::ports::{StateError, StateStore, Swap};
use crate::record::UploadRecord;

/// How many times [`update`] re-reads after losing a race before giving up.
const MAX_RACES: usize = 16;

/// A record as read, with the bytes the next swap must expect.
#[derive(Debug, Clone)]
pub struct Stored {
    pub record: UploadRecord,
    raw: Vec<u8>,
}

/// What an [`update`] closure decided for the record it was shown.
#[allow(clippy::large_enum_variant)] // short-lived, moved once
pub enum Change<T> {
    /// Write this record (its `rev` is replaced), then return `T`.
    Write(UploadRecord, T),
    /// Write nothing, return `T`.
    Keep(T),
}

fn key(id: &str) -> String {
    format!("upload/{id}")
}

fn decode(id: &str, raw: Vec<u8>) -> Result<Stored, StateError> {
    let record = serde_json::from_slice(&raw).map_err(|e| StateError(format!("record of upload {id} is unreadable: {e}")))?;
    Ok(Stored { record, raw })
}

/// The record of upload `id`, if any.
pub async fn load<S: StateStore>(store: &S, id: &str) -> Result<Option<Stored>, StateError> {
    store.get(&key(id)).await?.map(|raw| decode(id, raw)).transpose()
}

/// Writes `record` where `current` (or nothing) was. `Some` with the new
/// stored record if our write is what the store now holds; `None` if
/// another writer got there first.
async fn write<S: StateStore>(store: &S, current: Option<&Stored>, mut record: UploadRecord) -> Result<Option<Stored>, StateError> {
    record.rev = ids::nonce();
    let id = record.id().to_string();
    let raw = serde_json::to_vec(&record).map_err(|e| StateError(format!("record of upload {id} does not serialize: {e}")))?;
    let swapped = store.swap(&key(&id), current.map(|c| c.raw.as_slice()), &raw).await?;
    let mine = match swapped {
        Swap::Swapped => true,
        // Ambiguous: decide by what the store holds now.
        Swap::NotSwapped => load(store, &id).await?.is_some_and(|now| now.record.rev == record.rev),
    };
    Ok(mine.then_some(Stored { record, raw }))
}

/// Creates the record of a new upload (its id must be fresh).
pub async fn create<S: StateStore>(store: &S, record: UploadRecord) -> Result<Stored, StateError> {
    let id = record.id().to_string();
    write(store, None, record).await?.ok_or_else(|| StateError(format!("upload {id} was created twice at once")))
}

/// Replaces `current` with `record` if nobody wrote in between.
pub async fn replace<S: StateStore>(store: &S, current: &Stored, record: UploadRecord) -> Result<Option<Stored>, StateError> {
    write(store, Some(current), record).await
}

/// Reads upload `id`, shows it to `decide`, and writes what it returns,
/// re-reading and deciding again whenever another writer got in between.
/// `Ok(None)` if there is no such upload.
pub async fn update<S, T, E>(store: &S, id: &str, mut decide: impl FnMut(&UploadRecord) -> Result<Change<T>, E>) -> Result<Option<(Stored, T)>, E>
where
    S: StateStore,
    E: From<StateError>,
{
    for _ in 0..MAX_RACES {
        let Some(current) = load(store, id).await? else { return Ok(None) };
        match decide(&current.record)? {
            Change::Keep(value) => return Ok(Some((current, value))),
            Change::Write(next, value) => {
                if let Some(stored) = replace(store, &current, next).await? {
                    return Ok(Some((stored, value)));
                }
            }
        }
    }
    Err(StateError(format!("upload {id}: {MAX_RACES} concurrent writers in a row; try again")).into())
}

/// Removes upload `id`'s record.
pub async fn remove<S: StateStore>(store: &S, id: &str) -> Result<(), StateError> {
    store.delete(&key(id)).await
}

/// A small value of the sweep's own (its cursors), outside upload records.
pub async fn get_note<S: StateStore>(store: &S, name: &str) -> Result<Option<String>, StateError> {
    Ok(store.get(&format!("sweep/{name}")).await?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Sets a note; last writer wins (two sweeps at once only repeat work).
pub async fn set_note<S: StateStore>(store: &S, name: &str, value: &str) -> Result<(), StateError> {
    let key = format!("sweep/{name}");
    let current = store.get(&key).await?;
    store.swap(&key, current.as_deref(), value.as_bytes()).await.map(|_| ())
}
