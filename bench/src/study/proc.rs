//! Running a command and reading its peak RSS: the study's native paths
//! and the reference tools are measured as processes, each under GNU
//! `/usr/bin/time -f %M`. Not with our own `wait4`: Linux carries the peak
//! RSS of the address space a child was forked from across `exec`, so a
//! child of this (large) process would report at least our own RSS; `time`
//! is a small process to fork from.

use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A finished child: its stdout, wall time and peak resident set.
pub struct Finished {
    pub stdout: Vec<u8>,
    pub wall_ms: f64,
    pub peak_rss_bytes: u64,
}

/// Runs `cmd` to completion under `/usr/bin/time`; fails with its stderr
/// on a non-zero exit.
pub fn run(cmd: Command) -> Result<Finished> {
    let what = format!("{cmd:?}");
    let rss_file = tempfile_path();
    let mut timed = Command::new("/usr/bin/time");
    timed.args(["-f", "%M", "-o"]).arg(&rss_file).arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let mut cmd = timed;
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("starting {what}"))?;
    // Read both pipes on threads so a chatty child never blocks.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let status = child.wait().with_context(|| format!("waiting for {what}"))?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stdout = out_reader.join().expect("reader").context("reading stdout")?;
    let stderr = err_reader.join().expect("reader").context("reading stderr")?;
    let report = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let _ = std::fs::remove_file(&rss_file);
    if !status.success() {
        bail!("{what} failed ({status}): {}{report}", String::from_utf8_lossy(&stderr));
    }
    // GNU time writes the peak RSS in KiB as the file's last line.
    let kib: u64 = report.lines().last().and_then(|l| l.trim().parse().ok()).with_context(|| format!("/usr/bin/time wrote {report:?}"))?;
    Ok(Finished { stdout, wall_ms, peak_rss_bytes: kib * 1024 })
}

fn tempfile_path() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!("kiln-study-rss-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// First line of `cmd`'s output (stdout, else stderr), for version strings.
pub fn version(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
        }
        Err(_) => "not installed".into(),
    }
}
