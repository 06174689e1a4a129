//! Loom models of rcos's sync primitives (RELIABILITY.md E5): Lock, RLock, Semaphore,
//! Condition and Event, through their public API, with their state behind loom's mutex
//! and atomics (`--cfg rcos_loom` swaps them in; see rcos/src/util/sync_shim.rs).
//!
//! Run by `.ci/loom`:
//! `RUSTFLAGS="--cfg rcos_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p rcos --test loom_sync`
//! (with a target dir of its own). Without the cfg this file is empty.
#![cfg(rcos_loom)]

use std::pin::pin;
use std::sync::Arc;

use futures_lite::future::poll_once;
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use rcos::sync::{Condition, Event, Lock, RLock, Semaphore};

/// Marks a critical section; loom can switch threads at each of these, so two threads
/// inside at once would be seen.
fn enter(inside: &AtomicBool) {
    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
}

fn leave(inside: &AtomicBool) {
    inside.store(false, Ordering::SeqCst);
}

#[test]
fn loom_lock_is_exclusive_and_handed_over() {
    loom::model(|| {
        let lock = Lock::new();
        let inside = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (lock, inside) = (lock.clone(), inside.clone());
                thread::spawn(move || {
                    block_on(async {
                        let guard = lock.acquire().await.unwrap();
                        enter(&inside);
                        leave(&inside);
                        drop(guard);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A waiter that gives up (its future dropped, as on a timeout) while the holder
/// releases: a grant made to it is passed on, never lost.
#[test]
fn loom_lock_waiter_cancelled_while_released() {
    loom::model(|| {
        let lock = Lock::new();
        let held = lock.try_acquire().expect("free");
        let quitter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut wait = pin!(lock.acquire());
                if let Some(guard) = block_on(poll_once(&mut wait)) {
                    drop(guard.unwrap());
                }
                // Dropped here, granted or not.
            })
        };
        let releaser = thread::spawn(move || drop(held));
        quitter.join().unwrap();
        releaser.join().unwrap();
        assert!(!lock.is_locked(), "a grant to a cancelled waiter was lost");
        assert_eq!(lock.waiting(), 0);
        assert!(lock.try_acquire().is_some());
    });
}

#[test]
fn loom_rlock_reentry_and_exclusion() {
    loom::model(|| {
        let lock = RLock::new();
        let inside = Arc::new(AtomicBool::new(false));
        let twice = {
            let (lock, inside) = (lock.clone(), inside.clone());
            thread::spawn(move || {
                block_on(async {
                    let outer = lock.acquire().await.unwrap();
                    enter(&inside);
                    let inner = lock.acquire().await.unwrap();
                    assert_eq!(lock.depth(), 2);
                    drop(inner);
                    assert!(lock.is_held_by_me());
                    leave(&inside);
                    drop(outer);
                })
            })
        };
        block_on(async {
            let guard = lock.acquire().await.unwrap();
            enter(&inside);
            assert_eq!(lock.depth(), 1);
            leave(&inside);
            drop(guard);
        });
        twice.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.depth(), 0);
    });
}

#[test]
fn loom_semaphore_never_exceeds_its_permits() {
    loom::model(|| {
        let sem = Semaphore::new(2);
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || {
                    block_on(async {
                        let permit = sem.acquire().await;
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} holders of 2 permits");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.available(), 2);
        assert_eq!(sem.waiting(), 0);
    });
}

/// A permit granted to a waiter that gives up at the same moment goes back.
#[test]
fn loom_semaphore_waiter_cancelled_while_released() {
    loom::model(|| {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().expect("free");
        let quitter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let mut wait = pin!(sem.acquire());
                drop(block_on(poll_once(&mut wait)));
            })
        };
        let releaser = thread::spawn(move || drop(held));
        quitter.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(sem.available(), 1, "a permit was lost");
        assert_eq!(sem.waiting(), 0);
    });
}

/// The condition-variable loop: the waiter never misses the notification (a lost
/// wake-up is a deadlock, which loom reports), and wakes holding the lock.
#[test]
fn loom_condition_wait_and_notify() {
    loom::model(|| {
        let cond = Condition::new();
        let ready = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (cond, ready) = (cond.clone(), ready.clone());
            thread::spawn(move || {
                block_on(async {
                    let held = cond.acquire().await.unwrap();
                    while !ready.load(Ordering::SeqCst) {
                        cond.wait(None).await.unwrap();
                    }
                    drop(held);
                })
            })
        };
        block_on(async {
            let held = cond.acquire().await.unwrap();
            ready.store(true, Ordering::SeqCst);
            cond.notify(1).unwrap();
            drop(held);
        });
        waiter.join().unwrap();
        assert_eq!(cond.waiting(), 0);
    });
}

/// `set` racing two waiters: both always wake (no lost wake-up between a waiter's
/// check and its listening).
#[test]
fn loom_event_set_wakes_every_waiter() {
    loom::model(|| {
        let event = Event::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let event = event.clone();
                thread::spawn(move || block_on(event.wait()))
            })
            .collect();
        event.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(event.is_set());
    });
}
