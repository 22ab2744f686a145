//! Recovery through in-memory edges: work cut short at every stage is
//! re-driven under a lease (by a request, an event or the sweep), storage
//! outages and lost responses are retried, attempts run out into a visible
//! failure, and the sweep leaves nothing behind. Also the event trigger's
//! rules and the state store's quirks (Spin's Redis and SQLite stores).

mod common;

use common::*;
use futures::executor::block_on;
use kiln_upload::keys;
use kiln_upload::manifest::{Status, VariantStatus};
use kiln_upload::memory::{Fault, StateQuirks, StoreFaults};
use kiln_upload::UploadError;

fn s3_event(key: &str, etag: Option<&str>) -> Vec<u8> {
    let etag = etag.map_or(serde_json::Value::Null, |e| e.into());
    serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "kiln"}, "object": {"key": key, "size": 1, "eTag": etag}}}]})
    .to_string()
    .into_bytes()
}

#[test]
fn bug_1_an_upload_whose_worker_died_after_the_last_patch_is_re_driven() {
    let world = world(20);
    let kiln = kiln(&world);
    let data = png(12, 12, 20);
    let id = create(&kiln, data.len());
    let (_, work) = patch(&kiln, &id, 0, &data).unwrap();
    drop(work); // the instance died right after answering the last PATCH
    // While the lease is live, nobody else starts the work.
    assert_eq!(block_on(kiln.drive(&id)).unwrap().unwrap().status, Status::Assembling);
    world.clock.advance(small_config().lease_ms);
    let manifest = block_on(kiln.drive(&id)).unwrap().unwrap();
    assert_eq!(manifest.status, Status::Done, "{manifest:#?}");
    assert_eq!(manifest.attempts, 2);
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
}

#[test]
fn a_conversion_cut_short_redoes_only_the_missing_variants() {
    let world = world(21);
    let kiln = kiln(&world);
    let data = png(12, 12, 21);
    // The thumbnail's converter is unreachable on the first attempt.
    world.converters.unreachable.set(0.0);
    world.converters.refusing.borrow_mut().clear();
    let id = create(&kiln, data.len());
    let (_, work) = patch(&kiln, &id, 0, &data).unwrap();
    world.converters.unreachable.set(1.0);
    let stopped = block_on(kiln.run(work.unwrap())).unwrap();
    assert_eq!(stopped.status, Status::Converting, "a passing failure leaves the upload to a later attempt");
    assert!(stopped.variants.is_empty());
    world.converters.unreachable.set(0.0);
    // Not before the retry delay...
    assert_eq!(block_on(kiln.drive(&id)).unwrap().unwrap().status, Status::Converting);
    world.clock.advance(small_config().retry_ms);
    let done = block_on(kiln.drive(&id)).unwrap().unwrap();
    assert_eq!(done.status, Status::Done);
    assert_eq!(done.attempts, 2);
}

#[test]
fn attempts_run_out_into_a_failure_with_the_reason() {
    let world = world(22);
    let kiln = kiln(&world);
    world.converters.unreachable.set(1.0);
    let manifest = block_on(kiln.post_image(Some("a.png"), png(12, 12, 22), None)).unwrap();
    assert_eq!(manifest.status, Status::Converting);
    for _ in 0..small_config().max_attempts {
        world.clock.advance(small_config().lease_ms);
        block_on(kiln.drive(&manifest.id)).unwrap();
    }
    let failed = block_on(kiln.drive(&manifest.id)).unwrap().unwrap();
    assert_eq!(failed.status, Status::Failed, "{failed:#?}");
    assert!(failed.error.as_deref().unwrap().contains("gave up after 3 attempts: variants not made yet"), "{failed:?}");
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
}

#[test]
fn a_lost_complete_response_is_recognised() {
    let world = world(23);
    let kiln = kiln(&world);
    let data = png(12, 12, 23);
    world.objects.script("CompleteMultipartUpload", Fault::Lose);
    let manifest = upload(&kiln, &data, 100);
    assert_eq!(manifest.status, Status::Done, "{manifest:#?}");
    assert_eq!(manifest.attempts, 1, "no second attempt was needed");
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
}

#[test]
fn a_storage_outage_during_assembly_is_retried_not_fatal() {
    let world = world(24);
    let kiln = kiln(&world);
    let data = png(12, 12, 24);
    let id = create(&kiln, data.len());
    let (_, work) = patch(&kiln, &id, 0, &data).unwrap();
    world.objects.script("UploadPartCopy", Fault::Fail);
    let stopped = block_on(kiln.run(work.unwrap())).unwrap();
    assert_eq!(stopped.status, Status::Assembling);
    world.clock.advance(small_config().retry_ms);
    let manifest = block_on(kiln.drive(&id)).unwrap().unwrap();
    assert_eq!(manifest.status, Status::Done);
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
    assert!(world.objects.multiparts().is_empty(), "the first attempt's multipart upload was aborted");
}

#[test]
fn a_one_shot_upload_interrupted_before_its_original_was_stored_fails_visibly() {
    let world = world(25);
    let kiln = kiln(&world);
    world.objects.script("PUT originals/", Fault::Fail);
    let refused = block_on(kiln.post_image(Some("a.png"), png(12, 12, 25), None));
    assert!(matches!(refused, Err(UploadError::Storage(_))));
    // Its record is terminal at once, with the reason.
    let ids: Vec<String> = world.state.keys().into_iter().filter_map(|k| k.strip_prefix("upload/").map(String::from)).collect();
    let manifest = block_on(kiln.drive(&ids[0])).unwrap().unwrap();
    assert_eq!(manifest.status, Status::Failed);
    assert!(manifest.error.unwrap().contains("storing the original"));
}

#[test]
fn the_sweep_reaps_expired_uploads_orphans_and_abandoned_multiparts() {
    let world = world(26);
    let kiln = kiln(&world);
    let data = png(12, 12, 26);
    // An expired, unfinished upload with a chunk.
    let expired = create(&kiln, data.len());
    patch(&kiln, &expired, 0, &data[..64]).unwrap();
    // A chunk no record refers to (a PATCH whose commit never happened).
    let live = create(&kiln, data.len());
    let orphan = keys::chunk_key(&live, 0, "deadbeef");
    world.objects.insert(&orphan, b"lost");
    // A multipart upload of a finished upload's original, leaked by a crash.
    let done = upload(&kiln, &data, 100);
    block_on(kiln_upload::ObjectStore::create_multipart(&world.objects, &done.original.key, "x")).unwrap();
    // After a lock's time: the orphan and the leaked multipart go, the live upload stays.
    world.clock.advance(small_config().lock_ms);
    let report = block_on(kiln.sweep()).unwrap();
    assert!(report.reaped.is_empty(), "{report:?}");
    assert_eq!(report.aborted, 1);
    assert!(world.objects.multiparts().is_empty());
    assert!(world.objects.bytes(&orphan).is_none(), "the orphan chunk is deleted");
    assert_eq!(block_on(kiln.tus_head(&live)).unwrap().offset, 0);
    // After expiry: both unfinished uploads are reaped, chunks, markers and records.
    world.clock.advance(small_config().expiry_ms);
    let mut report = block_on(kiln.sweep()).unwrap();
    report.reaped.sort();
    let mut both = vec![expired.clone(), live.clone()];
    both.sort();
    assert_eq!(report.reaped, both, "{report:?}");
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty(), "{:?}", world.objects.keys(keys::UPLOADS_PREFIX));
    assert!(matches!(block_on(kiln.tus_head(&expired)), Err(UploadError::NotFound(_))));
    // The finished upload is untouched.
    assert_eq!(block_on(kiln.drive(&done.id)).unwrap().unwrap(), done);
}

#[test]
fn the_sweep_converts_originals_whose_event_was_lost_and_re_drives_stalled_ones() {
    let world = world(27);
    let kiln = kiln(&world);
    let key = "originals/trip/lost.png";
    world.objects.insert(key, &png(12, 12, 27));
    // Too fresh: its event may still be on its way.
    assert!(block_on(kiln.sweep()).unwrap().unconverted.is_empty());
    world.clock.advance(small_config().orphan_grace_ms);
    let report = block_on(kiln.sweep()).unwrap();
    assert_eq!(report.unconverted.len(), 1, "{report:?}");
    let work = block_on(kiln.convert_unconverted(&report.unconverted[0])).unwrap().unwrap();
    let manifest = block_on(kiln.run(work)).unwrap();
    assert_eq!(manifest.status, Status::Done);
    assert_eq!(manifest.id, keys::event_id("kiln", key));

    // A conversion whose worker died is listed for re-driving once its lease expires.
    let stalled = block_on(kiln.post_image(Some("b.png"), png(12, 12, 28), None));
    let stalled = stalled.unwrap();
    assert_eq!(stalled.status, Status::Done);
    let data = png(12, 12, 29);
    let id = create(&kiln, data.len());
    drop(patch(&kiln, &id, 0, &data).unwrap().1);
    assert!(block_on(kiln.sweep()).unwrap().redrive.is_empty(), "the lease is live");
    world.clock.advance(small_config().lease_ms);
    let report = block_on(kiln.sweep()).unwrap();
    assert_eq!(report.redrive, vec![id.clone()]);
    assert_eq!(block_on(kiln.drive(&id)).unwrap().unwrap().status, Status::Done);
}

#[test]
fn bug_3_two_originals_differing_only_in_extension_keep_their_own_variants() {
    let world = world(30);
    let kiln = kiln(&world);
    let (jpg, png_key) = ("originals/x/p.jpg", "originals/x/p.png");
    for (key, seed) in [(jpg, 1), (png_key, 2)] {
        let etag = world.objects.insert(key, &png(12, 12, seed));
        let accepted = block_on(kiln.accept_events(&s3_event(key, Some(&etag)))).unwrap();
        for work in accepted.work {
            assert_eq!(block_on(kiln.run(work)).unwrap().status, Status::Done);
        }
    }
    let a = world.objects.bytes(&keys::manifest_key(jpg)).unwrap();
    let b = world.objects.bytes(&keys::manifest_key(png_key)).unwrap();
    assert_ne!(keys::manifest_key(jpg), keys::manifest_key(png_key));
    let a: kiln_upload::Manifest = serde_json::from_slice(&a).unwrap();
    let b: kiln_upload::Manifest = serde_json::from_slice(&b).unwrap();
    assert_eq!((a.original.key.as_str(), b.original.key.as_str()), (jpg, png_key));
    assert!(a.variants.iter().zip(&b.variants).all(|(x, y)| x.url != y.url));
}

#[test]
fn events_must_match_the_object_and_cannot_hijack_an_upload() {
    let world = world(31);
    let kiln = kiln(&world);
    let done = block_on(kiln.post_image(Some("a.png"), png(12, 12, 31), None)).unwrap();
    let writes = world.state.writes().len();
    // The store's own notification of kiln's original, and re-deliveries: nothing to do.
    let own = block_on(kiln.accept_events(&s3_event(&done.original.key, done.original.etag.as_deref()))).unwrap();
    assert!(own.work.is_empty());
    // A forged event for another key in that upload's folder, with no object: nothing.
    let forged = format!("originals/{}/other.png", done.id);
    assert!(block_on(kiln.accept_events(&s3_event(&forged, Some("x")))).unwrap().work.is_empty());
    // A stale event (the object has another ETag now): nothing.
    let key = "originals/ev/p.png";
    let etag = world.objects.insert(key, &png(12, 12, 32));
    assert!(block_on(kiln.accept_events(&s3_event(key, Some("stale")))).unwrap().work.is_empty());
    assert_eq!(world.state.writes().len(), writes, "no record was touched");
    // The real event converts; its re-delivery does not.
    let work = block_on(kiln.accept_events(&s3_event(key, Some(&etag)))).unwrap().work;
    let first = block_on(kiln.run(work.into_iter().next().unwrap())).unwrap();
    assert!(block_on(kiln.accept_events(&s3_event(key, Some(&etag)))).unwrap().work.is_empty());
    // A new version of the object is a new manifest.
    let etag2 = world.objects.insert(key, &png(12, 12, 33));
    let work = block_on(kiln.accept_events(&s3_event(key, Some(&etag2)))).unwrap().work;
    let second = block_on(kiln.run(work.into_iter().next().unwrap())).unwrap();
    assert_eq!((first.id.clone(), second.status), (second.id.clone(), Status::Done));
    assert_ne!(first.original.sha256, second.original.sha256);
    assert_eq!(second.original.etag.as_deref(), Some(etag2.as_str()));
    // Other buckets and prefixes are ignored.
    let ignored = br#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"kiln"},"object":{"key":"variants/x/webp.webp"}}}]}"#;
    assert_eq!(block_on(kiln.accept_events(ignored)).unwrap().ignored, 1);
}

#[test]
fn a_not_image_original_from_an_event_fails_with_the_reason() {
    let world = world(32);
    let kiln = kiln(&world);
    let key = "originals/ev/random.bin";
    let etag = world.objects.insert(key, &[1u8; 300]);
    let work = block_on(kiln.accept_events(&s3_event(key, Some(&etag)))).unwrap().work;
    let manifest = block_on(kiln.run(work.into_iter().next().unwrap())).unwrap();
    assert_eq!(manifest.status, Status::Failed);
    assert!(manifest.error.as_deref().unwrap().contains("unsupported"), "{manifest:?}");
}

#[test]
fn a_refused_variant_makes_a_partial_manifest_that_keeps_the_others() {
    let world = world(33);
    let kiln = kiln(&world);
    world.converters.refusing.borrow_mut().push("avif".into());
    let manifest = block_on(kiln.post_image(None, png(12, 12, 34), None)).unwrap();
    assert_eq!(manifest.status, Status::Partial);
    let formats: Vec<_> = manifest.variants.iter().map(|v| (v.format.as_str(), v.status)).collect();
    assert_eq!(
        formats,
        [("webp", VariantStatus::Done), ("avif", VariantStatus::Failed), ("jpeg", VariantStatus::Done), ("thumbnail", VariantStatus::Done)]
    );
    assert!(manifest.original.key.ends_with("/image.png"));
}

#[test]
fn uploads_work_on_a_state_store_that_misreports_swaps() {
    // Spin's Redis store reports every applied swap as failed; its SQLite
    // store writes over an existing key when told to expect none.
    let world = world(34);
    world.state.set_quirks(StateQuirks { report_applied_as_failed: 1.0, absent_swap_unconditional: true });
    let kiln = kiln(&world);
    let data = png(16, 16, 35);
    let manifest = upload(&kiln, &data, 40);
    assert_eq!(manifest.status, Status::Done);
    assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data);
    assert_eq!(block_on(kiln.post_image(None, data, None)).unwrap().status, Status::Done);
}

#[test]
fn transient_storage_failures_and_lost_responses_everywhere_still_finish() {
    for seed in 0..20 {
        let world = world(100 + seed);
        let kiln = kiln(&world);
        let data = png(16, 16, seed as u8);
        let id = create(&kiln, data.len());
        world.objects.set_faults(StoreFaults { fail: 0.1, lose: 0.1 });
        let mut offset = 0;
        let mut attempts = 0;
        while offset < data.len() {
            attempts += 1;
            assert!(attempts < 200, "seed {seed}: no progress");
            let end = (offset + 40).min(data.len());
            match patch(&kiln, &id, offset, &data[offset..end]) {
                Ok((o, work)) => {
                    offset = o as usize;
                    if let Some(w) = work {
                        let _ = block_on(kiln.run(w));
                    }
                }
                Err(UploadError::Storage(_) | UploadError::Locked(_)) => world.clock.advance(small_config().lock_ms),
                Err(UploadError::Conflict(_)) => offset = block_on(kiln.tus_head(&id)).unwrap().offset as usize,
                Err(e) => panic!("seed {seed}: {e:?}"),
            }
        }
        world.objects.set_faults(StoreFaults::default());
        let mut manifest = None;
        for _ in 0..10 {
            world.clock.advance(small_config().lease_ms);
            manifest = block_on(kiln.drive(&id)).unwrap();
            if manifest.as_ref().is_some_and(|m| m.status.is_terminal()) {
                break;
            }
        }
        let manifest = manifest.unwrap();
        assert!(manifest.status.is_terminal(), "seed {seed}: {manifest:#?}");
        if manifest.status == Status::Done {
            assert_eq!(world.objects.bytes(&manifest.original.key).unwrap(), data, "seed {seed}");
        }
    }
}

/// Polls `fut` until `done()` holds or it finishes. In a world made with a
/// yield chance of 1 every call yields once first, so each poll runs one
/// call: a test can stop an operation between any two calls and run
/// another one there.
fn poll_until<F: std::future::Future>(fut: &mut std::pin::Pin<Box<F>>, done: impl Fn() -> bool) -> Option<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    for _ in 0..10_000 {
        if done() {
            return None;
        }
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    panic!("no progress");
}

fn stepping_world(seed: u64) -> kiln_upload::memory::MemWorld {
    let mut world = kiln_upload::memory::MemWorld::new(seed, 1.0);
    world.objects.min_part_bytes = small_config().min_part_bytes;
    world.converters = kiln_upload::memory::MemConverters::new(world.objects.clone(), world.chaos.clone());
    world
}

fn new_tus(len: usize) -> kiln_upload::tus::NewUpload {
    kiln_upload::tus::NewUpload { length: Some(len as u64), metadata: metadata("slow.png"), ..Default::default() }
}

fn upload_keys(world: &kiln_upload::memory::MemWorld) -> Vec<String> {
    world.state.keys().into_iter().filter(|k| k.starts_with("upload/")).collect()
}

/// The interleaving the property test found (seed in interleavings.rs),
/// with a creation that lives on: the sweep looks for the record of a
/// marker older than the orphan grace, finds none and deletes the marker;
/// only then does the creation's record write land. Before, the upload
/// then had no marker, so once its client gave up nothing ever reaped it
/// (and a one-shot or final upload whose worker died stayed `converting`
/// or `assembling`). Now the creation sees its write came back late and
/// puts its marker back.
#[test]
fn a_creation_whose_marker_was_swept_before_its_record_landed_puts_it_back() {
    let world = stepping_world(40);
    let kiln = kiln(&world);
    let cfg = small_config();
    let mut create = Box::pin(kiln.tus_create(new_tus(500)));
    // The marker is stored; the record write is on its way...
    poll_until(&mut create, || !world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
    assert!(upload_keys(&world).is_empty());
    // ...and held up past the grace, while a sweep deletes the marker.
    world.clock.advance(cfg.orphan_grace_ms);
    block_on(kiln.sweep()).unwrap();
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty(), "the sweep took the marker");
    let id = poll_until(&mut create, || false).unwrap().unwrap().view.id;
    assert_eq!(world.objects.keys(keys::UPLOADS_PREFIX), vec![keys::marker_key(&id)], "the creation put its marker back");
    // The client gives up: the upload expires and is reaped.
    world.clock.advance(cfg.expiry_ms);
    assert_eq!(block_on(kiln.sweep()).unwrap().reaped, vec![id]);
    assert!(upload_keys(&world).is_empty());
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
}

/// As above, but putting the marker back fails: the creation then removes
/// its record rather than leave one the sweep cannot find, and answers an
/// error (the client, told of no upload, tries again).
#[test]
fn a_late_creation_that_cannot_put_its_marker_back_removes_its_record() {
    let world = stepping_world(43);
    let kiln = kiln(&world);
    let cfg = small_config();
    let mut create = Box::pin(kiln.tus_create(new_tus(500)));
    poll_until(&mut create, || !world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
    world.clock.advance(cfg.orphan_grace_ms);
    block_on(kiln.sweep()).unwrap();
    world.objects.script("PUT uploads/", Fault::Fail);
    let refused = poll_until(&mut create, || false).unwrap();
    assert!(matches!(refused, Err(UploadError::Storage(_))));
    assert!(upload_keys(&world).is_empty(), "no record is left");
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
}

/// The same race seen from the sweep: it looked, found no record, and its
/// delete came after the creation had written its record and put its
/// marker back (here the delete's answer is lost and it is sent again).
/// The sweep looks again after deleting and puts the marker back.
#[test]
fn a_sweep_whose_marker_delete_came_after_the_record_puts_the_marker_back() {
    let world = stepping_world(41);
    let kiln = kiln(&world);
    let cfg = small_config();
    let mut create = Box::pin(kiln.tus_create(new_tus(500)));
    poll_until(&mut create, || !world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
    world.clock.advance(cfg.orphan_grace_ms);
    world.objects.script("DELETE uploads/", Fault::Lose);
    let mut sweep = Box::pin(kiln.sweep());
    // The sweep found no record and deleted the marker; its answer is lost.
    poll_until(&mut sweep, || world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
    let id = poll_until(&mut create, || false).unwrap().unwrap().view.id;
    assert_eq!(world.objects.keys(keys::UPLOADS_PREFIX), vec![keys::marker_key(&id)]);
    // The retried delete takes the marker again; the sweep then sees the record.
    poll_until(&mut sweep, || false).unwrap().unwrap();
    assert_eq!(world.objects.keys(keys::UPLOADS_PREFIX), vec![keys::marker_key(&id)], "the sweep put the marker back");
    world.clock.advance(cfg.expiry_ms);
    assert_eq!(block_on(kiln.sweep()).unwrap().reaped, vec![id]);
    assert!(upload_keys(&world).is_empty());
}

/// A creation held up for half the grace before its record write gives up
/// instead of writing a record the sweep may no longer find; its marker is
/// swept as the leftover of a creation that never finished.
#[test]
fn a_creation_held_up_before_its_record_write_gives_up() {
    let world = stepping_world(42);
    let kiln = kiln(&world);
    let cfg = small_config();
    let mut post = Box::pin(kiln.post_image(Some("slow.png"), png(12, 12, 42), None));
    // Held up on its first call, storing its marker.
    let polls = std::cell::Cell::new(0);
    poll_until(&mut post, || polls.replace(polls.get() + 1) == 1);
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
    world.clock.advance(cfg.orphan_grace_ms / 2);
    let refused = poll_until(&mut post, || false).unwrap();
    assert!(matches!(&refused, Err(UploadError::Storage(e)) if e.to_string().contains("orphan grace")), "{refused:?}");
    assert!(upload_keys(&world).is_empty(), "no record was written");
    world.clock.advance(cfg.orphan_grace_ms);
    block_on(kiln.sweep()).unwrap();
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty());
}
