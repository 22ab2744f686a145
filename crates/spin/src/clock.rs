//! Time on Spin: the wall clock for leases, an async sleep that yields the
//! instance (a `thread::sleep` would block it, and with it every other
//! request the host thread serves), and a timeout built from it.

use kiln_upload::Clock;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasi::clocks::monotonic_clock;

/// The host's wall clock.
pub struct SpinClock;

impl Clock for SpinClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    async fn sleep(&self, duration: Duration) {
        sleep(duration).await
    }
}

/// Resolves after `duration`, without blocking the instance.
pub fn sleep(duration: Duration) -> Sleep {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep { deadline: monotonic_clock::now().saturating_add(nanos) }
}

pub struct Sleep {
    deadline: monotonic_clock::Instant,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.deadline {
            return Poll::Ready(());
        }
        // Spin's executor polls this pollable and wakes us when it is ready.
        spin_executor::push_waker(monotonic_clock::subscribe_instant(self.deadline), cx.waker().clone());
        Poll::Pending
    }
}

/// `Err(())` if `future` did not finish within `limit` (it is dropped, which
/// cancels an outgoing request).
pub async fn timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, ()> {
    let future = std::pin::pin!(future);
    match futures::future::select(future, sleep(limit)).await {
        futures::future::Either::Left((value, _)) => Ok(value),
        futures::future::Either::Right(((), _)) => Err(()),
    }
}
