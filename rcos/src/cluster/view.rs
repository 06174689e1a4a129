//! What a cluster client knows, as plain data: the snapshot behind the dashboard's
//! JSON API, and the operations the dashboard may ask for.

use serde::{Deserialize, Serialize};

/// A job's number, unique within one cluster client.
pub type JobId = u64;

/// Everything a cluster client knows at one moment: its nodes and its jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// Milliseconds since the client started, when this snapshot was taken.
    pub now_ms: u64,
    /// Every node the client has heard of, in the order it heard of them.
    pub nodes: Vec<NodeView>,
    /// Jobs, running first, then the most recent finished ones.
    pub jobs: Vec<JobView>,
}

/// The state of a node, as its status messages report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Found (by discovery or because it was named), not yet set up.
    Discovered,
    /// Set up (its `node_setup` succeeded); its slots take jobs.
    Initialised,
    /// Takes no new jobs until resumed; running jobs go on.
    Suspended,
    /// Closed by the client.
    Closed,
    /// Stopped answering; waiting for it to come back within its grace period.
    Disconnected,
    /// Lost for good; its running jobs were reported abandoned.
    Abandoned,
    /// Its `node_setup` failed, or it refused the client: it takes no jobs.
    Failed,
}

/// One node, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// The node's name.
    pub name: String,
    /// Where it listens (`host:port`).
    pub location: String,
    /// Its state.
    pub state: NodeState,
    /// Worker slots this client uses on it.
    pub slots: u32,
    /// Slots running a CPU-bound job now.
    pub busy: u32,
    /// Jobs running on it now (CPU- and I/O-bound).
    pub running: u32,
    /// Jobs it has finished, whatever their outcome.
    pub done: u64,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub platform: String,
    /// Available CPU, as a percentage of all its cores (100.0 = all idle); `None`
    /// (`null` in JSON, "unknown" on the page) until the node has measured it, or where
    /// it cannot.
    pub cpu_available: Option<f32>,
    /// Available memory in bytes; `None` (`null` in JSON, "unknown" on the page) where
    /// the node cannot tell.
    pub memory_available: Option<u64>,
}

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a free slot.
    Waiting,
    /// Running on a node.
    Running,
    /// Ended normally.
    Finished,
    /// Ended with an error or a panic.
    Failed,
    /// Ended because it was told to terminate.
    Terminated,
    /// Its node was lost while it ran.
    Abandoned,
}

/// One job, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The job's number.
    pub id: JobId,
    /// The name of the task function it runs.
    pub task: String,
    /// The node it runs (or ran) on; empty while waiting.
    pub node: String,
    /// Its state.
    pub state: JobState,
    /// Milliseconds since the client started, when it started running.
    pub started_ms: Option<u64>,
    /// How long it ran, once it has ended.
    pub duration_ms: Option<u64>,
    /// How it ended, in words (the result, the error or the panic message).
    pub outcome: Option<String>,
}

/// What the dashboard reads and asks of a cluster client. The client implements it;
/// the dashboard calls it from its own thread, so every method returns at once.
pub trait DashboardSource: Send + Sync + 'static {
    /// The current state of the cluster.
    fn snapshot(&self) -> ClusterSnapshot;
    /// Asks that the node named `node` take no new jobs.
    ///
    /// # Errors
    /// A reason in words, e.g. no such node.
    fn suspend_node(&self, node: &str) -> Result<(), String>;
    /// Asks that the node named `node` take jobs again.
    ///
    /// # Errors
    /// A reason in words, e.g. no such node.
    fn resume_node(&self, node: &str) -> Result<(), String>;
    /// Asks that job `job` be terminated (it gets a throw first, then is ended).
    ///
    /// # Errors
    /// A reason in words, e.g. no such job or it has already ended.
    fn terminate_job(&self, job: JobId) -> Result<(), String>;
}
