//! The HTTP trigger per upload: a whole image in one request (at most
//! `max_request_bytes`, hosted Spin's 10 MiB). The record is written before
//! the original, so the store's event for the original finds the upload in
//! progress and leaves it alone; then the same [`Kiln::run`] as every other
//! trigger makes the variants and the manifest.

use crate::error::UploadError;
use crate::ids;
use crate::keys;
use crate::manifest::{Manifest, Status};
use crate::pipeline::Work;
use crate::record::{Lease, Source, UploadRecord};
use crate::ports::ObjectStore;
use crate::state;
use crate::tokens::Scope;
use crate::{Kiln, Platform};
use sha2::{Digest, Sha256};
use std::time::Instant;

impl<P: Platform> Kiln<P> {
    /// `POST /v1/images`: checks the image, stores it as
    /// `originals/<id>/<filename>` and converts it. The manifest returned is
    /// terminal, unless an attempt stopped on a passing failure (then it is
    /// still `converting` and will be finished by a later drive).
    /// `scope`: the scoped upload token sending it, whose formats are
    /// enforced and which the record remembers.
    pub async fn post_image(&self, filename: Option<&str>, bytes: Vec<u8>, scope: Option<Scope>) -> Result<Manifest, UploadError> {
        let started = Instant::now();
        if bytes.len() as u64 > self.config.max_upload_bytes {
            return Err(UploadError::TooLarge(format!("the image is {} bytes, over the {}-byte limit", bytes.len(), self.config.max_upload_bytes)));
        }
        let info = kiln_core::probe::probe(&bytes)?;
        if info.pixels() > self.config.max_pixels {
            return Err(UploadError::TooLarge(format!("{}x{} is over the {} pixel limit", info.width, info.height, self.config.max_pixels)));
        }
        let mime = info.format.mime_type();
        if let Some(scope) = &scope {
            scope.check_mime(mime)?;
        }
        let fallback = format!("image.{}", mime.trim_start_matches("image/").replace("jpeg", "jpg"));
        let id = ids::new_id();
        let key = keys::original_key(&id, &ids::safe_filename(filename.unwrap_or_default(), &fallback));
        let owner = ids::nonce();
        let now = self.now();
        let mut record = UploadRecord::new(Source::OneShot, Manifest::new(&id, Status::Converting, &key), now);
        let original = &mut record.manifest.original;
        (original.size, original.width, original.height) = (bytes.len() as u64, info.width, info.height);
        original.sha256 = ids::hex(&Sha256::digest(&bytes));
        original.mime_type = mime.to_string();
        record.manifest.attempts = 1;
        record.lease = Some(Lease::new(&owner, now, self.config.lease_ms));
        record.grant = scope;

        let stored = self.create_upload_record(record).await?;
        let put = self.objects.put(&key, &bytes, mime).await;
        drop(bytes);
        let etag = match put {
            Ok(etag) => etag,
            Err(e) => {
                // The bytes leave with this request: the upload cannot be retried.
                let mut failed = stored.record.clone();
                failed.fail(format!("storage_failed: storing the original: {e}"), self.now());
                let work = Work::claimed(&id, &owner, stored);
                let _ = self.finish_now(work, failed).await;
                return Err(e.into());
            }
        };
        let store_original = started.elapsed().as_secs_f64() * 1000.0;
        let stored = state::update(&self.state, &id, |r| {
            let mut next = r.clone();
            if r.lease.as_ref().is_none_or(|l| l.owner != owner) {
                return Ok::<_, UploadError>(state::Change::Keep(()));
            }
            next.manifest.original.etag = etag.clone();
            next.manifest.timings.insert("store_original".into(), store_original);
            Ok(state::Change::Write(next, ()))
        })
        .await?
        .map(|(s, ())| s)
        .ok_or_else(|| UploadError::NotFound(format!("upload {id} disappeared")))?;
        self.run(Work::claimed(&id, &owner, stored)).await
    }
}
