//! `TaskRef`: the handle through which everything talks to a task.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::core::TaskCore;
use crate::runtime::{Handle, NodeId, context};

/// A reference to a task: cheap to clone, `Send + Sync`, comparable, hashable,
/// printable as `name/id@runtime`, and serializable.
///
/// Everything one does with a task goes through its `TaskRef`: [`send`](Self::send) it
/// messages, [`call`](Self::call) it, wait for it to [`finish`](Self::finish),
/// [`terminate`](Self::terminate) it, [`register`](Self::register) it under a name. A task
/// gets its own reference as its first argument and uses it to
/// [`receive`](Self::receive), [`sleep`](Self::sleep) and [`suspend`](Self::suspend) — these
/// work only on the calling task's own reference.
///
/// The methods keep pycos's names and meaning; where pycos needs `yield`, rcos needs
/// `.await`.
#[derive(Clone)]
pub struct TaskRef {
    pub(super) repr: Repr,
}

#[derive(Clone)]
pub(super) enum Repr {
    Local(Arc<TaskCore>),
    /// A reference that does not resolve here: a task that ended before the reference
    /// was deserialized, or a task on a runtime this one cannot reach.
    Detached(Arc<Detached>),
    /// A task on another node, reached through this runtime's node.
    Remote(Arc<crate::net::RemoteTask>),
}

pub(crate) struct Detached {
    pub(crate) node: NodeId,
    pub(crate) id: u64,
    pub(crate) name: String,
    /// Resolved on the task's own runtime and not found there: the task has ended (ids
    /// are never reused).
    pub(crate) ended: bool,
}

/// A task's number, unique within its runtime (and never reused by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TaskRef {
    pub(crate) fn from_core(core: Arc<TaskCore>) -> TaskRef {
        TaskRef {
            repr: Repr::Local(core),
        }
    }

    pub(crate) fn detached(node: NodeId, id: u64, name: String, ended: bool) -> TaskRef {
        TaskRef {
            repr: Repr::Detached(Arc::new(Detached {
                node,
                id,
                name,
                ended,
            })),
        }
    }

    pub(crate) fn remote(task: crate::net::RemoteTask) -> TaskRef {
        TaskRef {
            repr: Repr::Remote(Arc::new(task)),
        }
    }

    pub(crate) fn core(&self) -> Option<&Arc<TaskCore>> {
        match &self.repr {
            Repr::Local(core) => Some(core),
            _ => None,
        }
    }

    pub(crate) fn node(&self) -> &NodeId {
        match &self.repr {
            Repr::Local(core) => &core.rt.node,
            Repr::Detached(d) => &d.node,
            Repr::Remote(r) => &r.node,
        }
    }

    /// Where the task's node listens, if it is a node (for a remote task, always).
    pub fn location(&self) -> Option<crate::net::Location> {
        match &self.repr {
            Repr::Local(core) => core.rt.net.get().map(|n| n.location()),
            Repr::Detached(_) => None,
            Repr::Remote(r) => r.location,
        }
    }

    /// The task being run by the calling code (pycos's `Pycos.cur_task()`); `None` on a
    /// plain thread.
    pub fn current() -> Option<TaskRef> {
        context::with_current_task(|core| core.map(|c| TaskRef::from_core(c.clone())))
    }

    /// The task's id, unique within its runtime.
    pub fn id(&self) -> TaskId {
        match &self.repr {
            Repr::Local(core) => TaskId(core.id),
            Repr::Detached(d) => TaskId(d.id),
            Repr::Remote(r) => TaskId(r.id),
        }
    }

    /// The task's name.
    pub fn name(&self) -> Cow<'static, str> {
        match &self.repr {
            Repr::Local(core) => core.state.lock().name.clone(),
            Repr::Detached(d) => Cow::Owned(d.name.clone()),
            Repr::Remote(r) => Cow::Owned(r.name.clone()),
        }
    }

    /// The runtime the task runs on, if it is in this program.
    pub fn runtime(&self) -> Option<Handle> {
        self.core().map(|core| Handle {
            shared: core.rt.clone(),
        })
    }

    /// Whether the task is in this program.
    pub fn is_local(&self) -> bool {
        self.core().is_some()
    }

    /// Whether the task is still running (a task on another node counts as running
    /// while its node is connected; a detached reference never does).
    pub fn is_alive(&self) -> bool {
        match &self.repr {
            Repr::Local(core) => core.state.lock().exit.is_none(),
            Repr::Detached(_) => false,
            Repr::Remote(r) => r.is_alive(),
        }
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &TaskRef) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Local(a), Repr::Local(b)) => Arc::ptr_eq(a, b),
            _ => self.id() == other.id() && self.node().incarnation == other.node().incarnation,
        }
    }
}

impl Eq for TaskRef {}

impl Hash for TaskRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node().incarnation.hash(state);
        self.id().hash(state);
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.repr {
            Repr::Local(core) => core.rt.place(),
            Repr::Detached(d) => d.node.to_string(),
            Repr::Remote(r) => r
                .location
                .map_or_else(|| r.node.to_string(), |l| l.to_string()),
        };
        write!(f, "{}/{}@{}", self.name(), self.id(), place)
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskRef({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskref_is_small() {
        assert!(std::mem::size_of::<TaskRef>() <= 16);
    }
}
