//! End-to-end tests of the offload baseline with real parts: a real
//! kiln-store, the real `kiln-offload-worker` process started by the
//! driver, real corpus images; AVIF outputs are checked with `avifdec`.

use kiln_upload::keys::variant_key;
use kiln_core::orient::{read_orientation, swaps_dimensions};
use kiln_e2e::images::{fitted, verify};
use kiln_e2e::{corpus, Store};
use kiln_offload::driver::{upload, wait_ready, Stage, Worker};
use kiln_offload::proto::image_client::ImageClient;
use kiln_offload::proto::UploadReq;
use kiln_offload::{drive, DriveError, DriveOptions, S3Settings};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "offload-test-token";
const VARIANTS: [(&str, &str, &str, u32); 4] = [
    ("webp", "webp", "image/webp", 2048),
    ("avif", "avif", "image/avif", 2048),
    ("jpeg", "jpg", "image/jpeg", 2048),
    ("thumbnail", "png", "image/png", 256),
];

fn options(store: &Store) -> DriveOptions {
    DriveOptions {
        worker_bin: PathBuf::from(env!("CARGO_BIN_EXE_kiln-offload-worker")),
        token: TOKEN.to_string(),
        s3: S3Settings {
            endpoint: store.url.clone(),
            bucket: store.bucket.to_string(),
            access_key: store.access_key.to_string(),
            secret_key: store.secret_key.to_string(),
            region: "us-east-1".to_string(),
            public_base_url: format!("{}/{}", store.url, store.bucket),
        },
        lifetime_secs: 120,
        ready_timeout: Duration::from_secs(30),
    }
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The displayed size of `input` fitted into `max_side`.
fn expected_size(input: &[u8], max_side: u32) -> (u32, u32) {
    let info = kiln_core::probe::probe(input).unwrap();
    let (w, h) = if swaps_dimensions(read_orientation(input)) { (info.height, info.width) } else { (info.width, info.height) };
    fitted(w, h, max_side)
}

fn stage(report: &[(String, f64)], name: &str) -> f64 {
    report.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no stage {name} in {report:?}")).1
}

fn assert_gone(pid: u32) {
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "worker {pid} is still there after the drive");
}

#[test]
fn a_photo_gives_four_stored_variants_that_decode() {
    let store = Store::start("offload-photo");
    let input = read("photos/path-2560x1600.jpg");
    let report = drive(&options(&store), "path.jpg", "photo-1", input.clone()).expect("drive");

    assert_eq!(store.get_object("originals/photo-1/path.jpg").body, input, "original not stored as sent");
    assert_eq!(report.variants.len(), 4, "{:?}", report.variants);
    for (name, extension, mime, max_side) in VARIANTS {
        let key = variant_key("originals/photo-1/path.jpg", name, extension);
        let (url, got_mime) = report.variants.iter().find(|(u, _)| u.ends_with(&key)).unwrap_or_else(|| panic!("no {key}"));
        assert_eq!(got_mime, mime);
        let reply = store.get_url(url);
        assert_eq!(reply.status, 200, "GET {url}");
        assert_eq!(verify(&reply.body, mime), Ok(expected_size(&input, max_side)), "{name}");
        for step in ["decode", "resize", "encode", "store"] {
            assert!(stage(&report.server_timing, &format!("{name}-{step}")) > 0.0, "{name}-{step}");
        }
    }
    let convert = stage(&report.server_timing, "convert");
    assert!(convert < stage(&report.server_timing, "total"));
    assert!(stage(&report.server_timing, "store_original") > 0.0);
    assert!(report.upload_ms >= convert, "{report:?}");
    assert!(report.spawn_ms > 0.0 && report.ready_ms >= report.spawn_ms && report.ping_attempts >= 1, "{report:?}");
    assert!(report.total_ms >= report.ready_ms + report.upload_ms + report.teardown_ms, "{report:?}");
    // Four decoded copies of a 4 MP photo are resident at some point.
    assert!(report.peak_rss_bytes.unwrap() > 20 << 20, "{report:?}");
}

#[test]
fn upload_without_the_right_token_is_unauthenticated_and_stores_nothing() {
    let store = Store::start("offload-token");
    let opts = options(&store);
    let worker = Worker::spawn(&opts).expect("spawn");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let data = read("photos/path-2560x1600.jpg");
    let req = |file: &str| UploadReq { file_name: file.into(), data: data.clone(), folder: "denied".into() };
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (channel, _) = wait_ready(worker.url(), deadline).await.expect("ready");
        let wrong = upload(channel.clone(), "not-the-token", req("wrong.jpg")).await.unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated, "{wrong:?}");
        let missing = ImageClient::new(channel).upload(req("missing.jpg")).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated, "{missing:?}");
        assert!(missing.message().contains("authorization"), "{missing:?}");
    });
    for file in ["wrong", "missing"] {
        let source = format!("originals/denied/{file}.jpg");
        assert_eq!(store.get_object(&source).status, 404, "{source} stored");
        assert_eq!(store.get_object(&variant_key(&source, "webp", "webp")).status, 404);
    }
}

#[test]
fn refused_inputs_fail_with_a_clear_status_and_the_worker_is_torn_down() {
    let store = Store::start("offload-corrupt");
    let opts = options(&store);
    let invalid = tonic::Code::InvalidArgument;
    let pixel_limit = format!("the limit is {} pixels", kiln_core::limits::DEFAULT_MAX_PIXELS);
    let cases = [
        ("hostile/truncated.jpg", "truncated.jpg", invalid, "corrupt image"),
        ("hostile/random.bin", "random.jpg", invalid, "not an image kiln reads"),
        ("hostile/claims-100000x100000.png", "claims.png", tonic::Code::ResourceExhausted, pixel_limit.as_str()),
    ];
    for (file, name, code, wanted) in cases {
        let err = drive(&opts, name, "corrupt", read(file)).expect_err(file);
        let failure = err.downcast_ref::<DriveError>().unwrap_or_else(|| panic!("{file}: not a DriveError: {err:#}"));
        assert_eq!(failure.stage, Stage::Upload, "{failure}");
        assert_eq!(failure.code, Some(code), "{failure}");
        assert!(failure.message.contains(wanted), "{file}: {failure}");
        assert_gone(failure.worker_pid.expect("pid"));
    }
    // Refused from the header alone: nothing stored. (A truncated JPEG has a
    // valid header; it fails while decoding, after the original is stored.)
    assert_eq!(store.get_object("originals/corrupt/random.jpg").status, 404);
    assert_eq!(store.get_object("originals/corrupt/claims.png").status, 404);
    assert_eq!(store.get_object("originals/corrupt/truncated.jpg").status, 200);
    assert_eq!(store.get_object(&variant_key("originals/corrupt/truncated.jpg", "webp", "webp")).status, 404);
    let empty = drive(&opts, "empty.jpg", "corrupt", Vec::new()).expect_err("empty");
    assert!(empty.to_string().contains("data is empty"), "{empty:#}");
}

#[test]
fn the_worker_exits_by_itself_after_its_lifetime() {
    let store = Store::start("offload-lifetime");
    let opts = DriveOptions { lifetime_secs: 2, ..options(&store) };
    let started = Instant::now();
    let mut worker = Worker::spawn(&opts).expect("spawn");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(wait_ready(worker.url(), started + Duration::from_secs(30))).expect("ready");
    let status = worker.wait_exit(Duration::from_secs(20)).unwrap().expect("still running 20 s after a 2 s lifetime");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() >= Duration::from_secs(2), "exited after {:?}", started.elapsed());
    assert!(worker.stderr_tail().contains("lifetime of 2 s over"), "{}", worker.stderr_tail());
}

#[test]
fn a_worker_that_never_listens_is_a_spawn_error() {
    let store = Store::start("offload-spawn");
    let opts = DriveOptions { worker_bin: PathBuf::from("/bin/false"), ..options(&store) };
    let err = drive(&opts, "x.jpg", "f", vec![1]).expect_err("/bin/false cannot be a worker");
    assert_eq!(err.downcast_ref::<DriveError>().map(|e| e.stage), Some(Stage::Spawn), "{err:#}");
}

#[test]
fn the_built_worker_is_found_in_the_target_folder() {
    let built = Path::new(env!("CARGO_BIN_EXE_kiln-offload-worker"));
    let target = built.parent().unwrap().parent().unwrap();
    let found = kiln_offload::driver::find_worker_bin(target).expect("a worker under target/");
    assert!(found.ends_with("kiln-offload-worker") && found.is_file(), "{}", found.display());
    assert_eq!(kiln_offload::driver::find_worker_bin(&target.join("no-such-dir")), None);
}
