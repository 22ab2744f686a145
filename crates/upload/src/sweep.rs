//! The sweep: what a scheduler calls periodically so that every upload ends
//! terminal and nothing is left behind, whatever crashed. One call works on
//! bounded pages (`sweep_page` keys of each listing, continuing where the
//! previous call stopped, so it fits in a request's 30 s) and:
//!
//! 1. lists `uploads/` (markers and chunks of uploads in flight): re-drives
//!    uploads whose lease expired, reaps expired tus uploads (chunks, marker,
//!    record), deletes chunks no record refers to and the leftovers of
//!    finished uploads;
//! 2. lists unfinished multipart uploads of kiln's originals and aborts those
//!    no live assembly owns;
//! 3. lists `originals/` and reconciles them with the records: an original
//!    without a manifest (its event was lost) is converted as if its event
//!    had arrived, a stalled one is re-driven.
//!
//! Re-driving is left to the caller ([`SweepReport::redrive`],
//! [`SweepReport::unconverted`]), which on Spin hands each to its own
//! request so one sweep never runs conversions itself.
//!
//! A marker with no record is the one thing deleted by age alone
//! (`orphan_grace_ms`): its creation died before writing the record, or is
//! still writing it. Nothing can tell the two apart: on Spin's SQLite store a
//! swap from "absent" is an unconditional write, so no one can fence a
//! creation off. So creating an upload ([`Kiln::create_upload_record`]) keeps
//! to half the grace: it gives up before writing a record that late, and
//! puts its marker back when its write came back that late. The sweep, for
//! its part, looks for the record again after deleting such a marker and
//! puts the marker back if the record has appeared. What is left: a record
//! write that lands after the sweep's last look (held in flight for more
//! than half the grace) from an instance that dies before putting its
//! marker back. Nobody was told of that upload, but its record stays.

use crate::error::UploadError;
use crate::events::ObjectEvent;
use crate::keys;
use crate::manifest::Status;
use crate::pipeline::Work;
use crate::ports::{ObjectInfo, ObjectStore, StoreError};
use crate::record::{Retired, UploadRecord};
use crate::state::{self, Change, Stored};
use crate::{Kiln, Platform};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one sweep call did and found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    /// Uploads whose work stalled: to be re-driven.
    pub redrive: Vec<String>,
    /// Originals nobody converted: to be converted as if notified.
    pub unconverted: Vec<Unconverted>,
    /// Expired tus uploads removed.
    pub reaped: Vec<String>,
    /// Objects deleted: chunks, markers, leftovers.
    pub deleted: u64,
    /// Multipart uploads aborted.
    pub aborted: u64,
    /// Whether a listing stopped at its page size (call again soon).
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unconverted {
    pub key: String,
    pub etag: Option<String>,
}

const UPLOADS_CURSOR: &str = "uploads-cursor";
const ORIGINALS_CURSOR: &str = "originals-cursor";

impl<P: Platform> Kiln<P> {
    /// Creates a new upload: its marker `uploads/<id>/record` first, so the
    /// sweep finds it whatever crashes next, then its record (tus and
    /// one-shot uploads; an event's upload is found by its original).
    ///
    /// The sweep deletes a marker without a record once it is
    /// `orphan_grace_ms` old. So a creation that has taken half that long
    /// before its record write gives up (a 502 to try again; the marker is
    /// left to the sweep), and one whose record write came back that late
    /// puts its marker again, in case the sweep took it in between, or if
    /// that fails removes the record (see the module documentation).
    pub(crate) async fn create_upload_record(&self, record: UploadRecord) -> Result<Stored, UploadError> {
        let id = record.id().to_string();
        let started = self.now();
        let late = |now: u64| now.saturating_sub(started) >= self.config.orphan_grace_ms / 2;
        self.objects.put(&keys::marker_key(&id), id.as_bytes(), "text/plain").await?;
        if late(self.now()) {
            return Err(UploadError::Storage(StoreError::Failed(format!(
                "creating upload {id} took {} ms, over half the sweep's orphan grace of {} ms; nothing was recorded, try again",
                self.now().saturating_sub(started),
                self.config.orphan_grace_ms
            ))));
        }
        let stored = state::create(&self.state, record).await?;
        if late(self.now())
            && let Err(e) = self.objects.put(&keys::marker_key(&id), id.as_bytes(), "text/plain").await
        {
            // The marker may be gone for good: take the record away too
            // (nobody has been told of this upload yet).
            state::remove(&self.state, &id).await?;
            return Err(e.into());
        }
        Ok(stored)
    }

    /// One bounded pass of the sweep (see the module documentation).
    pub async fn sweep(&self) -> Result<SweepReport, UploadError> {
        let mut report = SweepReport::default();
        self.sweep_uploads(&mut report).await?;
        self.sweep_multiparts(&mut report).await?;
        self.sweep_originals(&mut report).await?;
        report.redrive.sort();
        report.redrive.dedup();
        Ok(report)
    }

    /// Converts an original the sweep found unconverted, as its event would.
    pub async fn convert_unconverted(&self, original: &Unconverted) -> Result<Option<Work>, UploadError> {
        let event = ObjectEvent {
            source: "kiln:sweep".into(),
            bucket: self.config.bucket.clone(),
            key: original.key.clone(),
            size: None,
            etag: original.etag.clone(),
            created: true,
        };
        self.adopt(&event).await
    }

    /// One page of a listing, from and to the cursor `note`.
    async fn page(&self, prefix: &str, note: &str, report: &mut SweepReport) -> Result<Vec<ObjectInfo>, UploadError> {
        let cursor = state::get_note(&self.state, note).await?;
        let page = self.objects.list(prefix, cursor.as_deref().filter(|c| !c.is_empty()), self.config.sweep_page).await?;
        let next = if page.truncated { page.objects.last().map(|o| o.key.clone()).unwrap_or_default() } else { String::new() };
        report.more |= page.truncated;
        state::set_note(&self.state, note, &next).await?;
        Ok(page.objects)
    }

    async fn sweep_uploads(&self, report: &mut SweepReport) -> Result<(), UploadError> {
        let mut by_upload: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
        for object in self.page(keys::UPLOADS_PREFIX, UPLOADS_CURSOR, report).await? {
            if let Some(id) = keys::upload_of_object(&object.key) {
                by_upload.entry(id.to_string()).or_default().push(object);
            }
        }
        for (id, objects) in by_upload {
            self.sweep_upload(&id, objects, report).await?;
        }
        Ok(())
    }

    async fn sweep_upload(&self, id: &str, objects: Vec<ObjectInfo>, report: &mut SweepReport) -> Result<(), UploadError> {
        let now = self.now();
        let old = |o: &ObjectInfo, age: u64| o.modified_ms.is_none_or(|m| m + age <= now);
        let Some(stored) = state::load(&self.state, id).await? else {
            // A marker or chunk whose record was never written (or is gone).
            let stale: Vec<_> = objects.iter().filter(|o| old(o, self.config.orphan_grace_ms)).collect();
            let marker = stale.iter().any(|o| keys::is_marker(&o.key));
            self.delete_all(stale, report).await?;
            // The record may have been written since the look above (a slow
            // creation, or this sweep was slow): then it keeps its marker.
            if marker && state::load(&self.state, id).await?.is_some() {
                self.objects.put(&keys::marker_key(id), id.as_bytes(), "text/plain").await?;
            }
            return Ok(());
        };
        let record = &stored.record;
        if record.tus.as_ref().is_some_and(|t| t.retired.is_some()) {
            return self.reap(record, objects, report).await;
        }
        let orphans = objects.iter().filter(|o| is_orphan_chunk(o, record)).collect();
        match record.status() {
            Status::Uploading => {
                if self.partial_is_spent(record).await? || record.tus.as_ref().is_some_and(|t| crate::tus::is_expired(t, now)) {
                    return self.reap(record, objects, report).await;
                }
                self.delete_all(orphans, report).await
            }
            Status::Assembling | Status::Converting => {
                if record.needs_drive(now) {
                    report.redrive.push(id.to_string());
                }
                self.delete_all(orphans, report).await
            }
            _ => self.delete_all(objects.iter().collect(), report).await,
        }
    }

    /// Whether a partial upload was used by a final upload that has
    /// finished (its bytes are in the final's original), or claimed by one
    /// that does not exist (a creation that crashed): the claim is released.
    async fn partial_is_spent(&self, record: &UploadRecord) -> Result<bool, UploadError> {
        let Some(final_id) = record.tus.as_ref().and_then(|t| t.consumed_by.clone()) else { return Ok(false) };
        match state::load(&self.state, &final_id).await? {
            Some(f) => Ok(f.record.status().is_terminal()),
            None => {
                state::update(&self.state, record.id(), |r| {
                    let mut next = r.clone();
                    match next.tus.as_mut() {
                        Some(t) if t.consumed_by.as_deref() == Some(final_id.as_str()) => {
                            t.consumed_by = None;
                            Ok::<_, UploadError>(Change::Write(next, ()))
                        }
                        _ => Ok(Change::Keep(())),
                    }
                })
                .await?;
                Ok(false)
            }
        }
    }

    /// Removes an expired, spent or terminated tus upload: retires its
    /// record first (so nothing writes to it), then deletes its chunks,
    /// marker, leftovers and record.
    async fn reap(&self, record: &UploadRecord, objects: Vec<ObjectInfo>, report: &mut SweepReport) -> Result<(), UploadError> {
        let id = record.id().to_string();
        let now = self.now();
        let retired = state::update(&self.state, &id, |r| {
            if r.tus.as_ref().is_none_or(|t| t.retired.is_some()) {
                return Ok::<_, UploadError>(Change::Keep(()));
            }
            let mut next = r.clone();
            next.retire(Retired::Expired, now);
            Ok(Change::Write(next, ()))
        })
        .await?;
        let Some((stored, ())) = retired else { return Ok(()) };
        let chunks = stored.record.tus.as_ref().map(|t| t.chunks.len() as u64).unwrap_or(0);
        self.remove_retired(&stored.record).await?;
        report.deleted += chunks + 1;
        let rest = objects.iter().filter(|o| self.objects_left(o, &stored.record)).collect();
        self.delete_all(rest, report).await?;
        report.reaped.push(id);
        Ok(())
    }

    fn objects_left(&self, object: &ObjectInfo, record: &UploadRecord) -> bool {
        !keys::is_marker(&object.key) && !record.tus.iter().any(|t| t.chunks.iter().any(|c| c.key == object.key))
    }

    async fn delete_all(&self, objects: Vec<&ObjectInfo>, report: &mut SweepReport) -> Result<(), UploadError> {
        for object in objects {
            self.objects.delete(&object.key).await?;
            report.deleted += 1;
        }
        Ok(())
    }

    /// Aborts multipart uploads of kiln's own originals that no live
    /// assembly owns. Uploads of other keys (an S3 client's own multipart
    /// upload into `originals/`) are left alone.
    async fn sweep_multiparts(&self, report: &mut SweepReport) -> Result<(), UploadError> {
        let now = self.now();
        for upload in self.objects.list_multipart(keys::ORIGINALS_PREFIX).await? {
            let Some(id) = keys::upload_of_original(&upload.key) else { continue };
            let Some(stored) = state::load(&self.state, id).await? else { continue };
            let record = &stored.record;
            if record.manifest.original.key != upload.key {
                continue;
            }
            let assembling = record.status() == Status::Assembling && record.lease.as_ref().is_some_and(|l| l.is_live(now));
            if !assembling {
                self.objects.abort_multipart(&upload.key, &upload.upload_id).await?;
                report.aborted += 1;
            }
        }
        Ok(())
    }

    /// Reconciles one page of `originals/` with the records.
    async fn sweep_originals(&self, report: &mut SweepReport) -> Result<(), UploadError> {
        let now = self.now();
        for object in self.page(keys::ORIGINALS_PREFIX, ORIGINALS_CURSOR, report).await? {
            if keys::validate_source_key(&object.key).is_err() {
                continue;
            }
            let record = self.record_of_original(&object.key).await?;
            let unconverted = match &record {
                None => true,
                Some(r) => r.source == crate::record::Source::Event && r.manifest.original.etag != object.etag && r.status().is_terminal(),
            };
            if unconverted {
                if object.modified_ms.is_none_or(|m| m + self.config.orphan_grace_ms <= now) {
                    report.unconverted.push(Unconverted { key: object.key.clone(), etag: object.etag.clone() });
                }
            } else if let Some(r) = record
                && r.needs_drive(now)
            {
                report.redrive.push(r.id().to_string());
            }
        }
        Ok(())
    }

    /// The record that owns the original at `key`, if any.
    async fn record_of_original(&self, key: &str) -> Result<Option<UploadRecord>, UploadError> {
        if let Some(id) = keys::upload_of_original(key)
            && let Some(stored) = state::load(&self.state, id).await?
            && stored.record.manifest.original.key == key
        {
            return Ok(Some(stored.record));
        }
        let id = keys::event_id(&self.config.bucket, key);
        Ok(state::load(&self.state, &id).await?.map(|s| s.record).filter(|r| r.manifest.original.key == key))
    }
}

/// A chunk no record refers to whose PATCH can never commit it: the
/// upload's lock is not (or no longer) held by the attempt that wrote it. A
/// commit needs that very lock, and a lost lock never comes back, so the
/// deletion cannot race a commit, whatever the clocks say.
fn is_orphan_chunk(object: &ObjectInfo, record: &UploadRecord) -> bool {
    if keys::is_marker(&object.key) {
        return false;
    }
    let Some(tus) = &record.tus else { return true };
    let referenced = tus.chunks.iter().any(|c| c.key == object.key);
    let writer_holds_lock = tus.lock.as_ref().is_some_and(|l| Some(l.owner.as_str()) == keys::chunk_owner(&object.key));
    !referenced && !writer_holds_lock
}
