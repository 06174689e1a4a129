//! What the cluster tests share: `cluster_node` processes on loopback, a client node in
//! the test process, and waits for status messages.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use rcos::cluster::ClusterStatus;
use rcos::net::{Location, NodeConfig};
use rcos::{Runtime, TaskRef};
use rcos_tests::programs::{Running, example_path};
use rcos_tests::{PATIENCE, SECRET};

/// The secret of the test nodes, as the node program takes it (`RCOS_SECRET`).
pub(crate) fn secret_text() -> &'static str {
    std::str::from_utf8(SECRET).expect("the test secret is text")
}

/// The `cluster_node` program, built on first use.
pub(crate) fn node_exe() -> PathBuf {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    example_path(&BUILT, &["cluster_node"], "cluster_node")
}

/// A `cluster_node` process and where it listens.
pub(crate) struct NodeProcess {
    pub(crate) process: Running,
    pub(crate) at: Location,
}

/// Starts `cluster_node` with `args` and the test secret, and waits for its "listening
/// at" line.
pub(crate) fn start_node(args: &[&str]) -> NodeProcess {
    start_node_with_secret(args, secret_text())
}

/// Starts `cluster_node` with `args` and `secret`.
pub(crate) fn start_node_with_secret(args: &[&str], secret: &str) -> NodeProcess {
    let mut process = Running::spawn("cluster_node", node_exe(), args, Some(secret));
    let line = process.expect("listening at ");
    let at = line
        .rsplit(' ')
        .next()
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("no location in {line:?}"));
    NodeProcess { process, at }
}

/// The client's runtime: a node on loopback with the test secret and quick heartbeats.
pub(crate) fn client_runtime() -> Runtime {
    rcos_tests::node_with("client", NodeConfig::new().secret(SECRET))
}

/// Status messages received so far by the test's task, which is the status task.
#[derive(Default)]
pub(crate) struct Statuses {
    pub(crate) seen: Vec<ClusterStatus>,
}

impl Statuses {
    /// Waits (up to PATIENCE) for the next status for which `pred` holds; panics with
    /// every status seen if none comes.
    pub(crate) async fn expect(
        &mut self,
        me: &TaskRef,
        what: &str,
        pred: impl Fn(&ClusterStatus) -> bool,
    ) -> ClusterStatus {
        loop {
            match me.receive_type_timeout::<ClusterStatus>(PATIENCE).await {
                Ok(Some(status)) => {
                    self.seen.push(status.clone());
                    if pred(&status) {
                        return status;
                    }
                }
                _ => panic!("no {what} status in {PATIENCE:?}; saw {:#?}", self.codes()),
            }
        }
    }

    /// The codes of the statuses seen.
    pub(crate) fn codes(&self) -> Vec<String> {
        self.seen.iter().map(ToString::to_string).collect()
    }
}
