//! Cluster computing, in the model of pycos's dispycos: node servers offer worker
//! slots; a client schedules jobs (registered `#[task(remote)]` functions) onto them.
//!
//! Rust cannot ship code, so a job is a `#[task(remote)]` function compiled into both
//! the client program and the node program. A node program starts a node server
//! ([`NodeServer::serve`], or the example binary `cluster_node`); a client
//! ([`Cluster`]) is given the nodes' locations (or discovers them), sets each node up
//! (optional `node_setup` and `server_setup` hooks), and runs jobs on the nodes' slots,
//! least-loaded first. Its status task gets a [`ClusterStatus`] message for every
//! change: nodes discovered, initialised, suspended, lost; jobs started, finished,
//! terminated, abandoned.
//!
//! ```no_run
//! use rcos::cluster::Cluster;
//! use rcos::{task, TaskRef};
//!
//! #[task(remote)]
//! async fn compute(_task: TaskRef, n: u64) -> u64 {
//!     (1..=n).sum()
//! }
//!
//! # async fn example(node: rcos::net::Location) {
//! let cluster = Cluster::builder().node(node).start().unwrap();
//! let jobs: Vec<_> = (1..=10).map(|n| cluster.submit(compute, (n,)).unwrap()).collect();
//! for job in jobs {
//!     let exit = job.finish().await.unwrap();
//!     tracing::info!(job = job.id(), result = ?exit.get::<u64>(), "job done");
//! }
//! cluster.close(false).await;
//! # }
//! ```

mod allocate;
mod client;
mod node;
mod outcome;
mod protocol;
mod state;
mod status;
mod sysinfo;
mod view;

use std::fmt;

pub use allocate::NodeAllocation;
pub use client::{Cluster, ClusterBuilder, Job, Target};
pub use node::{NodeServer, serve};
pub use status::{ClusterStatus, JobInfo, NodeInfo};
pub use sysinfo::NodeAvail;
pub use view::{ClusterSnapshot, DashboardSource, JobId, JobState, JobView, NodeState, NodeView};

#[cfg(feature = "dashboard")]
#[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
pub mod dashboard;

use crate::net::Location;

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// The runtime is not a network node (it was built without a
    /// [`NodeConfig`](crate::net::NodeConfig)).
    NotANode,
    /// The runtime runs a node server already.
    AlreadyServing,
    /// Setup arguments did not encode.
    BadArguments(String),
    /// Nothing happened in time.
    Timeout,
    /// No node has this name or location.
    NoSuchNode(String),
    /// The operation was refused; the reason in words.
    Refused(String),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::NotANode => f.write_str("this runtime is not a network node"),
            ClusterError::AlreadyServing => f.write_str("this runtime runs a node server already"),
            ClusterError::BadArguments(why) => write!(f, "arguments do not encode: {why}"),
            ClusterError::Timeout => f.write_str("not in time"),
            ClusterError::NoSuchNode(node) => write!(f, "no node {node:?}"),
            ClusterError::Refused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ClusterError {}

/// Why a job has no task ending to report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError {
    /// The node does not have the task function compiled in.
    UnknownTask(String),
    /// The job could not start (its arguments did not decode, its node cannot take
    /// jobs, ...); the reason in words.
    NotStarted(String),
    /// The job's node was lost while it ran; its result will never come.
    Abandoned(Location),
    /// It was terminated before it started.
    Cancelled,
    /// The client is closing and takes no new jobs.
    Closed,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::UnknownTask(name) => write!(f, "unknown task {name:?} on the node"),
            JobError::NotStarted(why) => write!(f, "not started: {why}"),
            JobError::Abandoned(at) => write!(f, "abandoned: node {at} was lost"),
            JobError::Cancelled => f.write_str("terminated before it started"),
            JobError::Closed => f.write_str("the cluster client is closing"),
        }
    }
}

impl std::error::Error for JobError {}

/// The destination folder for files of the node the caller runs on: where
/// [`send_file`](crate::net::send_file) puts the files other nodes send it. A job finds
/// its input files there. `None` if the runtime is not a node.
pub fn dest_path() -> Option<std::path::PathBuf> {
    let node = crate::task::current_or_default().node()?;
    Some(node.config().dest_path_of(&node.me_name(), node.location()))
}
