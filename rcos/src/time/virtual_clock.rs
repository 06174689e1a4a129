//! The virtual clock of a deterministic runtime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::util::Mutex;

/// Time that moves only when the runtime has nothing else to do.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    base: Instant,
    state: Mutex<State>,
    next_key: AtomicU64,
    /// Work under way outside the runtime (a thread-pool job): time must not jump
    /// while it runs, or its waiter would time out at once.
    busy_outside: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    elapsed: Duration,
    timers: BTreeMap<(Instant, u64), Waker>,
}

impl VirtualClock {
    pub(crate) fn new() -> VirtualClock {
        VirtualClock {
            base: Instant::now(),
            state: Mutex::new(State::default()),
            next_key: AtomicU64::new(0),
            busy_outside: AtomicUsize::new(0),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.base + self.state.lock().elapsed
    }

    /// Moves time forward to the earliest timer and wakes every timer due by then.
    /// Returns false if there is no timer.
    pub(crate) fn advance_to_next(&self) -> bool {
        if self.busy_outside.load(Ordering::SeqCst) > 0 {
            return false;
        }
        let due: Vec<Waker> = {
            let mut st = self.state.lock();
            let Some((&(deadline, _), _)) = st.timers.first_key_value() else {
                return false;
            };
            let now = self.base + st.elapsed;
            if deadline > now {
                st.elapsed = deadline - self.base;
            }
            let now = self.base + st.elapsed;
            let mut due = Vec::new();
            while let Some(entry) = st.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            due
        };
        for waker in due {
            waker.wake();
        }
        true
    }

    /// Moves time forward by `by`, waking the timers that fall due.
    #[cfg(feature = "test-util")]
    pub(crate) fn advance(&self, by: Duration) {
        let due: Vec<Waker> = {
            let mut st = self.state.lock();
            st.elapsed += by;
            let now = self.base + st.elapsed;
            let mut due = Vec::new();
            while let Some(entry) = st.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            due
        };
        for waker in due {
            waker.wake();
        }
    }
}

/// Holds a virtual clock still while work outside the runtime is under way.
#[derive(Debug)]
pub(crate) struct Inhibit(Option<Arc<VirtualClock>>);

impl VirtualClock {
    pub(crate) fn inhibit(self: &Arc<Self>) -> Inhibit {
        self.busy_outside.fetch_add(1, Ordering::SeqCst);
        Inhibit(Some(self.clone()))
    }
}

impl Inhibit {
    pub(crate) fn none() -> Inhibit {
        Inhibit(None)
    }
}

impl Drop for Inhibit {
    fn drop(&mut self) {
        if let Some(clock) = self.0.take() {
            clock.busy_outside.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A timer on a virtual clock.
#[derive(Debug)]
pub(crate) struct VirtualSleep {
    clock: Arc<VirtualClock>,
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl VirtualSleep {
    pub(crate) fn new(clock: Arc<VirtualClock>, deadline: Instant) -> VirtualSleep {
        VirtualSleep {
            clock,
            deadline,
            key: None,
        }
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.clock.state.lock();
        if self.clock.base + st.elapsed >= self.deadline {
            if let Some(key) = self.key.take() {
                st.timers.remove(&key);
            }
            return Poll::Ready(());
        }
        let key = *self.key.get_or_insert_with(|| {
            (
                self.deadline,
                self.clock.next_key.fetch_add(1, Ordering::Relaxed),
            )
        });
        match st.timers.get_mut(&key) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => *waker = cx.waker().clone(),
            None => {
                st.timers.insert(key, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.clock.state.lock().timers.remove(&key);
            drop(waker);
        }
    }
}
