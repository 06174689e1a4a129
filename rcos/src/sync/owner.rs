//! Who holds a lock: a task, or (outside tasks) a thread.

use crate::util::sync_shim::{ThreadId, thread_id};

use crate::TaskRef;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Task(TaskRef),
    Thread(ThreadId),
}

impl Owner {
    /// The calling task, or the calling thread when no task runs.
    pub(crate) fn current() -> Owner {
        match TaskRef::current() {
            Some(task) => Owner::Task(task),
            None => Owner::Thread(thread_id()),
        }
    }
}
