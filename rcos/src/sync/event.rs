//! `Event`: a flag tasks can wait for.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::util::sync_shim::{AtomicBool, Notifier, notify_all};

/// A flag that tasks wait for (pycos's `Event`): [`set`](Self::set) wakes every waiter
/// and lets later waits pass at once, until [`clear`](Self::clear).
///
/// ```
/// use std::time::Duration;
/// use rcos::sync::Event;
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let ready = Event::new();
/// let waiter = rcos::spawn({
///     let ready = ready.clone();
///     move |_| async move { ready.wait_timeout(Duration::from_secs(5)).await }
/// });
/// ready.set();
/// assert_eq!(waiter.finish().await.get::<bool>(), Some(true));
/// # });
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Arc<Inner>,
}

struct Inner {
    set: AtomicBool,
    event: Notifier,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event {
            inner: Arc::new(Inner {
                set: AtomicBool::new(false),
                event: Notifier::new(),
            }),
        }
    }

    /// Sets the flag and wakes every waiting task.
    pub fn set(&self) {
        self.inner.set.store(true, Ordering::SeqCst);
        notify_all(&self.inner.event);
    }

    /// Clears the flag: later waits wait again.
    pub fn clear(&self) {
        self.inner.set.store(false, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }

    /// Waits until the flag is set.
    pub async fn wait(&self) {
        loop {
            if self.is_set() {
                return;
            }
            let listener = self.inner.event.listen();
            if self.is_set() {
                return;
            }
            listener.await;
        }
    }

    /// Waits until the flag is set or `timeout` passes; returns whether it is set
    /// (pycos's `wait(timeout)`).
    pub async fn wait_timeout(&self, timeout: Duration) -> bool {
        crate::time::timeout(timeout, self.wait()).await.is_ok()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
