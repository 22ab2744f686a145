//! The "seen" log: one entry per proxied request, in arrival order, with the
//! action that was applied, and a blocking wait for an entry to appear
//! (synchronous, so plain test threads can use it).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One request as the proxy saw it, recorded when its action was chosen
/// (before a stall or delay starts, before anything is forwarded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// 1, 2, 3… in arrival order; never reused, even after a clear.
    pub seq: u64,
    /// The HTTP method, e.g. `PUT`.
    pub method: String,
    /// The percent-decoded path, e.g. `/kiln/variants/a b.webp`.
    pub path: String,
    /// The path as received.
    pub raw_path: String,
    /// The raw query string without `?` (empty if none).
    pub query: String,
    /// `forward`, or the applied action's [`crate::Action::label`].
    pub action: String,
    /// Milliseconds since the proxy started.
    pub at_ms: u64,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Seen>,
    last_seq: u64,
}

/// The log shared by the request handlers and the handle.
pub(crate) struct SeenLog {
    inner: Mutex<Inner>,
    changed: Condvar,
    started: Instant,
}

impl SeenLog {
    pub(crate) fn new() -> Self {
        SeenLog { inner: Mutex::default(), changed: Condvar::new(), started: Instant::now() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an entry (its `seq` and `at_ms` are filled in here) and wakes waiters.
    pub(crate) fn push(&self, mut entry: Seen) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut inner = self.lock();
        inner.last_seq += 1;
        entry.seq = inner.last_seq;
        entry.at_ms = at_ms;
        inner.entries.push(entry);
        drop(inner);
        self.changed.notify_all();
    }

    /// A copy of every entry.
    pub(crate) fn all(&self) -> Vec<Seen> {
        self.lock().entries.clone()
    }

    /// Forgets every entry; returns how many there were.
    pub(crate) fn clear(&self) -> usize {
        std::mem::take(&mut self.lock().entries).len()
    }

    /// The first entry (oldest first, including ones already there) for which
    /// `pred` holds, waiting up to `timeout` for one to arrive.
    pub(crate) fn wait(&self, pred: impl Fn(&Seen) -> bool, timeout: Duration) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if let Some(found) = inner.entries.iter().find(|s| pred(s)) {
                return Some(found.clone());
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            inner = self.changed.wait_timeout(inner, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}
