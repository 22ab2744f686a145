//! End to end: shared state on Redis, proven on one machine. Two `spin up`
//! instances of kiln use one real `redis-server` as their key-value store
//! (runtime-config.toml), one kiln-store, and a real haproxy in front
//! (`kiln_e2e::cluster`). Spin's Redis store reports a compare-and-swap
//! that applied as failed (../shared/reference/redis-kv-probe.md): kiln
//! decides every write by reading it back, and these tests are what shows
//! that holds — a kiln that trusted the swap's answer would 409 its first
//! PATCH here.
//!
//! - PATCHes alternating between the instances complete the upload with
//!   its SHA-256 intact; so does an upload through haproxy.
//! - Two PATCHes racing on the same upload, one per instance: exactly one
//!   wins, the other gets 409 or 423, and the offset counts one chunk.
//! - An instance killed mid-upload: the client resumes through the other.

use kiln_e2e::cluster::Cluster;
use kiln_e2e::{corpus, hex, Reply};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Barrier};

/// 256 KiB: kiln's smallest chunk but the last.
const CHUNK: usize = 256 * 1024;

fn photo() -> Vec<u8> {
    std::fs::read(corpus().join("photos/path-4000x3000-12mp.jpg")).unwrap()
}

fn create(c: &Cluster, base: &str, length: usize) -> String {
    let reply = c.stack.tus_at(base, "POST", "/v1/uploads", &[("upload-length", &length.to_string())], b"");
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    reply.header("location").unwrap().to_string()
}

fn patch(c: &Cluster, base: &str, path: &str, offset: usize, body: &[u8]) -> Reply {
    let offset = offset.to_string();
    c.stack.tus_at(base, "PATCH", path, &[("upload-offset", &offset), ("content-type", "application/offset+octet-stream")], body)
}

fn offset(c: &Cluster, base: &str, path: &str) -> usize {
    let head = c.stack.tus_at(base, "HEAD", path, &[], b"");
    assert_eq!(head.status, 200, "HEAD {path} on {base}");
    head.header("upload-offset").unwrap().parse().unwrap()
}

/// The manifest once done, polled through haproxy; its original's SHA-256
/// must be the file's.
fn assert_done_intact(c: &Cluster, path: &str, data: &[u8]) {
    let manifest = c.stack.wait_for_manifest_at(&c.lb, path);
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"].as_str(), Some(hex(&Sha256::digest(data)).as_str()), "{manifest:#}");
    assert_eq!(manifest["variants"].as_array().map(Vec::len), Some(4), "{manifest:#}");
}

#[test]
fn uploads_survive_alternating_racing_and_a_dead_instance() {
    let mut c = Cluster::start("redis");
    let data = photo();

    // Alternating: every PATCH on the other instance than the last.
    let path = create(&c, &c.a, data.len());
    for (n, chunk) in data.chunks(4 * CHUNK).enumerate() {
        let base = if n % 2 == 0 { &c.b } else { &c.a };
        let reply = patch(&c, base, &path, n * 4 * CHUNK, chunk);
        assert_eq!(reply.status, 204, "PATCH {n} on {base}: {}", String::from_utf8_lossy(&reply.body));
    }
    assert_eq!(offset(&c, &c.a, &path), data.len());
    assert_done_intact(&c, &path, &data);

    // Racing: the same chunk at the same offset on both instances at once.
    for round in 0..5 {
        let path = create(&c, &c.lb, data.len());
        let barrier = Arc::new(Barrier::new(2));
        let chunk = &data[..2 * CHUNK];
        let replies: Vec<u16> = std::thread::scope(|scope| {
            let racers: Vec<_> = [&c.a, &c.b]
                .into_iter()
                .map(|base| {
                    let (barrier, path, c) = (barrier.clone(), &path, &c);
                    scope.spawn(move || {
                        barrier.wait();
                        patch(c, base, path, 0, chunk).status
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let wins = replies.iter().filter(|&&s| s == 204).count();
        let losses = replies.iter().filter(|&&s| s == 409 || s == 423).count();
        // Both may also win in turn if one finished before the other began:
        // then the second found offset 2·CHUNK ≠ 0 and got 409. Never two 204s.
        assert_eq!((wins, losses), (1, 1), "round {round}: {replies:?}");
        assert_eq!(offset(&c, &c.b, &path), 2 * CHUNK, "round {round}: one chunk counted");
        // The loser resumes from the offset and the upload completes.
        let reply = patch(&c, &c.lb, &path, 2 * CHUNK, &data[2 * CHUNK..]);
        assert_eq!(reply.status, 204, "{}", String::from_utf8_lossy(&reply.body));
        assert_done_intact(&c, &path, &data);
    }

    // Through haproxy, round-robin per request.
    let path = create(&c, &c.lb, data.len());
    for (n, chunk) in data.chunks(3 * CHUNK).enumerate() {
        assert_eq!(patch(&c, &c.lb, &path, n * 3 * CHUNK, chunk).status, 204, "PATCH {n} via haproxy");
    }
    assert_done_intact(&c, &path, &data);

    // A dead instance: B takes two chunks, dies; the client resumes on A.
    let path = create(&c, &c.b, data.len());
    assert_eq!(patch(&c, &c.b, &path, 0, &data[..2 * CHUNK]).status, 204);
    assert_eq!(patch(&c, &c.b, &path, 2 * CHUNK, &data[2 * CHUNK..4 * CHUNK]).status, 204);
    c.kill_b();
    let resumed = offset(&c, &c.a, &path);
    assert_eq!(resumed, 4 * CHUNK, "A sees what B stored");
    assert_eq!(patch(&c, &c.a, &path, resumed, &data[resumed..]).status, 204);
    let manifest = c.stack.wait_for_manifest(&path);
    assert_eq!(manifest["status"], "done", "{manifest:#}");
    assert_eq!(manifest["original"]["sha256"].as_str(), Some(hex(&Sha256::digest(&data)).as_str()));
}
