//! AsyncThreadPool: blocking work off the workers, panics as errors, join and terminate.

use std::time::{Duration, Instant};

use rcos::Runtime;
use rcos::pool::{AsyncThreadPool, PoolError};
use rcos_tests::{det, run};

#[test]
fn blocking_work_in_the_pool_does_not_stop_other_tasks() {
    // One worker: if the blocking call ran on it, the ticker could not tick.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let pool = AsyncThreadPool::new(1);
    let (ticks, result) = run(&rt, {
        let pool = pool.clone();
        async move {
            let ticker = rcos::spawn(|task| async move {
                let mut ticks = 0u32;
                while task
                    .receive_timeout(Duration::from_millis(5))
                    .await
                    .unwrap()
                    .is_none()
                {
                    ticks += 1;
                }
                ticks
            });
            let result = pool
                .run(|| {
                    std::thread::sleep(Duration::from_millis(300));
                    "slept"
                })
                .await;
            ticker.send(()).unwrap();
            (ticker.finish().await.get::<u32>().unwrap(), result)
        }
    });
    assert_eq!(result, Ok("slept"));
    // 300 ms at one tick per 5 ms is 60; a busy CI machine may manage fewer, but far
    // more than the 0 or 1 a blocked worker would give.
    assert!(ticks >= 10, "only {ticks} ticks while the pool worked");
    pool.terminate();
}

#[test]
fn a_panic_in_the_pool_comes_back_as_an_error() {
    let rt = det(90);
    let pool = AsyncThreadPool::new(2);
    let out = run(&rt, {
        let pool = pool.clone();
        async move {
            let bad = pool.run(|| -> u8 { panic!("boom in the pool") }).await;
            let good = pool.run(|| 5u8).await;
            (bad, good)
        }
    });
    assert_eq!(out.0, Err(PoolError::Panicked("boom in the pool".into())));
    assert_eq!(out.1, Ok(5), "the pool thread survived");
    pool.terminate();
    let after = run(&rt, {
        let pool = pool.clone();
        async move { pool.run(|| 1u8).await }
    });
    assert_eq!(after, Err(PoolError::Terminated));
}

#[test]
fn join_waits_for_queued_work_and_the_virtual_clock_waits_for_the_pool() {
    let rt = det(91);
    let pool = AsyncThreadPool::new(2);
    let started = Instant::now();
    let timed_out = run(&rt, {
        let pool = pool.clone();
        async move {
            // On a deterministic runtime time must not jump while the pool works, or this
            // 10-second timeout would fire at once.
            rcos::time::timeout(
                Duration::from_secs(10),
                pool.run(|| std::thread::sleep(Duration::from_millis(100))),
            )
            .await
            .is_err()
        }
    });
    assert!(!timed_out);
    assert!(started.elapsed() >= Duration::from_millis(100));
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            rt.spawn(move |_| async move { pool.run(move || i * 2).await })
        })
        .collect();
    for j in &jobs {
        j.value();
    }
    pool.join();
    assert_eq!(pool.size(), 2);
    pool.terminate();
}

/// Tells a channel when the thread it was left on exits.
struct OnThreadExit(std::sync::mpsc::Sender<&'static str>);

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        let _ = self.0.send("pool thread exited");
    }
}

thread_local! {
    static EXIT_WATCH: std::cell::RefCell<Option<OnThreadExit>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn dropping_the_last_handle_stops_the_threads() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let pool = AsyncThreadPool::new(1);
    let (exited_tx, exited) = std::sync::mpsc::channel();
    let watched = run(&rt, {
        let pool = pool.clone();
        async move {
            pool.run(move || EXIT_WATCH.with(|w| *w.borrow_mut() = Some(OnThreadExit(exited_tx))))
                .await
        }
    });
    assert!(watched.is_ok());
    // Still open while a handle lives.
    let other = pool.clone();
    drop(pool);
    assert_eq!(run(&rt, async move { other.run(|| 7).await }), Ok(7));
    // `other` went with the task that used it: the last handle is gone.
    assert_eq!(
        exited.recv_timeout(rcos_tests::PATIENCE),
        Ok("pool thread exited")
    );
}
