//! The status messages a cluster client sends to its status task (pycos's
//! `DispycosStatus`), and the node and job information they carry.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{JobId, NodeAvail};
use crate::net::Location;
use crate::task::Exit;
use crate::{Message, TaskRef};

/// A node, as it describes itself (pycos's `DispycosNodeInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's name.
    pub name: String,
    /// Where it listens.
    pub location: Location,
    /// Worker slots the node offers.
    pub cpus: u32,
    /// Worker slots this client uses on it (after the allocation rules); 0 until known.
    pub slots: u32,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub platform: String,
    /// CPU, memory and disk availability when last reported.
    pub avail: NodeAvail,
}

/// A job, as status messages describe it (pycos's `DispycosTaskInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job's number, unique within the client.
    pub id: JobId,
    /// The name of the task function it runs.
    pub task: String,
    /// The node it runs on, once placed.
    pub node: Option<Location>,
    /// The slot it holds, for a CPU-bound job once placed.
    pub slot: Option<u32>,
    /// The job's task on the node, once started.
    pub task_ref: Option<TaskRef>,
}

/// A status message (pycos's `DispycosStatus` codes): what the client's status task
/// receives as the cluster changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClusterStatus {
    /// The client is up and schedules jobs.
    ClientScheduled,
    /// The client has closed.
    ClientClosed,
    /// A node answered and accepted the client; it is being set up.
    NodeDiscovered(NodeInfo),
    /// A node's `node_setup` succeeded (or there is none): its slots are set up next.
    NodeInitialised(NodeInfo),
    /// A node is left out: unreachable, a different secret, refused by the allocation
    /// rules, serving another client, or its `node_setup` failed.
    NodeIgnored {
        /// Where the node is.
        location: Location,
        /// Why, in words.
        reason: String,
    },
    /// A node takes no new jobs until resumed.
    NodeSuspended(NodeInfo),
    /// A suspended node takes jobs again.
    NodeResumed(NodeInfo),
    /// The client closed its use of a node (or the node ended its service).
    NodeClosed(NodeInfo),
    /// A node stopped answering; its running jobs are reported abandoned.
    NodeDisconnected(NodeInfo),
    /// A disconnected node did not come back within the zombie period.
    NodeAbandoned(NodeInfo),
    /// A slot of a node is set up (its `server_setup` succeeded) and takes jobs.
    ServerInitialised {
        /// The node.
        node: Location,
        /// The slot's number on the node.
        slot: u32,
    },
    /// A slot of a node takes no more jobs: the client closed, the node closed or
    /// stopped answering, or a setup failed on it. Every slot reported
    /// [`ServerInitialised`](Self::ServerInitialised) is reported closed exactly once,
    /// before the status of its node (`NodeClosed`, `NodeDisconnected`, `NodeIgnored`).
    /// Suspending a node does not close its slots.
    ServerClosed {
        /// The node.
        node: Location,
        /// The slot's number on the node.
        slot: u32,
    },
    /// A job runs on a node.
    JobStarted(JobInfo),
    /// A job ended by itself (returned, panicked, or let a thrown error end it).
    JobFinished {
        /// The job.
        job: JobInfo,
        /// How it ended.
        exit: Exit,
    },
    /// A job could not start: its node does not know the task ("unknown task"), or the
    /// arguments did not decode.
    JobFailed {
        /// The job.
        job: JobInfo,
        /// Why, in words.
        reason: String,
    },
    /// A job ended after it was told to terminate (it got a throw first).
    JobTerminated {
        /// The job.
        job: JobInfo,
        /// How it ended: a job that caught the throw and returned keeps its value.
        exit: Exit,
    },
    /// A job's node was lost while the job ran; its result will never come.
    JobAbandoned(JobInfo),
}

impl Message for ClusterStatus {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::cluster::ClusterStatus")
    }
}

impl ClusterStatus {
    /// The status's code, as pycos names it (`NodeDiscovered`, `JobFinished`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ClusterStatus::ClientScheduled => "ClientScheduled",
            ClusterStatus::ClientClosed => "ClientClosed",
            ClusterStatus::NodeDiscovered(_) => "NodeDiscovered",
            ClusterStatus::NodeInitialised(_) => "NodeInitialised",
            ClusterStatus::NodeIgnored { .. } => "NodeIgnored",
            ClusterStatus::NodeSuspended(_) => "NodeSuspended",
            ClusterStatus::NodeResumed(_) => "NodeResumed",
            ClusterStatus::NodeClosed(_) => "NodeClosed",
            ClusterStatus::NodeDisconnected(_) => "NodeDisconnected",
            ClusterStatus::NodeAbandoned(_) => "NodeAbandoned",
            ClusterStatus::ServerInitialised { .. } => "ServerInitialised",
            ClusterStatus::ServerClosed { .. } => "ServerClosed",
            ClusterStatus::JobStarted(_) => "JobStarted",
            ClusterStatus::JobFinished { .. } => "JobFinished",
            ClusterStatus::JobFailed { .. } => "JobFailed",
            ClusterStatus::JobTerminated { .. } => "JobTerminated",
            ClusterStatus::JobAbandoned(_) => "JobAbandoned",
        }
    }
}

impl fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match self {
            ClusterStatus::ClientScheduled | ClusterStatus::ClientClosed => f.write_str(code),
            ClusterStatus::NodeDiscovered(n)
            | ClusterStatus::NodeInitialised(n)
            | ClusterStatus::NodeSuspended(n)
            | ClusterStatus::NodeResumed(n)
            | ClusterStatus::NodeClosed(n)
            | ClusterStatus::NodeDisconnected(n)
            | ClusterStatus::NodeAbandoned(n) => {
                write!(f, "{code} {} at {} ({} slots)", n.name, n.location, n.slots)
            }
            ClusterStatus::NodeIgnored { location, reason } => {
                write!(f, "{code} {location}: {reason}")
            }
            ClusterStatus::ServerInitialised { node, slot }
            | ClusterStatus::ServerClosed { node, slot } => write!(f, "{code} {node} slot {slot}"),
            ClusterStatus::JobStarted(job) | ClusterStatus::JobAbandoned(job) => {
                write!(f, "{code} {job}")
            }
            ClusterStatus::JobFinished { job, exit }
            | ClusterStatus::JobTerminated { job, exit } => {
                write!(f, "{code} {job}: {exit}")
            }
            ClusterStatus::JobFailed { job, reason } => write!(f, "{code} {job}: {reason}"),
        }
    }
}

impl fmt::Display for JobInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {} ({})", self.id, self.task)?;
        if let Some(node) = self.node {
            write!(f, " on {node}")?;
        }
        if let Some(slot) = self.slot {
            write!(f, " slot {slot}")?;
        }
        Ok(())
    }
}
