//! kiln-faults: a fault-injecting HTTP/1.1 reverse proxy for kiln's fault
//! tests. It sits between kiln and the object store, forwards every request
//! unchanged (Host included, so SigV4 signatures stay valid) and, where a
//! [`Rule`] matches, answers with an error status, delays, stalls until
//! released, drops the connection, or forwards and then loses the response.
//! Every request is logged as [`Seen`].
//!
//! In-process, from synchronous test code:
//!
//! ```no_run
//! use std::time::Duration;
//! use kiln_faults::{Action, Proxy, Rule};
//!
//! let proxy = Proxy::start("http://127.0.0.1:9000")?;
//! proxy.add(Rule::new(Action::status(503)).method("PUT").path("variants/").times(2));
//! proxy.add(Rule::new(Action::stall()).method("POST").query("uploadId="));
//! // ... point kiln at proxy.url() and start an upload ...
//! let stalled = proxy.wait_seen(|r| r.action == "stall", Duration::from_secs(30));
//! proxy.release_all();
//! # let _ = stalled;
//! # anyhow::Ok(())
//! ```
//!
//! Out of process: the `kiln-faults` binary and its JSON control API under
//! `/__faults/` (see the README).

mod control;
mod proxy;
mod rule;
mod seen;
mod server;
mod service;
mod stall;
mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

pub use proxy::Proxy;
pub use rule::{Action, Rule};
pub use seen::Seen;

/// Runs a proxy on the current tokio runtime (the binary's entry point):
/// binds `listen`, calls `ready` with the bound address, then serves until
/// `shutdown` resolves. Rules are added through the control API.
pub async fn run(
    listen: SocketAddr,
    upstream: &str,
    ready: impl FnOnce(SocketAddr) -> anyhow::Result<()>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let upstream = upstream::Upstream::parse(upstream)?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("kiln-faults cannot listen on {listen}"))?;
    ready(listener.local_addr().context("reading the bound address")?)?;
    server::serve(listener, Arc::new(service::Shared::new(upstream)), shutdown).await;
    Ok(())
}
