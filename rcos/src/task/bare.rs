//! Tasks without a scheduler, for unit tests and loom models of the mailbox, the sync
//! primitives and channels: a `TaskCore` in a runtime's table that nothing polls, and
//! its receive, parked with the caller's waker.

use std::borrow::Cow;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use super::Overflow;
use super::core::TaskCore;
use crate::message::Envelope;
use crate::runtime::Shared;

/// A runtime's shared state with one worker slot and no worker started.
pub(crate) fn runtime(name: &'static str) -> Arc<Shared> {
    crate::runtime::new_shared(Cow::Borrowed(name), 1, None).0
}

/// A task named `name` in `shared`'s table, with this mailbox bound (`None`: unbounded).
pub(crate) fn task(
    shared: &Arc<Shared>,
    name: &'static str,
    mailbox: Option<(usize, Overflow)>,
) -> Arc<TaskCore> {
    shared.tasks.insert_new(false, |id, slot| {
        Arc::new(TaskCore::new(
            id,
            slot,
            crate::runtime::scheduler::NO_HOME,
            shared.clone(),
            Cow::Borrowed(name),
            false,
            mailbox,
        ))
    })
}

/// The task's next message, waiting (parked with its waker) until one comes.
pub(crate) async fn receive(core: &Arc<TaskCore>) -> Envelope {
    poll_fn(|cx| match core.pop_own(Some(cx.waker())) {
        Some(env) => Poll::Ready(env),
        None => Poll::Pending,
    })
    .await
}
