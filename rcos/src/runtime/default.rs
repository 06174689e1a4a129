//! The default runtime, started on first use like pycos's `Pycos()`.

use super::{Builder, Handle, Runtime};
use crate::error::JoinError;
// std's own mutex (not `util::Mutex`, which is loom's in model-checking builds).
static DEFAULT: std::sync::Mutex<Option<Runtime>> = std::sync::Mutex::new(None);

fn default_slot() -> std::sync::MutexGuard<'static, Option<Runtime>> {
    DEFAULT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The handle of the default runtime, starting it (one worker per core) if it is not
/// running.
///
/// # Panics
/// If the operating system refuses to start its worker threads.
pub(crate) fn default_handle() -> Handle {
    let mut slot = default_slot();
    if let Some(rt) = slot.as_ref().filter(|rt| !rt.is_terminated()) {
        return rt.handle().clone();
    }
    let rt = Builder::new()
        .name("rcos")
        .build()
        .unwrap_or_else(|error| panic!("cannot start the default rcos runtime: {error}"));
    let handle = rt.handle().clone();
    *slot = Some(rt);
    handle
}

/// Makes `rt` the default runtime, ending the previous one if there was one.
pub(crate) fn install_default(rt: Runtime) -> Handle {
    let handle = rt.handle().clone();
    let previous = default_slot().replace(rt);
    drop(previous);
    handle
}

/// Waits, from a plain thread, until every non-daemon task of the default runtime has
/// ended (pycos's `Pycos().join()`). Returns at once if the default runtime was never
/// started.
///
/// # Errors
/// [`JoinError::InsideRuntime`] when called from one of its own tasks.
pub fn join() -> Result<(), JoinError> {
    let handle = default_slot().as_ref().map(|rt| rt.handle().clone());
    match handle {
        Some(handle) => handle.join(),
        None => Ok(()),
    }
}

/// Ends every task of the default runtime and stops it (pycos's `terminate()`). The next
/// spawn outside any runtime starts a new default runtime.
pub fn terminate() {
    let rt = default_slot().take();
    drop(rt);
}
