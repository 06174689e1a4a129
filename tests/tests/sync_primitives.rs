//! Lock, RLock, Semaphore, Event and Condition under contention, with timeouts, on the
//! deterministic runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcos::TaskRef;
use rcos::sync::{Condition, Event, Lock, RLock, Semaphore, SyncError};
use rcos_tests::{det, rt2, run};

type Log = Arc<Mutex<Vec<String>>>;

fn log(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

#[test]
fn a_lock_is_exclusive_and_handed_over_in_arrival_order() {
    let rt = det(80);
    let events: Log = Arc::default();
    let events2 = events.clone();
    run(&rt, async move {
        let events = events2;
        let lock = Lock::new();
        let first = lock.acquire().await.unwrap();
        let mut waiters = Vec::new();
        for i in 0..5 {
            let (lock, events) = (lock.clone(), events.clone());
            waiters.push(rcos::spawn(move |_| async move {
                let _held = lock.acquire().await.unwrap();
                log(&events, format!("in {i}"));
                rcos::time::sleep(Duration::from_secs(1)).await;
                log(&events, format!("out {i}"));
            }));
            // Each queues before the next is spawned (virtual time moves only when all wait).
            rcos::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(lock.waiting(), 5);
        drop(first);
        for w in waiters {
            w.finish().await;
        }
    });
    let expected: Vec<String> = (0..5)
        .flat_map(|i| [format!("in {i}"), format!("out {i}")])
        .collect();
    assert_eq!(*events.lock().unwrap(), expected);
}

#[test]
fn lock_errors_timeouts_and_release_by_a_non_owner() {
    let rt = det(81);
    run(&rt, async {
        let lock = Lock::new();
        let held = lock.acquire().await.unwrap();
        assert_eq!(lock.acquire().await.unwrap_err(), SyncError::WouldDeadlock);
        assert!(lock.try_acquire().is_none());
        let other = {
            let lock = lock.clone();
            rcos::spawn(move |_| async move {
                let start = rcos::time::now();
                let timed_out = lock
                    .acquire_timeout(Duration::from_secs(3))
                    .await
                    .unwrap_err();
                (timed_out, rcos::time::now() - start, lock.release())
            })
        };
        let (timed_out, waited, release) = other
            .finish()
            .await
            .value()
            .unwrap()
            .take::<(SyncError, Duration, Result<(), SyncError>)>()
            .unwrap();
        assert_eq!(timed_out, SyncError::Timeout);
        assert_eq!(waited, Duration::from_secs(3));
        assert_eq!(
            release,
            Err(SyncError::NotOwner),
            "release by another task is refused"
        );
        assert!(lock.is_locked(), "and the lock stays held");
        // The timed-out waiter left the queue: the lock goes straight back to free.
        assert_eq!(lock.waiting(), 0);
        // pycos style: explicit release by the owner; the guard is then inert.
        lock.release().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.release(), Err(SyncError::NotOwner));
        let again = lock.acquire().await.unwrap();
        drop(held); // an earlier holding's guard does not release the new one
        assert!(lock.is_locked());
        drop(again);
        assert!(!lock.is_locked());
    });
}

#[test]
fn an_rlock_counts_its_depth() {
    let rt = det(82);
    run(&rt, async {
        let lock = RLock::new();
        let a = lock.acquire().await.unwrap();
        let b = lock.acquire().await.unwrap();
        let c = lock.try_acquire().unwrap();
        assert_eq!(lock.depth(), 3);
        let contender = {
            let lock = lock.clone();
            rcos::spawn(move |_| async move {
                lock.acquire_timeout(Duration::from_secs(1))
                    .await
                    .map(|_| ())
            })
        };
        assert_eq!(
            contender
                .finish()
                .await
                .value()
                .unwrap()
                .take::<Result<(), SyncError>>(),
            Some(Err(SyncError::Timeout))
        );
        drop(c);
        lock.release().unwrap();
        assert_eq!(lock.depth(), 1);
        let waiter = {
            let lock = lock.clone();
            rcos::spawn(move |_| async move { lock.acquire().await.map(drop) })
        };
        rcos::time::sleep(Duration::from_millis(1)).await;
        assert!(waiter.is_alive(), "still held at depth 1");
        drop(a);
        assert_eq!(
            waiter
                .finish()
                .await
                .value()
                .unwrap()
                .take::<Result<(), SyncError>>(),
            Some(Ok(()))
        );
        drop(b); // already released explicitly: inert
        assert!(!lock.is_locked());
    });
}

#[test]
fn a_semaphore_hands_out_permits_in_order_with_timeouts() {
    let rt = det(83);
    let order: Log = Arc::default();
    let order2 = order.clone();
    run(&rt, async move {
        let order = order2;
        let sem = Semaphore::new(2);
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (sem, order) = (sem.clone(), order.clone());
            tasks.push(rcos::spawn(move |_| async move {
                let _permit = sem.acquire().await;
                log(&order, format!("got {i}"));
                rcos::time::sleep(Duration::from_secs(10)).await;
            }));
            rcos::time::sleep(Duration::from_millis(1)).await;
        }
        // Two at a time: 6 tasks of 10 s take 30 s.
        let start = rcos::time::now();
        for t in tasks {
            t.finish().await;
        }
        assert!(rcos::time::now() - start <= Duration::from_secs(30));
        assert_eq!(sem.available(), 2);
        let a = sem.acquire().await;
        let _b = sem.acquire().await;
        assert_eq!(
            sem.acquire_timeout(Duration::from_secs(1))
                .await
                .unwrap_err(),
            SyncError::Timeout
        );
        assert_eq!(sem.waiting(), 0);
        a.forget();
        assert_eq!(sem.available(), 0);
        sem.release();
        assert_eq!(sem.available(), 1);
    });
    let got: Vec<String> = (0..6).map(|i| format!("got {i}")).collect();
    assert_eq!(*order.lock().unwrap(), got);
}

#[test]
fn an_event_releases_every_waiter() {
    let rt = det(84);
    run(&rt, async {
        let ev = Event::new();
        let waiters: Vec<TaskRef> = (0..5)
            .map(|_| {
                let ev = ev.clone();
                rcos::spawn(move |_| async move { ev.wait_timeout(Duration::from_secs(60)).await })
            })
            .collect();
        rcos::time::sleep(Duration::from_secs(1)).await;
        assert!(!ev.is_set());
        ev.set();
        for w in waiters {
            assert_eq!(w.finish().await.get::<bool>(), Some(true));
        }
        // Set: waits pass at once; cleared: they wait and time out.
        ev.wait().await;
        ev.clear();
        let start = rcos::time::now();
        assert!(!ev.wait_timeout(Duration::from_secs(2)).await);
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));
    });
}

#[test]
fn a_condition_notifies_in_order_and_restores_the_lock_depth() {
    let rt = det(85);
    let order: Log = Arc::default();
    let order2 = order.clone();
    run(&rt, async move {
        let order = order2;
        let cond = Condition::new();
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (cond, order) = (cond.clone(), order.clone());
            tasks.push(rcos::spawn(move |_| async move {
                let _a = cond.acquire().await.unwrap();
                let _b = cond.acquire().await.unwrap(); // depth 2
                let notified = cond.wait(Some(Duration::from_secs(100))).await.unwrap();
                log(&order, format!("{i} {notified}"));
                // Back at depth 2: releasing once still holds it.
                cond.release().unwrap();
                cond.notify(0).unwrap(); // still the holder
            }));
            rcos::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(cond.waiting(), 4);
        assert_eq!(
            cond.notify(1),
            Err(SyncError::NotOwner),
            "notify needs the lock"
        );
        {
            let _held = cond.acquire().await.unwrap();
            cond.notify(2).unwrap();
        }
        rcos::time::sleep(Duration::from_secs(1)).await;
        {
            let _held = cond.acquire().await.unwrap();
            cond.notify_all().unwrap();
        }
        for t in tasks {
            assert!(t.finish().await.is_returned());
        }
        // A wait that nobody notifies times out with false.
        let _held = cond.acquire().await.unwrap();
        assert!(!cond.wait(Some(Duration::from_secs(5))).await.unwrap());
        drop(_held);
        assert_eq!(cond.wait(None).await, Err(SyncError::NotOwner));
    });
    // notify(2) woke the two that waited first; notify_all the other two. (Woken tasks
    // then compete for the lock, so within a batch the order is the scheduler's.)
    let order = order.lock().unwrap().clone();
    let mut first: Vec<&String> = order[..2].iter().collect();
    let mut second: Vec<&String> = order[2..].iter().collect();
    first.sort();
    second.sort();
    assert_eq!(first, ["0 true", "1 true"]);
    assert_eq!(second, ["2 true", "3 true"]);
}

#[test]
fn a_lock_keeps_a_critical_section_exclusive_across_awaits_on_two_workers() {
    let rt = rt2();
    run(&rt, async {
        let lock = Lock::new();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<TaskRef> = (0..8)
            .map(|_| {
                let (lock, inside) = (lock.clone(), inside.clone());
                rcos::spawn(move |_| async move {
                    for _ in 0..200 {
                        let _held = lock.acquire().await.unwrap();
                        let was = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(was, 0, "two tasks inside the lock");
                        rcos::task::yield_now().await;
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            assert!(t.finish().await.is_returned());
        }
    });
}
