//! The upload record: the one key-value document per upload
//! (`upload/<id>`), holding its public [`Manifest`] (whose status is the
//! upload's phase), the tus state while bytes arrive, and the lease of the
//! work in progress. Everything that changes an upload is a pure function
//! of the record here or in [`crate::tus`], written back with
//! compare-and-swap by [`crate::state`].
//!
//! Phases: `uploading` (tus only) → `assembling` (tus only) → `converting`
//! → `done` | `partial` | `failed`. Assembling and converting hold a
//! [`Lease`]; a request, event or sweep that finds it expired re-drives the
//! work ([`UploadRecord::claim`]), at most `max_attempts` times.

use crate::config::UploadConfig;
use crate::digest::Sha256State;
use crate::manifest::{Manifest, Status, Variant};
use serde::{Deserialize, Serialize};

/// How the original arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// tus resumable upload on `/v1/uploads`.
    Tus,
    /// One request, `POST /v1/images`.
    OneShot,
    /// An object-storage notification for a key under `originals/`.
    Event,
}

/// A time-bounded claim on an upload by one writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub until_ms: u64,
}

impl Lease {
    pub fn new(owner: &str, now: u64, ms: u64) -> Lease {
        Lease { owner: owner.to_string(), until_ms: now + ms }
    }

    pub fn is_live(&self, now: u64) -> bool {
        self.until_ms > now
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Whole,
    /// tus concatenation: a part of a later final upload.
    Partial,
    /// tus concatenation: these partial uploads, in order.
    Final { parts: Vec<String> },
}

/// One PATCH body, stored as its own object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub offset: u64,
    pub len: u64,
    pub key: String,
}

/// What the first chunk's header said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
}

/// The tus side of an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TusState {
    pub kind: Kind,
    pub length: u64,
    pub offset: u64,
    /// The raw `Upload-Metadata` header, echoed by HEAD.
    pub metadata: String,
    /// Hex SHA-256 the client declared in metadata (`sha256`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_sha256: Option<String>,
    pub expires_ms: u64,
    /// The stored chunks, in offset order, until assembly deletes them.
    pub chunks: Vec<Chunk>,
    /// A PATCH in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lease>,
    /// SHA-256 midstate of the bytes received so far.
    pub sha256: Sha256State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    /// A partial upload already claimed by this final upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_by: Option<String>,
    /// Why the upload is being removed (terminated, expired): it accepts
    /// nothing more while its objects and record are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Retired>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retired {
    /// The client sent DELETE.
    Terminated,
    /// It was not finished before `Upload-Expires`.
    Expired,
}

impl TusState {
    pub fn is_complete(&self) -> bool {
        self.offset == self.length
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// A fresh token on every write, so a writer whose swap reported failure
    /// can tell by reading back whether it applied.
    pub rev: String,
    pub source: Source,
    pub created_ms: u64,
    pub manifest: Manifest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tus: Option<TusState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// The multipart upload of the assembly in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// Why the last attempt stopped short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The scoped upload token that created it (none: the master token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::tokens::Scope>,
}

/// What [`UploadRecord::claim`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller now holds the lease: this is the record to write.
    Acquired(UploadRecord),
    /// Someone else holds a live lease.
    Busy,
    /// Already terminal.
    Finished,
    /// Bytes are still arriving: nothing to drive.
    NotReady,
    /// Out of attempts: this terminal record is to be written.
    GaveUp(UploadRecord),
}

impl UploadRecord {
    /// A record at the start of its life.
    pub fn new(source: Source, manifest: Manifest, now: u64) -> UploadRecord {
        UploadRecord { rev: String::new(), source, created_ms: now, manifest, tus: None, lease: None, multipart: None, last_error: None, grant: None }
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn status(&self) -> Status {
        self.manifest.status
    }

    /// Whether `owner` holds a live lease.
    pub fn leased_by(&self, owner: &str, now: u64) -> bool {
        self.lease.as_ref().is_some_and(|l| l.owner == owner && l.is_live(now))
    }

    /// Whether the work is unfinished and nobody holds it: a request, an
    /// event or the sweep should re-drive it.
    pub fn needs_drive(&self, now: u64) -> bool {
        matches!(self.status(), Status::Assembling | Status::Converting) && !self.lease.as_ref().is_some_and(|l| l.is_live(now))
    }

    /// Takes the lease for `owner` if the work is unfinished and unheld,
    /// counting an attempt; gives up after `max_attempts`.
    /// `formats` are every format an upload gets.
    pub fn claim(&self, owner: &str, now: u64, cfg: &UploadConfig, formats: &[String]) -> Claim {
        let status = self.status();
        if status.is_terminal() {
            return Claim::Finished;
        }
        if status == Status::Uploading {
            return Claim::NotReady;
        }
        if self.lease.as_ref().is_some_and(|l| l.is_live(now) && l.owner != owner) {
            return Claim::Busy;
        }
        if self.manifest.attempts >= cfg.max_attempts {
            return Claim::GaveUp(self.given_up(formats, now));
        }
        let mut next = self.clone();
        next.manifest.attempts += 1;
        next.lease = Some(Lease::new(owner, now, cfg.lease_ms));
        Claim::Acquired(next)
    }

    /// The terminal record after the last attempt: the variants already
    /// made are kept, every missing one failed with the reason.
    fn given_up(&self, formats: &[String], now: u64) -> UploadRecord {
        let why = format!(
            "gave up after {} attempts: {}",
            self.manifest.attempts,
            self.last_error.as_deref().unwrap_or("each attempt stopped before finishing (the instance working on it died)")
        );
        let mut next = self.clone();
        if self.status() == Status::Converting && !self.manifest.variants.is_empty() {
            for format in self.manifest.missing(formats) {
                next.manifest.upsert(Variant::failed(&format, 0.0, why.clone()));
            }
            next.finish(formats, now);
        } else {
            next.fail(why, now);
        }
        next
    }

    /// Makes the record terminal from its variants.
    pub fn finish(&mut self, formats: &[String], now: u64) {
        self.manifest.order_variants(formats);
        self.manifest.status = Manifest::summarize(&self.manifest.variants);
        self.settle(now);
    }

    /// Makes the record terminal as `failed` with `reason`.
    pub fn fail(&mut self, reason: String, now: u64) {
        self.manifest.status = Status::Failed;
        self.manifest.error = Some(reason);
        self.settle(now);
    }

    fn settle(&mut self, now: u64) {
        self.manifest.timings.insert("total".into(), now.saturating_sub(self.created_ms) as f64);
        self.lease = None;
        self.last_error = None;
        if let Some(tus) = &mut self.tus {
            tus.lock = None;
        }
    }

    /// Marks an unfinished tus upload as being removed: `failed` with the
    /// reason, so it accepts nothing while its chunks are deleted (and a
    /// crash in between leaves a terminal record, not a broken one).
    pub fn retire(&mut self, why: Retired, now: u64) {
        let reason = match why {
            Retired::Terminated => "terminated: the client deleted this upload",
            Retired::Expired => "expired: the upload was not finished before Upload-Expires",
        };
        self.fail(reason.into(), now);
        if let Some(tus) = &mut self.tus {
            tus.retired = Some(why);
        }
    }

    /// Gives the lease back after an attempt that stopped on a passing
    /// failure: the work is re-driven after `retry_ms`.
    pub fn release(&mut self, why: String, now: u64, cfg: &UploadConfig) {
        self.last_error = Some(why);
        self.lease = Some(Lease { owner: "retry".into(), until_ms: now + cfg.retry_ms });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::VariantStatus;

    fn formats() -> Vec<String> {
        vec!["webp".into(), "avif".into()]
    }

    fn converting() -> UploadRecord {
        UploadRecord::new(Source::OneShot, Manifest::new("i", Status::Converting, "originals/i/a.jpg"), 1_000)
    }

    #[test]
    fn a_claim_takes_an_unheld_lease_and_counts_the_attempt() {
        let cfg = UploadConfig::default();
        let Claim::Acquired(r) = converting().claim("me", 2_000, &cfg, &formats()) else { panic!() };
        assert_eq!(r.manifest.attempts, 1);
        assert!(r.leased_by("me", 2_000));
        assert_eq!(r.claim("other", 2_001, &cfg, &formats()), Claim::Busy);
        assert!(matches!(r.claim("other", 2_000 + cfg.lease_ms, &cfg, &formats()), Claim::Acquired(_)), "an expired lease is taken over");
    }

    #[test]
    fn after_the_last_attempt_the_upload_fails_keeping_what_was_made() {
        let cfg = UploadConfig { max_attempts: 2, ..UploadConfig::default() };
        let mut r = converting();
        r.manifest.attempts = 2;
        r.manifest.upsert(Variant { status: VariantStatus::Done, ..Variant::failed("webp", 1.0, String::new()) });
        r.last_error = Some("storage_failed: PUT refused".into());
        let Claim::GaveUp(done) = r.claim("me", 5_000, &cfg, &formats()) else { panic!() };
        assert_eq!(done.status(), Status::Partial, "webp made, avif failed");
        assert!(done.manifest.variants[1].error.as_ref().unwrap().contains("storage_failed"));
        let mut bare = converting();
        bare.manifest.attempts = 2;
        let Claim::GaveUp(failed) = bare.claim("me", 5_000, &cfg, &formats()) else { panic!() };
        assert_eq!(failed.status(), Status::Failed);
        assert!(failed.manifest.error.unwrap().contains("gave up after 2 attempts"));
        assert!(failed.lease.is_none());
    }

    #[test]
    fn terminal_and_uploading_records_are_not_driven() {
        let cfg = UploadConfig::default();
        let mut r = converting();
        r.fail("x".into(), 2_000);
        assert_eq!(r.claim("me", 3_000, &cfg, &formats()), Claim::Finished);
        assert!(!r.needs_drive(3_000));
        r.manifest.status = Status::Uploading;
        assert_eq!(r.claim("me", 3_000, &cfg, &formats()), Claim::NotReady);
    }
}
