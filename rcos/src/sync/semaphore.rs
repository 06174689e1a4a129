//! `Semaphore`: a number of permits handed out in order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::SyncError;
use super::waiters::Waiters;
use crate::util::Mutex;

/// A counting semaphore (pycos's `Semaphore`), with a timeout on acquire, which pycos
/// lacks. Waiters get permits in the order they asked.
///
/// ```
/// use std::time::Duration;
/// use rcos::sync::{Semaphore, SyncError};
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let slots = Semaphore::new(2);
/// let a = slots.acquire().await;
/// let b = slots.acquire().await;
/// assert_eq!(slots.available(), 0);
/// assert_eq!(slots.acquire_timeout(Duration::from_millis(1)).await.unwrap_err(), SyncError::Timeout);
/// drop(a);
/// assert_eq!(slots.available(), 1);
/// # drop(b);
/// # });
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
}

struct State {
    permits: usize,
    waiters: Waiters<()>,
}

impl State {
    /// Hands free permits to waiters, in order; returns the wakers to wake.
    fn grant(&mut self) -> Vec<Waker> {
        let mut wake = Vec::new();
        while self.permits > 0 && self.waiters.front().is_some() {
            if let Some(((), waker)) = self.waiters.grant_front() {
                self.permits -= 1;
                wake.push(waker);
            }
        }
        wake
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits (pycos's default is 1).
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    permits,
                    waiters: Waiters::default(),
                }),
            }),
        }
    }

    /// Waits for a permit; the guard gives it back when dropped.
    pub async fn acquire(&self) -> SemaphoreGuard {
        AcquirePermit {
            sem: self,
            id: None,
        }
        .await;
        SemaphoreGuard {
            sem: self.clone(),
            released: false,
        }
    }

    /// [`acquire`](Self::acquire), giving up after `timeout`.
    ///
    /// # Errors
    /// [`SyncError::Timeout`] if no permit came in time.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard, SyncError> {
        crate::time::timeout(timeout, self.acquire())
            .await
            .map_err(|_| SyncError::Timeout)
    }

    /// Takes a permit if one is free right now and nobody waits before the caller.
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        let mut st = self.inner.state.lock();
        if st.permits > 0 && st.waiters.is_empty() {
            st.permits -= 1;
            Some(SemaphoreGuard {
                sem: self.clone(),
                released: false,
            })
        } else {
            None
        }
    }

    /// Adds a permit (pycos's `release`): wakes the first waiter if there is one.
    pub fn release(&self) {
        let wake = {
            let mut st = self.inner.state.lock();
            st.permits += 1;
            st.grant()
        };
        for waker in wake {
            waker.wake();
        }
    }

    /// Free permits right now.
    pub fn available(&self) -> usize {
        self.inner.state.lock().permits
    }

    /// How many tasks wait for a permit.
    pub fn waiting(&self) -> usize {
        self.inner.state.lock().waiters.len()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("waiting", &self.waiting())
            .finish()
    }
}

struct AcquirePermit<'a> {
    sem: &'a Semaphore,
    id: Option<u64>,
}

impl Future for AcquirePermit<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.sem.inner.state.lock();
        match self.id {
            None => {
                if st.permits > 0 && st.waiters.is_empty() {
                    st.permits -= 1;
                    return Poll::Ready(());
                }
                let id = st.waiters.push((), cx.waker());
                drop(st);
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                if st.waiters.take_grant(id) {
                    drop(st);
                    self.id = None;
                    Poll::Ready(())
                } else {
                    st.waiters.update(id, cx.waker());
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for AcquirePermit<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let wake = {
            let mut st = self.sem.inner.state.lock();
            if st.waiters.take_grant(id) {
                st.permits += 1;
                st.grant()
            } else {
                st.waiters.remove(id);
                Vec::new()
            }
        };
        for waker in wake {
            waker.wake();
        }
    }
}

/// A permit of a [`Semaphore`], given back when dropped.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard {
    sem: Semaphore,
    released: bool,
}

impl SemaphoreGuard {
    /// Keeps the permit taken: the guard's drop will not give it back (give it back
    /// later with [`Semaphore::release`]).
    pub fn forget(mut self) {
        self.released = true;
    }
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        if !self.released {
            self.sem.release();
        }
    }
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}
