//! Small internal helpers shared by the runtime's modules.

use std::sync::PoisonError;

pub(crate) mod sync_shim;

#[cfg(all(test, rcos_loom))]
mod loom_models;

pub(crate) use sync_shim::MutexGuard;
use sync_shim::RawMutex;

/// A `std::sync::Mutex` that ignores poisoning (loom's under `--cfg rcos_loom`).
///
/// rcos never runs user code while holding one of its own locks, so a poisoned lock can
/// only come from a bug inside rcos itself; the data behind it is still consistent
/// because every critical section is written to leave it so before any call that
/// could panic. Ignoring the poison keeps one panicking task from taking the whole
/// runtime down with it.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(RawMutex<T>);

impl<T> Mutex<T> {
    #[cfg(not(rcos_loom))]
    pub(crate) const fn new(value: T) -> Self {
        Mutex(RawMutex::new(value))
    }

    #[cfg(rcos_loom)]
    pub(crate) fn new(value: T) -> Self {
        Mutex(RawMutex::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Notifies up to `n` listeners of `event`, if it has any.
///
/// `Event::notify` allocates the event's inner state on first use even when nobody
/// listens; most events here (a task's end, a mailbox's room) usually have no
/// listener, so this checks first. The fence orders the caller's state change (made
/// before the call) against the listener count, so a listener that registered before
/// checking that state is never missed.
#[inline]
pub(crate) fn notify(event: &event_listener::Event, n: usize) {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    if event.total_listeners() > 0 {
        event.notify(n);
    }
}

/// Runs a closure when dropped.
pub(crate) struct OnDrop<F: FnMut()>(pub(crate) F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Turns a panic payload into the message it carries.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// A one-shot slot: one side fills it, the other waits for the value, from a task or a
/// plain thread. Dropping the [`SlotFiller`] unfilled closes the slot.
pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    event: event_listener::Event,
}

struct SlotState<T> {
    value: Option<T>,
    closed: bool,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot {
            state: Mutex::new(SlotState {
                value: None,
                closed: false,
            }),
            event: event_listener::Event::new(),
        }
    }

    /// Puts the value in, unless the slot was closed; hands it back then.
    pub(crate) fn fill(&self, value: T) -> Result<(), T> {
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(value);
            }
            st.value = Some(value);
            st.closed = true;
        }
        notify(&self.event, usize::MAX);
        Ok(())
    }

    /// Closes the slot: waiters get `None` unless it was filled first.
    pub(crate) fn close(&self) {
        let was_open = {
            let mut st = self.state.lock();
            !std::mem::replace(&mut st.closed, true)
        };
        if was_open {
            notify(&self.event, usize::MAX);
        }
    }

    /// Whether the slot was filled or closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    fn try_take(&self) -> Option<Option<T>> {
        let mut st = self.state.lock();
        if st.closed {
            Some(st.value.take())
        } else {
            None
        }
    }

    /// Blocks the thread until the slot is filled (`Some`) or closed (`None`).
    pub(crate) fn wait_blocking(&self) -> Option<T> {
        use event_listener::Listener;
        loop {
            if let Some(out) = self.try_take() {
                return out;
            }
            let listener = self.event.listen();
            if let Some(out) = self.try_take() {
                return out;
            }
            listener.wait();
        }
    }

    /// Waits until the slot is filled (`Some`) or closed (`None`).
    pub(crate) async fn wait(&self) -> Option<T> {
        loop {
            if let Some(out) = self.try_take() {
                return out;
            }
            let listener = self.event.listen();
            if let Some(out) = self.try_take() {
                return out;
            }
            listener.await;
        }
    }

    /// Waits like [`wait`](Self::wait) but leaves the value in the slot: every waiter
    /// gets a copy (many tasks may wait for the same connection to be made).
    pub(crate) async fn wait_shared(&self) -> Option<T>
    where
        T: Clone,
    {
        let peek = || {
            let st = self.state.lock();
            st.closed.then(|| st.value.clone())
        };
        loop {
            if let Some(out) = peek() {
                return out;
            }
            let listener = self.event.listen();
            if let Some(out) = peek() {
                return out;
            }
            listener.await;
        }
    }
}

impl<T> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The filling side of a [`Slot`]; closes the slot if dropped unfilled.
pub(crate) struct SlotFiller<T>(pub(crate) std::sync::Arc<Slot<T>>);

impl<T> SlotFiller<T> {
    pub(crate) fn fill(self, value: T) -> Result<(), T> {
        self.0.fill(value)
    }
}

impl<T> Drop for SlotFiller<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}
