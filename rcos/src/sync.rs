//! Synchronisation between tasks: [`Lock`], [`RLock`], [`Semaphore`], [`Event`] and
//! [`Condition`], with pycos's semantics and its gaps filled.
//!
//! With one worker (`workers(1)`, pycos's model) tasks only switch at an `.await`, so
//! plain data needs no lock; these primitives matter when a critical section spans
//! awaits, or when tasks run on several workers. All of them are async (waiting never
//! blocks a worker thread), hand the resource to waiters in the order they came, take
//! a timeout where waiting could last, and are cheap to clone (clones share the
//! primitive).
//!
//! What rcos adds to pycos: a lock is owned by the task that acquired it, and a
//! `release` by any other task is an error (pycos raises too, but only for `Lock`);
//! re-acquiring a non-reentrant [`Lock`] one already holds is an error instead of a
//! deadlock; [`Semaphore::acquire_timeout`] exists (pycos's `Semaphore.acquire` has no
//! timeout); guards release on drop.
//!
//! ```
//! use rcos::sync::Lock;
//!
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let lock = Lock::new();
//! let guard = lock.acquire().await.unwrap();
//! assert!(lock.is_locked());
//! drop(guard);
//! assert!(!lock.is_locked());
//! # });
//! ```

mod condition;
mod event;
mod lock;
mod owner;
mod semaphore;
#[cfg(test)]
mod tests;
mod waiters;

pub use condition::{Condition, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};

use std::fmt;

/// Why a synchronisation call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// The wait ran out of time.
    Timeout,
    /// The caller does not hold the lock it tried to release (or, for a condition, to
    /// wait or notify on).
    NotOwner,
    /// The caller already holds this non-reentrant lock: acquiring it again would wait
    /// forever. Use an [`RLock`] for re-entry.
    WouldDeadlock,
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncError::Timeout => "timed out waiting",
            SyncError::NotOwner => "the lock is not held by the caller",
            SyncError::WouldDeadlock => {
                "the caller already holds this lock, which is not re-entrant"
            }
        })
    }
}

impl std::error::Error for SyncError {}
