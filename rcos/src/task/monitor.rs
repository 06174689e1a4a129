//! Monitors: being told, by message, when another task ends.

use serde::{Deserialize, Serialize};

use super::core::TaskCore;
use super::taskref::Repr;
use super::{Exit, TaskRef};
use crate::Message;

/// The message a monitor receives when a task it watches ends: which task, and how.
///
/// It arrives in the monitor's mailbox like any message (receive it with
/// `downcast::<MonitorStatus>()` or `receive_type::<MonitorStatus>()`), after every
/// message the ended task sent to the monitor, and exactly once per monitored task.
///
/// ```
/// use rcos::task::MonitorStatus;
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let me = rcos::TaskRef::current().unwrap();
/// let worker = rcos::spawn(|_| async { 7u8 });
/// me.monitor(&worker).unwrap();
/// let status = me.receive_type::<MonitorStatus>().await.unwrap();
/// assert_eq!(status.task, worker);
/// assert_eq!(status.exit.get::<u8>(), Some(7));
/// # });
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MonitorStatus {
    /// The task that ended.
    pub task: TaskRef,
    /// How it ended.
    pub exit: Exit,
}

impl Message for MonitorStatus {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::MonitorStatus")
    }
}

impl TaskRef {
    /// Makes this task a monitor of `target` (pycos's `monitor`): when `target` ends,
    /// this task receives a [`MonitorStatus`]. If `target` has ended already, the status
    /// is sent at once. Monitoring the same task twice still gives one status. A task
    /// may monitor many tasks and be monitored by many.
    ///
    /// # Errors
    /// [`MonitorError`] if this task has ended or is not in this program.
    pub fn monitor(&self, target: &TaskRef) -> Result<(), MonitorError> {
        let Repr::Local(me) = &self.repr else {
            return Err(MonitorError::NotLocal);
        };
        if me.state.lock().exit.is_some() {
            return Err(MonitorError::Ended);
        }
        let exit = match &target.repr {
            Repr::Local(core) => add_monitor(core, self),
            Repr::Detached(_) => Some(Exit::NotFound),
            Repr::Remote(remote) => {
                // The status comes from the target's node, or, if that node is lost,
                // from this one.
                remote.monitor(self, target);
                None
            }
        };
        if let Some(exit) = exit {
            let _ = self.send_system(MonitorStatus {
                task: target.clone(),
                exit,
            });
        }
        Ok(())
    }

    /// Makes this (remote) task a monitor of the local task `target`, on a request
    /// from its node.
    pub(crate) fn monitor_from_remote(&self, target: &TaskRef) -> Result<(), MonitorError> {
        let Repr::Local(core) = &target.repr else {
            return Err(MonitorError::NotLocal);
        };
        if let Some(exit) = add_monitor(core, self) {
            let _ = self.send_system(MonitorStatus {
                task: target.clone(),
                exit,
            });
        }
        Ok(())
    }

    /// Stops this task monitoring `target`; returns whether it was.
    pub fn unmonitor(&self, target: &TaskRef) -> bool {
        let core = match &target.repr {
            Repr::Local(core) => core,
            Repr::Remote(remote) => return remote.unmonitor(self),
            Repr::Detached(_) => return false,
        };
        let mut st = core.state.lock();
        match st.extra.as_mut() {
            Some(extra) => {
                let before = extra.monitors.len();
                extra.monitors.retain(|m| m != self);
                extra.monitors.len() != before
            }
            None => false,
        }
    }
}

/// Adds `monitor` to `core`'s monitors, or returns its exit if it has ended.
fn add_monitor(core: &TaskCore, monitor: &TaskRef) -> Option<Exit> {
    let mut st = core.state.lock();
    if let Some(exit) = &st.exit {
        return Some(exit.clone());
    }
    let monitors = &mut st.extra().monitors;
    if !monitors.contains(monitor) {
        monitors.push(monitor.clone());
    }
    None
}

/// Why [`TaskRef::monitor`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorError {
    /// The monitoring task has ended.
    Ended,
    /// Only a task in this program can be made a monitor here.
    NotLocal,
}

impl std::fmt::Display for MonitorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MonitorError::Ended => "an ended task cannot monitor",
            MonitorError::NotLocal => "only a local task can monitor",
        })
    }
}

impl std::error::Error for MonitorError {}
