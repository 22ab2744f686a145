//! End to end: crash recovery and storage faults, with real parts. Spin's
//! requests to the real kiln-store go through the fault-injecting proxy
//! (`infra/faults`), which can fail, stall, drop or lose the answer of any
//! request; `spin up` is killed with SIGKILL while a chosen request is
//! stalled, at each stage of an upload, and restarted on the same state.
//! Each time the upload must end `done` within the lease plus one sweep,
//! with its SHA-256 intact, and a sweep must leave no chunk object and no
//! multipart upload behind.

use kiln_e2e::{corpus, hex, Reply, Stack};
use kiln_faults::{Action, Rule};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Short leases and locks, so recovery is quick to wait for.
const LEASE: Duration = Duration::from_secs(5);
const ENV: &[(&str, &str)] = &[
    ("SPIN_VARIABLE_LEASE_SECONDS", "5"),
    ("SPIN_VARIABLE_TUS_LOCK_SECONDS", "5"),
    ("SPIN_VARIABLE_RETRY_SECONDS", "1"),
    ("SPIN_VARIABLE_ORPHAN_GRACE_SECONDS", "2"),
    ("SPIN_VARIABLE_STORAGE_TIMEOUT_SECONDS", "5"),
    ("SPIN_VARIABLE_STORAGE_ATTEMPTS", "4"),
];
const CHUNK: usize = 256 * 1024;
const OCTETS: (&str, &str) = ("content-type", "application/offset+octet-stream");

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join("photos").join(name)).unwrap()
}

fn create(s: &Stack, len: usize) -> String {
    let meta = format!("filename {}", base64_of("photo.jpg"));
    let len = len.to_string();
    let reply = s.tus("POST", "/v1/uploads", &[("upload-length", &len), ("upload-metadata", &meta)], &[]);
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    reply.header("location").unwrap().to_string()
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn patch(s: &Stack, url: &str, offset: usize, body: &[u8]) -> Reply {
    let off = offset.to_string();
    s.tus("PATCH", url, &[OCTETS, ("upload-offset", &off)], body)
}

/// Sends the rest of `data` from the server's offset, as a resuming client
/// does: HEAD, then PATCH; a 423 (a dead PATCH's lock) is waited out.
fn resume(s: &Stack, url: &str, data: &[u8], chunk: usize) {
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "could not resume {url}");
        let offset: usize = s.tus("HEAD", url, &[], &[]).header("upload-offset").unwrap().parse().unwrap();
        if offset == data.len() {
            return;
        }
        let end = (offset + chunk).min(data.len());
        match patch(s, url, offset, &data[offset..end]).status {
            204 => {}
            409 | 423 => std::thread::sleep(Duration::from_millis(500)),
            other => panic!("PATCH at {offset}: {other}"),
        }
    }
}

fn id_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// After a restart: wait out the lease, sweep once, and the upload must end
/// `done` (the sweep hands the re-drive to a request of its own).
fn recovered(s: &Stack, id: &str, data: &[u8]) -> Value {
    std::thread::sleep(LEASE);
    s.sweep();
    let path = format!("/v1/uploads/{id}");
    let started = Instant::now();
    let manifest = loop {
        let reply = s.get_with_token(&path);
        if reply.status == 200 {
            break reply.json();
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{id} is not terminal: {}", String::from_utf8_lossy(&reply.body));
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(data)).as_str());
    let key = manifest["original"]["key"].as_str().unwrap();
    assert_eq!(s.get_object(key).body, data, "the stored original differs");
    for v in manifest["variants"].as_array().unwrap() {
        assert_eq!(s.get_url(v["url"].as_str().unwrap()).status, 200, "{v}");
    }
    manifest
}

/// One sweep leaves nothing in flight: no chunk, no marker, no multipart upload.
fn assert_clean(s: &Stack) {
    s.sweep();
    assert_eq!(s.list_keys("uploads/"), Vec::<String>::new(), "objects left in flight");
    assert_eq!(s.multipart_uploads(), Vec::<String>::new(), "multipart uploads left");
}

/// Stalls the next request matching `rule` (a stall), kills spin once it is held,
/// lets the held request through to the store (its answer goes nowhere),
/// and restarts spin on the same state.
fn crash_at(s: &mut Stack, rule: Rule, what: &str) {
    let faults = s.faults();
    faults.clear_seen();
    faults.add(rule.times(1));
    assert!(faults.wait_seen(|r| r.action == "stall", Duration::from_secs(60)).is_some(), "no request {what} was seen");
    kill_and_restart(s);
}

/// SIGKILLs spin, lets the stalled request through to the store (its answer
/// goes nowhere), and starts spin again on the same state.
fn kill_and_restart(s: &mut Stack) {
    s.kill_spin();
    s.faults().clear();
    s.faults().release_all();
    s.start_spin();
}

#[test]
fn a_crash_mid_patch_is_resumed_by_the_client() {
    let mut s = Stack::start_with_faults("crash-patch", ENV);
    let data = photo("path-2560x1600.jpg");
    let url = create(&s, data.len());
    for i in 0..2 {
        assert_eq!(patch(&s, &url, i * CHUNK, &data[i * CHUNK..(i + 1) * CHUNK]).status, 204);
    }
    std::thread::scope(|scope| {
        let (api, token) = (s.api.clone(), s.token.clone());
        let chunk = data[2 * CHUNK..3 * CHUNK].to_vec();
        let path = url.clone();
        scope.spawn(move || third_chunk(&api, &token, &path, chunk));
        crash_at(&mut s, Rule::new(Action::stall()).method("PUT").path("/uploads/"), "storing a chunk");
    });
    resume(&s, &url, &data, CHUNK);
    recovered(&s, &id_of(&url), &data);
    assert_clean(&s);
}

/// A PATCH sent on its own connection, whose answer never comes (spin dies).
fn third_chunk(api: &str, token: &str, path: &str, chunk: Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let _ = agent
        .patch(format!("{api}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", (2 * CHUNK).to_string())
        .send(&chunk[..]);
}

#[test]
fn a_crash_right_after_the_last_patch_is_re_driven() {
    // The report: 12 MP photo, SIGKILL one second after the last PATCH.
    let mut s = Stack::start_with_faults("crash-after-patch", ENV);
    let data = photo("path-4000x3000-12mp.jpg");
    let url = create(&s, data.len());
    let five = 5 * 1024 * 1024;
    for (i, piece) in data.chunks(five).enumerate() {
        assert_eq!(patch(&s, &url, i * five, piece).status, 204);
    }
    std::thread::sleep(Duration::from_secs(1));
    s.kill_spin();
    s.start_spin();
    let manifest = recovered(&s, &id_of(&url), &data);
    assert!(manifest["attempts"].as_u64().unwrap() >= 1);
    assert_clean(&s);
}

#[test]
fn a_crash_during_assembly_is_re_driven() {
    let mut s = Stack::start_with_faults("crash-assembly", ENV);
    let data = photo("eveningglow-2560x1600.jpg");
    let url = create(&s, data.len());
    std::thread::scope(|scope| {
        let (s2, url2, data2) = (&s, url.clone(), data.clone());
        let sender = scope.spawn(move || {
            for (i, piece) in data2.chunks(CHUNK).enumerate() {
                let _ = patch(s2, &url2, i * CHUNK, piece);
            }
        });
        // CompleteMultipartUpload: a POST with ?uploadId=.
        let faults = s.faults();
        faults.add(Rule::new(Action::stall()).method("POST").query("uploadId=").times(1));
        assert!(faults.wait_seen(|r| r.action == "stall", Duration::from_secs(60)).is_some());
        sender.join().unwrap();
    });
    kill_and_restart(&mut s);
    let manifest = recovered(&s, &id_of(&url), &data);
    assert_eq!(manifest["attempts"], 2, "{manifest:#}");
    assert_clean(&s);
}

#[test]
fn a_crash_during_the_fan_out_redoes_only_what_is_missing() {
    let mut s = Stack::start_with_faults("crash-fanout", ENV);
    let data = photo("colorfulcups-2560x1600.jpg");
    let url = create(&s, data.len());
    // The AVIF variant's PUT is held; spin dies while it is.
    s.faults().add(Rule::new(Action::stall()).method("PUT").path("avif.avif").times(1));
    for (i, piece) in data.chunks(CHUNK).enumerate() {
        assert_eq!(patch(&s, &url, i * CHUNK, piece).status, 204);
    }
    assert!(s.faults().wait_seen(|r| r.action == "stall", Duration::from_secs(60)).is_some());
    // Let the other three variants be made and recorded.
    let started = Instant::now();
    let recorded: Vec<String> = loop {
        let now = s.get_with_token(&format!("/v1/uploads/{}", id_of(&url))).json();
        let formats: Vec<String> = now["variants"].as_array().unwrap().iter().map(|v| v["format"].as_str().unwrap().to_string()).collect();
        if formats.len() == 3 || started.elapsed() > Duration::from_secs(30) {
            break formats;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    kill_and_restart(&mut s);
    s.faults().clear_seen();
    let manifest = recovered(&s, &id_of(&url), &data);
    assert_eq!(manifest["attempts"], 2, "{manifest:#}");
    // Variants recorded before the crash were not made again.
    let stored_again: Vec<String> = s.faults().seen().iter().filter(|r| r.method == "PUT" && r.path.contains("/variants/")).map(|r| r.path.clone()).collect();
    for format in &recorded {
        assert!(!stored_again.iter().any(|p| p.contains(&format!("/{format}."))), "{format} was made twice: {stored_again:?}");
    }
    assert_clean(&s);
}

#[test]
fn a_crash_between_the_variants_and_the_manifest_is_re_driven() {
    let mut s = Stack::start_with_faults("crash-manifest", ENV);
    let data = photo("path-2560x1600.jpg");
    let url = create(&s, data.len());
    s.faults().add(Rule::new(Action::stall()).method("PUT").path("manifest.json").times(1));
    for (i, piece) in data.chunks(CHUNK).enumerate() {
        assert_eq!(patch(&s, &url, i * CHUNK, piece).status, 204);
    }
    assert!(s.faults().wait_seen(|r| r.action == "stall", Duration::from_secs(60)).is_some());
    kill_and_restart(&mut s);
    let manifest = recovered(&s, &id_of(&url), &data);
    let key = manifest["original"]["key"].as_str().unwrap();
    let stored = s.get_object(&kiln_upload::keys::manifest_key(key));
    assert_eq!(stored.json(), manifest, "manifest.json and the record agree");
    assert_clean(&s);
}

#[test]
fn a_one_shot_upload_whose_instance_died_is_finished_by_the_sweep() {
    let mut s = Stack::start_with_faults("crash-oneshot", ENV);
    let data = photo("eveningglow-2560x1600.jpg");
    std::thread::scope(|scope| {
        let (api, token, body) = (s.api.clone(), s.token.clone(), data.clone());
        scope.spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let _ = agent.post(format!("{api}/v1/images?filename=one.jpg")).header("authorization", format!("Bearer {token}")).send(&body[..]);
        });
        crash_at(&mut s, Rule::new(Action::stall()).method("PUT").path("webp.webp"), "storing the WebP variant");
    });
    // The client never learned the id: find the upload by its original.
    let originals = s.list_keys("originals/");
    assert_eq!(originals.len(), 1, "{originals:?}");
    let id = originals[0].split('/').nth(1).unwrap().to_string();
    recovered(&s, &id, &data);
    assert_clean(&s);
}

#[test]
fn an_event_sent_while_kiln_is_down_is_delivered_and_converted() {
    let mut s = Stack::start_with_faults("event-down", ENV);
    s.kill_spin();
    // The store spools the event and retries its delivery until kiln is back.
    let data = photo("path-2560x1600.jpg");
    let key = "originals/while-down/photo.jpg";
    s.put_object(key, &data);
    std::thread::sleep(Duration::from_secs(2));
    s.start_spin();
    let id = hex(&Sha256::digest(format!("kiln/{key}").as_bytes()))[..32].to_string();
    let manifest = s.wait_for_manifest(&format!("/v1/uploads/{id}"));
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(&data)).as_str());
}

#[test]
fn storage_faults_are_retried_and_recognised() {
    let s = Stack::start_with_faults("faults", ENV);
    let faults = s.faults();
    let data = photo("path-2560x1600.jpg");
    let url = create(&s, data.len());
    // 503 and 429 on chunk PUTs, a dropped connection on one: retried inside the PATCH.
    faults.add(Rule::new(Action::status(503)).method("PUT").path("/uploads/").times(1));
    faults.add(Rule::new(Action::status(429)).method("PUT").path("/uploads/").times(1));
    faults.add(Rule::new(Action::Drop).method("PUT").path("/uploads/").times(1));
    // CompleteMultipartUpload applied, its answer lost: the retry finds no
    // such upload and the HEAD finds the original whole.
    faults.add(Rule::new(Action::LoseResponse).method("POST").query("uploadId=").times(1));
    // A converter's GET of the original held past the 5 s limit: timed out, retried.
    faults.add(Rule::new(Action::Stall { max_ms: Some(8000) }).method("GET").path("/originals/").times(1));
    // A variant PUT answered 500 twice.
    faults.add(Rule::new(Action::status(500)).method("PUT").path("jpeg.jpg").times(2));
    for (i, piece) in data.chunks(CHUNK).enumerate() {
        let reply = patch(&s, &url, i * CHUNK, piece);
        assert_eq!(reply.status, 204, "chunk {i}: {}", String::from_utf8_lossy(&reply.body));
    }
    let manifest = s.wait_for_manifest(&url);
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["attempts"], 1, "every fault was absorbed by the storage retries: {manifest:#}");
    assert_eq!(manifest["original"]["sha256"], hex(&Sha256::digest(&data)).as_str());
    assert!(faults.rules().is_empty(), "a fault was never triggered: {:?}", faults.rules());
    assert_clean(&s);
}

#[test]
fn a_store_that_stays_down_fails_loudly_and_loses_nothing_accepted() {
    let s = Stack::start_with_faults("store-down", ENV);
    let faults = s.faults();
    faults.add(Rule::new(Action::status(503)));
    // A one-shot upload: 502 after the retries, saying so.
    let data = photo("path-2560x1600.jpg");
    let reply = s.post("/v1/images?filename=down.jpg", "image/jpeg", &data, Some(&s.token));
    assert_eq!(reply.status, 502, "{}", String::from_utf8_lossy(&reply.body));
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("after 4 attempts") && detail.contains("503"), "{detail}");
    // A notification while the store is down is refused, so the notifier delivers it again.
    let event = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "kiln"}, "object": {"key": "originals/down/x.jpg", "eTag": "e"}}}]});
    let refused = s.post("/v1/events", "application/json", event.to_string().as_bytes(), Some(&s.events_token));
    assert_eq!(refused.status, 502, "{}", String::from_utf8_lossy(&refused.body));
    // The store comes back: the upload of an object dropped meanwhile is converted.
    faults.clear();
    let key = "originals/down/back.jpg";
    s.put_object(key, &data);
    let id = hex(&Sha256::digest(format!("kiln/{key}").as_bytes()))[..32].to_string();
    assert_eq!(s.wait_for_manifest(&format!("/v1/uploads/{id}"))["status"], "done");
}
