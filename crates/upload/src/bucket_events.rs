//! The object-storage event trigger: a notification (S3, MinIO, Tigris, R2;
//! parsed by [`crate::events`]) for keys under `originals/` in kiln's bucket.
//!
//! [`Kiln::accept_events`] does everything that must not be lost before the
//! notifier gets its 202 (the event is checked against the real object and
//! recorded with a lease); the caller answers, then runs each [`Work`].
//! If the store or the state is down it fails instead, so the notifier
//! delivers again.
//!
//! - An event for kiln's own original (`originals/<id>/<file>` whose record
//!   names that key) only re-drives that upload if its work stalled.
//! - Any other key is its own upload, id `sha256(bucket/key)`. The event
//!   must match the object (HEAD, same ETag) before it touches a record: a
//!   stale or forged event changes nothing. The same ETag again is a
//!   re-delivery (skipped unless the work stalled); a new ETag is a new
//!   version of the original and starts a new manifest.
//! - Events for other buckets, other prefixes (kiln's own `variants/`) and
//!   anything but object creation are ignored, so there is no recursion.

use crate::error::UploadError;
use crate::events::{self, ObjectEvent};
use crate::ids;
use crate::keys;
use crate::manifest::{Manifest, Status};
use crate::pipeline::{Claimed, Work};
use crate::record::{Lease, Source, UploadRecord};
use crate::ports::ObjectStore;
use crate::state;
use crate::{Kiln, Platform};

/// What a notification asked for.
pub struct Accepted {
    /// Keys that will be converted (or were already handled).
    pub keys: Vec<String>,
    /// Events ignored (other buckets, prefixes, kinds).
    pub ignored: usize,
    /// The conversions to run after answering.
    pub work: Vec<Work>,
}

impl<P: Platform> Kiln<P> {
    /// Parses a notification and records the conversions it asks for.
    pub async fn accept_events(&self, body: &[u8]) -> Result<Accepted, UploadError> {
        let parsed = events::parse(body)?;
        let total = parsed.len();
        let wanted: Vec<ObjectEvent> = parsed
            .into_iter()
            .filter(|e| e.created && e.bucket == self.config.bucket && keys::validate_source_key(&e.key).is_ok())
            .collect();
        let mut work = Vec::new();
        for event in &wanted {
            if let Some(w) = self.adopt(event).await? {
                work.push(w);
            }
        }
        Ok(Accepted { keys: wanted.iter().map(|e| e.key.clone()).collect(), ignored: total - wanted.len(), work })
    }

    /// The work one event asks for, if any.
    pub(crate) async fn adopt(&self, event: &ObjectEvent) -> Result<Option<Work>, UploadError> {
        if let Some(id) = keys::upload_of_original(&event.key)
            && let Some(stored) = state::load(&self.state, id).await?
            && stored.record.manifest.original.key == event.key
        {
            // kiln's own original: its upload is driven by whoever stored it.
            return self.claimed_work(id).await;
        }
        let Some(object) = self.objects.head(&event.key).await? else {
            eprintln!("kiln events: {} no longer exists; event skipped", event.key);
            return Ok(None);
        };
        if event.etag.is_some() && object.etag != event.etag {
            eprintln!("kiln events: {} has changed since this event (ETag {:?}, now {:?}); skipped", event.key, event.etag, object.etag);
            return Ok(None);
        }
        let id = keys::event_id(&event.bucket, &event.key);
        let existing = state::load(&self.state, &id).await?;
        if let Some(stored) = &existing
            && stored.record.manifest.original.etag == object.etag
        {
            return self.claimed_work(&id).await;
        }
        // A new original, or a new version of one: a fresh manifest.
        let owner = ids::nonce();
        let now = self.now();
        let mut record = UploadRecord::new(Source::Event, Manifest::new(&id, Status::Converting, &event.key), now);
        record.manifest.original.etag = object.etag.clone();
        record.manifest.original.size = object.size;
        record.manifest.attempts = 1;
        record.lease = Some(Lease::new(&owner, now, self.config.lease_ms));
        self.objects.put(&keys::marker_key(&id), id.as_bytes(), "text/plain").await?;
        let stored = match &existing {
            None => Some(state::create(&self.state, record).await?),
            Some(current) => state::replace(&self.state, current, record).await?,
        };
        Ok(stored.map(|s| Work::claimed(&id, &owner, s)))
    }

    async fn claimed_work(&self, id: &str) -> Result<Option<Work>, UploadError> {
        Ok(match self.claim(id).await? {
            Claimed::Work(work) => Some(work),
            Claimed::Not(_) => None,
        })
    }
}
