//! Running a command and reading its peak RSS: the study's native paths,
//! the reference tools and the offload worker are measured as processes,
//! with `wait4`'s resource usage of exactly that child.

use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A finished child: its stdout, wall time and peak resident set.
pub struct Finished {
    pub stdout: Vec<u8>,
    pub wall_ms: f64,
    pub peak_rss_bytes: u64,
}

/// Runs `cmd` to completion; fails with its stderr on a non-zero exit.
pub fn run(mut cmd: Command) -> Result<Finished> {
    let what = format!("{cmd:?}");
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
    let (status, rusage) = wait4(child.id() as libc::pid_t).with_context(|| format!("waiting for {what}"))?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stdout = out_reader.join().expect("reader").context("reading stdout")?;
    let stderr = err_reader.join().expect("reader").context("reading stderr")?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("{what} failed (wait status {status}): {}", String::from_utf8_lossy(&stderr));
    }
    Ok(Finished { stdout, wall_ms, peak_rss_bytes: rusage.ru_maxrss as u64 * 1024 })
}

fn wait4(pid: libc::pid_t) -> std::io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain old data, fully written by wait4 on success.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if r == pid {
            return Ok((status, rusage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
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
