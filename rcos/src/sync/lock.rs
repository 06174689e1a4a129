//! `Lock` and `RLock`: mutual exclusion owned by a task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::SyncError;
use super::owner::Owner;
use super::waiters::Waiters;
use crate::util::Mutex;

/// The shared core of `Lock`, `RLock` and `Condition`.
#[derive(Debug)]
pub(crate) struct LockCore {
    reentrant: bool,
    state: Mutex<LockState>,
}

#[derive(Debug, Default)]
struct LockState {
    owner: Option<Owner>,
    /// How many times the owner holds it (always 1 for a non-reentrant lock).
    depth: usize,
    /// Bumped at every change of owner, so that a guard of an earlier holding never
    /// releases a later one.
    generation: u64,
    waiters: Waiters<Owner>,
}

impl LockState {
    /// Makes `owner` the holder; returns the new generation.
    fn take(&mut self, owner: Owner) -> u64 {
        self.owner = Some(owner);
        self.depth = 1;
        self.generation += 1;
        self.generation
    }

    /// Frees the lock and hands it to the first waiter, if any; returns that waiter's
    /// waker, to wake outside the lock.
    fn hand_over(&mut self) -> Option<Waker> {
        self.owner = None;
        self.depth = 0;
        let (next, waker) = self.waiters.grant_front()?;
        self.take(next);
        Some(waker)
    }
}

impl LockCore {
    pub(crate) fn new(reentrant: bool) -> LockCore {
        LockCore {
            reentrant,
            state: Mutex::new(LockState::default()),
        }
    }

    /// Acquires for the calling task (or thread); returns the holding's generation.
    pub(crate) async fn acquire(&self, timeout: Option<Duration>) -> Result<u64, SyncError> {
        let me = Owner::current();
        {
            let mut st = self.state.lock();
            match &st.owner {
                None if st.waiters.is_empty() => return Ok(st.take(me)),
                Some(owner) if *owner == me => {
                    if self.reentrant {
                        st.depth += 1;
                        return Ok(st.generation);
                    }
                    return Err(SyncError::WouldDeadlock);
                }
                _ => {}
            }
        }
        let wait = Acquire {
            core: self,
            me,
            id: None,
        };
        match timeout {
            None => Ok(wait.await),
            Some(timeout) => crate::time::timeout(timeout, wait)
                .await
                .map_err(|_| SyncError::Timeout),
        }
    }

    /// Acquires without waiting, if free (or already held by the caller, re-entrantly).
    pub(crate) fn try_acquire(&self) -> Option<u64> {
        let me = Owner::current();
        let mut st = self.state.lock();
        match &st.owner {
            None if st.waiters.is_empty() => Some(st.take(me)),
            Some(owner) if *owner == me && self.reentrant => {
                st.depth += 1;
                Some(st.generation)
            }
            _ => None,
        }
    }

    /// Releases one level for `who`.
    pub(crate) fn release(&self, who: &Owner) -> Result<(), SyncError> {
        let waker = {
            let mut st = self.state.lock();
            if st.owner.as_ref() != Some(who) {
                return Err(SyncError::NotOwner);
            }
            st.depth -= 1;
            if st.depth > 0 {
                return Ok(());
            }
            st.hand_over()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Releases one level if the holding `generation` of `who` is still current (used
    /// by guards, which may outlive an explicit release).
    pub(crate) fn release_guard(&self, who: &Owner, generation: u64) {
        let waker = {
            let mut st = self.state.lock();
            if st.generation != generation || st.owner.as_ref() != Some(who) || st.depth == 0 {
                return;
            }
            st.depth -= 1;
            if st.depth > 0 {
                return;
            }
            st.hand_over()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Releases every level held by `who` (for `Condition::wait`); returns the depth
    /// and generation of the holding, to restore with [`restore`](Self::restore).
    pub(crate) fn release_all(&self, who: &Owner) -> Result<(usize, u64), SyncError> {
        let (held, waker) = {
            let mut st = self.state.lock();
            if st.owner.as_ref() != Some(who) {
                return Err(SyncError::NotOwner);
            }
            let held = (st.depth, st.generation);
            (held, st.hand_over())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(held)
    }

    /// After `release_all` and re-acquiring: puts the holding back as it was, so that
    /// the caller's guards from before the wait still release it.
    pub(crate) fn restore(&self, who: &Owner, (depth, generation): (usize, u64)) {
        let mut st = self.state.lock();
        if st.owner.as_ref() == Some(who) {
            st.depth = depth.max(1);
            st.generation = generation;
        }
    }

    pub(crate) fn is_owned_by(&self, who: &Owner) -> bool {
        self.state.lock().owner.as_ref() == Some(who)
    }

    fn is_locked(&self) -> bool {
        self.state.lock().owner.is_some()
    }

    fn depth(&self) -> usize {
        self.state.lock().depth
    }

    fn waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }
}

/// Waits in line for the lock.
struct Acquire<'a> {
    core: &'a LockCore,
    me: Owner,
    id: Option<u64>,
}

impl Future for Acquire<'_> {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let mut st = self.core.state.lock();
        match self.id {
            None => {
                if st.owner.is_none() && st.waiters.is_empty() {
                    let generation = st.take(self.me.clone());
                    return Poll::Ready(generation);
                }
                let id = st.waiters.push(self.me.clone(), cx.waker());
                drop(st);
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                if st.waiters.take_grant(id) {
                    let generation = st.generation;
                    drop(st);
                    self.id = None;
                    Poll::Ready(generation)
                } else {
                    st.waiters.update(id, cx.waker());
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let waker = {
            let mut st = self.core.state.lock();
            if st.waiters.take_grant(id) {
                // Granted, but nobody will collect it (a timeout won the race): pass on.
                st.hand_over()
            } else {
                st.waiters.remove(id);
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

macro_rules! lock_type {
    ($(#[$doc:meta])* $name:ident, $guard:ident, $reentrant:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            core: Arc<LockCore>,
        }

        impl $name {
            /// A new, unlocked lock.
            pub fn new() -> Self {
                $name {
                    core: Arc::new(LockCore::new($reentrant)),
                }
            }

            /// Waits for the lock and takes it for the calling task; the guard releases
            /// it when dropped.
            ///
            /// # Errors
            #[doc = concat!("[`SyncError::WouldDeadlock`] if this is a `Lock` the caller already holds.")]
            pub async fn acquire(&self) -> Result<$guard, SyncError> {
                let generation = self.core.acquire(None).await?;
                Ok(self.guard(generation))
            }

            /// [`acquire`](Self::acquire), giving up after `timeout` with
            /// [`SyncError::Timeout`].
            ///
            /// # Errors
            /// As `acquire`, and `Timeout`.
            pub async fn acquire_timeout(&self, timeout: Duration) -> Result<$guard, SyncError> {
                let generation = self.core.acquire(Some(timeout)).await?;
                Ok(self.guard(generation))
            }

            /// Takes the lock if it is free right now.
            pub fn try_acquire(&self) -> Option<$guard> {
                self.core.try_acquire().map(|generation| self.guard(generation))
            }

            /// Releases the lock (one level of it, for an `RLock`) without the guard,
            /// pycos style. Only the holder may release.
            ///
            /// # Errors
            /// [`SyncError::NotOwner`] if the calling task does not hold the lock.
            pub fn release(&self) -> Result<(), SyncError> {
                self.core.release(&Owner::current())
            }

            /// Whether some task holds the lock.
            pub fn is_locked(&self) -> bool {
                self.core.is_locked()
            }

            /// Whether the calling task holds the lock.
            pub fn is_held_by_me(&self) -> bool {
                self.core.is_owned_by(&Owner::current())
            }

            /// How many tasks wait for the lock.
            pub fn waiting(&self) -> usize {
                self.core.waiting()
            }

            fn guard(&self, generation: u64) -> $guard {
                $guard {
                    core: self.core.clone(),
                    owner: Owner::current(),
                    generation,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("locked", &self.is_locked())
                    .field("waiting", &self.waiting())
                    .finish_non_exhaustive()
            }
        }

        #[doc = concat!("Holds a [`", stringify!($name), "`] (one level of it) until dropped.")]
        #[must_use = "the lock is released as soon as the guard is dropped"]
        pub struct $guard {
            core: Arc<LockCore>,
            owner: Owner,
            generation: u64,
        }

        impl Drop for $guard {
            fn drop(&mut self) {
                self.core.release_guard(&self.owner, self.generation);
            }
        }

        impl fmt::Debug for $guard {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($guard)).finish_non_exhaustive()
            }
        }
    };
}

lock_type!(
    /// A lock owned by the task that acquired it (pycos's `Lock`).
    ///
    /// Waiters get it in the order they asked. Only the holder can release it; trying
    /// to acquire it again while holding it is an error
    /// ([`SyncError::WouldDeadlock`]), not a hang.
    ///
    /// ```
    /// use rcos::sync::{Lock, SyncError};
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let lock = Lock::new();
    /// let guard = lock.acquire().await.unwrap();
    /// assert_eq!(lock.acquire().await.unwrap_err(), SyncError::WouldDeadlock);
    /// let other = rcos::spawn({
    ///     let lock = lock.clone();
    ///     move |_| async move { lock.release() }
    /// });
    /// assert_eq!(other.finish().await.value().unwrap().take::<Result<(), SyncError>>(), Some(Err(SyncError::NotOwner)));
    /// drop(guard);
    /// # });
    /// ```
    Lock,
    LockGuard,
    false
);

lock_type!(
    /// A re-entrant lock (pycos's `RLock`): its holder may acquire it again, and it is
    /// free once every acquisition has been released.
    ///
    /// ```
    /// use rcos::sync::RLock;
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let lock = RLock::new();
    /// let outer = lock.acquire().await.unwrap();
    /// let inner = lock.acquire().await.unwrap();
    /// assert_eq!(lock.depth(), 2);
    /// drop(inner);
    /// assert!(lock.is_locked());
    /// drop(outer);
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    RLock,
    RLockGuard,
    true
);

impl RLock {
    /// How many times the holder holds it (0 when free).
    pub fn depth(&self) -> usize {
        self.core.depth()
    }

    pub(crate) fn core(&self) -> &Arc<LockCore> {
        &self.core
    }
}
