//! Real timers and I/O wake-ups on multi-worker runtimes (the reactor path, as opposed
//! to the deterministic runtime's virtual clock).

use std::time::{Duration, Instant};

use rcos::{Runtime, TaskRef};
use rcos_tests::{PATIENCE, rt2, run};

#[test]
fn many_tasks_sleeping_real_time_all_wake() {
    for workers in [1, 2] {
        let rt = Runtime::builder().workers(workers).build().unwrap();
        let start = Instant::now();
        let tasks: Vec<TaskRef> = (0..200u64)
            .map(|i| {
                rt.spawn(move |task| async move {
                    task.sleep(Duration::from_millis(1 + i % 25)).await?;
                    rcos::time::sleep(Duration::from_millis(1)).await;
                    Ok::<_, rcos::Interrupt>(i)
                })
            })
            .collect();
        rt.join_timeout(PATIENCE).unwrap();
        for t in &tasks {
            assert!(t.value().is_returned());
        }
        // Sleeping is concurrent: about the longest sleep, not the sum (5 s would be).
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_lone_timer_wakes_an_idle_runtime() {
    // One task, one timer, every worker idle: the wake comes from the reactor.
    for _ in 0..20 {
        let rt = rt2();
        let t = rt.spawn(|_| async {
            rcos::time::sleep(Duration::from_millis(2)).await;
            7u8
        });
        assert_eq!(
            t.value_timeout(PATIENCE).and_then(|e| e.get::<u8>()),
            Some(7)
        );
    }
}

#[test]
fn receive_timeout_on_real_time() {
    let rt = rt2();
    let (none, elapsed) = run(&rt, async {
        let me = TaskRef::current().unwrap();
        let start = Instant::now();
        let none = me
            .receive_timeout(Duration::from_millis(20))
            .await
            .unwrap()
            .is_none();
        (none, start.elapsed())
    });
    assert!(none);
    assert!(elapsed >= Duration::from_millis(20));
}
