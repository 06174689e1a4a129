//! A task's life seen from outside: waiting for its end, ending it, daemon flag,
//! names.

use std::time::Duration;

use event_listener::Listener;

use super::taskref::Repr;
use super::{Exit, TaskRef};
use crate::error::{LocateError, RegisterError};

impl TaskRef {
    /// Marks the task as a daemon (or not): daemons do not hold
    /// [`join`](crate::Handle::join) open. Does nothing on an ended or remote task.
    pub fn set_daemon(&self, daemon: bool) {
        let Repr::Local(core) = &self.repr else {
            return;
        };
        let mut st = core.state.lock();
        if st.exit.is_some() || st.daemon == daemon {
            return;
        }
        st.daemon = daemon;
        core.rt.tasks.set_daemon(core, daemon);
    }

    /// Whether the task is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.core().is_some_and(|core| core.state.lock().daemon)
    }

    /// How many messages wait in the task's mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.core().map_or(0, |core| core.mailbox_len())
    }

    /// How many messages the task's bounded mailbox dropped under
    /// [`Overflow::DropNewest`](crate::task::Overflow::DropNewest).
    pub fn dropped_messages(&self) -> u64 {
        self.core()
            .and_then(|core| core.state.lock().bounded_ref().map(|b| b.dropped))
            .unwrap_or(0)
    }

    /// Waits for the task to end and tells how (pycos's `finish`).
    ///
    /// ```
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let worker = rcos::spawn(|_| async { 40 + 2 });
    /// assert_eq!(worker.finish().await.get::<i32>(), Some(42));
    /// # });
    /// ```
    pub async fn finish(&self) -> Exit {
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(_) => return Exit::NotFound,
            Repr::Remote(remote) => return remote.finish().await,
        };
        loop {
            if let Some(exit) = core.exit() {
                return exit;
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return exit;
            }
            listener.await;
        }
    }

    /// [`finish`](Self::finish), giving up after `timeout`.
    ///
    /// # Errors
    /// [`Elapsed`](crate::time::Elapsed) if the task was still running then.
    pub async fn finish_timeout(&self, timeout: Duration) -> Result<Exit, crate::time::Elapsed> {
        let clock = self
            .core()
            .map_or_else(crate::time::current_clock, |c| c.rt.clock.clone());
        clock.timeout(timeout, self.finish()).await
    }

    /// Blocks the calling thread until the task ends and tells how (pycos's `value`).
    /// Call it from a plain thread, never from a task: that would block a worker.
    pub fn value(&self) -> Exit {
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(_) => return Exit::NotFound,
            Repr::Remote(remote) => {
                let _running = remote.via.upgrade().and_then(|via| via.run_guard());
                return futures_lite::future::block_on(remote.finish());
            }
        };
        let _running = core.rt.run_guard();
        loop {
            if let Some(exit) = core.exit() {
                return exit;
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return exit;
            }
            listener.wait();
        }
    }

    /// [`value`](Self::value), giving up after `timeout` (real time): `None` if the task
    /// was still running then.
    pub fn value_timeout(&self, timeout: Duration) -> Option<Exit> {
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(_) => return Some(Exit::NotFound),
            Repr::Remote(remote) => {
                let _running = remote.via.upgrade().and_then(|via| via.run_guard());
                return futures_lite::future::block_on(futures_lite::future::or(
                    async { Some(remote.finish().await) },
                    async {
                        async_io::Timer::after(timeout).await;
                        None
                    },
                ));
            }
        };
        let deadline = std::time::Instant::now() + timeout;
        let _running = core.rt.run_guard();
        loop {
            if let Some(exit) = core.exit() {
                return Some(exit);
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return Some(exit);
            }
            listener.wait_deadline(deadline)?;
        }
    }

    /// Ends the task: it is dropped at its next await point (its locals' `Drop` runs)
    /// and ends with [`Exit::Terminated`]. A task busy without awaiting is dropped when
    /// it next awaits. Returns whether the task was still running.
    pub fn terminate(&self) -> bool {
        match &self.repr {
            Repr::Local(core) => {
                if core.state.lock().exit.is_some() {
                    return false;
                }
                core.request_terminate();
                true
            }
            Repr::Detached(_) => false,
            Repr::Remote(remote) => remote
                .push(crate::net::frame::Frame::Terminate { target: remote.id })
                .is_ok(),
        }
    }

    /// Registers the task under `name` on its runtime, so that [`locate`](Self::locate)
    /// finds it. A task can have several names; they are released when it ends.
    ///
    /// # Errors
    /// If another live task holds the name, the task has ended, or it is not local.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        let Repr::Local(core) = &self.repr else {
            return Err(RegisterError::NotLocal);
        };
        let key = core.rt.names.register(name, self)?;
        let mut st = core.state.lock();
        if st.exit.is_some() {
            drop(st);
            core.rt.names.release(name, self);
            return Err(RegisterError::Ended);
        }
        let names = &mut st.extra().names;
        if !names.iter().any(|n| **n == *name) {
            names.push(key);
        }
        Ok(())
    }

    /// Releases `name` if this task holds it; returns whether it did.
    pub fn unregister(&self, name: &str) -> bool {
        let Repr::Local(core) = &self.repr else {
            return false;
        };
        if let Some(extra) = core.state.lock().extra.as_mut() {
            extra.names.retain(|n| **n != *name);
        }
        core.rt.names.release(name, self)
    }

    /// Finds the task registered as `name` on the caller's runtime (or the default
    /// runtime), waiting up to `timeout` for it to appear.
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if no task took the name in time.
    pub async fn locate(name: &str, timeout: Duration) -> Result<TaskRef, LocateError> {
        super::spawn::current_or_default()
            .locate(name, timeout)
            .await
    }
}
