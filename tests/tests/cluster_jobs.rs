//! Cluster jobs on `cluster_node` processes on loopback, with the test process as the
//! client: jobs spread by load, CPU slots never oversubscribed, I/O jobs not limited,
//! jobs waiting when every slot is busy, a failing `node_setup` keeping its node out,
//! results collected, and a node killed mid-job (its jobs reported abandoned, the
//! others finishing elsewhere).
//!
//! Nothing waits for time to pass: each step waits for a job to start or end, or for a
//! status message, with generous limits.
#![cfg(unix)]

mod cluster_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::time::Duration;

use cluster_jobs::{check_node, compute, gate, hold};
use cluster_support::{Statuses, client_runtime, start_node};
use rcos::TaskRef;
use rcos::cluster::{Cluster, ClusterStatus, JobError, JobState};
use rcos_tests::PATIENCE;

#[test]
fn jobs_spread_by_load_wait_when_full_and_return_results() {
    let (a, b) = (start_node(&["--cpus", "2"]), start_node(&["--cpus", "2"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().nodes([at_a, at_b]).start().unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();
        let mut jobs = Vec::new();
        for _ in 0..4 {
            jobs.push(cluster.run(gate, ()).await.unwrap());
        }
        let on = |at| jobs.iter().filter(|j| j.node() == Some(at)).count();
        assert_eq!((on(at_a), on(at_b)), (2, 2), "two jobs on each node");

        // Every slot is busy: a fifth job waits (it does not fail).
        let fifth = cluster.submit(gate, ()).unwrap();
        assert_eq!(fifth.state(), JobState::Waiting);
        let snapshot = cluster.snapshot();
        assert!(
            snapshot.nodes.iter().all(|n| n.busy == 2 && n.slots == 2),
            "{snapshot:?}"
        );

        // A slot of b becomes free: the fifth job starts there.
        let freed = jobs.iter().position(|j| j.node() == Some(at_b)).unwrap();
        jobs[freed].started().await.unwrap().send(100u64).unwrap();
        assert_eq!(jobs[freed].finish().await.unwrap().get::<u64>(), Some(100));
        fifth.started().await.unwrap();
        assert_eq!(fifth.node(), Some(at_b));
        jobs.push(fifth);

        // Results are collected, each from its own job.
        for (n, job) in jobs.iter().enumerate().filter(|(n, _)| *n != freed) {
            job.started().await.unwrap().send(n as u64).unwrap();
        }
        for (n, job) in jobs.iter().enumerate().filter(|(n, _)| *n != freed) {
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n as u64));
            assert_eq!(job.state(), JobState::Finished);
        }
        cluster.close(false).await;
    });
}

#[test]
fn cpu_slots_are_never_oversubscribed_and_io_jobs_are_not_limited() {
    let (a, b) = (start_node(&["--cpus", "1"]), start_node(&["--cpus", "1"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().nodes([at_a, at_b]).start().unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();

        // Six CPU-bound jobs on two one-slot nodes: each reports the most `hold` jobs
        // its node ever ran at once.
        let jobs: Vec<_> = (0..6)
            .map(|_| cluster.submit(hold, (100,)).unwrap())
            .collect();
        let mut nodes = std::collections::BTreeSet::new();
        for job in &jobs {
            let (node, peak) = job.finish().await.unwrap().get::<(String, u32)>().unwrap();
            assert_eq!(peak, 1, "node {node} ran two CPU-bound jobs at once");
            nodes.insert(node);
        }
        assert_eq!(nodes.len(), 2, "both nodes were used: {nodes:?}");

        // Five I/O-bound jobs on the same two slots: all run at once.
        let mut io = Vec::new();
        for _ in 0..5 {
            io.push(cluster.run_io(gate, ()).await.unwrap());
        }
        assert!(io.iter().all(|j| j.state() == JobState::Running));
        let running: u32 = cluster.snapshot().nodes.iter().map(|n| n.running).sum();
        assert_eq!(running, 5);
        // A CPU-bound job still finds its slot free.
        let cpu = cluster.run(compute, (7, 0)).await.unwrap();
        assert_eq!(cpu.finish().await.unwrap().get::<u64>(), Some(49));
        for (n, job) in io.iter().enumerate() {
            job.started().await.unwrap().send(n as u64).unwrap();
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n as u64));
        }
        cluster.close(false).await;
    });
}

#[test]
fn a_failing_node_setup_keeps_its_node_out() {
    let (a, b) = (start_node(&["--cpus", "2"]), start_node(&["--cpus", "2"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .node_setup(check_node, (at_b.addr().port(),))
            .start()
            .unwrap();
        let ignored = statuses
            .expect(&me, "NodeIgnored", |s| {
                matches!(s, ClusterStatus::NodeIgnored { .. })
            })
            .await;
        let ClusterStatus::NodeIgnored { location, reason } = ignored else {
            unreachable!()
        };
        assert_eq!(location, at_b);
        assert!(reason.contains("is not wanted"), "{reason}");

        let ready = cluster.wait_nodes(1, PATIENCE).await.unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].location, at_a);
        let jobs: Vec<_> = (1..=6)
            .map(|n| cluster.submit(compute, (n, 10)).unwrap())
            .collect();
        for (n, job) in (1..=6u64).zip(&jobs) {
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n * n));
            assert_eq!(
                job.node(),
                Some(at_a),
                "job {n} ran on the node that failed setup"
            );
        }
        assert_eq!(cluster.nodes().len(), 1);
        cluster.close(false).await;
    });
}

#[test]
fn a_killed_node_has_its_jobs_abandoned_and_the_rest_finish_elsewhere() {
    let (a, b) = (start_node(&["--cpus", "2"]), start_node(&["--cpus", "2"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .zombie_period(Duration::from_millis(500))
            .start()
            .unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();
        let mut jobs = Vec::new();
        for _ in 0..4 {
            jobs.push(cluster.run(gate, ()).await.unwrap());
        }
        // Two more wait for a slot.
        let later: Vec<_> = (0..2).map(|_| cluster.submit(gate, ()).unwrap()).collect();
        assert!(later.iter().all(|j| j.state() == JobState::Waiting));

        // SIGKILL: the node cannot say goodbye.
        b.process.kill();
        let lost = statuses
            .expect(
                &me,
                "NodeDisconnected",
                |s| matches!(s, ClusterStatus::NodeDisconnected(n) if n.location == at_b),
            )
            .await;
        drop(lost);
        // Its two slots were reported closed first, each once.
        let closed: Vec<u32> = statuses
            .seen
            .iter()
            .filter_map(|s| match s {
                ClusterStatus::ServerClosed { node, slot } if *node == at_b => Some(*slot),
                _ => None,
            })
            .collect();
        assert_eq!(closed, [0, 1], "{:#?}", statuses.codes());
        for _ in 0..2 {
            let status = statuses
                .expect(&me, "JobAbandoned", |s| {
                    matches!(s, ClusterStatus::JobAbandoned(_))
                })
                .await;
            let ClusterStatus::JobAbandoned(job) = status else {
                unreachable!()
            };
            assert_eq!(job.node, Some(at_b));
        }
        for job in jobs.iter().filter(|j| j.node() == Some(at_b)) {
            assert_eq!(job.finish().await.err(), Some(JobError::Abandoned(at_b)));
            assert_eq!(job.state(), JobState::Abandoned);
        }
        statuses
            .expect(
                &me,
                "NodeAbandoned",
                |s| matches!(s, ClusterStatus::NodeAbandoned(n) if n.location == at_b),
            )
            .await;

        // The waiting jobs run on the node that is left, as its slots free up.
        for (n, job) in jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.node() == Some(at_a))
        {
            job.started().await.unwrap().send(n as u64).unwrap();
            assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(n as u64));
        }
        for (n, job) in later.iter().enumerate() {
            job.started().await.unwrap().send(10 + n as u64).unwrap();
            assert_eq!(
                job.finish().await.unwrap().get::<u64>(),
                Some(10 + n as u64)
            );
            assert_eq!(job.node(), Some(at_a));
        }
        cluster.close(false).await;
    });
    drop(a);
}

/// A node that stops answering (SIGSTOP: its connection stays open, but no pulse or
/// heartbeat comes back) is reported lost and its running jobs abandoned, never
/// silently kept; the waiting job runs on the other node.
#[test]
fn a_frozen_node_is_reported_and_its_jobs_abandoned() {
    let (a, b) = (start_node(&["--cpus", "1"]), start_node(&["--cpus", "1"]));
    let (at_a, at_b) = (a.at, b.at);
    let rt = client_runtime();
    let pid = b.process.pid();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .nodes([at_a, at_b])
            .status_task(me.clone())
            .zombie_period(Duration::from_millis(500))
            .start()
            .unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();
        let first = cluster.run(gate, ()).await.unwrap();
        let second = cluster.run(gate, ()).await.unwrap();
        let waiting = cluster.submit(gate, ()).unwrap();
        let on_b = if first.node() == Some(at_b) {
            &first
        } else {
            &second
        };
        let on_a = if first.node() == Some(at_a) {
            &first
        } else {
            &second
        };
        assert_eq!(on_b.node(), Some(at_b), "one job on each node");
        on_b.started().await.unwrap();

        rcos_tests::programs::signal(pid, "STOP");
        let stopped = std::time::Instant::now();
        statuses
            .expect(
                &me,
                "NodeDisconnected",
                |s| matches!(s, ClusterStatus::NodeDisconnected(n) if n.location == at_b),
            )
            .await;
        let detected = stopped.elapsed();
        let status = statuses
            .expect(&me, "JobAbandoned", |s| {
                matches!(s, ClusterStatus::JobAbandoned(_))
            })
            .await;
        let ClusterStatus::JobAbandoned(job) = status else {
            unreachable!()
        };
        assert_eq!(job.node, Some(at_b));
        assert_eq!(on_b.finish().await.err(), Some(JobError::Abandoned(at_b)));
        println!("a frozen node was reported lost {detected:?} after SIGSTOP, its job abandoned");

        // The node left runs its job, then the one that waited.
        on_a.started().await.unwrap().send(1u64).unwrap();
        assert_eq!(on_a.finish().await.unwrap().get::<u64>(), Some(1));
        waiting.started().await.unwrap().send(2u64).unwrap();
        assert_eq!(waiting.finish().await.unwrap().get::<u64>(), Some(2));
        assert_eq!(waiting.node(), Some(at_a));
        cluster.close(false).await;
    });
    rcos_tests::programs::signal(pid, "CONT");
    drop((a, b));
}
