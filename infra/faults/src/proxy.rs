//! [`Proxy`]: the in-process handle for synchronous test code. It runs the
//! proxy on its own tokio runtime thread and exposes rules, the seen log and
//! stall release as plain blocking calls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use crate::rule::Rule;
use crate::seen::Seen;
use crate::service::Shared;
use crate::upstream::Upstream;

/// How long dropping a [`Proxy`] waits for its runtime thread to stop.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A running fault proxy. Dropping it stops it: the port is closed and every
/// open client connection, stalled ones included, is closed unanswered.
pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    runtime: Option<Runtime>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1` (a free port) forwarding to `upstream`,
    /// e.g. `http://127.0.0.1:9000`.
    pub fn start(upstream: &str) -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream)
    }

    /// Starts a proxy listening on `listen` (port 0 picks a free one), e.g. to
    /// come back on the port of a proxy that was dropped.
    pub fn start_on(listen: SocketAddr, upstream: &str) -> anyhow::Result<Self> {
        let upstream = Upstream::parse(upstream)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kiln-faults")
            .enable_all()
            .build()
            .context("starting the kiln-faults runtime")?;
        let listener = runtime
            .block_on(TcpListener::bind(listen))
            .with_context(|| format!("kiln-faults cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let shared = Arc::new(Shared::new(upstream));
        runtime.spawn(crate::server::serve(listener, Arc::clone(&shared), std::future::pending()));
        Ok(Proxy { shared, addr, runtime: Some(runtime) })
    }

    /// The base URL to give clients instead of the upstream's: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a rule; the first matching rule wins.
    pub fn add(&self, rule: Rule) {
        self.shared.rules().push(rule);
    }

    /// The rules still in force, with their remaining `times`.
    pub fn rules(&self) -> Vec<Rule> {
        self.shared.rules().list()
    }

    /// Removes every rule. Stalled requests stay stalled: see [`Proxy::release_all`].
    pub fn clear(&self) {
        self.shared.rules().clear();
    }

    /// Every request seen so far (since the last [`Proxy::clear_seen`]), oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.all()
    }

    /// Forgets the seen log (sequence numbers keep counting up).
    pub fn clear_seen(&self) {
        self.shared.seen.clear();
    }

    /// The oldest seen request for which `pred` holds, waiting up to
    /// `timeout` for one to arrive; `None` on timeout. Entries already in the
    /// log count, so filter on [`Seen::seq`] or [`Proxy::clear_seen`] first
    /// when an earlier request could match too.
    pub fn wait_seen(&self, pred: impl Fn(&Seen) -> bool, timeout: Duration) -> Option<Seen> {
        self.shared.seen.wait(pred, timeout)
    }

    /// How many requests are stalled right now.
    pub fn stalled(&self) -> usize {
        self.shared.gate.held()
    }

    /// Releases every stalled request (each is then forwarded); returns how
    /// many there were.
    pub fn release_all(&self) -> usize {
        self.shared.gate.release_all()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        // Blocking to wait is not allowed inside another runtime.
        if tokio::runtime::Handle::try_current().is_ok() {
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(STOP_GRACE);
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("addr", &self.addr).field("upstream", &self.shared.upstream).finish()
    }
}
