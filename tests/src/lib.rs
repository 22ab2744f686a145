//! Harness for kiln's end-to-end tests and benchmarks: starts the real
//! local object store (`kiln-store`) and a real `spin up` of spin.toml with
//! the built `.wasm` components on free loopback ports, with the memory
//! limit of hosted Spin, and gives clients for both. Processes are killed
//! when the [`Stack`] is dropped.

pub mod colour;
pub mod hostile;
pub mod images;
pub mod process;
pub mod cluster;

use process::{free_port, wait_for_http, Guard};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Hosted Spin's per-instance memory: every e2e run uses it.
pub const MAX_INSTANCE_MEMORY: u64 = 128 * 1024 * 1024;
pub const BUCKET: &str = "kiln";
pub const ACCESS_KEY: &str = "kiln-e2e";
pub const SECRET_KEY: &str = "kiln-e2e-secret";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The shared corpus: `$KILN_CORPUS`, else `../shared/corpus`.
pub fn corpus() -> PathBuf {
    std::env::var_os("KILN_CORPUS").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/corpus"))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running store + Spin app.
pub struct Stack {
    pub api: String,
    pub s3: String,
    pub token: String,
    /// The secret of `POST /v1/events` (the store notifies with it).
    pub events_token: String,
    pub dir: PathBuf,
    agent: ureq::Agent,
    port: u16,
    spin_env: Vec<(String, String)>,
    /// Spin's runtime config (default: the repo's runtime-config.toml).
    runtime_config: PathBuf,
    spin: Option<Guard>,
    /// Between spin and the store, when the stack was started with faults.
    faults: Option<kiln_faults::Proxy>,
    _store: Guard,
}

/// An HTTP answer, whatever its status.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body)))
    }
}

impl Stack {
    /// Starts kiln-store and `spin up` with fresh state in a temp folder.
    pub fn start(name: &str) -> Stack {
        Self::start_with(name, &[])
    }

    /// Like [`Stack::start`], with extra environment for `spin up`
    /// (e.g. `SPIN_VARIABLE_...` overrides).
    pub fn start_with(name: &str, spin_env: &[(&str, &str)]) -> Stack {
        Self::launch(name, spin_env, true, false)
    }

    /// A stack whose store announces nothing: for tests that drive the
    /// converters themselves on keys under `originals/`.
    pub fn start_quiet(name: &str) -> Stack {
        Self::launch(name, &[], false, false)
    }

    /// A stack whose Spin app reaches the store through a fault-injecting
    /// proxy ([`Stack::faults`]); the tests and the store's notifications
    /// go direct.
    pub fn start_with_faults(name: &str, spin_env: &[(&str, &str)]) -> Stack {
        Self::launch(name, spin_env, true, true)
    }

    /// A stack whose `spin up` reads `runtime_config` (e.g. key-value on
    /// Redis) and whose store announces nothing.
    pub fn start_with_runtime_config(name: &str, runtime_config: PathBuf) -> Stack {
        Self::launch_with(name, &[], false, false, runtime_config)
    }

    fn launch(name: &str, spin_env: &[(&str, &str)], notify: bool, faults: bool) -> Stack {
        Self::launch_with(name, spin_env, notify, faults, repo_root().join("runtime-config.toml"))
    }

    fn launch_with(name: &str, spin_env: &[(&str, &str)], notify: bool, faults: bool, runtime_config: PathBuf) -> Stack {
        let root = repo_root();
        let dir = std::env::temp_dir().join(format!("kiln-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let api = format!("http://127.0.0.1:{port}");
        let token = format!("e2e-token-{}", std::process::id());
        let events_token = format!("e2e-events-{}", std::process::id());
        // The store notifies kiln's event route of every new original.
        let events_url = format!("{api}/v1/events");
        let (store, s3) = start_store(&root, &dir, notify.then_some((events_url.as_str(), events_token.as_str())));
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        // "{api}" in a value is this stack's own URL (known only here).
        let spin_env = spin_env.iter().map(|(k, v)| (k.to_string(), v.replace("{api}", &api))).collect();
        let faults = faults.then(|| kiln_faults::Proxy::start(&s3).expect("the fault proxy starts"));
        let mut stack = Stack { api, s3, token, events_token, dir, agent, port, spin_env, runtime_config, spin: None, faults, _store: store };
        stack.start_spin();
        stack
    }

    /// Starts `spin up` (again, after [`Stack::kill_spin`]): the same port,
    /// state dir (key-value) and store.
    pub fn start_spin(&mut self) {
        let spin = self.spawn_spin(self.port, "spin");
        self.spin = Some(spin);
    }

    /// Another `spin up` of the same app on `port`, with the same tokens,
    /// store and runtime config (its own log and state dir, named `name`):
    /// a second instance sharing this stack's state when that is Redis.
    pub fn spawn_spin(&self, port: u16, name: &str) -> Guard {
        let root = repo_root();
        let log_path = self.dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let mut cmd = Command::new(spin_binary(&root));
        cmd.args(["up", "--from"])
            .arg(root.join("spin.toml"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(self.dir.join(format!("{name}-state")))
            .args(["--max-instance-memory", &MAX_INSTANCE_MEMORY.to_string()])
            // As `make up` runs it (connection pooling off: runtime-config.toml).
            .arg("--runtime-config-file")
            .arg(&self.runtime_config)
            .env("SPIN_VARIABLE_AUTH_TOKEN", &self.token)
            .env("SPIN_VARIABLE_EVENTS_TOKEN", &self.events_token)
            .env("SPIN_VARIABLE_S3_ENDPOINT", self.faults.as_ref().map_or(self.s3.clone(), |f| f.url()))
            .env("SPIN_VARIABLE_S3_ACCESS_KEY", ACCESS_KEY)
            .env("SPIN_VARIABLE_S3_SECRET_KEY", SECRET_KEY)
            .env("SPIN_VARIABLE_S3_BUCKET", BUCKET)
            .env("SPIN_VARIABLE_PUBLIC_BASE_URL", format!("{}/{BUCKET}", self.s3))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        for (k, v) in &self.spin_env {
            cmd.env(k, v);
        }
        let spin = Guard::spawn(cmd, log_path);
        wait_for_http(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(180), &spin);
        spin
    }

    /// The fault-injecting proxy between spin and the store.
    pub fn faults(&self) -> &kiln_faults::Proxy {
        self.faults.as_ref().expect("this stack was started with Stack::start_with_faults")
    }

    /// The process id of `spin up` (it leads a process group holding the
    /// `spin trigger http` child that runs the app).
    pub fn spin_pid(&self) -> Option<u32> {
        self.spin.as_ref().map(|g| g.pid())
    }

    /// The process id of kiln-store (it leads its own process group).
    pub fn store_pid(&self) -> u32 {
        self._store.pid()
    }

    /// SIGKILLs `spin up` and everything it started (no graceful anything).
    pub fn kill_spin(&mut self) {
        drop(self.spin.take());
    }

    /// `POST /v1/sweep`: one pass; returns its JSON report.
    pub fn sweep(&self) -> serde_json::Value {
        let reply = self.post("/v1/sweep", "application/json", b"", Some(&self.token));
        assert_eq!(reply.status, 200, "sweep: {}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// POSTs `body` to `path` with the bearer `token` (None = no header).
    pub fn post(&self, path: &str, content_type: &str, body: &[u8], token: Option<&str>) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.api)).header("content-type", content_type);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        into_reply(req.send(body).expect("request to spin failed"))
    }

    /// POSTs image bytes with the right token.
    pub fn convert(&self, path: &str, image: &[u8]) -> Reply {
        self.post(path, "application/octet-stream", image, Some(&self.token))
    }

    /// POSTs `{"key": key}` with the right token.
    pub fn convert_key(&self, path: &str, key: &str) -> Reply {
        let body = serde_json::json!({ "key": key }).to_string();
        self.post(path, "application/json", body.as_bytes(), Some(&self.token))
    }

    /// A request of any method to an API path with only `headers` (no
    /// token): what a browser's preflight sends.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut req = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.api));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let request = req.body(body.to_vec()).unwrap();
        into_reply(self.agent.run(request).expect("request to spin failed"))
    }

    /// A request of any method to an API path with the right token, the
    /// `Tus-Resumable` header and `headers`.
    pub fn tus(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.tus_at(&self.api, method, path, headers, body)
    }

    /// [`Stack::tus`] to another instance of the app (`base` URL).
    pub fn tus_at(&self, base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("tus-resumable", "1.0.0");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let request = req.body(body.to_vec()).unwrap();
        into_reply(self.agent.run(request).expect("request to spin failed"))
    }

    /// Sends only the head of a request declaring `length` body bytes and
    /// returns the raw answer: for refusals made from the declared length,
    /// before the server reads any body.
    pub fn head_only(&self, method: &str, path: &str, headers: &[(&str, &str)], length: u64) -> String {
        self.head_only_as(&self.token, method, path, headers, length)
    }

    /// [`Stack::head_only`] with another bearer `token` (a scoped one).
    pub fn head_only_as(&self, token: &str, method: &str, path: &str, headers: &[(&str, &str)], length: u64) -> String {
        use std::io::{Read, Write};
        let addr = self.api.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
        conn.write_all(head.as_bytes()).unwrap();
        // The server answers and closes (it will not read the body): read
        // until the connection ends.
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Polls `GET /v1/uploads/<id>` (`url` absolute or a path) until the
    /// manifest is finished (200) and returns it. 202 (uploading,
    /// converting) and 404 (an event not processed yet) mean "not yet".
    pub fn wait_for_manifest(&self, url: &str) -> serde_json::Value {
        self.wait_for_manifest_at(&self.api, url.trim_start_matches(&self.api))
    }

    /// [`Stack::wait_for_manifest`] through another instance or a load
    /// balancer (`base` URL).
    pub fn wait_for_manifest_at(&self, base: &str, path: &str) -> serde_json::Value {
        let started = std::time::Instant::now();
        loop {
            let url = format!("{base}{path}");
            let reply = into_reply(self.agent.get(&url).header("authorization", format!("Bearer {}", self.token)).call().expect("GET failed"));
            match reply.status {
                200 => return reply.json(),
                202 | 404 => {}
                other => panic!("{path}: unexpected {other}: {}", String::from_utf8_lossy(&reply.body)),
            }
            assert!(started.elapsed() < Duration::from_secs(240), "no finished manifest for {path}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A GET of an API path with the right token.
    pub fn get_with_token(&self, path: &str) -> Reply {
        let req = self.agent.get(format!("{}{path}", self.api)).header("authorization", format!("Bearer {}", self.token));
        into_reply(req.call().expect("request to spin failed"))
    }

    /// An anonymous GET (e.g. of a public variant URL).
    pub fn get_url(&self, url: &str) -> Reply {
        into_reply(self.agent.get(url).call().expect("GET failed"))
    }

    fn bucket(&self) -> (Bucket, Credentials) {
        let bucket = Bucket::new(self.s3.parse().unwrap(), UrlStyle::Path, BUCKET, "us-east-1").unwrap();
        (bucket, Credentials::new(ACCESS_KEY, SECRET_KEY))
    }

    /// PUTs an object with the store's credentials (as any S3 client
    /// would); returns its ETag.
    pub fn put_object(&self, key: &str, bytes: &[u8]) -> String {
        let (bucket, creds) = self.bucket();
        let url = bucket.put_object(Some(&creds), key).sign(Duration::from_secs(60));
        let reply = into_reply(self.agent.put(url.as_str()).send(bytes).unwrap());
        assert_eq!(reply.status, 200, "PUT {key}: {}", String::from_utf8_lossy(&reply.body));
        reply.header("etag").unwrap_or_default().trim_matches('"').to_string()
    }

    /// GETs an object with the store's credentials.
    pub fn get_object(&self, key: &str) -> Reply {
        let (bucket, creds) = self.bucket();
        let url = bucket.get_object(Some(&creds), key).sign(Duration::from_secs(60));
        self.get_url(url.as_str())
    }

    /// Every key under `prefix` (ListObjectsV2, all pages).
    pub fn list_keys(&self, prefix: &str) -> Vec<String> {
        let (bucket, creds) = self.bucket();
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = bucket.list_objects_v2(Some(&creds));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let reply = self.get_url(action.sign(Duration::from_secs(60)).as_str());
            assert_eq!(reply.status, 200, "LIST {prefix}: {}", String::from_utf8_lossy(&reply.body));
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&String::from_utf8_lossy(&reply.body)).unwrap();
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return keys,
            }
        }
    }

    /// The store's unfinished multipart uploads (ListMultipartUploads), as
    /// `<key> <upload id>` lines.
    pub fn multipart_uploads(&self) -> Vec<String> {
        let (bucket, creds) = self.bucket();
        let signed = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            rusty_s3::Method::Get,
            bucket.base_url().clone(),
            creds.key(),
            creds.secret(),
            None,
            "us-east-1",
            60,
            [("uploads", "")].into_iter(),
            std::iter::empty(),
        );
        let reply = self.get_url(signed.as_str());
        assert_eq!(reply.status, 200, "ListMultipartUploads: {}", String::from_utf8_lossy(&reply.body));
        let xml = String::from_utf8_lossy(&reply.body).into_owned();
        xml.split("<Upload>")
            .skip(1)
            .map(|u| {
                let tag = |name: &str| u.split(&format!("<{name}>")).nth(1).and_then(|r| r.split('<').next()).unwrap_or("").to_string();
                format!("{} {}", tag("Key"), tag("UploadId"))
            })
            .collect()
    }
}

fn into_reply(mut resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = resp.body_mut().with_config().limit(256 << 20).read_to_vec().unwrap_or_default();
    Reply { status, headers, body }
}

/// A running kiln-store alone (no Spin), for tools that only need the
/// bucket, such as the offload baseline. Killed when dropped.
pub struct Store {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub dir: PathBuf,
    pub bucket: &'static str,
    pub access_key: &'static str,
    pub secret_key: &'static str,
    agent: ureq::Agent,
    _guard: Guard,
}

impl Store {
    /// Starts kiln-store with fresh state in a temp folder, without notifications.
    pub fn start(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("kiln-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (guard, url) = start_store(&repo_root(), &dir, None);
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Store { url, dir, bucket: BUCKET, access_key: ACCESS_KEY, secret_key: SECRET_KEY, agent, _guard: guard }
    }

    /// GETs an object with the store's credentials.
    pub fn get_object(&self, key: &str) -> Reply {
        let bucket = Bucket::new(self.url.parse().unwrap(), UrlStyle::Path, BUCKET, "us-east-1").unwrap();
        let url = bucket.get_object(Some(&Credentials::new(ACCESS_KEY, SECRET_KEY)), key).sign(Duration::from_secs(60));
        self.get_url(url.as_str())
    }

    /// An anonymous GET (e.g. of a public variant URL).
    pub fn get_url(&self, url: &str) -> Reply {
        into_reply(self.agent.get(url).call().expect("GET failed"))
    }
}

fn start_store(root: &Path, dir: &Path, notify: Option<(&str, &str)>) -> (Guard, String) {
    let bin = ["release", "debug"]
        .iter()
        .map(|p| root.join("target").join(p).join("kiln-store"))
        .filter(|p| p.exists())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .or_else(|| std::env::var_os("KILN_STORE_BIN").map(PathBuf::from))
        .expect("kiln-store binary not found: run `cargo build -p kiln-store` (make test does)");
    let log_path = dir.join("store.log");
    let mut cmd = Command::new(bin);
    cmd.args(["--port", "0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, "--bucket", BUCKET])
        .arg("--root")
        .arg(dir.join("store"));
    if let Some((notify_url, notify_token)) = notify {
        cmd.args(["--notify-url", notify_url, "--notify-token", notify_token, "--notify-prefix", "originals/"]);
    }
    let (guard, url) = Guard::spawn_reading_url(cmd, log_path, "kiln-store listening on ");
    (guard, url)
}

/// `spin` from PATH, else one `scripts/install-spin.sh` put in
/// `.kiln/bin`, else `../shared/bin/spin` (scripts/spin-path.sh's order).
pub fn spin_binary(root: &Path) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("spin"))
        .find(|p| p.is_file());
    let installed = root.join(".kiln/bin/spin");
    on_path.or_else(|| installed.is_file().then_some(installed)).unwrap_or_else(|| {
        let shared = root.join("../shared/bin/spin");
        assert!(shared.exists(), "spin not found on PATH nor at {}", shared.display());
        shared
    })
}
