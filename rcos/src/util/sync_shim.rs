//! The synchronisation types rcos's primitives are built on, swappable for loom's.
//!
//! Normally these are std's (and event-listener's) types. Built with
//! `RUSTFLAGS="--cfg rcos_loom"` they are loom's, so that loom's model checker can
//! explore every interleaving of the code built on them: the mutex behind
//! [`Mutex`](super::Mutex) (the mailbox's, the task table's and every sync
//! primitive's state), the flag of [`sync::Event`](crate::sync::Event), the thread
//! identity a lock is owned by outside tasks, and the notifier `Event` waits on.
//! `.ci/loom` runs the models (rcos/tests/loom_sync.rs and `util::loom_models`).
//!
//! Under loom, the notifier is a small loom-aware stand-in with event-listener's
//! interface (event-listener wakes under its own std mutex, which loom's scheduler
//! cannot see): the models check rcos's protocol around it (flag, listen, re-check,
//! wait), not event-listener itself, which has loom tests of its own.

#[cfg(not(rcos_loom))]
pub(crate) use std::sync::atomic::AtomicBool;
#[cfg(not(rcos_loom))]
pub(crate) use std::sync::{Condvar, Mutex as RawMutex, MutexGuard};
#[cfg(not(rcos_loom))]
pub(crate) use std::thread::ThreadId;

#[cfg(rcos_loom)]
pub(crate) use loom::sync::atomic::AtomicBool;
#[cfg(rcos_loom)]
pub(crate) use loom::sync::{Condvar, Mutex as RawMutex, MutexGuard};
#[cfg(rcos_loom)]
pub(crate) use loom::thread::ThreadId;

/// The calling thread's identity (a loom thread's, under loom).
pub(crate) fn thread_id() -> ThreadId {
    #[cfg(not(rcos_loom))]
    return std::thread::current().id();
    #[cfg(rcos_loom)]
    return loom::thread::current().id();
}

/// What [`sync::Event`](crate::sync::Event) waits on.
#[cfg(not(rcos_loom))]
pub(crate) type Notifier = event_listener::Event;

/// Wakes every listener of `notifier`.
#[cfg(not(rcos_loom))]
pub(crate) fn notify_all(notifier: &Notifier) {
    super::notify(notifier, usize::MAX);
}

#[cfg(rcos_loom)]
pub(crate) use model::{Notifier, notify_all};

#[cfg(rcos_loom)]
mod model {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::{Arc, Mutex};

    /// A loom-visible notifier with the part of event-listener's interface rcos uses:
    /// a listener registered before a notification is woken by it.
    #[derive(Debug, Default)]
    pub(crate) struct Notifier {
        listeners: Arc<Mutex<Vec<Arc<Mutex<Slot>>>>>,
    }

    #[derive(Debug, Default)]
    struct Slot {
        notified: bool,
        waker: Option<Waker>,
    }

    impl Notifier {
        pub(crate) fn new() -> Notifier {
            Notifier::default()
        }

        /// Registers a listener; it completes once notified.
        pub(crate) fn listen(&self) -> Listener {
            let slot = Arc::new(Mutex::new(Slot::default()));
            self.listeners.lock().unwrap().push(slot.clone());
            Listener { slot }
        }
    }

    /// Wakes every listener registered so far.
    pub(crate) fn notify_all(notifier: &Notifier) {
        let slots = std::mem::take(&mut *notifier.listeners.lock().unwrap());
        for slot in slots {
            let waker = {
                let mut slot = slot.lock().unwrap();
                slot.notified = true;
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    #[derive(Debug)]
    pub(crate) struct Listener {
        slot: Arc<Mutex<Slot>>,
    }

    impl Future for Listener {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut slot = self.slot.lock().unwrap();
            if slot.notified {
                return Poll::Ready(());
            }
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
