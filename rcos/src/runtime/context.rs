//! Thread-local context: which worker, which task and which runtime the current thread
//! is working for.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use super::{Handle, Shared, scheduler::WorkerCtx};
use crate::task::core::TaskCore;

thread_local! {
    /// Set on a runtime's worker threads for their whole life.
    pub(super) static WORKER: RefCell<Option<Rc<WorkerCtx>>> = const { RefCell::new(None) };
    /// The task being polled on this thread, moved in for the length of one poll.
    static CURRENT_TASK: Cell<Option<Arc<TaskCore>>> = const { Cell::new(None) };
    /// A runtime entered with `Handle::enter` on a plain thread.
    static ENTERED: RefCell<Vec<Handle>> = const { RefCell::new(Vec::new()) };
}

/// Puts `core` in place as the current task and returns what was there before.
///
/// (The watchdog learns which task a worker polls from the worker itself, which reads
/// it from the task's header before each run.)
#[inline]
pub(crate) fn set_current_task(core: Option<Arc<TaskCore>>) -> Option<Arc<TaskCore>> {
    CURRENT_TASK.with(|c| c.replace(core))
}

/// Calls `f` with the current task, if any.
#[inline]
pub(crate) fn with_current_task<R>(f: impl FnOnce(Option<&Arc<TaskCore>>) -> R) -> R {
    CURRENT_TASK.with(|c| {
        let core = c.take();
        let out = f(core.as_ref());
        c.set(core);
        out
    })
}

/// Whether `core` is the task being polled on this thread.
#[inline]
pub(crate) fn is_current_task(core: &Arc<TaskCore>) -> bool {
    with_current_task(|cur| cur.is_some_and(|cur| Arc::ptr_eq(cur, core)))
}

/// The runtime this thread works for: the current task's, the worker's, or one entered
/// with [`Handle::enter`].
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    if let Some(shared) = with_current_task(|cur| cur.map(|c| c.rt.clone())) {
        return Some(shared);
    }
    if let Some(shared) = WORKER.with(|w| {
        w.try_borrow()
            .ok()
            .and_then(|w| w.as_ref().map(|w| w.shared.clone()))
    }) {
        return Some(shared);
    }
    ENTERED.with(|e| {
        e.try_borrow()
            .ok()
            .and_then(|e| e.last().map(|h| h.shared.clone()))
    })
}

/// Whether this thread is one of `shared`'s workers.
pub(crate) fn on_worker_of(shared: &Arc<Shared>) -> bool {
    WORKER.with(|w| {
        w.try_borrow()
            .ok()
            .is_some_and(|w| w.as_ref().is_some_and(|w| Arc::ptr_eq(&w.shared, shared)))
    })
}

/// Keeps a runtime entered on a plain thread until dropped; see [`Handle::enter`].
#[derive(Debug)]
#[must_use = "the runtime is entered only while the guard lives"]
pub struct EnterGuard {
    _not_send: std::marker::PhantomData<Rc<()>>,
}

pub(super) fn enter(handle: Handle) -> EnterGuard {
    ENTERED.with(|e| e.borrow_mut().push(handle));
    EnterGuard {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = ENTERED.try_with(|e| e.borrow_mut().pop());
    }
}
