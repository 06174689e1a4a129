//! `cluster_node` processes found and reached over the network as a user would set them
//! up: by authenticated UDP discovery (`--discover`) instead of a listed address, and
//! over mutual TLS (`--cert`, `--key`, `--trusted`). A client without TLS, or with a
//! certificate from another authority, is refused at once with a reason, not left
//! hanging.
#![cfg(all(unix, feature = "tls"))]

mod cluster_support;
mod tls_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cluster_jobs::compute;
use cluster_support::{Statuses, start_node};
use rcos::TaskRef;
use rcos::cluster::{Cluster, ClusterStatus};
use rcos::net::{Location, NodeConfig};
use rcos_tests::{PATIENCE, SECRET, node_with};
use tls_support::Ca;

/// A discovery port of this test's own: in 30000 to 32759 (below the ephemeral range,
/// away from the default 9705 and from the ports `net_discovery` uses), different for
/// each process so that runs at once do not hear each other.
fn discovery_port() -> u16 {
    30_000 + (std::process::id() % 690) as u16 * 4
}

#[test]
fn a_client_with_discovery_finds_a_discovering_node_and_runs_a_job_on_it() {
    let port = discovery_port();
    let node = start_node(&[
        "--cpus",
        "1",
        "--name",
        "discovered",
        "--discover",
        "--discover-port",
        &port.to_string(),
    ]);
    let at = node.at;
    let rt = node_with(
        "disc-client",
        NodeConfig::new()
            .secret(SECRET)
            .discovery(true)
            .discovery_port(port)
            .discovery_interval(Duration::from_millis(300)),
    );
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        // No node named: the only way to it is discovery.
        let cluster = Cluster::builder()
            .discover(true)
            .status_task(me.clone())
            .start()
            .unwrap();
        let found = statuses
            .expect(&me, "NodeDiscovered", |s| {
                matches!(s, ClusterStatus::NodeDiscovered(_))
            })
            .await;
        let ClusterStatus::NodeDiscovered(info) = found else {
            unreachable!()
        };
        assert_eq!((info.location, info.name.as_str()), (at, "discovered"));
        let ready = cluster.wait_nodes(1, PATIENCE).await.unwrap();
        assert_eq!(ready[0].location, at);
        let job = cluster.run(compute, (12, 0)).await.unwrap();
        assert_eq!(job.node(), Some(at));
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(144));
        cluster.close(false).await;
    });
    drop(node);
}

/// Writes a certificate, its key and `ca`'s certificate to `dir`, as `cluster_node`
/// takes them: `[cert, key, trusted]`.
fn files(ca: &Ca, dir: &Path, tag: &str) -> [PathBuf; 3] {
    let (cert, key) = ca.issue(&["localhost", "127.0.0.1"]);
    let paths = ["cert", "key", "ca"].map(|f| dir.join(format!("{tag}-{f}.pem")));
    for (path, pem) in paths.iter().zip([&cert, &key, &ca.pem()]) {
        std::fs::write(path, pem).unwrap();
    }
    paths
}

/// The `NodeIgnored` reason a client with `config` gets for the node at `at`, and how
/// long it took.
fn refused(name: &str, config: NodeConfig, at: Location) -> (String, Duration) {
    let rt = node_with(name, config);
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let start = Instant::now();
        let cluster = Cluster::builder()
            .node(at)
            .status_task(me.clone())
            .start()
            .unwrap();
        let ignored = statuses
            .expect(&me, "NodeIgnored", |s| {
                matches!(s, ClusterStatus::NodeIgnored { .. })
            })
            .await;
        let took = start.elapsed();
        let ClusterStatus::NodeIgnored { location, reason } = ignored else {
            unreachable!()
        };
        assert_eq!(location, at);
        assert!(cluster.nodes().is_empty());
        cluster.close(false).await;
        (reason, took)
    })
}

#[test]
fn a_tls_client_runs_a_job_on_a_tls_node_and_others_are_refused_at_once() {
    let ca = Ca::new("rcos cluster test CA");
    let dir = std::env::temp_dir().join(format!("rcos-cluster-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let [cert, key, trusted] = files(&ca, &dir, "node");
    let node = start_node(&[
        "--cpus",
        "1",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--trusted",
        trusted.to_str().unwrap(),
    ]);
    let at = node.at;

    let rt = node_with("tls-client", ca.node_config(SECRET));
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().node(at).start().unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        let job = cluster.run(compute, (9, 0)).await.unwrap();
        assert_eq!(job.node(), Some(at));
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(81));
        cluster.close(false).await;
    });
    drop(rt);

    // Without TLS: refused at once, and the reason says TLS.
    let plain = NodeConfig::new()
        .secret(SECRET)
        .handshake_timeout(Duration::from_secs(20));
    let (reason, took) = refused("plain-client", plain, at);
    assert!(reason.contains("TLS"), "{reason}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {reason}");

    // With a certificate from another authority: refused at once too.
    let other = Ca::new("another CA");
    let (reason, took) = refused("stranger-client", other.node_config(SECRET), at);
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {reason}");

    // The node is still there for a client it trusts.
    let rt = node_with("tls-client-2", ca.node_config(SECRET));
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().node(at).start().unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        let job = cluster.run(compute, (3, 0)).await.unwrap();
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(9));
        cluster.close(false).await;
    });
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
