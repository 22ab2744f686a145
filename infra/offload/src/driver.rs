//! The dispatcher's side of the offload baseline: start a worker process,
//! wait until `Ping` answers (exponential backoff from 5 ms, doubling, at
//! most 500 ms between attempts), send one image with `Upload`, and tear
//! the process down whatever happens (the [`Worker`] guard kills and reaps
//! it on drop, on errors and panics too), timing each step.
//!
//! The API is synchronous; each [`drive`] runs its own current-thread tokio
//! runtime, so call it from plain threads, not from inside a runtime.

use crate::proto::image_client::ImageClient;
use crate::proto::{Echo, UploadReq};
use crate::settings::S3Settings;
use crate::timing::parse_server_timing;
use anyhow::Context;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

const FIRST_PING_BACKOFF: Duration = Duration::from_millis(5);
const MAX_PING_BACKOFF: Duration = Duration::from_millis(500);
/// Bytes of the worker's stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// How to start and reach a worker.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Path of the `kiln-offload-worker` binary.
    pub worker_bin: PathBuf,
    /// Bearer token the worker is started with and `Upload` sends.
    pub token: String,
    pub s3: S3Settings,
    /// The worker's self-termination deadline (`--lifetime`).
    pub lifetime_secs: u64,
    /// From spawn until the first `Ping` answer, at most.
    pub ready_timeout: Duration,
}

/// What one offloaded conversion cost, step by step (milliseconds).
#[derive(Debug, Clone, Serialize)]
pub struct DriveReport {
    /// fork/exec until the worker printed its listening line.
    pub spawn_ms: f64,
    /// From spawn until the first `Ping` answered.
    pub ready_ms: f64,
    pub ping_attempts: u32,
    /// Client-side `Upload` round trip.
    pub upload_ms: f64,
    /// The worker's `server-timing` stages.
    pub server_timing: Vec<(String, f64)>,
    /// The worker's peak RSS (`kiln-peak-rss`).
    pub peak_rss_bytes: Option<u64>,
    /// From kill until the process was reaped.
    pub teardown_ms: f64,
    /// From spawn until reaped.
    pub total_ms: f64,
    /// `(url, mime_type)` of each variant.
    pub variants: Vec<(String, String)>,
}

/// The step a drive failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stage {
    Spawn,
    Ready,
    Upload,
}

/// A failed drive; the worker was torn down all the same. Reach it with
/// `anyhow::Error::downcast_ref::<DriveError>()`.
#[derive(Debug, thiserror::Error)]
#[error("offload {stage:?} failed (worker pid {worker_pid:?}): {message}")]
pub struct DriveError {
    pub stage: Stage,
    pub worker_pid: Option<u32>,
    /// The gRPC status code, when the worker answered with one.
    pub code: Option<tonic::Code>,
    pub message: String,
    /// The worker's stderr, last bytes.
    pub stderr: String,
}

/// The newest `kiln-offload-worker` built under `target_dir` (`release` or
/// `debug`), as the e2e harness finds kiln-store.
pub fn find_worker_bin(target_dir: &Path) -> Option<PathBuf> {
    ["release", "debug"]
        .iter()
        .map(|profile| target_dir.join(profile).join("kiln-offload-worker"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// A running worker process, killed and reaped when dropped.
pub struct Worker {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker on a free loopback port and waits (at most
    /// `opts.ready_timeout`) for its listening line.
    pub fn spawn(opts: &DriveOptions) -> anyhow::Result<Worker> {
        let mut cmd = Command::new(&opts.worker_bin);
        cmd.args(["--listen", "127.0.0.1:0", "--lifetime", &opts.lifetime_secs.to_string()])
            .args(["--s3-endpoint", &opts.s3.endpoint, "--s3-bucket", &opts.s3.bucket])
            .args(["--s3-access-key", &opts.s3.access_key, "--s3-region", &opts.s3.region])
            .args(["--public-base-url", &opts.s3.public_base_url])
            .env(crate::TOKEN_ENV, &opts.token)
            .env(crate::S3_SECRET_ENV, &opts.s3.secret_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("cannot start {}", opts.worker_bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = Some(collect_tail(child.stderr.take().expect("piped stderr"), stderr.clone()));
        let mut worker = Worker { child, url: String::new(), stderr, stderr_reader };
        let urls = read_listening_line(stdout);
        match urls.recv_timeout(opts.ready_timeout) {
            Ok(url) => worker.url = url,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                worker.kill_and_reap();
                anyhow::bail!("no listening line within {:?}; stderr:\n{}", opts.ready_timeout, worker.stderr_tail())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = worker.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                worker.kill_and_reap();
                anyhow::bail!("the worker exited ({status}) before listening; stderr:\n{}", worker.stderr_tail())
            }
        }
        Ok(worker)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last bytes the worker wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process and waits until it is reaped; returns how long that took.
    pub fn teardown(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let reaped = started.elapsed();
        self.kill_and_reap();
        reaped
    }

    /// Kills and reaps the process, then lets the stderr reader see EOF.
    fn kill_and_reap(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// A thread that forwards the URL of the listening line, then drains stdout.
fn read_listening_line(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix(crate::LISTENING_PREFIX) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    rx
}

/// A thread that keeps the last [`STDERR_TAIL`] bytes of `stderr`.
fn collect_tail(stderr: impl Read + Send + 'static, tail: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(mut tail) = tail.lock() else { return };
            tail.push_str(&line);
            tail.push('\n');
            if tail.len() > STDERR_TAIL {
                let mut cut = tail.len() - STDERR_TAIL;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
        }
    })
}

/// Pings `url` until it answers or `deadline` passes; returns the channel
/// and the number of attempts.
pub async fn wait_ready(url: &str, deadline: Instant) -> anyhow::Result<(Channel, u32)> {
    let endpoint = Endpoint::from_shared(url.to_string())?.connect_timeout(Duration::from_secs(2));
    let mut backoff = FIRST_PING_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match ping(&endpoint).await {
            Ok(channel) => return Ok((channel, attempts)),
            Err(e) => e,
        };
        if Instant::now() + backoff > deadline {
            anyhow::bail!("no Ping answer after {attempts} attempt(s): {error:#}");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_PING_BACKOFF);
    }
}

async fn ping(endpoint: &Endpoint) -> anyhow::Result<Channel> {
    let channel = endpoint.connect().await?;
    let message = "ready?".to_string();
    let echo = ImageClient::new(channel.clone()).ping(Echo { message: message.clone() }).await?.into_inner();
    anyhow::ensure!(echo.message == message, "Ping echoed {:?}", echo.message);
    Ok(channel)
}

/// Sends one `Upload` with the bearer token.
pub async fn upload(channel: Channel, token: &str, req: UploadReq) -> Result<tonic::Response<crate::proto::UploadResp>, tonic::Status> {
    let mut request = tonic::Request::new(req);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| tonic::Status::invalid_argument("the token is not a valid metadata value"))?;
    request.metadata_mut().insert("authorization", bearer);
    ImageClient::new(channel)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(crate::DEFAULT_MAX_MESSAGE_BYTES)
        .upload(request)
        .await
}

/// Boots a worker, sends `data` as `folder/file_name`, tears the worker
/// down, and reports each step. Errors are [`DriveError`]s.
pub fn drive(opts: &DriveOptions, file_name: &str, folder: &str, data: Vec<u8>) -> anyhow::Result<DriveReport> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    let started = Instant::now();
    let worker = Worker::spawn(opts).map_err(|e| DriveError {
        stage: Stage::Spawn,
        worker_pid: None,
        code: None,
        message: format!("{e:#}"),
        stderr: String::new(),
    })?;
    let spawn_ms = ms(started.elapsed());
    let req = UploadReq { file_name: file_name.to_string(), data, folder: folder.to_string() };
    let outcome = runtime.block_on(ready_and_upload(worker.url(), opts, started, req));
    let (pid, stderr) = (worker.pid(), worker.stderr.clone());
    let teardown_ms = ms(worker.teardown());
    let total_ms = ms(started.elapsed());
    let (ready_ms, ping_attempts, upload_ms, response) = outcome.map_err(|(stage, code, message)| DriveError {
        stage,
        worker_pid: Some(pid),
        code,
        message,
        stderr: stderr.lock().map(|s| s.clone()).unwrap_or_default(),
    })?;
    let metadata = response.metadata();
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(DriveReport {
        spawn_ms,
        ready_ms,
        ping_attempts,
        upload_ms,
        server_timing: text(crate::SERVER_TIMING).map(|v| parse_server_timing(&v)).unwrap_or_default(),
        peak_rss_bytes: text(crate::PEAK_RSS).and_then(|v| v.parse().ok()),
        teardown_ms,
        total_ms,
        variants: response.into_inner().variants.into_iter().map(|v| (v.url, v.mime_type)).collect(),
    })
}

type Uploaded = (f64, u32, f64, tonic::Response<crate::proto::UploadResp>);

/// The async middle of [`drive`]: Ping until ready, then Upload.
async fn ready_and_upload(
    url: &str,
    opts: &DriveOptions,
    started: Instant,
    req: UploadReq,
) -> Result<Uploaded, (Stage, Option<tonic::Code>, String)> {
    let (channel, attempts) =
        wait_ready(url, started + opts.ready_timeout).await.map_err(|e| (Stage::Ready, None, format!("{e:#}")))?;
    let ready_ms = ms(started.elapsed());
    let upload_started = Instant::now();
    let response = upload(channel, &opts.token, req)
        .await
        .map_err(|s| (Stage::Upload, Some(s.code()), format!("{:?}: {}", s.code(), s.message())))?;
    Ok((ready_ms, attempts, ms(upload_started.elapsed()), response))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
