//! Two nodes in one process: remote send, deliver, call, locate, spawn, monitor,
//! terminate, throw and hot swap, with the same API as local tasks.

use std::time::Duration;

use rcos::net;
use rcos::task::{HotSwapError, MonitorStatus};
use rcos::{Exit, Interrupt, Request, SendErrorKind, TaskRef, task};
use rcos_tests::{PATIENCE, node, run};

/// Answers `Request<String>` with the text upper-cased; ends on a `()`.
#[task(remote)]
async fn upper(task: TaskRef) -> u32 {
    let mut served = 0;
    while let Ok(msg) = task.receive().await {
        match msg.downcast::<Request<String>>() {
            Ok(req) => {
                let text = req.body().to_uppercase();
                let _ = req.reply(text);
                served += 1;
            }
            Err(other) if other.is::<()>() => break,
            Err(_) => {}
        }
    }
    served
}

/// Squares a number (for remote spawn).
#[task(remote)]
async fn square(_task: TaskRef, n: u64) -> u64 {
    n * n
}

/// Sends back `(its own reference, text)` to whoever it is given, then waits.
#[task(remote)]
async fn echo_to(task: TaskRef, to: TaskRef, text: String) -> Result<(), Interrupt> {
    to.send((task.clone(), text)).unwrap();
    task.receive().await.map(|_| ())
}

/// Swappable; accepts any swap by propagating the request.
#[task(remote)]
async fn version_one(task: TaskRef) -> Result<String, Interrupt> {
    task.hot_swappable(true)?;
    loop {
        task.receive().await?;
    }
}

/// The replacement: answers its first message with `v2`.
#[task(remote)]
async fn version_two(task: TaskRef, tag: String) -> String {
    if let Ok(Ok(req)) = task.receive().await.map(|m| m.downcast::<Request<()>>()) {
        let _ = req.reply(tag.clone());
    }
    tag
}

/// Counts `u32`s until a `0`. (A `#[task]` fn: its output is a message, so its value
/// can travel to another node; a closure's output is local to its program.)
#[task]
async fn sink(task: TaskRef) -> u32 {
    let mut n = 0u32;
    while let Ok(msg) = task.receive().await {
        match msg.downcast::<u32>() {
            Ok(0) => break,
            Ok(_) => n += 1,
            Err(_) => {}
        }
    }
    n
}

/// Returns the message of the first error thrown at it.
#[task]
async fn catcher(task: TaskRef) -> String {
    match task.receive().await {
        Err(Interrupt::Thrown(e)) => e.message().to_string(),
        _ => String::new(),
    }
}

#[test]
fn locate_call_and_references_across_nodes() {
    let (a, b) = (node("a"), node("b"));
    let server = upper::spawn_on(&a);
    server.register("upper").unwrap();
    let at = a.location().unwrap();
    let (reply, display, served) = run(&b, async move {
        net::peer(at).await.unwrap();
        assert_eq!(net::peers(), [at]);
        let upper = TaskRef::locate("upper", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!upper.is_local());
        assert!(upper.is_alive());
        assert_eq!(upper.location(), Some(at));
        let reply: String = upper
            .call("hello".to_string(), Duration::from_secs(5))
            .await
            .unwrap();
        upper.send(()).unwrap();
        let served = upper.finish().await.get::<u32>();
        (reply, upper.to_string(), served)
    });
    assert_eq!(reply, "HELLO");
    assert!(display.starts_with("upper/"), "{display}");
    assert!(display.ends_with(&at.to_string()), "{display}");
    assert_eq!(served, Some(1));
}

#[test]
fn task_refs_inside_messages_arrive_as_working_references() {
    let (a, b) = (node("a2"), node("b2"));
    let at = a.location().unwrap();
    let (text, same) = run(&b, async move {
        net::peer(at).await.unwrap();
        let me = TaskRef::current().unwrap();
        let remote = rcos::Handle::current()
            .unwrap()
            .spawn_at(at, echo_to, (me.clone(), "ping".to_string()))
            .await
            .unwrap();
        let (from, text) = me
            .receive()
            .await
            .unwrap()
            .downcast::<(TaskRef, String)>()
            .unwrap();
        // The reference it sent of itself is the one spawn_at returned, and it works.
        from.send(()).unwrap();
        assert!(from.finish().await.is_returned());
        (text, from == remote)
    });
    assert_eq!(text, "ping");
    assert!(same);
}

#[test]
fn spawn_at_runs_a_registered_function_and_refuses_unknown_ones() {
    let (a, b) = (node("a3"), node("b3"));
    let at = a.location().unwrap();
    run(&b, async move {
        let handle = rcos::Handle::current().unwrap();
        let job = handle.spawn_at(at, square, (12,)).await.unwrap();
        assert_eq!(job.finish().await.get::<u64>(), Some(144));
        // Garbage arguments for a known function: refused with a reason, nothing runs.
        let bad = handle.spawn_named("square", &[0xff, 0x00]);
        assert!(matches!(bad, Err(rcos::SpawnError::BadArguments(_))));
    });
}

#[test]
fn deliver_is_acknowledged_and_fails_when_the_task_is_gone() {
    let (a, b) = (node("a4"), node("b4"));
    let sink = sink::spawn_on(&a);
    sink.register("sink").unwrap();
    let at = a.location().unwrap();
    run(&b, async move {
        net::peer(at).await.unwrap();
        let sink = TaskRef::locate("sink", Duration::from_secs(5))
            .await
            .unwrap();
        for i in 1..=3u32 {
            sink.deliver(i, Duration::from_secs(5)).await.unwrap();
        }
        sink.deliver(0u32, Duration::from_secs(5)).await.unwrap();
        assert_eq!(sink.finish().await.get::<u32>(), Some(3));
        let err = sink
            .deliver(9u32, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), SendErrorKind::Ended);
        assert_eq!(err.into_inner(), 9);
    });
}

#[test]
fn a_hundred_thousand_messages_keep_their_order() {
    const N: u64 = 100_000;
    let (a, b) = (node("a5"), node("b5"));
    let counter = a.spawn(|task| async move {
        let mut next = 0u64;
        while next < N {
            let n = task.receive().await?.downcast::<u64>().unwrap_or(u64::MAX);
            assert_eq!(n, next, "out of order or lost");
            next += 1;
        }
        Ok::<_, Interrupt>(next)
    });
    counter.register("counter").unwrap();
    let at = a.location().unwrap();
    run(&b, async move {
        net::peer(at).await.unwrap();
        let counter = TaskRef::locate("counter", Duration::from_secs(5))
            .await
            .unwrap();
        for i in 0..N {
            // A full outbound queue is back-pressure: wait for room, never drop.
            let mut msg = i;
            loop {
                match counter.send(msg) {
                    Ok(()) => break,
                    Err(e) if e.is_full() => {
                        msg = e.into_inner();
                        rcos::task::yield_now().await;
                    }
                    Err(e) => panic!("send failed: {e}"),
                }
            }
        }
    });
    let exit = counter
        .value_timeout(PATIENCE)
        .expect("all messages arrived");
    assert_eq!(
        exit.value()
            .unwrap()
            .take::<Result<u64, Interrupt>>()
            .unwrap()
            .unwrap(),
        N
    );
}

#[test]
fn remote_monitors_see_every_exit_and_the_loss_of_the_node() {
    let (a, b) = (node("a6"), node("b6"));
    let at = a.location().unwrap();
    let quick = a.spawn(|task| async move { task.receive().await.map(|_| 5u8) });
    quick.register("quick").unwrap();
    let boom = a.spawn(|task| async move {
        let _ = task.receive().await;
        panic!("remote boom");
    });
    boom.register("boom").unwrap();
    let stays = a.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    stays.register("stays").unwrap();
    let statuses = run(&b, async move {
        net::peer(at).await.unwrap();
        let me = TaskRef::current().unwrap();
        let mut refs = Vec::new();
        for name in ["quick", "boom", "stays"] {
            let t = TaskRef::locate(name, Duration::from_secs(5)).await.unwrap();
            me.monitor(&t).unwrap();
            refs.push(t);
        }
        // Monitoring is set up by the time a round trip has gone through.
        let _ = refs[0].deliver((), Duration::from_secs(5)).await; // `quick` ends
        let _ = refs[1].deliver((), Duration::from_secs(5)).await; // `boom` panics
        let mut seen = Vec::new();
        for _ in 0..2 {
            let status = me.receive_type::<MonitorStatus>().await.unwrap();
            seen.push((status.task.name().into_owned(), status.exit.to_string()));
        }
        seen.sort();
        (seen, refs)
    });
    let (seen, refs) = statuses;
    assert_eq!(seen[0].0, "task");
    assert!(
        seen.iter()
            .any(|(_, exit)| exit.contains("panicked: remote boom")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, exit)| exit.starts_with("returned")),
        "{seen:?}"
    );

    // Now the node itself goes away: the monitor of `stays` is told the node was lost,
    // once.
    let stays_ref = refs[2].clone();
    let watcher = b.spawn(move |task| async move {
        task.monitor(&stays_ref).unwrap();
        let status = task.receive_type::<MonitorStatus>().await?;
        let again = task
            .receive_type_timeout::<MonitorStatus>(Duration::from_secs(1))
            .await?;
        Ok::<_, Interrupt>((status.exit.to_string(), again.is_none()))
    });
    // Let the monitor request reach `a` before it stops.
    std::thread::sleep(Duration::from_millis(200));
    drop(a);
    let exit = watcher
        .value_timeout(PATIENCE)
        .expect("the loss was reported");
    let (exit, once) = exit
        .value()
        .unwrap()
        .take::<Result<(String, bool), Interrupt>>()
        .unwrap()
        .unwrap();
    assert_eq!(exit, Exit::NodeLost.to_string());
    assert!(once, "a second status arrived");
}

#[test]
fn terminate_throw_and_hot_swap_reach_remote_tasks() {
    let (a, b) = (node("a7"), node("b7"));
    let at = a.location().unwrap();
    let victim = a.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    victim.register("victim").unwrap();
    let catcher = catcher::spawn_on(&a);
    catcher.register("catcher").unwrap();
    let swappable = version_one::spawn_on(&a);
    swappable.register("swappable").unwrap();
    run(&b, async move {
        net::peer(at).await.unwrap();
        let victim = TaskRef::locate("victim", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(victim.terminate());
        assert!(victim.finish().await.is_terminated());
        let catcher = TaskRef::locate("catcher", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(catcher.throw(std::io::Error::other("from afar")));
        assert_eq!(
            catcher.finish().await.get::<String>().as_deref(),
            Some("from afar")
        );
        let swappable = TaskRef::locate("swappable", Duration::from_secs(5))
            .await
            .unwrap();
        // The plain `hot_swap` cannot name a function on another node.
        assert_eq!(
            swappable
                .hot_swap(version_two, ("v2".into(),), Duration::from_secs(1))
                .await,
            Err(HotSwapError::Unreachable)
        );
        swappable
            .hot_swap_remote(version_two, ("v2".into(),), Duration::from_secs(5))
            .await
            .unwrap();
        let answer: String = swappable.call((), Duration::from_secs(5)).await.unwrap();
        assert_eq!(answer, "v2");
    });
}

#[test]
fn locate_finds_the_one_peer_that_has_the_name() {
    let nodes: Vec<_> = (0..4).map(|i| node(&format!("n{i}"))).collect();
    let holder = nodes[3].spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    holder.register("only-here").unwrap();
    let locations: Vec<_> = nodes[1..].iter().map(|n| n.location().unwrap()).collect();
    let found = run(&nodes[0], async move {
        for at in locations {
            net::peer(at).await.unwrap();
        }
        // Three peers answer "not found" quickly; the search goes on until one has it.
        TaskRef::locate("only-here", Duration::from_secs(5)).await
    });
    let found = found.unwrap();
    assert_eq!(found.location(), nodes[3].location());
    // A name registered nowhere is not found, after the timeout.
    let missing = run(&nodes[0], async {
        TaskRef::locate("nowhere", Duration::from_millis(500)).await
    });
    assert!(missing.is_err());
    holder.terminate();
}

#[test]
fn names_of_a_dead_task_no_longer_resolve_remotely() {
    let (a, b) = (node("a8"), node("b8"));
    let at = a.location().unwrap();
    let short = a.spawn(|task| async move { task.receive().await.map(|_| ()) });
    short.register("short-lived").unwrap();
    run(&b, async move {
        net::peer(at).await.unwrap();
        let t = TaskRef::locate("short-lived", Duration::from_secs(5))
            .await
            .unwrap();
        t.send(()).unwrap();
        assert!(t.finish().await.is_returned());
        assert!(
            TaskRef::locate_at(at, "short-lived", Duration::from_millis(300))
                .await
                .is_err()
        );
    });
}

/// Echoes `Request<u64>`s.
#[task]
async fn echo_numbers(task: TaskRef) {
    while let Ok(req) = task.receive_type::<Request<u64>>().await {
        let n = *req.body();
        let _ = req.reply(n);
    }
}

#[test]
fn a_thousand_sequential_calls_are_not_held_back_by_the_transport() {
    // With Nagle's algorithm on, each round trip waited for a delayed acknowledgement
    // (about 80 ms here): a thousand calls took 80 s. They take well under a second.
    let (a, b) = (node("a9"), node("b9"));
    echo_numbers::spawn_on(&a).register("echo-numbers").unwrap();
    let at = a.location().unwrap();
    run(&b, async move {
        let echo = TaskRef::locate_at(at, "echo-numbers", Duration::from_secs(5))
            .await
            .unwrap();
        for i in 0..1000u64 {
            let back: u64 = echo.call(i, Duration::from_secs(5)).await.unwrap();
            assert_eq!(back, i);
        }
    });
}

#[test]
fn deliver_to_a_node_that_is_gone_fails_within_its_timeout() {
    let (a, b) = (node("a10"), node("b10"));
    let at = a.location().unwrap();
    sink::spawn_on(&a).register("sink-gone").unwrap();
    let sink = run(&b, async move {
        let sink = TaskRef::locate_at(at, "sink-gone", Duration::from_secs(5))
            .await
            .unwrap();
        // Acknowledged while the node is there.
        sink.deliver(1u32, Duration::from_secs(5)).await.unwrap();
        sink
    });
    drop(a);
    let started = std::time::Instant::now();
    let err = run(&b, async move {
        sink.deliver(2u32, Duration::from_secs(3))
            .await
            .unwrap_err()
    });
    // Not acknowledged: an error (the node is unreachable, or the wait timed out), with
    // the message handed back, and never a hang past the timeout.
    assert!(
        matches!(
            err.kind(),
            SendErrorKind::Unreachable | SendErrorKind::Timeout
        ),
        "{:?}",
        err.kind()
    );
    assert_eq!(err.into_inner(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Many tasks that need the same node at once share one connection attempt: each of
/// them gets the connection (not just the first to wake).
#[test]
fn tasks_connecting_at_once_all_get_the_connection() {
    let (a, b) = (node("many-a"), node("many-b"));
    let sink = b.spawn(|me| async move { me.suspend(None).await.map(|_| ()) });
    sink.register("many-sink").unwrap();
    let at = b.location().unwrap();
    let askers: Vec<TaskRef> = (0..20)
        .map(|_| {
            a.spawn(move |_| async move {
                TaskRef::locate_at(at, "many-sink", PATIENCE)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for (i, asker) in askers.iter().enumerate() {
        let found = asker
            .value_timeout(PATIENCE)
            .expect("the locate ended")
            .value()
            .unwrap()
            .take::<Result<(), String>>()
            .unwrap();
        assert_eq!(found, Ok(()), "asker {i}");
    }
}
