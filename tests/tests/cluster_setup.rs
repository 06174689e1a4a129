//! Setting nodes up and choosing them, end to end against `cluster_node` processes on
//! loopback with the test process as the client: `server_setup` (run once per slot, a
//! failure keeping the node out with the reason), node allocation rules (an address
//! pattern that leaves a node out, a minimum memory no node has, a limit on the slots
//! used), `run_each` (one job on every node), and jobs placed by host IP address
//! (`run_at` with [`Target::Host`]) and I/O-bound jobs placed at a node (`run_io_at`).
//!
//! Nothing waits for time to pass: each step waits for a job to start or end, or for a
//! status message, with generous limits.
#![cfg(unix)]

mod cluster_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use cluster_jobs::{check_node, compute, gate};
use cluster_support::{Statuses, client_runtime, start_node};
use rcos::TaskRef;
use rcos::cluster::{Cluster, ClusterStatus, JobError, JobState, NodeAllocation, Target};
use rcos::net::Location;
use rcos_tests::PATIENCE;

/// The reason of the `NodeIgnored` status for `at` (seen already, or the next one).
async fn ignored(statuses: &mut Statuses, me: &TaskRef, at: Location) -> String {
    let reason = |s: &ClusterStatus| match s {
        ClusterStatus::NodeIgnored { location, reason } if *location == at => Some(reason.clone()),
        _ => None,
    };
    if let Some(seen) = statuses.seen.iter().find_map(reason) {
        return seen;
    }
    let status = statuses
        .expect(me, "NodeIgnored", |s| reason(s).is_some())
        .await;
    reason(&status).unwrap_or_default()
}

#[test]
fn server_setup_runs_once_per_slot_and_a_failing_one_keeps_its_node_out() {
    let (a, b) = (start_node(&["--cpus", "2"]), start_node(&["--cpus", "2"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        // `check_node` fails on b's port: as a server setup, it fails for b's slots.
        let cluster = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .server_setup(check_node, (at_b.addr().port(),))
            .start()
            .unwrap();
        let reason = ignored(&mut statuses, &me, at_b).await;
        assert!(reason.contains("check_node"), "{reason}");
        assert!(reason.contains("is not wanted"), "{reason}");

        // a's two slots were set up, each reported; b never took a job.
        let ready = cluster.wait_nodes(1, PATIENCE).await.unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].location, at_a);
        let slots_of_a = |seen: &[ClusterStatus]| -> Vec<u32> {
            seen.iter()
                .filter_map(|s| match s {
                    ClusterStatus::ServerInitialised { node, slot } if *node == at_a => Some(*slot),
                    _ => None,
                })
                .collect()
        };
        while slots_of_a(&statuses.seen).len() < 2 {
            statuses
                .expect(
                    &me,
                    "ServerInitialised",
                    |s| matches!(s, ClusterStatus::ServerInitialised { node, .. } if *node == at_a),
                )
                .await;
        }
        let mut slots = slots_of_a(&statuses.seen);
        slots.sort_unstable();
        assert_eq!(slots, [0, 1], "each slot of a set up once");
        assert!(
            !statuses.seen.iter().any(
                |s| matches!(s, ClusterStatus::ServerInitialised { node, .. } if *node == at_b)
            ),
            "a slot of b was reported set up: {:#?}",
            statuses.codes()
        );
        let jobs: Vec<_> = (1..=4)
            .map(|n| cluster.submit(compute, (n, 10)).unwrap())
            .collect();
        for (n, job) in (1..=4u64).zip(&jobs) {
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n * n));
            assert_eq!(job.node(), Some(at_a), "job {n} ran on b");
        }
        // A job for b alone fails at once, saying why; it does not wait for ever.
        let error = cluster.run_at(at_b, compute, (2, 0)).await.unwrap_err();
        assert_eq!(
            error,
            JobError::NotStarted(format!("node {at_b} cannot take jobs: it was ignored"))
        );
        cluster.close(false).await;
    });
}

#[test]
fn allocation_rules_pick_nodes_by_address_and_memory_and_limit_slots() {
    let (a, b) = (start_node(&["--cpus", "3"]), start_node(&["--cpus", "2"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        // Only a's address:port matches a rule, and of its 3 slots one is used.
        let cluster = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .allocate(NodeAllocation::new(format!("127.0.0.*:{}", at_a.addr().port())).slots(1))
            .start()
            .unwrap();
        let reason = ignored(&mut statuses, &me, at_b).await;
        assert_eq!(reason, "not allocated: it matches no allocation rule");
        let ready = cluster.wait_nodes(1, PATIENCE).await.unwrap();
        assert_eq!(
            (ready[0].location, ready[0].cpus, ready[0].slots),
            (at_a, 3, 1)
        );

        // One slot in use: a second CPU-bound job waits for it.
        let first = cluster.run(gate, ()).await.unwrap();
        let second = cluster.submit(gate, ()).unwrap();
        assert_eq!(second.state(), JobState::Waiting);
        let snapshot = cluster.snapshot();
        let view = snapshot
            .nodes
            .iter()
            .find(|n| n.location == at_a.to_string());
        assert_eq!(
            view.map(|n| (n.slots, n.busy)),
            Some((1, 1)),
            "{snapshot:?}"
        );
        first.started().await.unwrap().send(1u64).unwrap();
        assert_eq!(first.finish().await.unwrap().get::<u64>(), Some(1));
        second.started().await.unwrap().send(2u64).unwrap();
        assert_eq!(second.finish().await.unwrap().get::<u64>(), Some(2));
        assert_eq!(second.node(), Some(at_a));
        cluster.close(false).await;

        // A minimum of free memory that no machine has: both nodes are refused, saying
        // why.
        let mut statuses = Statuses::default();
        let greedy = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .allocate(NodeAllocation::new("*").min_memory(u64::MAX))
            .start()
            .unwrap();
        for at in [at_a, at_b] {
            let reason = ignored(&mut statuses, &me, at).await;
            assert!(
                reason.starts_with("not allocated: memory: ")
                    && reason.ends_with(&format!("{} bytes required", u64::MAX)),
                "{reason}"
            );
        }
        assert!(greedy.nodes().is_empty());
        let waiting = greedy.submit(compute, (1, 0)).unwrap();
        assert_eq!(waiting.state(), JobState::Waiting, "no node takes jobs");
        greedy.close(true).await;
        assert_eq!(waiting.state(), JobState::Terminated);
    });
}

#[test]
fn run_each_runs_one_job_on_every_node() {
    let nodes = [
        start_node(&["--cpus", "2"]),
        start_node(&["--cpus", "1"]),
        start_node(&["--cpus", "1"]),
    ];
    let at: Vec<Location> = nodes.iter().map(|n| n.at).collect();
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().nodes(at.clone()).start().unwrap();
        cluster.wait_nodes(3, PATIENCE).await.unwrap();
        let jobs = cluster.run_each(gate, ()).await;
        assert_eq!(jobs.len(), 3);
        let jobs: Vec<_> = jobs.into_iter().map(Result::unwrap).collect();
        let placed: BTreeSet<_> = jobs.iter().filter_map(|j| j.node()).collect();
        assert_eq!(placed, at.iter().copied().collect(), "one job on each node");
        for (n, job) in jobs.iter().enumerate() {
            assert_eq!(job.state(), JobState::Running);
            job.started().await.unwrap().send(n as u64).unwrap();
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n as u64));
        }
        cluster.close(false).await;
    });
}

#[test]
fn jobs_go_to_the_host_or_node_asked_for() {
    // Two hosts on one machine: 127.0.0.1 and 127.0.0.2 (all of 127/8 is loopback).
    let one = start_node(&["--cpus", "1"]);
    let two = start_node(&["--cpus", "1", "--host", "127.0.0.2"]);
    let (at_one, at_two) = (one.at, two.at);
    assert_eq!(at_two.addr().ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().nodes([at_one, at_two]).start().unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();
        let host_two: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();

        // CPU-bound, by host: the job runs on the node of that host, and a second one
        // waits for its one slot though the other host's slot is free.
        let first = cluster.run_at(host_two, gate, ()).await.unwrap();
        assert_eq!(first.node(), Some(at_two));
        let second = cluster
            .submit_at(Target::Host(host_two), true, gate, ())
            .unwrap();
        assert_eq!(second.state(), JobState::Waiting);

        // I/O-bound, by node: it runs at once, although the slot there is busy.
        let io = cluster.run_io_at(at_two, compute, (5, 0)).await.unwrap();
        assert_eq!(io.node(), Some(at_two));
        assert_eq!(io.finish().await.unwrap().get::<u64>(), Some(25));
        let io_host = cluster.run_io_at(host_two, gate, ()).await.unwrap();
        assert_eq!(io_host.node(), Some(at_two));
        assert_eq!(second.state(), JobState::Waiting);

        // By the other host's address: the other node.
        let local = cluster.run_at(IpAddr::from(Ipv4Addr::LOCALHOST), compute, (3, 0));
        let local = local.await.unwrap();
        assert_eq!(local.node(), Some(at_one));
        assert_eq!(local.finish().await.unwrap().get::<u64>(), Some(9));

        first.started().await.unwrap().send(1u64).unwrap();
        assert_eq!(first.finish().await.unwrap().get::<u64>(), Some(1));
        second.started().await.unwrap().send(2u64).unwrap();
        assert_eq!(second.finish().await.unwrap().get::<u64>(), Some(2));
        assert_eq!(second.node(), Some(at_two));
        io_host.started().await.unwrap().send(3u64).unwrap();
        assert_eq!(io_host.finish().await.unwrap().get::<u64>(), Some(3));
        cluster.close(false).await;
    });
}
