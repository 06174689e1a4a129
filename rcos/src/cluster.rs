//! Cluster computing, in the model of pycos's dispycos: node servers offer worker
//! slots; a client schedules jobs (registered `#[task(remote)]` functions) onto them.

mod view;

pub use view::{ClusterSnapshot, DashboardSource, JobId, JobState, JobView, NodeState, NodeView};

#[cfg(feature = "dashboard")]
#[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
pub mod dashboard;
