//! `throw`: an error raised inside a task at its current or next wait.

use std::fmt;
use std::sync::{Arc, Weak};

use super::TaskRef;
use super::core::{INTERRUPT, Waiting};
use super::taskref::Repr;

/// An error thrown into a task with [`TaskRef::throw`], as the task receives it: its
/// `receive`, `sleep` or `suspend` returns [`Interrupt::Thrown`](crate::Interrupt::Thrown).
///
/// A task that propagates it (with `?`) ends with [`Exit::Thrown`](crate::Exit::Thrown);
/// a task that handles it (drops it, or turns it into something else) carries on.
pub struct Thrown {
    message: String,
    error: Box<dyn std::error::Error + Send + Sync>,
    /// Alive while anything holds this error: how the runtime tells whether the task
    /// handled it.
    token: Arc<()>,
}

impl Thrown {
    pub(crate) fn new(error: Box<dyn std::error::Error + Send + Sync>) -> Thrown {
        Thrown {
            message: error.to_string(),
            error,
            token: Arc::new(()),
        }
    }

    pub(crate) fn token(&self) -> Weak<()> {
        Arc::downgrade(&self.token)
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// The error itself.
    pub fn into_error(self) -> Box<dyn std::error::Error + Send + Sync> {
        self.error
    }
}

impl fmt::Debug for Thrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thrown")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Thrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl TaskRef {
    /// Throws `error` into the task: its current `receive`, `sleep` or `suspend` (or
    /// its next one, if it is busy) returns [`Interrupt::Thrown`](crate::Interrupt::Thrown)
    /// instead of its usual result. Errors thrown before the task gets to them are
    /// delivered one per wait, in order. Returns whether the task was alive to get it.
    ///
    /// ```
    /// use rcos::{Exit, Interrupt};
    ///
    /// # let rt = rcos::Runtime::new().unwrap();
    /// let worker = rt.spawn(|task| async move {
    ///     loop {
    ///         match task.receive().await {
    ///             Ok(_job) => {}
    ///             // Save state, then stop by propagating the error.
    ///             Err(Interrupt::Thrown(err)) => return Err(Interrupt::Thrown(err)),
    ///             Err(other) => return Err(other),
    ///         }
    ///     }
    ///     #[allow(unreachable_code)]
    ///     Ok(())
    /// });
    /// worker.throw(std::io::Error::other("shutting down"));
    /// assert!(matches!(worker.value(), Exit::Thrown(msg) if msg == "shutting down"));
    /// ```
    pub fn throw<E>(&self, error: E) -> bool
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(_) => return false,
            Repr::Remote(remote) => {
                let message = error.into().to_string();
                return remote
                    .push(crate::net::frame::Frame::Throw {
                        target: remote.id,
                        message,
                    })
                    .is_ok();
            }
        };
        let waker = {
            let mut st = core.state.lock();
            if st.exit.is_some() {
                return false;
            }
            st.extra().thrown.push_back(Thrown::new(error.into()));
            core.set_signal(INTERRUPT, true);
            st.take_any_waker()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }
}

impl super::core::State {
    /// Takes the waker whatever the task waits on (`receive` or `suspend`).
    pub(crate) fn take_any_waker(&mut self) -> Option<std::task::Waker> {
        if self.waiting == Waiting::Nothing {
            None
        } else {
            self.waiting = Waiting::Nothing;
            self.waker.take()
        }
    }
}
