//! Hot swapping a running task's function.

use std::time::Duration;

use rcos::task::{HotSwapError, MonitorStatus};
use rcos::{Exit, Interrupt, TaskRef, task};
use rcos_tests::{det, run};

/// Echoes every u32 it gets back to `reply`, tagged "v1"; swappable; accepts any swap
/// by propagating the request, and hands over its count of messages seen.
#[task]
async fn v1(task: TaskRef, reply: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    let mut seen = 0u32;
    loop {
        match task.receive().await {
            Ok(msg) => {
                if let Ok(n) = msg.downcast::<u32>() {
                    seen += 1;
                    reply.send(("v1".to_string(), n)).unwrap();
                }
            }
            Err(Interrupt::HotSwap(req)) => {
                assert_eq!(req.new_name(), "v2");
                req.accept_with(seen).await;
            }
            Err(other) => return Err(other),
        }
    }
}

/// The replacement: tags with "v2" and the count handed over, ends on a zero.
#[task]
async fn v2(task: TaskRef, reply: TaskRef) -> u32 {
    let seen_before: u32 = task.swap_state().unwrap_or(0);
    loop {
        let Ok(msg) = task.receive().await else {
            return seen_before;
        };
        match msg.downcast::<u32>() {
            Ok(0) => return seen_before,
            Ok(n) => reply.send((format!("v2 after {seen_before}"), n)).unwrap(),
            Err(_) => {}
        }
    }
}

/// Never swappable.
#[task]
async fn stubborn(task: TaskRef) {
    while task.receive().await.is_ok() {}
}

/// Swappable, but refuses every request and keeps serving.
#[task]
async fn refuser(task: TaskRef, reply: TaskRef) {
    task.hot_swappable(true).unwrap();
    loop {
        match task.receive().await {
            Ok(msg) => {
                if let Ok(n) = msg.downcast::<u32>() {
                    reply.send(("refuser".to_string(), n)).unwrap();
                }
            }
            Err(Interrupt::HotSwap(req)) => req.refuse(),
            Err(_) => return,
        }
    }
}

/// Swappable, propagates every interrupt with `?` (pycos's re-raise accepts).
#[task]
async fn propagator(task: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    loop {
        task.receive().await?;
    }
}

/// Swappable and suspended: messages sent to it stay queued.
#[task]
async fn dozer(task: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    loop {
        task.suspend(None).await?;
    }
}

/// Busy (no awaits) for `spin` iterations after each message before it receives again.
#[task]
async fn busy(task: TaskRef, reply: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    loop {
        let msg = task.receive().await?;
        reply.send("started".to_string()).unwrap();
        let spins = msg.downcast::<u64>().unwrap_or(0);
        let mut x = 0u64;
        for i in 0..spins {
            x = x.wrapping_add(i ^ x);
        }
        reply.send(format!("finished {}", x % 2 + 1 > 0)).unwrap();
    }
}

#[test]
fn queued_messages_and_state_survive_a_swap() {
    let rt = det(40);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = v1::spawn(me.clone());
        server.register("server").unwrap();
        me.monitor(&server).unwrap();
        for n in 1..=3u32 {
            server.send(n).unwrap();
        }
        for n in 1..=3u32 {
            assert_eq!(
                me.receive_type::<(String, u32)>().await.unwrap(),
                ("v1".to_string(), n)
            );
        }
        // Queue messages, then swap: the ones behind the swap are received after it,
        // in order, by the new code.
        server
            .hot_swap(v2, (me.clone(),), Duration::from_secs(5))
            .await
            .unwrap();
        for n in 4..=6u32 {
            server.send(n).unwrap();
        }
        for n in 4..=6u32 {
            assert_eq!(
                me.receive_type::<(String, u32)>().await.unwrap(),
                ("v2 after 3".to_string(), n)
            );
        }
        // Same reference, same name registration, same monitors, new name.
        assert_eq!(
            rcos::Handle::current()
                .unwrap()
                .registered("server")
                .as_ref(),
            Some(&server)
        );
        assert_eq!(server.name(), "v2");
        server.send(0u32).unwrap();
        let status = me.receive_type::<MonitorStatus>().await.unwrap();
        assert_eq!(status.task, server);
        assert_eq!(status.exit.get::<u32>(), Some(3));
    });
}

#[test]
fn messages_queued_before_the_swap_request_are_received_after_it_in_order() {
    let rt = det(41);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = dozer::spawn();
        rcos::time::sleep(Duration::from_millis(1)).await; // let it mark itself swappable
        // The messages queue while the task is suspended; the swap request comes after
        // them and the new code receives them in order.
        let swap = {
            let server = server.clone();
            let me = me.clone();
            rcos::spawn(
                move |_| async move { server.hot_swap(v2, (me,), Duration::from_secs(5)).await },
            )
        };
        for n in [7u32, 8, 9] {
            server.send(n).unwrap();
        }
        assert!(
            swap.finish()
                .await
                .value()
                .unwrap()
                .take::<Result<(), HotSwapError>>()
                .unwrap()
                .is_ok()
        );
        for n in [7u32, 8, 9] {
            assert_eq!(me.receive_type::<(String, u32)>().await.unwrap().1, n);
        }
        server.send(0u32).unwrap();
        assert_eq!(
            server.finish().await.get::<u32>(),
            Some(0),
            "no state was handed over"
        );
    });
}

#[test]
fn a_refused_swap_keeps_the_old_code_running() {
    let rt = det(42);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = refuser::spawn(me.clone());
        let err = server
            .hot_swap(v2, (me.clone(),), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err, HotSwapError::Refused);
        server.send(5u32).unwrap();
        assert_eq!(
            me.receive_type::<(String, u32)>().await.unwrap(),
            ("refuser".to_string(), 5)
        );
        server.terminate();
    });
}

#[test]
fn a_task_that_is_not_swappable_refuses_after_the_timeout() {
    let rt = det(43);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = stubborn::spawn();
        let start = rcos::time::now();
        let err = server
            .hot_swap(v2, (me,), Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(err, HotSwapError::NotSwappable);
        assert_eq!(rcos::time::now() - start, Duration::from_secs(3));
        assert_eq!(server.name(), "stubborn");
        server.terminate();
        server.finish().await;
        let err = server
            .hot_swap(stubborn, (), Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(err, HotSwapError::Ended);
    });
}

#[test]
fn a_swap_is_postponed_while_the_task_is_busy() {
    let rt = rcos_tests::rt2();
    let order = run(&rt, async {
        let me = TaskRef::current().unwrap();
        let worker = busy::spawn(me.clone());
        worker.send(30_000_000u64).unwrap();
        assert_eq!(me.receive_type::<String>().await.unwrap(), "started");
        // The worker is computing without awaiting; the swap waits for its next receive.
        let swapped = worker
            .hot_swap(v2, (me.clone(),), Duration::from_secs(30))
            .await;
        let mut order = vec![format!("{swapped:?}")];
        // The busy loop finished before the swap took effect.
        order.push(me.receive_type::<String>().await.unwrap());
        worker.send(1u32).unwrap();
        order.push(me.receive_type::<(String, u32)>().await.unwrap().0);
        worker.terminate();
        order
    });
    assert_eq!(order, ["Ok(())", "finished true", "v2 after 0"]);
}

#[test]
fn a_newer_request_supersedes_an_older_one() {
    let rt = det(44);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = stubborn::spawn();
        let first = {
            let server = server.clone();
            let me = me.clone();
            rcos::spawn(move |_| async move {
                server.hot_swap(v2, (me,), Duration::from_secs(10)).await
            })
        };
        rcos::time::sleep(Duration::from_secs(1)).await;
        let second = server.hot_swap(v2, (me,), Duration::from_secs(1)).await;
        assert_eq!(second, Err(HotSwapError::NotSwappable));
        let first = first
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<(), HotSwapError>>()
            .unwrap();
        assert_eq!(first, Err(HotSwapError::Superseded));
        server.terminate();
    });
}

#[test]
fn a_panic_in_the_new_code_reaches_the_monitors() {
    #[task]
    async fn explodes(task: TaskRef) {
        let _ = task.receive().await;
        panic!("new code is broken");
    }

    let rt = det(45);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let server = propagator::spawn();
        me.monitor(&server).unwrap();
        server
            .hot_swap(explodes, (), Duration::from_secs(5))
            .await
            .unwrap();
        server.send(()).unwrap();
        let status = me.receive_type::<MonitorStatus>().await.unwrap();
        assert!(
            matches!(status.exit, Exit::Panicked(ref m) if m == "new code is broken"),
            "{}",
            status.exit
        );
    });
}

#[test]
fn hot_swappable_only_on_its_own_reference() {
    let rt = det(46);
    run(&rt, async {
        let other = stubborn::spawn();
        assert!(matches!(
            other.hot_swappable(true),
            Err(Interrupt::WrongTask)
        ));
        other.terminate();
    });
}
