//! Cluster status messages and control, with `cluster_node` processes on loopback and
//! the test process as the client: the status sequence of a normal run, a job naming a
//! task the node does not have ("unknown task", not a crash), a node with a different
//! secret (ignored, with the reason), terminating a job (it gets a throw first and
//! saves its state), suspending and resuming a node, closing with jobs running (waiting
//! for them, or terminating them: a job that ignores the throw is terminated after the
//! grace period), and monitoring a job's task.
#![cfg(unix)]

mod cluster_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::time::{Duration, Instant};

use cluster_jobs::{compute, gate, saver};
use cluster_support::{Statuses, client_runtime, start_node, start_node_with_secret};
use futures_lite::future::poll_once;
use rcos::cluster::{Cluster, ClusterStatus, JobError, JobState, NodeState};
use rcos::task::MonitorStatus;
use rcos::{Exit, TaskRef, task};
use rcos_tests::PATIENCE;

#[test]
fn a_normal_run_reports_statuses_in_order_and_the_node_serves_one_client() {
    let node = start_node(&["--cpus", "1", "--clients", "1", "--name", "solo"]);
    let at = node.at;
    let rt = client_runtime();
    let codes = rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .node(at)
            .status_task(me.clone())
            .start()
            .unwrap();
        let job = cluster.run(compute, (6, 10)).await.unwrap();
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(36));
        cluster.close(false).await;
        statuses
            .expect(&me, "ClientClosed", |s| {
                matches!(s, ClusterStatus::ClientClosed)
            })
            .await;
        // The node described itself.
        let info = statuses
            .seen
            .iter()
            .find_map(|s| match s {
                ClusterStatus::NodeInitialised(info) => Some(info.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (info.name.as_str(), info.location, info.slots),
            ("solo", at, 1)
        );
        assert!(!info.platform.is_empty());
        if cfg!(target_os = "linux") {
            assert!(info.avail.memory_available.is_some_and(|m| m > 0));
        }
        statuses.seen.iter().map(|s| s.code()).collect::<Vec<_>>()
    });
    assert_eq!(
        codes,
        [
            "ClientScheduled",
            "NodeDiscovered",
            "NodeInitialised",
            "ServerInitialised",
            "JobStarted",
            "JobFinished",
            "ServerClosed",
            "NodeClosed",
            "ClientClosed",
        ]
    );
    // `--clients 1`: the node ends once its client has gone.
    let lines = node.process.finish();
    assert_eq!(lines.last().map(String::as_str), Some("served 1 clients"));
}

/// A task only this test program has: the node does not know it.
#[task(remote)]
async fn only_in_the_test(_task: TaskRef, n: u64) -> u64 {
    n
}

#[test]
fn an_unknown_task_fails_clearly_and_a_node_with_another_secret_is_ignored() {
    let good = start_node(&["--cpus", "1"]);
    let other = start_node_with_secret(&["--cpus", "1"], "another secret, also long enough");
    let (at_good, at_other) = (good.at, other.at);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .nodes([at_other, at_good])
            .status_task(me.clone())
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
        assert_eq!(location, at_other);
        // The reason names the cause: authentication with the shared secret failed.
        assert!(reason.starts_with("cannot connect"), "{reason}");
        assert!(
            reason.contains("does not know the shared secret"),
            "{reason}"
        );

        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        let error = cluster.run(only_in_the_test, (5,)).await.unwrap_err();
        assert_eq!(error, JobError::UnknownTask("only_in_the_test".to_string()));
        let failed = statuses
            .expect(&me, "JobFailed", |s| {
                matches!(s, ClusterStatus::JobFailed { .. })
            })
            .await;
        let ClusterStatus::JobFailed { job, reason } = failed else {
            unreachable!()
        };
        assert_eq!(job.node, Some(at_good));
        assert!(
            reason.contains("unknown task \"only_in_the_test\""),
            "{reason}"
        );

        // The node is fine and its slot free again.
        let job = cluster.run(compute, (3, 0)).await.unwrap();
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(9));
        let snapshot = cluster.snapshot();
        let states: Vec<_> = snapshot
            .nodes
            .iter()
            .map(|n| (n.location.clone(), n.state))
            .collect();
        assert!(
            states.contains(&(at_good.to_string(), NodeState::Initialised)),
            "{states:?}"
        );
        assert!(
            states.iter().all(|(at, _)| *at != at_other.to_string())
                || states.contains(&(at_other.to_string(), NodeState::Failed))
        );
        let failed = snapshot
            .jobs
            .iter()
            .find(|j| j.task == "only_in_the_test")
            .unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert!(
            failed
                .outcome
                .as_deref()
                .unwrap_or("")
                .contains("unknown task")
        );
        cluster.close(false).await;
    });
    // The node with the other secret logged why it refused the client.
    drop(other);
}

#[test]
fn terminating_suspending_and_closing_with_jobs_running() {
    let node = start_node(&["--cpus", "2", "--name", "worker"]);
    let at = node.at;
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .node(at)
            .status_task(me.clone())
            .start()
            .unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();

        // A job told to terminate gets a throw first: it saves its state and returns.
        let job = cluster.run(saver, ()).await.unwrap();
        job.terminate().unwrap();
        let exit = job.finish().await.unwrap();
        let saved = exit.get::<String>().unwrap();
        assert!(saved.starts_with("saved after "), "{saved}");
        assert!(
            saved.contains("terminated by the cluster client"),
            "{saved}"
        );
        assert_eq!(job.state(), JobState::Terminated);
        statuses
            .expect(&me, "JobTerminated", |s| {
                matches!(s, ClusterStatus::JobTerminated { .. })
            })
            .await;
        assert!(cluster.terminate_job(job.id()).is_err(), "it has ended");

        // A suspended node takes no new jobs; resumed, it does.
        cluster.suspend_node("worker").unwrap();
        statuses
            .expect(&me, "NodeSuspended", |s| {
                matches!(s, ClusterStatus::NodeSuspended(_))
            })
            .await;
        let waiting = cluster.submit(compute, (4, 0)).unwrap();
        assert_eq!(waiting.state(), JobState::Waiting);
        assert!(cluster.suspend_node("no such node").is_err());
        cluster.resume_node(&at.to_string()).unwrap();
        let resumed = statuses
            .expect(&me, "NodeResumed", |s| {
                matches!(s, ClusterStatus::NodeResumed(_))
            })
            .await;
        let ClusterStatus::NodeResumed(info) = resumed else {
            unreachable!()
        };
        assert_eq!((info.name.as_str(), info.location), ("worker", at));
        assert_eq!(waiting.finish().await.unwrap().get::<u64>(), Some(16));

        // A waiting job can be terminated before it starts.
        let a = cluster.run(gate, ()).await.unwrap();
        let b = cluster.run(gate, ()).await.unwrap();
        let c = cluster.submit(gate, ()).unwrap();
        assert_eq!(c.state(), JobState::Waiting);
        c.terminate().unwrap();
        assert_eq!(c.finish().await.err(), Some(JobError::Cancelled));

        // Closing with `terminate`: the running jobs end, each reported terminated.
        cluster.close(true).await;
        for job in [&a, &b] {
            assert!(job.finish().await.is_ok());
            assert_eq!(job.state(), JobState::Terminated);
        }
        statuses
            .expect(&me, "ClientClosed", |s| {
                matches!(s, ClusterStatus::ClientClosed)
            })
            .await;
        let terminated = statuses
            .seen
            .iter()
            .filter(|s| matches!(s, ClusterStatus::JobTerminated { .. }))
            .count();
        assert_eq!(terminated, 4, "{:#?}", statuses.codes());
        assert!(cluster.submit(compute, (1, 0)).is_err(), "closed");
    });
}

#[test]
fn closing_without_terminate_waits_for_running_and_waiting_jobs() {
    let node = start_node(&["--cpus", "1"]);
    let at = node.at;
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let cluster = Cluster::builder()
            .node(at)
            .status_task(me.clone())
            .start()
            .unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        let running = cluster.run(gate, ()).await.unwrap();
        let waiting = cluster.submit(gate, ()).unwrap();
        assert_eq!(waiting.state(), JobState::Waiting);

        // close(false), polled once: it begins (the client is closing from now on) and
        // cannot end while a job is open.
        let mut closing = Box::pin(cluster.close(false));
        assert!(
            poll_once(&mut closing).await.is_none(),
            "close() ended at once"
        );
        assert_eq!(
            cluster.submit(compute, (1, 0)).unwrap_err(),
            JobError::Closed,
            "a closing client takes no new jobs"
        );

        running.started().await.unwrap().send(1u64).unwrap();
        assert_eq!(running.finish().await.unwrap().get::<u64>(), Some(1));
        // The waiting job gets the freed slot, although the client is closing.
        let task = waiting.started().await.unwrap();
        assert_eq!(waiting.state(), JobState::Running);
        assert!(
            poll_once(&mut closing).await.is_none(),
            "close() ended with a job running"
        );
        task.send(2u64).unwrap();
        assert_eq!(waiting.finish().await.unwrap().get::<u64>(), Some(2));
        assert_eq!(waiting.state(), JobState::Finished);
        closing.await;

        // Both jobs were reported finished before the client closed; none terminated.
        statuses
            .expect(&me, "ClientClosed", |s| {
                matches!(s, ClusterStatus::ClientClosed)
            })
            .await;
        let codes: Vec<&str> = statuses.seen.iter().map(|s| s.code()).collect();
        let finished: Vec<usize> = (0..codes.len())
            .filter(|n| codes[*n] == "JobFinished")
            .collect();
        assert_eq!(finished.len(), 2, "{codes:?}");
        assert!(finished.iter().all(|n| *n < codes.len() - 1), "{codes:?}");
        assert!(!codes.contains(&"JobAbandoned"), "{codes:?}");
        assert!(!codes.contains(&"JobTerminated"), "{codes:?}");
    });
}

#[test]
fn a_job_that_ignores_the_throw_is_terminated_after_the_grace_period() {
    let node = start_node(&["--cpus", "2"]);
    let at = node.at;
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let mut statuses = Statuses::default();
        let grace = Duration::from_millis(300);
        let cluster = Cluster::builder()
            .node(at)
            .status_task(me.clone())
            .terminate_grace(grace)
            .start()
            .unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        // `compute` waits with the runtime's sleep, not the task's: a throw does not
        // reach it, so only termination ends it before its 10 minutes are up.
        let stubborn = cluster.run(compute, (3, 600_000)).await.unwrap();
        // `saver` catches the throw and returns what it has.
        let saver = cluster.run(saver, ()).await.unwrap();

        let t0 = Instant::now();
        cluster.close(true).await;
        let took = t0.elapsed();
        assert!(
            took < Duration::from_secs(20),
            "close(true) took {took:?}, the grace is {grace:?}"
        );
        let exit = stubborn.finish().await.unwrap();
        assert!(matches!(exit, Exit::Terminated), "{exit:?}");
        assert_eq!(stubborn.state(), JobState::Terminated);
        let saved = saver.finish().await.unwrap().get::<String>().unwrap();
        assert!(saved.starts_with("saved after "), "{saved}");
        assert_eq!(saver.state(), JobState::Terminated);

        statuses
            .expect(&me, "ClientClosed", |s| {
                matches!(s, ClusterStatus::ClientClosed)
            })
            .await;
        let terminated: Vec<(u64, bool)> = statuses
            .seen
            .iter()
            .filter_map(|s| match s {
                ClusterStatus::JobTerminated { job, exit } => {
                    Some((job.id, matches!(exit, Exit::Terminated)))
                }
                _ => None,
            })
            .collect();
        assert!(
            terminated.contains(&(stubborn.id(), true)),
            "{terminated:?}"
        );
        assert_eq!(terminated.len(), 2, "{terminated:?}");
    });
}

#[test]
fn a_jobs_task_can_be_monitored() {
    let node = start_node(&["--cpus", "1"]);
    let at = node.at;
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let cluster = Cluster::builder().node(at).start().unwrap();
        cluster.wait_nodes(1, PATIENCE).await.unwrap();
        let job = cluster.run(gate, ()).await.unwrap();
        let task = job.started().await.unwrap();
        assert_eq!(task.location(), Some(at), "the job's task is on the node");
        me.monitor(&task).unwrap();
        task.send(42u64).unwrap();
        let status = me
            .receive_type_timeout::<MonitorStatus>(PATIENCE)
            .await
            .unwrap()
            .expect("the monitor reports the job's end");
        assert_eq!(status.task, task);
        assert_eq!(status.exit.get::<u64>(), Some(42));
        assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(42));
        cluster.close(false).await;
    });
}
