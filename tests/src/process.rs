//! Child processes for the harness: free ports, readiness polling, and a
//! guard that kills the child (and shows its log) when dropped. Each child
//! leads its own process group and the whole group is killed: `spin up`
//! runs the app in a `spin trigger http` child of its own, which would
//! otherwise outlive it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// Children still running. Stacks kept in `static`s are never dropped, so
/// an `atexit` hook kills whatever is left when the test process exits.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

extern "C" fn kill_remaining_children() {
    if let Ok(children) = CHILDREN.lock() {
        for &pid in children.iter() {
            kill_group(pid);
        }
    }
}

fn track(child: &Child) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| unsafe {
        libc::atexit(kill_remaining_children);
    });
    CHILDREN.lock().unwrap().push(child.id());
}

/// SIGKILLs the process group `pid` leads (see [`Guard::spawn`]).
fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals that process group only.
    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed on drop.
pub struct Guard {
    child: Child,
    log: PathBuf,
}

impl Guard {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Guard {
        let child = cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        track(&child);
        Guard { child, log }
    }

    /// Starts `cmd`, copies its stdout to `log`, and returns once a line
    /// starting with `prefix` appears, with the rest of that line.
    pub fn spawn_reading_url(mut cmd: Command, log: PathBuf, prefix: &str) -> (Guard, String) {
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(std::fs::File::create(log.with_extension("err")).unwrap()));
        let mut child = cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        track(&child);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log_for_thread = log.clone();
        let wanted = prefix.to_string();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log_for_thread).unwrap();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(rest) = line.strip_prefix(&wanted) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let guard = Guard { child, log };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => (guard, url),
            Err(_) => panic!("{} did not report '{prefix}' in 30 s:\n{}", guard.log.display(), guard.log_tail()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let id = self.child.id();
        CHILDREN.lock().unwrap().retain(|&pid| pid != id);
    }
}

/// Polls `url` until any HTTP answer arrives, or panics after `timeout`.
pub fn wait_for_http(url: &str, timeout: Duration, guard: &Guard) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let started = Instant::now();
    while started.elapsed() < timeout {
        if agent.get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{url} did not answer within {timeout:?}:\n{}", guard.log_tail());
}
