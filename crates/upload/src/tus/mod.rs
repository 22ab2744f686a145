//! tus 1.0 resumable uploads, as a state machine over the upload record:
//! creation (with concatenation), HEAD, PATCH and termination.
//!
//! A PATCH is three steps, so that the body is only read once the request
//! is known to be acceptable: [`Kiln::tus_begin`] checks the offset and
//! takes the upload's lock (a compare-and-swap that writes a unique owner
//! token), the caller reads the body, and [`Kiln::tus_commit`] stores it as
//! an object whose key is unique to this attempt and appends it to the
//! record with a compare-and-swap that succeeds only while the lock is still
//! ours. A PATCH whose lock expired and was taken over loses its commit and
//! deletes its object; the other writer's bytes are untouched. So the bytes
//! stored always add up to the recorded offset.
//!
//! The commit that completes a whole upload also moves it to `assembling`
//! under a lease: the caller answers the client, then runs [`Kiln::run`].

pub mod header;

use crate::error::UploadError;
use crate::ids;
use crate::keys;
use crate::manifest::{Manifest, Status};
use crate::pipeline::Work;
use crate::ports::ObjectStore;
use crate::record::{Chunk, Header, Kind, Lease, Retired, Source, TusState, UploadRecord};
use crate::state::{self, Change, Stored};
use crate::{Kiln, Platform};
use header::{ChecksumAlgorithm, Concat};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What a client asked for in `POST /v1/uploads`.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    /// `Upload-Length` (absent for a final concatenation).
    pub length: Option<u64>,
    /// `Upload-Defer-Length: 1` was sent (not supported).
    pub defer_length: bool,
    /// The raw `Upload-Metadata` header.
    pub metadata: String,
    pub concat: Option<Concat>,
    /// The scoped upload token creating it, if any.
    pub scope: Option<crate::tokens::Scope>,
}

/// How an upload takes part in concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcatView {
    None,
    Partial,
    Final(Vec<String>),
}

/// What HEAD, and the answers to POST and PATCH, report about an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusView {
    pub id: String,
    pub offset: u64,
    pub length: u64,
    pub expires_ms: u64,
    pub metadata: String,
    pub concat: ConcatView,
}

/// A created upload, and the work to run after answering (a final upload
/// is assembled at once).
pub struct Created {
    pub view: TusView,
    pub work: Option<Work>,
}

/// What [`Kiln::tus_begin`] decided.
#[allow(clippy::large_enum_variant)] // short-lived, moved once
pub enum Begun {
    /// Nothing to receive (an empty body, or a retry of the last PATCH of a
    /// complete upload): answer with this view, change nothing.
    Noop(TusView),
    /// The upload's lock is ours: read the body and commit it.
    Locked(Ticket),
}

/// A PATCH holding the upload's lock.
pub struct Ticket {
    id: String,
    offset: u64,
    owner: String,
    tus: TusState,
    scope: Option<crate::tokens::Scope>,
}

impl Ticket {
    /// How many body bytes this PATCH may carry at most.
    pub fn room(&self, max_request_bytes: u64) -> u64 {
        max_request_bytes.min(self.tus.length - self.offset)
    }
}

/// A stored chunk, and the work to run after answering if it completed the upload.
pub struct Patched {
    pub view: TusView,
    pub work: Option<Work>,
}

impl TusView {
    fn of(id: &str, tus: &TusState) -> TusView {
        let concat = match &tus.kind {
            Kind::Whole => ConcatView::None,
            Kind::Partial => ConcatView::Partial,
            Kind::Final { parts } => ConcatView::Final(parts.clone()),
        };
        TusView { id: id.to_string(), offset: tus.offset, length: tus.length, expires_ms: tus.expires_ms, metadata: tus.metadata.clone(), concat }
    }
}

fn not_found(id: &str) -> UploadError {
    UploadError::NotFound(format!("no resumable upload {id:?}"))
}

fn tus_of(r: &UploadRecord) -> Result<&TusState, UploadError> {
    let tus = r.tus.as_ref().ok_or_else(|| not_found(r.id()))?;
    match tus.retired {
        None => Ok(tus),
        Some(Retired::Terminated) => Err(not_found(r.id())),
        Some(Retired::Expired) => Err(gone(r.id())),
    }
}

/// Whether an upload has expired: unfinished (or a partial never used)
/// past its `Upload-Expires`.
pub(crate) fn is_expired(tus: &TusState, now: u64) -> bool {
    now >= tus.expires_ms && (!tus.is_complete() || tus.kind == Kind::Partial) && tus.consumed_by.is_none()
}

fn gone(id: &str) -> UploadError {
    UploadError::Gone(format!("upload {id} expired before it was complete"))
}

/// The metadata keys kiln reads: `filename` and, optionally, `sha256`.
fn read_metadata(raw: &str) -> Result<(String, Option<String>), UploadError> {
    let metadata = header::parse_metadata(raw)?;
    let filename = ids::safe_filename(metadata.get("filename").map_or("", String::as_str), "upload");
    let sha256 = metadata.get("sha256").filter(|v| !v.is_empty()).cloned();
    if let Some(s) = &sha256
        && (s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(UploadError::BadRequest(format!("metadata sha256 must be 64 hex digits, got {s:?}")));
    }
    Ok((filename, sha256))
}

/// Probes the image header in the first chunk. A chunk too short to hold
/// the whole header defers the check to assembly, unless it is the whole file.
fn probe_first(bytes: &[u8], whole_file: bool, max_pixels: u64) -> Result<Option<Header>, UploadError> {
    match kiln_core::probe::probe(bytes) {
        Ok(info) if info.pixels() > max_pixels => Err(UploadError::TooLarge(format!(
            "{}x{} is {} pixels, over the {max_pixels} pixel limit",
            info.width,
            info.height,
            info.pixels()
        ))),
        Ok(info) => Ok(Some(Header { mime_type: info.format.mime_type().to_string(), width: info.width, height: info.height })),
        Err(kiln_core::KilnError::Unsupported(m)) if whole_file || bytes.len() >= 16 => Err(UploadError::UnsupportedMediaType(m)),
        Err(e) if whole_file => Err(e.into()),
        Err(_) => Ok(None),
    }
}

fn verify_checksum(body: &[u8], checksum: &Option<(ChecksumAlgorithm, Vec<u8>)>) -> Result<(), UploadError> {
    let Some((algorithm, expected)) = checksum else { return Ok(()) };
    let actual = match algorithm {
        ChecksumAlgorithm::Sha1 => Sha1::digest(body).to_vec(),
        ChecksumAlgorithm::Sha256 => Sha256::digest(body).to_vec(),
    };
    if &actual != expected {
        return Err(UploadError::ChecksumMismatch("Upload-Checksum does not match the body; the chunk was discarded".into()));
    }
    Ok(())
}

impl<P: Platform> Kiln<P> {
    /// `POST /v1/uploads`: creation and concatenation.
    pub async fn tus_create(&self, new: NewUpload) -> Result<Created, UploadError> {
        if new.defer_length {
            return Err(UploadError::BadRequest("Upload-Defer-Length is not supported: send Upload-Length".into()));
        }
        let (filename, declared_sha256) = read_metadata(&new.metadata)?;
        let now = self.now();
        let id = ids::new_id();
        let (kind, length, chunks) = match new.concat.clone() {
            Some(Concat::Final(parts)) => self.final_parts(&id, &parts, now).await?,
            concat => {
                let length = new.length.ok_or_else(|| UploadError::BadRequest("Upload-Length (a whole number) is required".into()))?;
                let kind = if concat == Some(Concat::Partial) { Kind::Partial } else { Kind::Whole };
                (kind, length, Vec::new())
            }
        };
        if let Err(e) = self.check_length(length) {
            if let Kind::Final { parts } = &kind {
                for part in parts {
                    self.release_part(&id, part).await;
                }
            }
            return Err(e);
        }
        let key = keys::original_key(&id, &filename);
        let is_final = matches!(kind, Kind::Final { .. });
        let tus = TusState {
            kind,
            length,
            offset: if is_final { length } else { 0 },
            metadata: new.metadata,
            declared_sha256,
            expires_ms: now + self.config.expiry_ms,
            chunks,
            lock: None,
            sha256: Default::default(),
            header: None,
            consumed_by: None,
            retired: None,
        };
        let status = if is_final { Status::Assembling } else { Status::Uploading };
        let mut record = UploadRecord::new(Source::Tus, Manifest::new(&id, status, &key), now);
        record.tus = Some(tus);
        record.grant = new.scope;
        let owner = ids::nonce();
        if is_final {
            record.manifest.attempts = 1;
            record.lease = Some(Lease::new(&owner, now, self.config.lease_ms));
        }
        let created = self.create_upload_record(record).await?;
        let view = TusView::of(&id, tus_of(&created.record)?);
        let work = is_final.then(|| Work::claimed(&id, &owner, created));
        Ok(Created { view, work })
    }

    fn check_length(&self, length: u64) -> Result<(), UploadError> {
        if length == 0 {
            return Err(UploadError::BadRequest("Upload-Length is 0: an empty file is not an image".into()));
        }
        if length > self.config.max_upload_bytes {
            return Err(UploadError::TooLarge(format!(
                "Upload-Length {length} is over Tus-Max-Size {}, the largest image kiln converts",
                self.config.max_upload_bytes
            )));
        }
        Ok(())
    }

    /// Claims the partial uploads of a final upload `id`, in order; returns
    /// its kind, length and chunks. On any refusal the claims are released.
    async fn final_parts(&self, id: &str, parts: &[String], now: u64) -> Result<(Kind, u64, Vec<Chunk>), UploadError> {
        let mut chunks = Vec::new();
        let mut claimed = Vec::new();
        let mut length = 0;
        for part in parts {
            match self.claim_part(id, part, now).await {
                Ok(tus) => {
                    claimed.push(part.clone());
                    chunks.extend(tus.chunks.iter().map(|c| Chunk { offset: length + c.offset, ..c.clone() }));
                    length += tus.length;
                }
                Err(e) => {
                    for done in &claimed {
                        self.release_part(id, done).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok((Kind::Final { parts: parts.to_vec() }, length, chunks))
    }

    async fn claim_part(&self, id: &str, part: &str, now: u64) -> Result<TusState, UploadError> {
        let bad = |why: String| UploadError::BadRequest(format!("partial upload {part}: {why}"));
        let claimed = state::update(&self.state, part, |r| {
            let tus = r.tus.as_ref().ok_or_else(|| bad("is not a resumable upload".into()))?;
            if tus.kind != Kind::Partial {
                return Err(bad("was not created with Upload-Concat: partial".into()));
            }
            match &tus.consumed_by {
                Some(owner) if owner == id => return Ok(Change::Keep(tus.clone())),
                Some(owner) => return Err(UploadError::Conflict(format!("partial upload {part} is already part of final upload {owner}"))),
                None => {}
            }
            if is_expired(tus, now) {
                return Err(gone(part));
            }
            if !tus.is_complete() || tus.lock.as_ref().is_some_and(|l| l.is_live(now)) {
                return Err(bad(format!("is not finished ({} of {} bytes)", tus.offset, tus.length)));
            }
            let mut next = r.clone();
            next.tus.as_mut().expect("checked").consumed_by = Some(id.to_string());
            Ok(Change::Write(next, tus.clone()))
        })
        .await?;
        claimed.map(|(_, tus)| tus).ok_or_else(|| bad("does not exist".into()))
    }

    async fn release_part(&self, id: &str, part: &str) {
        let released = state::update(&self.state, part, |r| {
            let mut next = r.clone();
            match next.tus.as_mut() {
                Some(tus) if tus.consumed_by.as_deref() == Some(id) => {
                    tus.consumed_by = None;
                    Ok::<_, UploadError>(Change::Write(next, ()))
                }
                _ => Ok(Change::Keep(())),
            }
        })
        .await;
        if let Err(e) = released {
            eprintln!("kiln tus: releasing partial {part} from {id}: {e}");
        }
    }

    /// `HEAD /v1/uploads/<id>`.
    pub async fn tus_head(&self, id: &str) -> Result<TusView, UploadError> {
        let stored = state::load(&self.state, id).await?.ok_or_else(|| not_found(id))?;
        let tus = tus_of(&stored.record)?;
        if is_expired(tus, self.now()) {
            return Err(gone(id));
        }
        Ok(TusView::of(id, tus))
    }

    /// The first step of a PATCH at `offset` whose `Content-Length` is
    /// `declared` (if sent): checks it against the upload and takes the lock.
    pub async fn tus_begin(&self, id: &str, offset: u64, declared: Option<u64>) -> Result<Begun, UploadError> {
        let now = self.now();
        let owner = ids::nonce();
        let decided = state::update(&self.state, id, |r| self.decide_begin(r, offset, declared, &owner, now)).await?;
        let (stored, begun) = decided.ok_or_else(|| not_found(id))?;
        Ok(match begun {
            Decision::Noop => Begun::Noop(TusView::of(id, tus_of(&stored.record)?)),
            Decision::Lock => {
                let tus = tus_of(&stored.record)?.clone();
                Begun::Locked(Ticket { id: id.to_string(), offset, owner, tus, scope: stored.record.grant.clone() })
            }
        })
    }

    fn decide_begin(&self, r: &UploadRecord, offset: u64, declared: Option<u64>, owner: &str, now: u64) -> Result<Change<Decision>, UploadError> {
        let id = r.id();
        let tus = tus_of(r)?;
        if tus.lock.as_ref().is_some_and(|l| l.owner == owner) {
            return Ok(Change::Keep(Decision::Lock)); // our own write, read back
        }
        if matches!(tus.kind, Kind::Final { .. }) {
            return Err(UploadError::Forbidden("a final (concatenated) upload cannot be patched".into()));
        }
        if let Some(final_id) = &tus.consumed_by {
            return Err(UploadError::Forbidden(format!("partial upload {id} is part of final upload {final_id}")));
        }
        if tus.is_complete() {
            // A client retrying its last PATCH: no side effects.
            return match (offset == tus.length, declared.unwrap_or(0)) {
                (true, 0) => Ok(Change::Keep(Decision::Noop)),
                (true, n) => Err(UploadError::TooLarge(format!("the upload is complete; {n} more bytes would go past Upload-Length {}", tus.length))),
                (false, _) => Err(UploadError::Conflict(format!("Upload-Offset is {offset} but the upload is complete at {}", tus.length))),
            };
        }
        if is_expired(tus, now) {
            return Err(gone(id));
        }
        if tus.offset != offset {
            return Err(UploadError::Conflict(format!("Upload-Offset is {offset} but the upload is at {}", tus.offset)));
        }
        if let Some(n) = declared {
            self.check_body(tus, offset, n)?;
            if n == 0 {
                return Ok(Change::Keep(Decision::Noop));
            }
        }
        if tus.lock.as_ref().is_some_and(|l| l.is_live(now)) {
            return Err(UploadError::Locked(format!("upload {id} is receiving another PATCH; retry shortly")));
        }
        let mut next = r.clone();
        next.tus.as_mut().expect("checked").lock = Some(Lease::new(owner, now, self.config.lock_ms));
        Ok(Change::Write(next, Decision::Lock))
    }

    /// Size rules for a body of `n` bytes at `offset`.
    fn check_body(&self, tus: &TusState, offset: u64, n: u64) -> Result<(), UploadError> {
        let max = self.config.max_request_bytes;
        if n > max {
            return Err(UploadError::TooLarge(format!("a PATCH body is at most {max} bytes, got {n}; send smaller chunks")));
        }
        if offset + n > tus.length {
            return Err(UploadError::TooLarge(format!("the body would go past Upload-Length {}", tus.length)));
        }
        let min = self.config.min_chunk_bytes;
        if n > 0 && n < min && offset + n < tus.length {
            return Err(UploadError::BadRequest(format!(
                "a PATCH body must be at least {min} bytes unless it is the last one; got {n} (set a larger chunk size)"
            )));
        }
        Ok(())
    }

    /// The second step of a PATCH: the body has been read (the caller capped
    /// it at [`Ticket::room`]). Stores it and advances the offset.
    pub async fn tus_commit(&self, ticket: Ticket, body: &[u8], checksum: Option<(ChecksumAlgorithm, Vec<u8>)>) -> Result<Patched, UploadError> {
        let checked = self.check_chunk(&ticket, body, &checksum);
        let header = match checked {
            Ok(header) => header,
            Err(e) => {
                self.tus_abort(ticket).await;
                return Err(e);
            }
        };
        if body.is_empty() {
            let view = TusView::of(&ticket.id, &ticket.tus);
            self.tus_abort(ticket).await;
            return Ok(Patched { view, work: None });
        }
        let key = keys::chunk_key(&ticket.id, ticket.offset, &ticket.owner);
        if let Err(e) = self.objects.put(&key, body, "application/octet-stream").await {
            self.tus_abort(ticket).await;
            return Err(e.into());
        }
        let mut sha256 = ticket.tus.sha256.clone();
        sha256.update(body);
        let chunk = Chunk { offset: ticket.offset, len: body.len() as u64, key: key.clone() };
        let committed = state::update(&self.state, &ticket.id, |r| self.decide_commit(r, &ticket, &chunk, &sha256, &header, self.now())).await;
        match committed {
            Ok(Some((stored, ()))) => Ok(self.patched(stored, &ticket.owner)),
            Ok(None) => {
                self.forget_chunk(&key).await;
                Err(not_found(&ticket.id))
            }
            Err(e) => {
                self.forget_chunk(&key).await;
                if !matches!(e, UploadError::Conflict(_)) {
                    self.tus_abort(ticket).await;
                }
                Err(e)
            }
        }
    }

    fn check_chunk(&self, ticket: &Ticket, body: &[u8], checksum: &Option<(ChecksumAlgorithm, Vec<u8>)>) -> Result<Option<Header>, UploadError> {
        self.check_body(&ticket.tus, ticket.offset, body.len() as u64)?;
        verify_checksum(body, checksum)?;
        // Partial uploads are probed when concatenated: only the first holds a header.
        if ticket.offset == 0 && !body.is_empty() && ticket.tus.kind == Kind::Whole {
            let whole = body.len() as u64 == ticket.tus.length;
            let header = probe_first(body, whole, self.config.max_pixels)?;
            if let (Some(scope), Some(h)) = (&ticket.scope, &header) {
                scope.check_mime(&h.mime_type)?;
            }
            return Ok(header);
        }
        Ok(None)
    }

    fn decide_commit(&self, r: &UploadRecord, ticket: &Ticket, chunk: &Chunk, sha256: &crate::digest::Sha256State, header: &Option<Header>, now: u64) -> Result<Change<()>, UploadError> {
        let tus = tus_of(r)?;
        if tus.chunks.iter().any(|c| c.key == chunk.key) || r.lease.as_ref().is_some_and(|l| l.owner == ticket.owner) {
            return Ok(Change::Keep(())); // our own write, read back
        }
        // Only while the lock is live: a chunk older than the lock is the
        // sweep's to delete, so it must never be committed.
        if tus.lock.as_ref().is_none_or(|l| l.owner != ticket.owner || !l.is_live(now)) || tus.offset != ticket.offset {
            return Err(UploadError::Conflict(format!(
                "this PATCH took longer than the upload's lock allows ({} ms) and another request may have taken upload {} over; \
                 the chunk was discarded: HEAD and resume",
                self.config.lock_ms,
                r.id()
            )));
        }
        let mut next = r.clone();
        let t = next.tus.as_mut().expect("checked");
        t.chunks.push(chunk.clone());
        t.offset += chunk.len;
        t.sha256 = sha256.clone();
        if header.is_some() {
            t.header = header.clone();
        }
        t.lock = None;
        if t.is_complete() && t.kind == Kind::Whole {
            next.manifest.status = Status::Assembling;
            next.manifest.attempts = 1;
            next.lease = Some(Lease::new(&ticket.owner, now, self.config.lease_ms));
        }
        Ok(Change::Write(next, ()))
    }

    fn patched(&self, stored: Stored, owner: &str) -> Patched {
        let id = stored.record.id().to_string();
        let view = TusView::of(&id, stored.record.tus.as_ref().expect("a tus record"));
        let work = (stored.record.status() == Status::Assembling).then(|| Work::claimed(&id, owner, stored));
        Patched { view, work }
    }

    async fn forget_chunk(&self, key: &str) {
        if let Err(e) = self.objects.delete(key).await {
            eprintln!("kiln tus: leaving unused chunk {key} for the sweep: {e}");
        }
    }

    /// Releases a PATCH's lock (the body was refused or could not be read).
    pub async fn tus_abort(&self, ticket: Ticket) {
        let released = state::update(&self.state, &ticket.id, |r| {
            let mut next = r.clone();
            match next.tus.as_mut() {
                Some(tus) if tus.lock.as_ref().is_some_and(|l| l.owner == ticket.owner) => {
                    tus.lock = None;
                    Ok::<_, UploadError>(Change::Write(next, ()))
                }
                _ => Ok(Change::Keep(())),
            }
        })
        .await;
        if let Err(e) = released {
            eprintln!("kiln tus: releasing the lock of {}: {e} (it expires by itself)", ticket.id);
        }
    }

    /// `DELETE /v1/uploads/<id>`: termination of an unfinished upload. Its
    /// chunks and record are deleted; later requests get 404.
    pub async fn tus_terminate(&self, id: &str) -> Result<(), UploadError> {
        let now = self.now();
        let decided = state::update(&self.state, id, |r| {
            if r.tus.as_ref().is_some_and(|t| t.retired == Some(Retired::Terminated)) {
                return Ok(Change::Keep(())); // terminated already (a retry, or our own write read back)
            }
            let tus = tus_of(r)?;
            if let Some(final_id) = &tus.consumed_by {
                return Err(UploadError::Conflict(format!("upload {id} is part of final upload {final_id}")));
            }
            if r.status() != Status::Uploading {
                return Err(UploadError::Conflict(format!("upload {id} is complete ({:?}): only unfinished uploads can be terminated", r.status())));
            }
            if tus.lock.as_ref().is_some_and(|l| l.is_live(now)) {
                return Err(UploadError::Locked(format!("upload {id} is receiving a PATCH")));
            }
            let mut next = r.clone();
            next.retire(Retired::Terminated, now);
            Ok(Change::Write(next, ()))
        })
        .await?;
        let (stored, ()) = decided.ok_or_else(|| not_found(id))?;
        self.remove_retired(&stored.record).await
    }

    /// Deletes a retired upload's chunks, marker and record (a crash half
    /// way leaves a retired record, which the sweep removes).
    pub(crate) async fn remove_retired(&self, record: &UploadRecord) -> Result<(), UploadError> {
        let chunks = record.tus.as_ref().map(|t| t.chunks.as_slice()).unwrap_or(&[]);
        self.delete_upload_objects(chunks, record.id()).await?;
        state::remove(&self.state, record.id()).await?;
        Ok(())
    }

    /// Deletes `chunks` and the marker of upload `id`.
    pub(crate) async fn delete_upload_objects(&self, chunks: &[Chunk], id: &str) -> Result<(), UploadError> {
        for chunk in chunks {
            self.objects.delete(&chunk.key).await?;
        }
        self.objects.delete(&keys::marker_key(id)).await?;
        Ok(())
    }
}

enum Decision {
    Noop,
    Lock,
}
