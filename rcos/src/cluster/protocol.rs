//! What a cluster client and a node server say to each other: plain messages between
//! the client's scheduler task and the node's service task.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{JobId, NodeAvail, NodeInfo};
use crate::net::Location;
use crate::task::Exit;
use crate::{Message, TaskRef};

/// The name the node's service task is registered under; clients locate it by name.
pub(crate) const SERVICE_NAME: &str = "rcos-cluster-node";

/// A request from a client's scheduler task to a node's service task.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ToNode {
    /// The client's scheduler task: who asks, and where answers go.
    pub(crate) from: TaskRef,
    /// What it asks.
    pub(crate) op: NodeOp,
}

/// What a client asks of a node.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum NodeOp {
    /// "Serve me": answered with `Welcome` (or `Busy`, then `Welcome` when it is free).
    Hello {
        /// The client's name, for the node's log.
        name: String,
    },
    /// Runs the `#[task(remote)]` function `function` with CBOR-encoded `args`.
    Run {
        job: JobId,
        function: String,
        args: Vec<u8>,
    },
    /// Throws into the job, then terminates it after `grace_ms` if it still runs.
    Terminate { job: JobId, grace_ms: u64 },
    /// The client is done with this node; jobs it left running are terminated.
    Bye,
}

impl Message for ToNode {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::cluster::ToNode")
    }
}

/// A report from a node's service task to the client it serves.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FromNode {
    /// The node that reports.
    pub(crate) node: Location,
    /// What it reports.
    pub(crate) event: NodeEvent,
}

/// What a node reports.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum NodeEvent {
    /// The node serves this client now.
    Welcome(NodeInfo),
    /// The node serves another client; this one is queued.
    Busy(NodeInfo),
    /// A job runs, as this task.
    Started { job: JobId, task: TaskRef },
    /// A job could not start.
    Failed {
        job: JobId,
        reason: String,
        unknown_task: bool,
    },
    /// A job ended.
    Ended { job: JobId, exit: Exit },
    /// The node's availability now (a pulse).
    Avail(NodeAvail),
}

impl Message for FromNode {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::cluster::FromNode")
    }
}
