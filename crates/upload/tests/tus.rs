//! The tus state machine through in-memory edges: the happy path, every
//! refusal, locks and their expiry, retries of a finished upload,
//! termination and concatenation. Each bug the upload-trust issue found is
//! pinned here by name.

mod common;

use common::*;
use futures::executor::block_on;
use kiln_upload::keys;
use kiln_upload::manifest::Status;
use kiln_upload::tus::header::{ChecksumAlgorithm, Concat};
use kiln_upload::tus::{Begun, NewUpload};
use kiln_upload::UploadError;

#[test]
fn an_upload_in_chunks_becomes_an_original_and_four_variants() {
    let world = world(1);
    let kiln = kiln(&world);
    let data = png(20, 20, 1);
    let manifest = upload(&kiln, &data, 100);
    assert_eq!(manifest.status, Status::Done, "{manifest:#?}");
    assert_eq!(manifest.attempts, 1);
    assert_eq!(manifest.original.sha256, sha256_hex(&data));
    assert_eq!((manifest.original.width, manifest.original.height), (20, 20));
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
    assert_eq!(manifest.variants.len(), 4);
    // 100-byte chunks are over the 64-byte part minimum: copied server-side.
    assert!(manifest.timings.contains_key("assemble_server_side"), "{:?}", manifest.timings);
    // The manifest is stored next to the variants, the same as the record.
    let stored = world.objects.bytes(&keys::manifest_key(&manifest.original.key)).unwrap();
    assert_eq!(serde_json::from_slice::<kiln_upload::Manifest>(&stored).unwrap(), manifest);
    // Nothing in flight is left: no chunk, no marker, no multipart upload.
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty(), "{:?}", world.objects.keys(""));
    assert!(world.objects.multiparts().is_empty());
}

#[test]
fn small_chunks_are_streamed_into_parts() {
    let world = world(2);
    let kiln = kiln(&world);
    let data = png(20, 20, 2);
    let manifest = upload(&kiln, &data, 16);
    assert_eq!(manifest.status, Status::Done);
    assert!(manifest.timings.contains_key("assemble_streamed"));
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
}

#[test]
fn bug_2_a_retried_last_patch_leaves_a_finished_upload_alone() {
    let world = world(3);
    let kiln = kiln(&world);
    let data = png(12, 12, 3);
    let manifest = upload(&kiln, &data, 100);
    let writes = world.state.writes().len();
    // A client retrying its last request: offset = length, empty body.
    let (offset, work) = patch(&kiln, &manifest.id, data.len(), &[]).unwrap();
    assert_eq!((offset, work.is_none()), (data.len() as u64, true));
    assert_eq!(world.state.writes().len(), writes, "a no-op PATCH wrote state");
    assert_eq!(block_on(kiln.drive(&manifest.id)).unwrap().unwrap(), manifest);
    // With bytes it is refused, and still changes nothing.
    assert!(matches!(patch(&kiln, &manifest.id, data.len(), b"more"), Err(UploadError::TooLarge(_))));
    assert!(matches!(patch(&kiln, &manifest.id, 0, &data[..32]), Err(UploadError::Conflict(_))));
    assert_eq!(block_on(kiln.drive(&manifest.id)).unwrap().unwrap(), manifest);
}

#[test]
fn sizes_are_checked_before_the_transfer() {
    let world = world(4);
    let kiln = kiln(&world);
    let too_big = NewUpload { length: Some(64 * 1024 + 1), ..NewUpload::default() };
    assert!(matches!(block_on(kiln.tus_create(too_big)), Err(UploadError::TooLarge(m)) if m.contains("Tus-Max-Size")));
    let empty = NewUpload { length: Some(0), ..NewUpload::default() };
    assert!(matches!(block_on(kiln.tus_create(empty)), Err(UploadError::BadRequest(_))));
    let deferred = NewUpload { defer_length: true, ..NewUpload::default() };
    assert!(matches!(block_on(kiln.tus_create(deferred)), Err(UploadError::BadRequest(_))));

    let data = png(12, 12, 4);
    let id = create(&kiln, data.len());
    // Below the minimum chunk size, but not the last chunk: refused.
    assert!(matches!(patch(&kiln, &id, 0, &data[..8]), Err(UploadError::BadRequest(m)) if m.contains("at least 16")));
    // Over the request limit, or past Upload-Length: 413 from the declared length.
    let begun = block_on(kiln.tus_begin(&id, 0, Some(5000)));
    assert!(matches!(begun, Err(UploadError::TooLarge(_))));
    assert!(matches!(patch(&kiln, &id, 0, &vec![0; data.len() + 1]), Err(UploadError::TooLarge(_))));
    // The last chunk may be small.
    let (offset, _) = patch(&kiln, &id, 0, &data[..data.len() - 5]).unwrap();
    let (offset, work) = patch(&kiln, &id, offset as usize, &data[data.len() - 5..]).unwrap();
    assert_eq!(offset, data.len() as u64);
    assert_eq!(block_on(kiln.run(work.unwrap())).unwrap().status, Status::Done);
}

#[test]
fn the_first_chunk_is_probed_for_format_and_pixels() {
    let world = world(5);
    let kiln = kiln(&world);
    // 200×200 = 40,000 pixels, over the test limit of 10,000.
    let big = png(200, 200, 5);
    let id = create(&kiln, 30_000);
    assert!(matches!(patch(&kiln, &id, 0, &big[..1000]), Err(UploadError::TooLarge(m)) if m.contains("pixel")));
    let id = create(&kiln, 30_000);
    assert!(matches!(patch(&kiln, &id, 0, &[7u8; 1000]), Err(UploadError::UnsupportedMediaType(_))));
    // Refused chunks leave nothing behind and release the lock.
    assert_eq!(block_on(kiln.tus_head(&id)).unwrap().offset, 0);
    let chunks: Vec<_> = world.objects.keys(&keys::upload_prefix(&id)).into_iter().filter(|k| !keys::is_marker(k)).collect();
    assert!(chunks.is_empty(), "{chunks:?}");
}

#[test]
fn offsets_checksums_and_locks() {
    let world = world(6);
    let kiln = kiln(&world);
    let data = png(12, 12, 6);
    let id = create(&kiln, data.len());
    assert!(matches!(patch(&kiln, &id, 5, &data[..32]), Err(UploadError::Conflict(_))));
    // A wrong checksum: 460, the chunk discarded, the lock released.
    let Begun::Locked(ticket) = block_on(kiln.tus_begin(&id, 0, Some(32))).unwrap() else { panic!() };
    let wrong = Some((ChecksumAlgorithm::Sha256, vec![0u8; 32]));
    assert!(matches!(block_on(kiln.tus_commit(ticket, &data[..32], wrong)), Err(UploadError::ChecksumMismatch(_))));
    assert_eq!(block_on(kiln.tus_head(&id)).unwrap().offset, 0);
    // Two PATCHes at once: the second finds the lock.
    let Begun::Locked(first) = block_on(kiln.tus_begin(&id, 0, Some(32))).unwrap() else { panic!() };
    assert!(matches!(block_on(kiln.tus_begin(&id, 0, Some(32))), Err(UploadError::Locked(_))));
    block_on(kiln.tus_commit(first, &data[..32], None)).unwrap();
    // A duplicate of a PATCH that landed meets the moved offset.
    assert!(matches!(patch(&kiln, &id, 0, &data[..32]), Err(UploadError::Conflict(_))));
    assert_eq!(block_on(kiln.tus_head(&id)).unwrap().offset, 32);
}

#[test]
fn bug_5_a_patch_that_outlived_its_lock_cannot_corrupt_the_original() {
    let world = world(7);
    let kiln = kiln(&world);
    let data = png(12, 12, 7);
    let id = create(&kiln, data.len());
    // A slow PATCH takes the lock and stalls past its expiry...
    let Begun::Locked(slow) = block_on(kiln.tus_begin(&id, 0, Some(40))).unwrap() else { panic!() };
    world.clock.advance(small_config().lock_ms + 1);
    // ...a retry at the same offset takes over and lands other bytes...
    patch(&kiln, &id, 0, &data[..48]).unwrap();
    // ...then the slow one finishes: its commit is refused, its object deleted.
    let late = block_on(kiln.tus_commit(slow, &data[..40], None));
    assert!(matches!(late, Err(UploadError::Conflict(m)) if m.contains("discarded")));
    let chunks: Vec<_> = world.objects.keys(&keys::upload_prefix(&id)).into_iter().filter(|k| !keys::is_marker(k)).collect();
    assert_eq!(chunks.len(), 1, "only the winner's chunk remains: {chunks:?}");
    assert_eq!(world.objects.bytes(&chunks[0]).unwrap(), data[..48]);
    let (_, work) = patch(&kiln, &id, 48, &data[48..]).unwrap();
    let manifest = block_on(kiln.run(work.unwrap())).unwrap();
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data, "the original is intact");
}

#[test]
fn termination_removes_the_chunks_and_refuses_finished_uploads() {
    let world = world(8);
    let kiln = kiln(&world);
    let data = png(12, 12, 8);
    let id = create(&kiln, data.len());
    patch(&kiln, &id, 0, &data[..64]).unwrap();
    block_on(kiln.tus_terminate(&id)).unwrap();
    assert!(world.objects.keys(&keys::upload_prefix(&id)).is_empty());
    assert!(matches!(block_on(kiln.tus_head(&id)), Err(UploadError::NotFound(_))));
    // A finished upload is not terminated (its chunks became the original).
    let manifest = upload(&kiln, &data, 64);
    assert!(matches!(block_on(kiln.tus_terminate(&manifest.id)), Err(UploadError::Conflict(_))));
    // Nor is an upload being assembled.
    let id = create(&kiln, data.len());
    let (_, work) = patch(&kiln, &id, 0, &data).unwrap();
    assert!(matches!(block_on(kiln.tus_terminate(&id)), Err(UploadError::Conflict(_))));
    block_on(kiln.run(work.unwrap())).unwrap();
}

#[test]
fn expired_uploads_are_gone() {
    let world = world(9);
    let kiln = kiln(&world);
    let data = png(12, 12, 9);
    let id = create(&kiln, data.len());
    patch(&kiln, &id, 0, &data[..64]).unwrap();
    world.clock.advance(small_config().expiry_ms);
    assert!(matches!(block_on(kiln.tus_head(&id)), Err(UploadError::Gone(_))));
    assert!(matches!(patch(&kiln, &id, 64, &data[64..]), Err(UploadError::Gone(_))));
}

#[test]
fn concatenation_claims_its_partials_once() {
    let world = world(10);
    let kiln = kiln(&world);
    let data = png(16, 16, 10);
    let half = data.len() / 2;
    let mut parts = Vec::new();
    for piece in [&data[..half], &data[half..]] {
        let new = NewUpload { length: Some(piece.len() as u64), concat: Some(Concat::Partial), ..NewUpload::default() };
        let id = block_on(kiln.tus_create(new)).unwrap().view.id;
        for (i, c) in piece.chunks(40).enumerate() {
            patch(&kiln, &id, i * 40, c).unwrap();
        }
        parts.push(id);
    }
    let final_of = |parts: &[String]| NewUpload { concat: Some(Concat::Final(parts.to_vec())), metadata: metadata("glued.png"), ..NewUpload::default() };
    let created = block_on(kiln.tus_create(final_of(&parts))).unwrap();
    assert_eq!(created.view.offset, data.len() as u64);
    // A partial belongs to one final upload, and is no longer patched or terminated.
    assert!(matches!(block_on(kiln.tus_create(final_of(&parts))), Err(UploadError::Conflict(_))));
    assert!(matches!(block_on(kiln.tus_terminate(&parts[0])), Err(UploadError::Conflict(_))));
    let manifest = block_on(kiln.run(created.work.unwrap())).unwrap();
    assert_eq!(manifest.status, Status::Done);
    assert!(manifest.original.key.ends_with("/glued.png"));
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
    // The sweep retires the partials whose bytes are now in the final original.
    let report = block_on(kiln.sweep()).unwrap();
    assert_eq!(report.reaped.len(), 2, "{report:?}");
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty(), "{:?}", world.objects.keys(keys::UPLOADS_PREFIX));
    // A final upload over Tus-Max-Size is refused, and leaves its partials free.
    let mut big_parts = Vec::new();
    for _ in 0..2 {
        let new = NewUpload { length: Some(40 * 1024), concat: Some(Concat::Partial), ..NewUpload::default() };
        let id = block_on(kiln.tus_create(new)).unwrap().view.id;
        for offset in (0..40 * 1024).step_by(4096) {
            patch(&kiln, &id, offset, &[9u8; 4096]).unwrap();
        }
        big_parts.push(id);
    }
    assert!(matches!(block_on(kiln.tus_create(final_of(&big_parts))), Err(UploadError::TooLarge(_))));
    let first = block_on(kiln.tus_head(&big_parts[0])).unwrap();
    assert_eq!(first.offset, 40 * 1024);
    assert!(matches!(block_on(kiln.tus_terminate(&big_parts[0])), Ok(())), "the partial was left claimed");
    // An unfinished partial cannot be concatenated.
    let new = NewUpload { length: Some(100), concat: Some(Concat::Partial), ..NewUpload::default() };
    let open = block_on(kiln.tus_create(new)).unwrap().view.id;
    assert!(matches!(block_on(kiln.tus_create(final_of(&[open]))), Err(UploadError::BadRequest(_))));
}

#[test]
fn a_declared_digest_that_does_not_match_fails_the_upload_visibly() {
    let world = world(11);
    let kiln = kiln(&world);
    let data = png(12, 12, 11);
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let meta = format!("filename {},sha256 {}", b64("x.png"), b64(&"0".repeat(64)));
    let new = NewUpload { length: Some(data.len() as u64), metadata: meta, ..NewUpload::default() };
    let id = block_on(kiln.tus_create(new)).unwrap().view.id;
    let (_, work) = patch(&kiln, &id, 0, &data).unwrap();
    let manifest = block_on(kiln.run(work.unwrap())).unwrap();
    assert_eq!(manifest.status, Status::Failed);
    assert!(manifest.error.as_deref().unwrap().contains("sha256"), "{manifest:?}");
    assert!(world.objects.multiparts().is_empty(), "the multipart upload was aborted");
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
}
