//! Driving an upload to a terminal state, the same way whatever brought it
//! in: tus, one request, or a bucket event.
//!
//! The work runs under a lease held in the record. Each step ends in a
//! commit, a compare-and-swap that succeeds only while the lease is ours and
//! renews it, so a worker that stalled past its lease and was replaced stops
//! at its next commit instead of overwriting the new worker's results. The
//! steps are idempotent (assembly redoes the multipart upload from the chunks,
//! which are kept until the original is stored; conversion redoes only the
//! variants not yet recorded), so re-driving after a crash is safe:
//!
//! 1. `assembling` → the chunks become the original (tus only), → `converting`;
//! 2. `converting` → each variant is recorded as it arrives;
//! 3. the manifest is written next to the variants, then the record turns
//!    terminal and the in-flight objects are deleted.
//!
//! A step that fails on the input (not an image, wrong checksum) ends the
//! upload `failed` with the reason. A step that fails on storage or a
//! converter that cannot be reached gives the lease back for a later attempt;
//! after `max_attempts` the upload ends `failed` (or `partial`) with the reason.

use crate::assemble;
use crate::error::UploadError;
use crate::ids;
use crate::keys;
use crate::manifest::{Manifest, Status};
use crate::ports::{Clock, Converted, Converters, ObjectStore, StateError, StoreError};
use crate::record::{Claim, UploadRecord};
use crate::state::{self, Change, Stored};
use crate::{Kiln, Platform};
use futures::future::Either;
use futures::StreamExt;
use std::future::Future;
use std::time::Duration;
use sha2::{Digest, Sha256};
use std::time::Instant;

/// An upload whose lease the holder of this value has: run it with [`Kiln::run`].
pub struct Work {
    pub id: String,
    owner: String,
    stored: Stored,
    /// Out of attempts: write this terminal record instead of working.
    give_up: Option<UploadRecord>,
}

impl Work {
    pub(crate) fn claimed(id: &str, owner: &str, stored: Stored) -> Work {
        Work { id: id.to_string(), owner: owner.to_string(), stored, give_up: None }
    }
}

/// Why a step stopped early.
enum Stop {
    /// Someone else holds the lease now: leave the upload to them.
    Lost,
    /// The input is refused: the upload ends `failed` with this reason.
    Fail(String),
    /// A passing failure (storage, an unreachable converter): try again later.
    Retry(String),
    /// The state store itself failed: nothing can be recorded.
    State(StateError),
}

impl From<StateError> for Stop {
    fn from(e: StateError) -> Self {
        Stop::State(e)
    }
}

impl From<UploadError> for Stop {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::State(e) => Stop::State(e),
            UploadError::Storage(StoreError::Failed(_) | StoreError::NoSuchUpload { .. }) => Stop::Retry(e.reason()),
            other => Stop::Fail(other.reason()),
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl<P: Platform> Kiln<P> {
    /// The record of upload `id`, if any (what `GET /v1/uploads/<id>` shows).
    pub async fn record(&self, id: &str) -> Result<Option<UploadRecord>, UploadError> {
        Ok(state::load(&self.state, id).await?.map(|s| s.record))
    }

    /// Re-drives upload `id` if its work is unfinished and nobody holds it
    /// (what a GET, a redelivered event and the sweep do). Returns the
    /// manifest as it stands afterwards; `None` if there is no such upload.
    pub async fn drive(&self, id: &str) -> Result<Option<Manifest>, UploadError> {
        match self.claim(id).await? {
            Claimed::Work(work) => self.run(work).await.map(Some),
            Claimed::Not(stored) => Ok(stored.map(|s| s.record.manifest)),
        }
    }

    /// Takes the lease of upload `id` if it needs driving.
    pub(crate) async fn claim(&self, id: &str) -> Result<Claimed, UploadError> {
        let owner = ids::nonce();
        let now = self.now();
        let formats = self.converters.formats();
        let decided = state::update(&self.state, id, |r| {
            if r.lease.as_ref().is_some_and(|l| l.owner == owner) {
                return Ok::<_, UploadError>(Change::Keep(None)); // our own write, read back
            }
            Ok(match r.claim(&owner, now, &self.config, &formats) {
                Claim::Acquired(next) => Change::Write(next, None),
                Claim::GaveUp(terminal) => {
                    let mut held = r.clone();
                    held.lease = Some(crate::record::Lease::new(&owner, now, self.config.lease_ms));
                    Change::Write(held, Some(terminal))
                }
                Claim::Busy | Claim::Finished | Claim::NotReady => Change::Keep(None),
            })
        })
        .await?;
        let Some((stored, give_up)) = decided else { return Ok(Claimed::Not(None)) };
        if stored.record.leased_by(&owner, now) {
            Ok(Claimed::Work(Work { id: id.to_string(), owner, stored, give_up }))
        } else {
            Ok(Claimed::Not(Some(stored)))
        }
    }

    /// Runs claimed work until the upload is terminal, the lease is lost, or
    /// an attempt stops on a passing failure (then the manifest returned is
    /// still `assembling`/`converting`, and a later drive goes on).
    pub async fn run(&self, work: Work) -> Result<Manifest, UploadError> {
        let Work { id, owner, mut stored, give_up } = work;
        if let Some(terminal) = give_up {
            return self.settle(&owner, &stored, terminal).await;
        }
        loop {
            let step = match stored.record.status() {
                Status::Assembling => self.heartbeat(&owner, &id, self.assemble_step(&owner, &stored)).await,
                Status::Converting => self.heartbeat(&owner, &id, self.convert_step(&owner, &stored)).await,
                _ => return Ok(stored.record.manifest),
            };
            match step {
                Ok(next) => stored = next,
                Err(Stop::Fail(reason)) => {
                    let mut terminal = stored.record.clone();
                    terminal.fail(reason, self.now());
                    return self.settle(&owner, &stored, terminal).await;
                }
                Err(Stop::Retry(reason)) => return self.release(&owner, &id, reason).await,
                Err(Stop::Lost) => return self.current(&id).await,
                Err(Stop::State(e)) => return Err(e.into()),
            }
        }
    }

    /// Ends claimed work with `terminal` at once.
    pub(crate) async fn finish_now(&self, work: Work, terminal: UploadRecord) -> Result<Manifest, UploadError> {
        self.settle(&work.owner, &work.stored, terminal).await
    }

    async fn current(&self, id: &str) -> Result<Manifest, UploadError> {
        let stored = state::load(&self.state, id).await?;
        stored.map(|s| s.record.manifest).ok_or_else(|| UploadError::NotFound(format!("upload {id} disappeared while being driven")))
    }

    /// Runs a step while renewing the lease every third of its length, so
    /// the lease lapses only when the worker is gone, however long one
    /// converter or storage call takes.
    async fn heartbeat<T>(&self, owner: &str, id: &str, step: impl Future<Output = Result<T, Stop>>) -> Result<T, Stop> {
        let mut step = std::pin::pin!(step);
        let beat = Duration::from_millis((self.config.lease_ms / 3).max(1));
        loop {
            let tick = std::pin::pin!(self.clock.sleep(beat));
            match futures::future::select(step.as_mut(), tick).await {
                Either::Left((result, _)) => return result,
                Either::Right(((), _)) => {
                    self.commit(owner, id, |_| {}).await?;
                }
            }
        }
    }

    /// Writes `change` into the record if the lease is still `owner`'s,
    /// renewing it.
    async fn commit(&self, owner: &str, id: &str, change: impl Fn(&mut UploadRecord)) -> Result<Stored, Stop> {
        let now = self.now();
        let lease_ms = self.config.lease_ms;
        let committed = state::update(&self.state, id, |r| {
            if r.lease.as_ref().is_none_or(|l| l.owner != owner) {
                return Err(Stop::Lost);
            }
            let mut next = r.clone();
            change(&mut next);
            next.lease = Some(crate::record::Lease::new(owner, now, lease_ms));
            Ok(Change::Write(next, ()))
        })
        .await?;
        committed.map(|(stored, ())| stored).ok_or(Stop::Lost)
    }

    /// Gives the lease back after a passing failure.
    async fn release(&self, owner: &str, id: &str, reason: String) -> Result<Manifest, UploadError> {
        eprintln!("kiln: upload {id}: attempt stopped, will be retried: {reason}");
        let now = self.now();
        let released = state::update(&self.state, id, |r| {
            if r.lease.as_ref().is_none_or(|l| l.owner != owner) {
                return Ok::<_, UploadError>(Change::Keep(()));
            }
            let mut next = r.clone();
            next.release(reason.clone(), now, &self.config);
            Ok(Change::Write(next, ()))
        })
        .await?;
        released.map(|(s, ())| s.record.manifest).ok_or_else(|| UploadError::NotFound(format!("upload {id} disappeared")))
    }

    /// Ends the upload with `terminal` (made from `stored`): the manifest is
    /// stored next to the variants first, then the record turns terminal, so
    /// a crash in between only repeats this step.
    async fn settle(&self, owner: &str, stored: &Stored, terminal: UploadRecord) -> Result<Manifest, UploadError> {
        let id = stored.record.id().to_string();
        let key = keys::manifest_key(&terminal.manifest.original.key);
        let json = serde_json::to_vec_pretty(&terminal.manifest).expect("a manifest serializes");
        if let Err(e) = self.objects.put(&key, &json, "application/json").await {
            let reason = format!("storing {key}: {e}");
            return self.release(owner, &id, reason).await;
        }
        let written = state::update(&self.state, &id, |r| {
            if r.lease.as_ref().is_none_or(|l| l.owner != owner) {
                return Err(UploadError::Conflict(format!("upload {id}: lost the lease before finishing")));
            }
            Ok(Change::Write(terminal.clone(), ()))
        })
        .await;
        match written {
            Ok(Some(_)) => {}
            Ok(None) => return Err(UploadError::NotFound(format!("upload {id} disappeared"))),
            Err(UploadError::Conflict(_)) => return self.current(&id).await,
            Err(e) => return Err(e),
        }
        self.clean_up(&id, stored).await;
        Ok(terminal.manifest)
    }

    /// Deletes what an upload left in flight: its marker and any chunk or
    /// leftover under `uploads/<id>/`, and chunks it still lists (a final
    /// upload's live under its partials). Best effort: the sweep finishes it.
    async fn clean_up(&self, id: &str, stored: &Stored) {
        let listed: Vec<String> = stored.record.tus.iter().flat_map(|t| t.chunks.iter().map(|c| c.key.clone())).collect();
        let mut keys = listed;
        if let Ok(page) = self.objects.list(&keys::upload_prefix(id), None, 1000).await {
            keys.extend(page.objects.into_iter().map(|o| o.key));
        }
        for key in keys {
            if let Err(e) = self.objects.delete(&key).await {
                eprintln!("kiln: upload {id}: leaving {key} for the sweep: {e}");
            }
        }
    }

    /// `assembling`: the chunks become the original; on to `converting`.
    async fn assemble_step(&self, owner: &str, stored: &Stored) -> Result<Stored, Stop> {
        let record = &stored.record;
        let id = record.id().to_string();
        let tus = record.tus.clone().ok_or_else(|| Stop::Fail("internal: an assembling upload without tus state".into()))?;
        let key = record.manifest.original.key.clone();
        self.abort_stale_multiparts(&key).await?;
        let started = Instant::now();
        let upload_id = self.objects.create_multipart(&key, "application/octet-stream").await.map_err(UploadError::from)?;
        let id_for_commit = upload_id.clone();
        self.commit(owner, &id, |r| r.multipart = Some(id_for_commit.clone())).await?;
        let assembled = assemble::assemble(&self.objects, &tus, &key, &upload_id, self.config.min_part_bytes).await;
        let (original, how) = match assembled {
            Ok(done) => done,
            Err(e) => {
                if let Err(abort) = self.objects.abort_multipart(&key, &upload_id).await {
                    eprintln!("kiln: upload {id}: aborting multipart {upload_id}: {abort} (the sweep retries)");
                }
                return Err(e.into());
            }
        };
        let elapsed = ms(started);
        let next = self
            .commit(owner, &id, |r| {
                r.manifest.original = original.clone();
                r.manifest.status = Status::Converting;
                r.manifest.timings.insert(format!("assemble_{how}"), elapsed);
                r.multipart = None;
                if let Some(t) = r.tus.as_mut() {
                    t.chunks.clear();
                }
            })
            .await?;
        for chunk in &tus.chunks {
            if let Err(e) = self.objects.delete(&chunk.key).await {
                eprintln!("kiln: upload {id}: leaving chunk {} for the sweep: {e}", chunk.key);
            }
        }
        Ok(next)
    }

    /// Aborts multipart uploads of `key` left by earlier attempts (the
    /// caller holds the lease: nobody else assembles this key).
    async fn abort_stale_multiparts(&self, key: &str) -> Result<(), Stop> {
        let open = self.objects.list_multipart(key).await.map_err(UploadError::from)?;
        for upload in open.iter().filter(|u| u.key == key) {
            self.objects.abort_multipart(key, &upload.upload_id).await.map_err(UploadError::from)?;
        }
        Ok(())
    }

    /// `converting`: every missing variant, each recorded as it arrives,
    /// then the manifest.
    async fn convert_step(&self, owner: &str, stored: &Stored) -> Result<Stored, Stop> {
        let id = stored.record.id().to_string();
        let mut stored = self.confirm_original(owner, stored).await?;
        let key = stored.record.manifest.original.key.clone();
        let formats = self.converters.formats();
        let missing = stored.record.manifest.missing(&formats);
        let started = Instant::now();
        let mut unfinished = Vec::new();
        let mut results = std::pin::pin!(self.converters.convert(&key, &missing));
        while let Some(result) = results.next().await {
            stored = match result {
                Converted::Variant(variant) => self.commit(owner, &id, |r| r.manifest.upsert(variant.clone())).await?,
                Converted::Timings(timings) => self.commit(owner, &id, |r| r.manifest.timings.extend(timings.clone())).await?,
                Converted::Retry { format, why } => {
                    unfinished.push(format!("{format}: {why}"));
                    continue;
                }
            };
        }
        if !unfinished.is_empty() {
            return Err(Stop::Retry(format!("variants not made yet: {}", unfinished.join("; "))));
        }
        let fan_out = ms(started);
        let mut terminal = stored.record.clone();
        terminal.manifest.timings.insert("fan_out".into(), fan_out);
        terminal.finish(&formats, self.now());
        self.settle(owner, &stored, terminal).await.map_err(Stop::from)?;
        state::load(&self.state, &id).await?.ok_or(Stop::Lost)
    }

    /// Makes sure the original is in the bucket and described: an event's
    /// original is read once for its size, digest and header; a one-shot
    /// upload interrupted before its PUT answered is checked with a HEAD.
    async fn confirm_original(&self, owner: &str, stored: &Stored) -> Result<Stored, Stop> {
        let id = stored.record.id();
        let original = &stored.record.manifest.original;
        if original.sha256.is_empty() {
            let started = Instant::now();
            let bytes = self.objects.get(&original.key, self.config.max_upload_bytes).await.map_err(|e| match e {
                StoreError::NotFound { .. } => Stop::Fail(format!("not_found: the original {} is gone", original.key)),
                other => Stop::from(UploadError::from(other)),
            })?;
            let info = kiln_core::probe::probe(&bytes).map_err(|e| Stop::from(UploadError::from(e)))?;
            if info.pixels() > self.config.max_pixels {
                return Err(Stop::Fail(format!("too_large: {}x{} is over the {} pixel limit", info.width, info.height, self.config.max_pixels)));
            }
            let sha256 = ids::hex(&Sha256::digest(&bytes));
            let (size, fetched) = (bytes.len() as u64, ms(started));
            drop(bytes);
            return self
                .commit(owner, id, |r| {
                    let o = &mut r.manifest.original;
                    (o.size, o.sha256, o.width, o.height) = (size, sha256.clone(), info.width, info.height);
                    o.mime_type = info.format.mime_type().to_string();
                    r.manifest.timings.insert("fetch_original".into(), fetched);
                })
                .await;
        }
        if original.etag.is_none() {
            let head = self.objects.head(&original.key).await.map_err(UploadError::from)?;
            let Some(info) = head else {
                return Err(Stop::Fail(format!(
                    "not_found: the original {} was never stored (the upload was interrupted before it was written); upload it again",
                    original.key
                )));
            };
            return self.commit(owner, id, |r| r.manifest.original.etag = info.etag.clone()).await;
        }
        Ok(stored.clone())
    }
}

/// What a claim found.
#[allow(clippy::large_enum_variant)] // short-lived, moved once
pub(crate) enum Claimed {
    Work(Work),
    /// Nothing to drive: the record as it is (`None`: no such upload).
    Not(Option<Stored>),
}
