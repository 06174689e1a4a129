//! `Condition`: wait for a notification while holding a lock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::owner::Owner;
use super::waiters::Waiters;
use super::{RLock, RLockGuard, SyncError};
use crate::util::Mutex;

/// A condition variable with its own re-entrant lock (pycos's `Condition`).
///
/// The usual loop: acquire, and while the state is not what you need, `wait` (which
/// releases the lock while waiting and takes it back before returning); another task
/// changes the state under the lock and calls `notify`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rcos::sync::Condition;
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let cond = Condition::new();
/// let items = Arc::new(Mutex::new(Vec::new()));
/// let consumer = rcos::spawn({
///     let (cond, items) = (cond.clone(), items.clone());
///     move |_| async move {
///         let _held = cond.acquire().await.unwrap();
///         while items.lock().unwrap().is_empty() {
///             cond.wait(Some(Duration::from_secs(5))).await.unwrap();
///         }
///         items.lock().unwrap().pop()
///     }
/// });
/// {
///     let _held = cond.acquire().await.unwrap();
///     items.lock().unwrap().push(42);
///     cond.notify(1).unwrap();
/// }
/// assert_eq!(consumer.finish().await.get::<Option<i32>>(), Some(Some(42)));
/// # });
/// ```
#[derive(Clone)]
pub struct Condition {
    lock: RLock,
    waiters: Arc<Mutex<Waiters<()>>>,
}

/// Holds a [`Condition`]'s lock (one level of it) until dropped.
pub type ConditionGuard = RLockGuard;

impl Condition {
    /// A new condition with its lock free.
    pub fn new() -> Condition {
        Condition {
            lock: RLock::new(),
            waiters: Arc::new(Mutex::new(Waiters::default())),
        }
    }

    /// Acquires the condition's lock.
    ///
    /// # Errors
    /// Never for a condition's re-entrant lock; the `Result` matches [`RLock::acquire`].
    pub async fn acquire(&self) -> Result<ConditionGuard, SyncError> {
        self.lock.acquire().await
    }

    /// Acquires the condition's lock, giving up after `timeout`.
    ///
    /// # Errors
    /// [`SyncError::Timeout`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<ConditionGuard, SyncError> {
        self.lock.acquire_timeout(timeout).await
    }

    /// Releases one level of the lock without the guard (pycos style).
    ///
    /// # Errors
    /// [`SyncError::NotOwner`] if the calling task does not hold it.
    pub fn release(&self) -> Result<(), SyncError> {
        self.lock.release()
    }

    /// Releases the lock, waits for a [`notify`](Self::notify) (or `timeout`), then takes
    /// the lock back at the depth it was held. Returns whether it was notified (pycos's
    /// `wait`, which returns `False` on a timeout).
    ///
    /// # Errors
    /// [`SyncError::NotOwner`] if the calling task does not hold the lock.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        let me = Owner::current();
        let core = self.lock.core();
        if !core.is_owned_by(&me) {
            return Err(SyncError::NotOwner);
        }
        let wait = Notified {
            waiters: &self.waiters,
            id: None,
        };
        // Queue before releasing, so a notify right after the release is not missed.
        let mut wait = std::pin::pin!(wait);
        std::future::poll_fn(|cx| {
            // Registers and returns Pending the first time.
            let _ = wait.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
        let held = core.release_all(&me)?;
        let notified = match timeout {
            None => {
                wait.await;
                true
            }
            Some(timeout) => crate::time::timeout(timeout, wait).await.is_ok(),
        };
        // Take the lock back, at the same depth, however long that takes.
        core.acquire(None).await?;
        core.restore(&me, held);
        Ok(notified)
    }

    /// Wakes up to `n` tasks waiting on the condition, in the order they waited.
    ///
    /// # Errors
    /// [`SyncError::NotOwner`] if the calling task does not hold the lock.
    pub fn notify(&self, n: usize) -> Result<(), SyncError> {
        if !self.lock.is_held_by_me() {
            return Err(SyncError::NotOwner);
        }
        let wake: Vec<Waker> = {
            let mut waiters = self.waiters.lock();
            (0..n)
                .map_while(|_| waiters.grant_front().map(|((), waker)| waker))
                .collect()
        };
        for waker in wake {
            waker.wake();
        }
        Ok(())
    }

    /// Wakes every waiting task.
    ///
    /// # Errors
    /// [`SyncError::NotOwner`] if the calling task does not hold the lock.
    pub fn notify_all(&self) -> Result<(), SyncError> {
        self.notify(usize::MAX)
    }

    /// How many tasks wait on the condition.
    pub fn waiting(&self) -> usize {
        self.waiters.lock().len()
    }
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Waits in line for a notification.
struct Notified<'a> {
    waiters: &'a Mutex<Waiters<()>>,
    id: Option<u64>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut waiters = self.waiters.lock();
        match self.id {
            None => {
                let id = waiters.push((), cx.waker());
                drop(waiters);
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                if waiters.take_grant(id) {
                    drop(waiters);
                    self.id = None;
                    Poll::Ready(())
                } else {
                    waiters.update(id, cx.waker());
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            let mut waiters = self.waiters.lock();
            // A notification that came as it timed out is consumed with it, like
            // pycos's (and threading's) timed-out wait.
            if !waiters.take_grant(id) {
                waiters.remove(id);
            }
        }
    }
}
