//! The stall gate: stalled requests wait on it until everything held is
//! released at once (or their own time limit passes), and it counts how many
//! are held right now.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Release generations: each release bumps the number, waking every ticket
/// taken before it.
pub(crate) struct Gate {
    generation: watch::Sender<u64>,
    held: Arc<AtomicUsize>,
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate { generation: watch::Sender::new(0), held: Arc::default() }
    }

    /// A place in the queue; take it *before* announcing the stall, so a
    /// release that follows the announcement cannot be missed.
    pub(crate) fn ticket(&self) -> Ticket {
        self.held.fetch_add(1, Ordering::SeqCst);
        Ticket { release: self.generation.subscribe(), held: Arc::clone(&self.held) }
    }

    /// Releases every ticket taken so far; returns how many were held.
    pub(crate) fn release_all(&self) -> usize {
        let held = self.held();
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
        held
    }

    /// How many requests are stalled right now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

/// One held request; dropping it (released, timed out, or the client went
/// away and the handler was dropped) takes it off the held count.
pub(crate) struct Ticket {
    release: watch::Receiver<u64>,
    held: Arc<AtomicUsize>,
}

impl Ticket {
    /// Waits for the next release, or `max` if given, whichever comes first.
    pub(crate) async fn wait(mut self, max: Option<Duration>) {
        match max {
            Some(max) => {
                let _ = tokio::time::timeout(max, self.release.changed()).await;
            }
            None => {
                let _ = self.release.changed().await;
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}
