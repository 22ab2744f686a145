//! The `kiln-faults` binary: runs the fault proxy in front of an upstream
//! store until SIGINT/SIGTERM; driven through the JSON control API under
//! `/__faults/`.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;

/// Fault-injecting HTTP proxy for kiln's fault tests.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The store to forward to, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    upstream: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    kiln_faults::run(args.listen, &args.upstream, announce_listening, shutdown_signal()).await
}

/// Prints the line tests and scripts wait for, and flushes it.
fn announce_listening(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "kiln-faults listening on http://{addr}").context("writing to stdout")?;
    out.flush().context("flushing stdout")
}

/// Resolves on the first SIGINT or SIGTERM (Ctrl-C only, off Unix).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                eprintln!("kiln-faults: cannot watch SIGTERM ({err}); only Ctrl-C stops it");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
