//! Time: [`sleep`], [`timeout`] and [`now`], on the current runtime's clock.
//!
//! A runtime normally runs on real time (sleeps and timeouts are kept by one
//! process-wide `rcos-timeouts` thread, off the reactor). A deterministic runtime
//! (feature `test-util`, see [`Builder::deterministic`](crate::runtime::Builder::deterministic))
//! runs on a virtual clock instead: time stands still while any task can run, and
//! jumps straight to the next timer when every task is waiting. A test of a 30-second
//! timeout then finishes in microseconds, the same way every run.
//!
//! The functions here pick the clock of the runtime the calling code runs on (the
//! current task's, or the one entered with [`Handle::enter`](crate::Handle::enter)); on a
//! plain thread outside any runtime they use real time.

mod deadlines;
mod virtual_clock;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

pub(crate) use virtual_clock::VirtualClock;

/// Which clock a runtime runs on.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Real,
    Virtual(Arc<VirtualClock>),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Virtual(v) => v.now(),
        }
    }

    /// A sleep until `deadline`. On real time it is an entry in the `rcos-timeouts`
    /// table, like a timeout, not an async-io timer: while an async-io timer is
    /// pending, every turn of the reactor allocates to split its timer map, which every
    /// message between nodes paid for as long as any task slept.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            inner: match (self, deadlines::Deadlines::get()) {
                (Clock::Real, Some(deadlines)) => SleepInner::Deadline {
                    timer: deadlines::DeadlineSleep::new(deadlines, deadline),
                },
                (Clock::Real, None) => SleepInner::Real {
                    timer: async_io::Timer::at(deadline),
                },
                (Clock::Virtual(v), _) => SleepInner::Virtual {
                    timer: virtual_clock::VirtualSleep::new(v.clone(), deadline),
                },
            },
        }
    }

    pub(crate) fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.deadline(duration))
    }

    /// `now + duration`, saturating far in the future instead of overflowing.
    pub(crate) fn deadline(&self, duration: Duration) -> Instant {
        deadline_after(self.now(), duration)
    }

    /// Runs `future` for at most `duration`. On real time the limit is kept by rcos's
    /// timeout thread rather than a reactor timer: a timeout usually does not fire, and
    /// this way setting and cancelling one wakes no other thread.
    pub(crate) fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        self.timeout_impl(duration, future, false)
    }

    /// As [`timeout`](Self::timeout), for a timeout that is polled at once (`call`
    /// awaits it right away): on real time its first poll does not read the clock again
    /// unless the limit was zero. A deadline that passes before that poll still fires,
    /// through the timeout thread.
    pub(crate) fn timeout_polled_now<F: Future>(
        &self,
        duration: Duration,
        future: F,
    ) -> Timeout<F> {
        self.timeout_impl(duration, future, true)
    }

    fn timeout_impl<F: Future>(
        &self,
        duration: Duration,
        future: F,
        polled_now: bool,
    ) -> Timeout<F> {
        let sleep = match (self, deadlines::Deadlines::get()) {
            (Clock::Real, Some(deadlines)) => {
                let now = Instant::now();
                let deadline = deadline_after(now, duration);
                let mut timer = deadlines::DeadlineSleep::new(deadlines, deadline);
                if polled_now && deadline > now {
                    timer.skip_first_check();
                }
                Sleep {
                    inner: SleepInner::Deadline { timer },
                }
            }
            _ => self.sleep_until(self.deadline(duration)),
        };
        Timeout { future, sleep }
    }

    /// Keeps a virtual clock from jumping while the guard lives (work outside the
    /// runtime is under way); does nothing on real time.
    pub(crate) fn inhibit_advance(&self) -> virtual_clock::Inhibit {
        match self {
            Clock::Real => virtual_clock::Inhibit::none(),
            Clock::Virtual(v) => v.inhibit(),
        }
    }

    /// In deterministic mode, when no task is ready: moves time to the next timer and
    /// wakes it. Returns whether anything was woken.
    pub(crate) fn advance_if_idle(&self) -> bool {
        match self {
            Clock::Real => false,
            Clock::Virtual(v) => v.advance_to_next(),
        }
    }
}

/// `now + duration`, saturating far in the future instead of overflowing.
fn deadline_after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The clock of the runtime the caller runs on.
pub(crate) fn current_clock() -> Clock {
    match crate::runtime::context::current_shared() {
        Some(shared) => shared.clock.clone(),
        None => Clock::Real,
    }
}

/// The current time on the caller's runtime clock (virtual in deterministic mode).
///
/// ```
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let start = rcos::time::now();
/// rcos::time::sleep(std::time::Duration::from_millis(5)).await;
/// assert!(rcos::time::now() - start >= std::time::Duration::from_millis(5));
/// # });
/// ```
pub fn now() -> Instant {
    current_clock().now()
}

/// Waits for `duration` on the caller's runtime clock.
///
/// Unlike [`TaskRef::sleep`](crate::TaskRef::sleep), this cannot be interrupted by
/// `resume` or `throw`, and it works in any async code, not only in a task.
pub fn sleep(duration: Duration) -> Sleep {
    current_clock().sleep(duration)
}

/// Waits until `deadline` on the caller's runtime clock.
pub fn sleep_until(deadline: Instant) -> Sleep {
    current_clock().sleep_until(deadline)
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] if time ran out
/// first (the future is then dropped).
///
/// ```
/// use std::time::Duration;
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let slow = rcos::time::sleep(Duration::from_secs(60));
/// assert!(rcos::time::timeout(Duration::from_millis(1), slow).await.is_err());
/// # });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    current_clock().timeout(duration, future)
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    inner: SleepInner,
}

#[derive(Debug)]
enum SleepInner {
    /// Real time when the `rcos-timeouts` thread could not be started.
    Real {
        timer: async_io::Timer,
    },
    Virtual {
        timer: virtual_clock::VirtualSleep,
    },
    /// A sleep or a [`timeout`]'s limit on real time.
    Deadline {
        timer: deadlines::DeadlineSleep,
    },
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.inner {
            SleepInner::Real { timer } => Pin::new(timer).poll(cx).map(|_| ()),
            SleepInner::Virtual { timer } => timer.poll(cx),
            SleepInner::Deadline { timer } => timer.poll(cx),
        }
    }
}

/// The error of a [`timeout`] that ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

pin_project! {
    /// The future returned by [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Clock, SleepInner};

    #[test]
    fn a_sleep_on_real_time_is_kept_off_the_reactor_and_wakes_after_its_time() {
        let sleep = Clock::Real.sleep(Duration::from_millis(20));
        assert!(
            matches!(sleep.inner, SleepInner::Deadline { .. }),
            "a real-time sleep is an entry of the rcos-timeouts table: {sleep:?}"
        );
        let start = Instant::now();
        futures_lite::future::block_on(sleep);
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A sleep whose time has passed is ready at once.
        let past = Clock::Real.sleep_until(Instant::now());
        futures_lite::future::block_on(past);
    }
}
