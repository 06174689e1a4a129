//! Remote services (pycos's RPS) between two nodes in one process: publish, locate,
//! run, results through `finish`, every started task monitored, close, refusals.

use std::time::Duration;

use rcos::rps::{Rps, RpsClient, RpsError};
use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, TaskRef, net, task};
use rcos_tests::{PATIENCE, node, node_patient, run};

/// Upper-cases a text.
#[task(remote)]
async fn shout(_task: TaskRef, text: String) -> String {
    text.to_uppercase()
}

/// Fails on purpose for odd numbers (a panic), returns the double of even ones.
#[task(remote)]
async fn picky(_task: TaskRef, n: u32) -> u32 {
    assert!(n % 2 == 0, "odd number {n}");
    n * 2
}

/// Waits for a message forever (until its node goes away).
#[task(remote)]
async fn waits(task: TaskRef) -> Result<(), Interrupt> {
    task.suspend(None).await.map(|_| ())
}

#[test]
fn a_service_runs_on_the_node_that_published_it() {
    let (a, b) = (node("rps-a"), node("rps-b"));
    let at = a.location().unwrap();
    let service = run(&a, async { Rps::publish(shout).unwrap() });
    assert_eq!(service.name(), "shout");
    let (value, location) = run(&b, async move {
        net::peer(at).await.unwrap();
        let client = RpsClient::locate(shout, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(client.location(), Some(at));
        let job = client.run(("remote".to_string(),)).await.unwrap();
        (job.finish().await.get::<String>(), job.location())
    });
    assert_eq!(value.as_deref(), Some("REMOTE"));
    assert_eq!(location, Some(at));
    // Publishing the same service twice on one node is refused.
    let again = run(&a, async { Rps::publish(shout) });
    assert!(matches!(again, Err(RpsError::AlreadyPublished(name)) if name == "shout"));
}

#[test]
fn every_task_started_through_a_monitoring_client_is_reported() {
    // Each task gets exactly one status: how it ended, or `NodeLost` if the node was
    // declared lost first. This test wants the former, so it must not be declared lost
    // because the machine was busy.
    let (a, b) = (node_patient("rps-c"), node_patient("rps-d"));
    let at = a.location().unwrap();
    run(&a, async { Rps::publish(picky).unwrap() });
    let mut seen = run(&b, async move {
        let me = TaskRef::current().unwrap();
        let client = RpsClient::locate_at(at, picky, Duration::from_secs(5))
            .await
            .unwrap()
            .monitor_with(&me);
        let mut started = Vec::new();
        for n in [2u32, 3, 4, 5] {
            started.push(client.run((n,)).await.unwrap());
        }
        let mut seen = Vec::new();
        for _ in 0..started.len() {
            let status = me.receive_type::<MonitorStatus>().await.unwrap();
            assert!(
                started.contains(&status.task),
                "a status for a task it did not start"
            );
            let outcome = match &status.exit {
                Exit::Returned(value) => format!("returned {}", value.get::<u32>().unwrap()),
                Exit::Panicked(why) => format!("panicked {why}"),
                other => format!("other {other}"),
            };
            seen.push(outcome);
        }
        // Exactly one status each: nothing more arrives.
        let extra = me
            .receive_type_timeout::<MonitorStatus>(Duration::from_millis(300))
            .await
            .unwrap();
        assert!(
            extra.is_none(),
            "a second status arrived: {:?} (first ones: {seen:?})",
            extra.map(|s| (s.task, s.exit))
        );
        seen
    });
    seen.sort();
    assert_eq!(
        seen,
        [
            "panicked odd number 3",
            "panicked odd number 5",
            "returned 4",
            "returned 8"
        ]
    );
}

#[test]
fn the_monitor_is_told_when_the_serving_node_is_lost() {
    let (a, b) = (node("rps-e"), node("rps-f"));
    let at = a.location().unwrap();
    run(&a, async { Rps::publish(waits).unwrap() });
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let watcher = b.spawn(move |me| async move {
        let client = RpsClient::locate_at(at, waits, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?
            .monitor_with(&me);
        let job = client.run(()).await.map_err(|e| e.to_string())?;
        let _ = started_tx.send(());
        let status = me
            .receive_type::<MonitorStatus>()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((status.task == job, status.exit.to_string()))
    });
    // The job runs on `a` (the service answered with it); now `a` goes away.
    started_rx.recv_timeout(PATIENCE).expect("the job started");
    drop(a);
    let exit = watcher.value_timeout(PATIENCE).expect("the watcher ended");
    let (same, exit) = exit
        .value()
        .unwrap()
        .take::<Result<(bool, String), String>>()
        .unwrap()
        .unwrap();
    assert!(same);
    assert_eq!(exit, Exit::NodeLost.to_string());
}

#[test]
fn a_closed_service_is_no_longer_found() {
    let (a, b) = (node("rps-g"), node("rps-h"));
    let at = a.location().unwrap();
    let service = run(&a, async { Rps::publish(shout).unwrap() });
    run(&b, async move {
        RpsClient::locate_at(at, shout, Duration::from_secs(5))
            .await
            .unwrap();
    });
    service.close();
    let missing = run(&b, async move {
        RpsClient::locate_at(at, shout, Duration::from_millis(300)).await
    });
    assert!(matches!(missing, Err(RpsError::NotFound(_))), "{missing:?}");
    // Nothing published anywhere: not found either.
    let nowhere = run(&b, async {
        RpsClient::locate(waits, Duration::from_millis(300)).await
    });
    assert!(matches!(nowhere, Err(RpsError::NotFound(_))));
}
