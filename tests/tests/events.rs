//! End to end: the object-storage event trigger. Dropping a file into the
//! bucket with an S3 client makes kiln-store POST an S3 event to
//! `/v1/events`; kiln acknowledges first, converts after, and the manifest
//! appears next to the variants. Re-delivery is idempotent, kiln's own
//! writes are ignored, failures are recorded.

use kiln_e2e::images::verify;
use kiln_e2e::{corpus, hex, Reply, Stack, BUCKET};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

fn id_for(key: &str) -> String {
    hex(&Sha256::digest(format!("{BUCKET}/{key}").as_bytes()))[..32].to_string()
}

fn s3_event(key: &str, etag: &str) -> String {
    serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key.replace(' ', "+"), "size": 1, "eTag": etag}}}]})
    .to_string()
}

fn post_event(s: &Stack, body: &str, token: &str) -> Reply {
    s.post("/v1/events", "application/json", body.as_bytes(), Some(token))
}

#[test]
fn an_object_dropped_into_the_bucket_is_converted() {
    let s = Stack::start("events");
    let photo = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    let key = "originals/events/forest path.jpg";
    s.put_object(key, &photo);
    let manifest = s.wait_for_manifest(&format!("/v1/uploads/{}", id_for(key)));
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(&photo)).as_str());
    assert_eq!(manifest["original"]["width"], 4000);
    let variants = manifest["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);
    for v in variants {
        let served = s.get_url(v["url"].as_str().unwrap());
        verify(&served.body, v["mime_type"].as_str().unwrap()).unwrap();
    }
    // Stored next to the variants, publicly.
    let stored = s.get_url(&format!("{}/{BUCKET}/variants/events/forest%20path.jpg/manifest.json", s.s3));
    assert_eq!(stored.json(), manifest);

    // Re-delivery of the same event (same ETag): acknowledged, not redone.
    let etag = manifest["original"]["etag"].as_str().unwrap().to_string();
    let reply = post_event(&s, &s3_event(key, &etag), &s.events_token);
    assert_eq!(reply.status, 202);
    assert_eq!(reply.json()["accepted"][0], key);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.wait_for_manifest(&format!("/v1/uploads/{}", id_for(key))), manifest, "re-delivery converted again");
}

#[test]
fn the_acknowledgement_comes_before_the_conversion_and_stale_events_change_nothing() {
    // No store notifications: this test delivers every event itself.
    let s = Stack::start_quiet("events-ack");
    let photo = std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap();
    let key = "originals/ack/photo.jpg";
    let id = id_for(key);
    let first = s.put_object(key, &photo);
    assert_eq!(post_event(&s, &s3_event(key, &first), &s.events_token).status, 202);
    let v1 = s.wait_for_manifest(&format!("/v1/uploads/{id}"));
    assert_eq!((v1["status"].as_str(), v1["original"]["etag"].as_str()), (Some("done"), Some(first.as_str())));

    // A new version of the object: its event is answered at once, converted after.
    let other = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let second = s.put_object(key, &other);
    let posted = Instant::now();
    let reply = post_event(&s, &s3_event(key, &second), &s.events_token);
    let acknowledged = posted.elapsed();
    assert_eq!(reply.status, 202);
    let finished_new = |m: &serde_json::Value| m["original"]["etag"] == second.as_str() && m["status"] == "done";
    assert!(!finished_new(&s.get_with_token(&format!("/v1/uploads/{id}")).json()), "conversion finished before the acknowledgement");
    let converted = loop {
        let m = s.get_with_token(&format!("/v1/uploads/{id}")).json();
        if finished_new(&m) {
            break posted.elapsed();
        }
        assert!(posted.elapsed() < Duration::from_secs(180), "no conversion for the new ETag");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(acknowledged < converted, "ack after {acknowledged:?}, conversion done after {converted:?}");
    let v2 = s.wait_for_manifest(&format!("/v1/uploads/{id}"));
    assert_eq!(v2["original"]["width"], 2560);

    // The old version's event arriving late, or a forged ETag: accepted, ignored.
    for stale in [first.as_str(), "forged"] {
        assert_eq!(post_event(&s, &s3_event(key, stale), &s.events_token).status, 202);
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.wait_for_manifest(&format!("/v1/uploads/{id}")), v2, "a stale event changed the manifest");
}

#[test]
fn events_outside_originals_are_ignored_and_failures_recorded() {
    let s = Stack::start("events-edge");
    let reply = post_event(&s, &s3_event("variants/x/webp.webp", "e"), &s.events_token);
    assert_eq!(reply.status, 202);
    assert_eq!((reply.json()["accepted"].as_array().unwrap().len(), reply.json()["ignored"].as_u64()), (0, Some(1)));

    // The events secret and the API's are separate: neither opens the other.
    assert_eq!(post_event(&s, &s3_event("originals/a.jpg", "e"), "wrong").status, 401);
    assert_eq!(post_event(&s, &s3_event("originals/a.jpg", "e"), &s.token).status, 401);
    assert_eq!(s.post("/v1/images", "image/jpeg", b"x", Some(&s.events_token)).status, 401);
    assert_eq!(post_event(&s, "{not json", &s.events_token).status, 400);
    assert_eq!(post_event(&s, r#"{"something":"else"}"#, &s.events_token).status, 400);

    // Not an image: the failure is visible in the manifest.
    let key = "originals/edge/random.bin";
    s.put_object(key, &std::fs::read(corpus().join("hostile/random.bin")).unwrap());
    let manifest = s.wait_for_manifest(&format!("/v1/uploads/{}", id_for(key)));
    assert_eq!(manifest["status"], "failed");
    assert!(manifest["error"].as_str().unwrap().contains("unsupported"), "{manifest}");
}

#[test]
fn two_originals_differing_only_in_extension_keep_their_own_variants() {
    let s = Stack::start("events-ext");
    let jpg = std::fs::read(corpus().join("photos/path-2560x1600.jpg")).unwrap();
    let png = std::fs::read(corpus().join("features/palette.png")).unwrap();
    let (a, b) = ("originals/x/p.jpg", "originals/x/p.png");
    s.put_object(a, &jpg);
    s.put_object(b, &png);
    let ma = s.wait_for_manifest(&format!("/v1/uploads/{}", id_for(a)));
    let mb = s.wait_for_manifest(&format!("/v1/uploads/{}", id_for(b)));
    assert_eq!((ma["status"].as_str(), mb["status"].as_str()), (Some("done"), Some("done")));
    for (m, key, mime) in [(&ma, a, "image/jpeg"), (&mb, b, "image/png")] {
        assert_eq!(m["original"]["mime_type"], mime);
        let stored = s.get_url(&format!("{}/{BUCKET}/variants/{}/manifest.json", s.s3, key.trim_start_matches("originals/")));
        assert_eq!(&stored.json(), m, "{key}: its manifest.json was overwritten by the other's");
        for v in m["variants"].as_array().unwrap() {
            assert!(v["url"].as_str().unwrap().contains(key.trim_start_matches("originals/")), "{v}");
        }
    }
}
