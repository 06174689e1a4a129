//! Monitors and throw: every way of ending reaches every monitor exactly once.

use std::time::Duration;

use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, TaskRef};
use rcos_tests::{PATIENCE, det, rt2, run};

/// Collects the next `n` monitor statuses, then checks none follows.
async fn statuses(me: &TaskRef, n: usize) -> Vec<MonitorStatus> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(me.receive_type::<MonitorStatus>().await.unwrap());
    }
    // Give any duplicate a chance to arrive, then check there is none.
    rcos::time::sleep(Duration::from_secs(1)).await;
    while let Some(env) = me.try_receive().unwrap() {
        assert!(!env.is::<MonitorStatus>(), "a second status arrived");
    }
    got
}

#[test]
fn every_exit_kind_reaches_every_monitor_exactly_once() {
    let rt = det(30);
    run(&rt, async {
        let returns = rcos::spawn(|task| async move {
            let _ = task.receive().await;
            42u32
        });
        let panics = rcos::spawn(|task| async move {
            task.receive().await.ok();
            panic!("worker exploded");
        });
        let terminated = rcos::spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
        let thrown = rcos::spawn(|task| async move {
            task.receive().await?;
            Ok::<_, Interrupt>(())
        });
        let targets = [
            returns.clone(),
            panics.clone(),
            terminated.clone(),
            thrown.clone(),
        ];

        // Three monitors, each watching all four; each reports what it saw.
        let mut monitors = Vec::new();
        for _ in 0..3 {
            let targets = targets.clone();
            monitors.push(rcos::spawn(move |task| async move {
                for t in &targets {
                    task.monitor(t).unwrap();
                    task.monitor(t).unwrap(); // twice: still one status
                }
                statuses(&task, targets.len()).await
            }));
        }
        // Virtual time moves only once every task waits: the monitors are set up.
        rcos::time::sleep(Duration::from_millis(1)).await;
        returns.send(()).unwrap();
        panics.send(()).unwrap();
        terminated.terminate();
        thrown.throw(std::io::Error::other("stop now"));

        for monitor in monitors {
            let exit = monitor.finish().await;
            let seen = exit.value().unwrap().take::<Vec<MonitorStatus>>().unwrap();
            assert_eq!(seen.len(), 4);
            for status in seen {
                match &status.exit {
                    Exit::Returned(v) if status.task == returns => {
                        assert_eq!(v.get::<u32>(), Some(42))
                    }
                    Exit::Panicked(msg) if status.task == panics => {
                        assert_eq!(msg, "worker exploded")
                    }
                    Exit::Terminated if status.task == terminated => {}
                    Exit::Thrown(msg) if status.task == thrown => assert_eq!(msg, "stop now"),
                    other => panic!("unexpected {other} for {}", status.task),
                }
            }
        }
    });
}

#[test]
fn monitoring_a_task_that_has_ended_reports_at_once() {
    let rt = det(31);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let done = rcos::spawn(|_| async { "done".to_string() });
        done.finish().await;
        me.monitor(&done).unwrap();
        let status = me
            .receive_timeout(Duration::ZERO)
            .await
            .unwrap()
            .expect("status already queued");
        let status = status.downcast::<MonitorStatus>().unwrap();
        assert_eq!(status.task, done);
        assert_eq!(status.exit.get::<String>().as_deref(), Some("done"));
        assert!(!me.unmonitor(&done));
    });
}

#[test]
fn a_tasks_last_messages_arrive_before_its_monitor_status() {
    let rt = rt2();
    for _ in 0..50 {
        let order = run(&rt, async {
            let me = TaskRef::current().unwrap();
            let watcher = me.clone();
            let worker = rcos::spawn(move |task| async move {
                // Wait until monitored, then send three messages and end.
                task.receive().await?;
                for i in 0..3u8 {
                    watcher.send(i).unwrap();
                }
                Ok::<_, Interrupt>(())
            });
            me.monitor(&worker).unwrap();
            worker.send(()).unwrap();
            let mut order = Vec::new();
            for _ in 0..4 {
                let env = me.receive().await.unwrap();
                order.push(if env.is::<MonitorStatus>() {
                    99
                } else {
                    env.downcast::<u8>().unwrap()
                });
            }
            order
        });
        assert_eq!(order, [0, 1, 2, 99]);
    }
}

#[test]
fn unmonitor_stops_the_status() {
    let rt = det(32);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let worker = rcos::spawn(|task| async move { task.receive().await.map(|_| ()) });
        me.monitor(&worker).unwrap();
        assert!(me.unmonitor(&worker));
        worker.send(()).unwrap();
        worker.finish().await;
        rcos::time::sleep(Duration::from_secs(1)).await;
        assert!(me.try_receive().unwrap().is_none());
    });
}

#[test]
fn throw_interrupts_receive_sleep_and_suspend() {
    let rt = det(33);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let target = rcos::spawn(move |task| async move {
            let mut caught = Vec::new();
            for wait in ["receive", "sleep", "suspend"] {
                me.send(()).unwrap(); // "about to wait" (one worker: parked before `me` runs)
                let result = match wait {
                    "receive" => task.receive().await.map(|_| ()),
                    "sleep" => task.sleep(Duration::from_secs(3600)).await.map(|_| ()),
                    _ => task.suspend(None).await.map(|_| ()),
                };
                match result {
                    Err(Interrupt::Thrown(err)) => {
                        caught.push(format!("{wait}: {}", err.message()))
                    }
                    other => caught.push(format!("{wait}: unexpected {other:?}")),
                }
            }
            caught
        });
        let me = TaskRef::current().unwrap();
        for i in 0..3 {
            me.receive_type::<()>().await.unwrap();
            assert!(target.throw(std::io::Error::other(format!("boom {i}"))));
        }
        let start = rcos::time::now();
        let caught = target
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Vec<String>>()
            .unwrap();
        assert_eq!(
            caught,
            ["receive: boom 0", "sleep: boom 1", "suspend: boom 2"]
        );
        assert!(
            rcos::time::now() - start < Duration::from_secs(1),
            "the sleep was cut short"
        );
        assert!(!target.throw(std::io::Error::other("too late")));
    });
}

#[test]
fn a_throw_into_a_busy_task_waits_for_its_next_wait() {
    let rt = rt2();
    let busy = rt.spawn(|task| async move {
        // Busy without awaiting for a while: the throw lands at the next receive.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        let caught = match task.receive().await {
            Err(Interrupt::Thrown(err)) => {
                err.downcast_ref::<std::io::Error>().map(|e| e.to_string())
            }
            _ => None,
        };
        (x, caught)
    });
    busy.throw(std::io::Error::other("late"));
    let exit = busy.value_timeout(PATIENCE).unwrap();
    assert_eq!(
        exit.value()
            .unwrap()
            .take::<(u64, Option<String>)>()
            .unwrap()
            .1
            .as_deref(),
        Some("late")
    );
}

#[test]
fn an_unhandled_throw_ends_the_task_as_thrown_and_a_handled_one_does_not() {
    let rt = det(34);
    run(&rt, async {
        let propagates = rcos::spawn(|task| async move {
            task.receive().await?;
            Ok::<_, Interrupt>(())
        });
        let handles = rcos::spawn(|task| async move {
            let mut caught = 0;
            while caught < 2 {
                if let Err(Interrupt::Thrown(_)) = task.receive().await {
                    caught += 1;
                }
            }
            caught
        });
        rcos::time::sleep(Duration::from_millis(1)).await;
        propagates.throw(std::io::Error::other("unhandled"));
        handles.throw(std::io::Error::other("one"));
        handles.throw(std::io::Error::other("two"));
        assert!(matches!(propagates.finish().await, Exit::Thrown(m) if m == "unhandled"));
        assert_eq!(handles.finish().await.get::<i32>(), Some(2));
    });
}
