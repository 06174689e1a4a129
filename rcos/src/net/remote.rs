//! References to tasks and channels on other nodes, and the operations on them.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::frame::{Answer, Frame, WireMsg};
use super::{Location, Node};
use crate::TaskRef;
use crate::error::SendErrorKind;
use crate::runtime::{NodeId, Shared};
use crate::task::{Exit, HotSwapError, MonitorStatus};

/// A task on another node, as this node knows it.
pub(crate) struct RemoteTask {
    pub(crate) node: NodeId,
    pub(crate) location: Option<Location>,
    pub(crate) id: u64,
    pub(crate) name: String,
    /// The local runtime whose node carries messages to it.
    pub(crate) via: Weak<Shared>,
}

/// An error thrown into a task from another node: only its message travels.
#[derive(Debug)]
pub(crate) struct RemoteError(pub(crate) String);

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RemoteError {}

/// The wire code of a send failure.
pub(crate) fn kind_code(kind: SendErrorKind) -> u8 {
    match kind {
        SendErrorKind::Ended => 1,
        SendErrorKind::Full => 2,
        SendErrorKind::Timeout => 3,
        SendErrorKind::Unreachable => 4,
        SendErrorKind::TooLarge => 5,
    }
}

pub(crate) fn kind_of(code: u8) -> SendErrorKind {
    match code {
        1 => SendErrorKind::Ended,
        2 => SendErrorKind::Full,
        3 => SendErrorKind::Timeout,
        5 => SendErrorKind::TooLarge,
        _ => SendErrorKind::Unreachable,
    }
}

/// The wire code of a hot-swap failure.
pub(crate) fn swap_code(error: HotSwapError) -> u8 {
    match error {
        HotSwapError::Refused => 1,
        HotSwapError::NotSwappable => 2,
        HotSwapError::Timeout => 3,
        HotSwapError::Superseded => 4,
        HotSwapError::Ended => 5,
        _ => 6,
    }
}

pub(crate) fn swap_of(code: u8) -> HotSwapError {
    match code {
        1 => HotSwapError::Refused,
        2 => HotSwapError::NotSwappable,
        3 => HotSwapError::Timeout,
        4 => HotSwapError::Superseded,
        5 => HotSwapError::Ended,
        _ => HotSwapError::Unreachable,
    }
}

impl RemoteTask {
    pub(crate) fn node(&self) -> Option<Arc<Node>> {
        self.via.upgrade()?.net.get().cloned()
    }

    /// Sends a frame to the task's node: at once if connected, after connecting if not
    /// (frames keep their order).
    pub(crate) fn push(&self, frame: Frame) -> Result<(), SendErrorKind> {
        let node = self.node().ok_or(SendErrorKind::Unreachable)?;
        node.send_to(self.node.incarnation, self.location, frame)
    }

    pub(crate) fn send_msg(&self, msg: Result<WireMsg, String>) -> Result<(), SendErrorKind> {
        match msg {
            Ok(msg) => self.push(Frame::Send { to: self.id, msg }),
            Err(error) => {
                tracing::warn!(task = %self.name, %error, "message not sent to another node");
                Err(SendErrorKind::Unreachable)
            }
        }
    }

    /// Sends and waits for the acknowledgement that the message is in the mailbox.
    pub(crate) async fn deliver(
        &self,
        msg: WireMsg,
        timeout: Duration,
    ) -> Result<(), SendErrorKind> {
        let node = self.node().ok_or(SendErrorKind::Unreachable)?;
        let peer = node
            .clock()
            .timeout(timeout, node.peer_for(self.node.incarnation, self.location))
            .await;
        let Ok(Some(peer)) = peer else {
            return Err(SendErrorKind::Unreachable);
        };
        let to = self.id;
        match node
            .request(&peer, timeout, |req| Frame::Deliver { req, to, msg })
            .await
        {
            Ok(Answer::Done) => Ok(()),
            Ok(Answer::SendFailed(code)) => Err(kind_of(code)),
            Ok(_) => Err(SendErrorKind::Unreachable),
            Err(super::NetError::Timeout) => Err(SendErrorKind::Timeout),
            Err(super::NetError::TooLarge) => Err(SendErrorKind::TooLarge),
            Err(_) => Err(SendErrorKind::Unreachable),
        }
    }

    /// Makes the local task `monitor` a monitor of this remote task.
    pub(crate) fn monitor(self: &Arc<Self>, monitor: &TaskRef, me: &TaskRef) {
        let Some(node) = self.node() else {
            let _ = monitor.send_system(MonitorStatus {
                task: me.clone(),
                exit: Exit::NodeLost,
            });
            return;
        };
        node.monitor_remote(
            self.node.incarnation,
            self.location,
            monitor.clone(),
            me.clone(),
        );
    }

    pub(crate) fn unmonitor(&self, monitor: &TaskRef) -> bool {
        let Some(node) = self.node() else {
            return false;
        };
        let Some(peer) = node.connected_peer(self.node.incarnation) else {
            return false;
        };
        let mut watched = peer.watched.lock();
        let before = watched.len();
        watched.retain(|(m, t)| !(m == monitor && t.id().as_u64() == self.id));
        let was = watched.len() != before;
        drop(watched);
        let _ = peer.push(&Frame::Unmonitor {
            target: self.id,
            monitor: monitor.clone(),
        });
        was
    }

    pub(crate) async fn finish(&self) -> Exit {
        let Some(node) = self.node() else {
            return Exit::NodeLost;
        };
        let target = self.id;
        loop {
            let Some(peer) = node.peer_for(self.node.incarnation, self.location).await else {
                return Exit::NodeLost;
            };
            // No timeout of its own: a task may run for ever; a lost peer ends the wait.
            let answer = node
                .request(&peer, Duration::from_secs(100 * 365 * 24 * 3600), |req| {
                    Frame::Finish { req, target }
                })
                .await;
            match answer {
                Ok(Answer::Exit(exit)) => return exit,
                // Only the connection ended: ask again on the one that replaces it.
                Err(super::NetError::ConnectionLost(_)) => {}
                _ => return Exit::NodeLost,
            }
        }
    }

    pub(crate) async fn hot_swap(
        &self,
        function: &str,
        args: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), HotSwapError> {
        let node = self.node().ok_or(HotSwapError::Unreachable)?;
        let peer = node
            .peer_for(self.node.incarnation, self.location)
            .await
            .ok_or(HotSwapError::Unreachable)?;
        let (target, function) = (self.id, function.to_string());
        let timeout_ms = timeout.as_millis() as u64;
        // The peer answers after its own timeout; allow for the trip.
        match node
            .request(&peer, timeout + node.config().request_timeout, |req| {
                Frame::HotSwap {
                    req,
                    target,
                    function,
                    args,
                    timeout_ms,
                }
            })
            .await
        {
            Ok(Answer::Done) => Ok(()),
            Ok(Answer::SwapFailed(code)) => Err(swap_of(code)),
            Ok(_) => Err(HotSwapError::Unreachable),
            Err(super::NetError::Timeout) => Err(HotSwapError::Timeout),
            Err(_) => Err(HotSwapError::Unreachable),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.node()
            .is_some_and(|node| node.connected_peer(self.node.incarnation).is_some())
    }
}
