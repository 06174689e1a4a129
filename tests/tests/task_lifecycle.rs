//! A task's life: suspend and resume, daemons and join, panics, termination, names.

use std::time::Duration;

use rcos::{Exit, LocateError, RegisterError, Runtime, TaskRef};
use rcos_tests::{DropCounter, PATIENCE, det, rt2, run};

#[test]
fn suspend_is_ended_by_resume_and_by_timeout() {
    let rt = det(10);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let sleeper = rcos::spawn(move |task| async move {
            // One worker: `me` runs only once this task is parked in `suspend`.
            me.send(()).unwrap();
            let resumed = task.suspend(None).await?;
            let timed_out = task.suspend(Some(Duration::from_secs(5))).await?;
            let slept = task.sleep(Duration::from_secs(60)).await?;
            Ok::<_, rcos::Interrupt>((
                resumed.map(|e| e.downcast::<String>().unwrap()),
                timed_out.is_none(),
                slept.map(|e| e.downcast::<u8>().unwrap()),
            ))
        });
        let me = TaskRef::current().unwrap();
        me.receive().await.unwrap();
        // A message does not end a suspension.
        sleeper.send(99u64).unwrap();
        for _ in 0..10 {
            rcos::task::yield_now().await;
        }
        sleeper.resume("wake".to_string()).unwrap();
        // The second suspend times out after 5 s of virtual time; then sleep(60) is
        // resumed early, after 1 s.
        rcos::time::sleep(Duration::from_secs(6)).await;
        let start = rcos::time::now();
        rcos::time::sleep(Duration::from_secs(1)).await;
        sleeper.resume(7u8).unwrap();
        let exit = sleeper.finish().await;
        assert_eq!(rcos::time::now() - start, Duration::from_secs(1));
        let (resumed, timed_out, slept) = exit
            .value()
            .unwrap()
            .take::<Result<(Option<String>, bool, Option<u8>), rcos::Interrupt>>()
            .unwrap()
            .unwrap();
        assert_eq!(resumed.as_deref(), Some("wake"));
        assert!(timed_out);
        assert_eq!(slept, Some(7));
        // The message sent while it was suspended is still in its mailbox... which went
        // with the task. Resuming an ended task reports it.
        assert!(sleeper.resume(()).unwrap_err().is_ended());
    });
}

#[test]
fn resume_of_a_task_that_is_not_suspended_is_refused() {
    let rt = det(11);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let receiver = rcos::spawn(move |task| async move {
            me.send(()).unwrap();
            task.receive().await.map(|_| ())
        });
        TaskRef::current().unwrap().receive().await.unwrap();
        let err = receiver.resume(5u32).unwrap_err();
        assert!(!err.is_ended());
        assert_eq!(err.into_inner(), 5);
        receiver.send(()).unwrap();
        receiver.finish().await;
    });
}

#[test]
fn a_daemon_task_does_not_hold_join() {
    let rt = rt2();
    let daemon = rcos::task::Builder::new()
        .daemon(true)
        .spawn_on(
            &rt,
            |task| async move { while task.receive().await.is_ok() {} },
        );
    let worker = rt.spawn(|_| async { 1u8 });
    rt.join_timeout(PATIENCE).unwrap();
    assert!(!worker.is_alive());
    assert!(daemon.is_alive());

    // Flipping the flag at run time counts too.
    let held = rt.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    assert_eq!(
        rt.join_timeout(Duration::from_millis(50)),
        Err(rcos::JoinError::Timeout)
    );
    held.set_daemon(true);
    rt.join_timeout(PATIENCE).unwrap();
    held.set_daemon(false);
    held.terminate();
    rt.join_timeout(PATIENCE).unwrap();
    // join can be called again after more tasks are spawned.
    let later = rt.spawn(|_| async { 2u8 });
    rt.join_timeout(PATIENCE).unwrap();
    assert_eq!(later.value().get::<u8>(), Some(2));
}

#[test]
fn join_from_inside_the_runtime_is_refused() {
    let rt = det(12);
    let handle = rt.handle().clone();
    let err = run(&rt, async move { handle.join() });
    assert_eq!(err, Err(rcos::JoinError::InsideRuntime));
}

#[test]
fn finish_of_a_task_that_panicked() {
    let rt = rt2();
    let exit = run(&rt, async {
        let bad = rcos::spawn(|_| async {
            let v: Vec<u8> = Vec::new();
            v[3]
        });
        bad.finish().await
    });
    match &exit {
        Exit::Panicked(msg) => assert!(msg.contains("index out of bounds"), "{msg}"),
        other => panic!("expected a panic, got {other}"),
    }
    // The runtime carries on.
    let ok = rt.spawn(|_| async { 5u8 });
    assert_eq!(ok.value().get::<u8>(), Some(5));
    assert!(exit.is_panic() && !exit.is_returned());
}

#[test]
fn terminate_drops_the_task_at_its_next_await() {
    let rt = det(13);
    let drops = DropCounter::default();
    let counted = drops.make();
    let exit = run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let victim = rcos::spawn(move |task| async move {
            let _held = counted;
            me.send(()).unwrap();
            task.receive().await.map(|_| ())
        });
        TaskRef::current().unwrap().receive().await.unwrap();
        assert!(victim.terminate());
        let exit = victim.finish().await;
        assert!(!victim.terminate(), "already ended");
        exit
    });
    assert!(exit.is_terminated(), "{exit}");
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn a_hundred_thousand_tasks_spawned_and_joined() {
    let rt = rt2();
    let tasks: Vec<TaskRef> = (0..100_000u64)
        .map(|i| rt.spawn(move |_| async move { i * 2 }))
        .collect();
    rt.join_timeout(PATIENCE).unwrap();
    assert_eq!(rt.task_count(), 0);
    for (i, t) in tasks.iter().enumerate().step_by(9_999) {
        assert_eq!(t.value().get::<u64>(), Some(i as u64 * 2));
    }
}

#[test]
fn dropping_a_runtime_drops_every_task() {
    const N: usize = 1_000;
    let drops = DropCounter::default();
    let rt = rt2();
    for i in 0..N {
        let counted = drops.make();
        rt.spawn(move |task| async move {
            let _held = counted;
            match i % 3 {
                0 => drop(task.receive().await),
                1 => drop(task.suspend(None).await),
                _ => rcos::time::sleep(Duration::from_secs(3600)).await,
            }
        });
    }
    let watcher = rt.spawn(|_| async { std::future::pending::<()>().await });
    drop(rt);
    assert_eq!(drops.dropped(), N);
    assert!(watcher.value_timeout(PATIENCE).unwrap().is_terminated());
    assert!(!watcher.is_alive());

    // `terminate` does the same, and spawning afterwards ends the task at once.
    let drops = DropCounter::default();
    let rt = rt2();
    let handle = rt.handle().clone();
    let counted = drops.make();
    rt.spawn(move |task| async move {
        let _held = counted;
        drop(task.receive().await);
    });
    rt.terminate();
    assert_eq!(drops.dropped(), 1);
    let late = handle.spawn(|_| async { 1u8 });
    assert!(late.value_timeout(PATIENCE).unwrap().is_terminated());
}

#[test]
fn names_are_per_runtime_and_released_when_the_task_ends() {
    let a = det(14);
    let b = Runtime::builder().workers(1).build().unwrap();
    let in_a = a.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    let in_b = b.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    in_a.register("server").unwrap();
    in_b.register("server").unwrap();
    assert_eq!(a.registered("server").as_ref(), Some(&in_a));
    assert_eq!(b.registered("server").as_ref(), Some(&in_b));

    let other = a.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    match other.register("server") {
        Err(RegisterError::Taken { holder, .. }) => assert_eq!(holder, in_a),
        res => panic!("expected the name to be taken, got {res:?}"),
    }
    let found = run(&a, async {
        TaskRef::locate("server", Duration::from_secs(1)).await
    });
    assert_eq!(found.unwrap(), in_a);

    in_a.terminate();
    in_a.value_timeout(PATIENCE).unwrap();
    assert!(
        a.registered("server").is_none(),
        "a dead task's name no longer resolves"
    );
    other.register("server").unwrap();
    assert!(matches!(in_a.register("again"), Err(RegisterError::Ended)));
    for t in [other, in_b] {
        t.terminate();
    }
}

#[test]
fn locate_waits_for_the_name_and_fails_after_its_timeout() {
    let rt = det(15);
    run(&rt, async {
        let start = rcos::time::now();
        let err = TaskRef::locate("nobody", Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LocateError::NotFound {
                name: "nobody".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "no task registered as \"nobody\" was found in time"
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(3));

        // A name registered while locate waits is found then.
        let late = rcos::spawn(|task| async move {
            rcos::time::sleep(Duration::from_secs(2)).await;
            task.register("late").unwrap();
            task.suspend(None).await.map(|_| ())
        });
        let start = rcos::time::now();
        let found = TaskRef::locate("late", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(found, late);
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));
        late.terminate();
    });
}
